// fleetcol's own HTTP endpoint: /metrics (Prometheus text), /healthz (the process is alive) and
// /readyz (every component has started and none has stopped).
import http from 'node:http';
import type { Logger } from 'pino';
import type { MetricsRegistry } from './metrics.js';
import { listen, parseEndpoint } from '../net.js';

export class TelemetryServer {
  private server: http.Server | undefined;
  ready = false;

  constructor(
    private readonly address: string,
    private readonly metrics: MetricsRegistry,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET' }).end();
      } else if (path === '/metrics') {
        this.metrics.prom.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.metrics.prom.contentType }).end(text),
          (err) => res.writeHead(500).end(String(err)),
        );
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      } else if (path === '/readyz') {
        res
          .writeHead(this.ready ? 200 : 503, { 'content-type': 'application/json' })
          .end(this.ready ? '{"status":"ready"}' : '{"status":"starting"}');
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      }
    });
    const { host, port } = parseEndpoint(this.address, 8888);
    await listen(server, host, port);
    this.server = server;
    this.logger.info({ address: this.address }, 'own telemetry on /metrics, /healthz, /readyz');
  }

  async shutdown(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}
