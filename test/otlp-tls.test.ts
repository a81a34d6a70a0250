// TLS end to end: an OTLP/gRPC exporter with a CA file talks to a TLS receiver (a second fleetcol),
// and the HTTPS receiver answers a client that trusts the same CA.
import t from 'tap';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { OtlpGrpcClient, freePort, makeCert, startDaemon, startSink, waitFor } from './helper.js';
import { traceBytes } from './data.js';

const pem = makeCert();
if (!pem) {
  t.comment('SKIP: openssl is not installed, so no test certificate can be made (apt-get install openssl)');
} else {
  t.test('gRPC and HTTP over TLS', async (t) => {
    const sink = await startSink();
    const tlsGrpc = await freePort();
    const tlsHttp = await freePort();
    const plainIn = await freePort();
    const back = await startDaemon(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${tlsGrpc}, tls: { cert_file: ${pem.cert}, key_file: ${pem.key} } }
      http: { endpoint: 127.0.0.1:${tlsHttp}, tls: { cert_file: ${pem.cert}, key_file: ${pem.key} } }
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true } }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [otlp] }
`);
    const front = await startDaemon(`
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${plainIn} } } }
exporters:
  otlp: { endpoint: 127.0.0.1:${tlsGrpc}, tls: { ca_file: ${pem.cert} } }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [otlp] }
`);
    const client = new OtlpGrpcClient(plainIn);
    t.teardown(async () => {
      client.close();
      await front.stop();
      await back.stop();
      await sink.close();
    });
    t.equal((await client.export('traces', traceBytes(12))).err, undefined, 'accepted by the front daemon');
    await waitFor(() => sink.items('traces') === 12, 10_000, 'spans through the TLS hop');
    t.equal(sink.items('traces'), 12, 'front → TLS gRPC → back → sink');

    const body = traceBytes(3);
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: tlsHttp, path: '/v1/traces', method: 'POST', ca: readFileSync(pem.cert), headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    t.equal(status, 200, 'HTTPS receiver');
    await waitFor(() => sink.items('traces') === 15, 10_000, 'HTTPS spans at the sink');

    const plain = await fetch(`http://127.0.0.1:${tlsHttp}/v1/traces`, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' } }).then(
      () => 'answered',
      () => 'refused',
    );
    t.equal(plain, 'refused', 'plaintext to the TLS port does not get through');
  });
}
