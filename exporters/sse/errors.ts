// Every error the SSE endpoints answer with: a stable code, an HTTP status, and a JSON body
// `{"error":{"code":"...","message":"..."}}`. Messages never contain a token or a ticket.
export const SseCode = {
  AuthMissing: 'FLEETCOL_SSE_AUTH_MISSING',
  AuthInvalid: 'FLEETCOL_SSE_AUTH_INVALID',
  AuthExpired: 'FLEETCOL_SSE_AUTH_EXPIRED',
  TicketInvalid: 'FLEETCOL_SSE_TICKET_INVALID',
  ForbiddenFilter: 'FLEETCOL_SSE_FORBIDDEN_FILTER',
  BadRequest: 'FLEETCOL_SSE_BAD_REQUEST',
  TooManyConnections: 'FLEETCOL_SSE_TOO_MANY_CONNECTIONS',
  NotFound: 'FLEETCOL_SSE_NOT_FOUND',
  MethodNotAllowed: 'FLEETCOL_SSE_METHOD_NOT_ALLOWED',
  ShuttingDown: 'FLEETCOL_SSE_SHUTTING_DOWN',
  DashboardMissing: 'FLEETCOL_SSE_DASHBOARD_MISSING',
} as const;

export class SseError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
  body(): string {
    return JSON.stringify({ error: { code: this.code, message: this.message } });
  }
}

export const unauthorized = (code: string, message: string) => new SseError(401, code, message, { 'www-authenticate': 'Bearer' });
