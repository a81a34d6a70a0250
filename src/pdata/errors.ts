/** Malformed protobuf or OTLP/JSON input. The message names the byte offset (protobuf) or the JSON
 *  path where the problem was found, so a receiver can hand it back to the sender as-is. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

/** Deepest nesting of messages accepted (a request's own levels are 4 or 5; each level of AnyValue
 *  inside a kvlist adds 3): past it, DecodeError instead of a stack overflow. */
export const MAX_DEPTH = 128;

export function tooDeep(): DecodeError {
  return new DecodeError(`messages nested deeper than ${MAX_DEPTH} levels`);
}
