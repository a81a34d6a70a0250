import type { Server } from 'node:net';

/** `host:port`, `[::1]:port`, `:port` or `http(s)://host:port` → host and port. */
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

/** server.listen as a promise that rejects on EADDRINUSE and the like instead of crashing. */
export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
