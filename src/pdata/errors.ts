/** Malformed protobuf or OTLP/JSON input. The message names the byte offset (protobuf) or the JSON
 *  path where the problem was found, so a receiver can hand it back to the sender as-is. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}
