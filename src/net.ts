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
