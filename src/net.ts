import type { Server } from 'node:net';

/** `host:port`, `[::1]:port`, `:port` or `http(s)://host:port` → host and port. */
/** Why an endpoint (`host:port`, `[v6]:port`, optionally `scheme://...`) can never be used, or
 *  undefined. Checked by `fleetcol validate` (schema keyword x-endpoint), so a config that can never
 *  bind or connect is an error with its place, not a failure at start. */
export function endpointProblem(endpoint: string): string | undefined {
  if (endpoint.includes('${')) return `"${endpoint.slice(0, 64)}" holds an unexpanded \${...}: set the variable or give a default (\${env:NAME:-default})`;
  if (endpoint.length > 1024) return `endpoint of ${endpoint.length} characters (at most 1024)`;
  const s = endpoint.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/.*$/, '');
  const m = /^\[([0-9A-Fa-f:.]+)\](?::([^:]*))?$/.exec(s) ?? /^([^:[\]]*)(?::([^:]*))?$/.exec(s);
  if (!m) return `"${endpoint.slice(0, 64)}" is not host:port`;
  const host = m[1]!;
  if (host.length > 253) return `host of ${host.length} characters (a DNS name is at most 253)`;
  if (!m[0].startsWith('[') && !/^[A-Za-z0-9._-]*$/.test(host)) return `"${host.slice(0, 64)}" is not a host name or address`;
  if (m[2] !== undefined && !(/^[0-9]{1,5}$/.test(m[2]) && Number(m[2]) <= 65535)) return `port "${m[2].slice(0, 16)}" is not a number from 0 to 65535`;
  return undefined;
}

export function parseEndpoint(endpoint: string, defaultPort: number): { host: string; port: number } {
  let s = endpoint.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  let host = s;
  let port = defaultPort;
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]*)(?::(\d+))?$/.exec(s);
  if (m) {
    host = m[1] || '0.0.0.0';
    if (m[2] !== undefined) port = Number(m[2]);
  }
  if (host === 'localhost') host = '127.0.0.1';
  return { host, port };
}

/** server.listen as a promise that rejects on EADDRINUSE and the like instead of crashing.
 *  `backlog`: connections the kernel may hold before they are accepted (capped by net.core.somaxconn). */
export function listen(server: Server, host: string, port: number, backlog = 511): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ port, host, backlog }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
