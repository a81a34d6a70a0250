import type { Factory, JsonSchema } from '../../src/component.js';
import { OtlpReceiver, type OtlpReceiverConfig } from './receiver.js';

const tls: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Serve TLS with this certificate and key (PEM files).',
  required: ['cert_file', 'key_file'],
  properties: {
    cert_file: { type: 'string' },
    key_file: { type: 'string' },
    client_ca_file: { type: 'string', description: 'Require client certificates signed by this CA.' },
  },
};

const schema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    protocols: {
      type: 'object',
      additionalProperties: false,
      description: 'At least one of grpc, http. An empty value enables a protocol with its defaults.',
      properties: {
        grpc: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: {
            endpoint: { type: 'string', 'x-endpoint': true, description: 'host:port to listen on (default 127.0.0.1:4317; 0.0.0.0:4317 for all interfaces).' },
            max_recv_msg_size: { type: ['string', 'number'], 'x-size': true, description: 'Largest accepted message (default 4MiB).' },
            tls,
            keepalive: {
              type: 'object',
              additionalProperties: false,
              description: 'Connection lifetime limits, as gRPC servers have them. A client must also send its HTTP/2 preface within 20s of connecting, always.',
              properties: {
                server_parameters: {
                  type: 'object',
                  additionalProperties: false,
                  properties: {
                    max_connection_idle: { type: ['string', 'number'], 'x-duration': true, description: 'A connection with no call in flight for this long is sent GOAWAY and closed (default: never).' },
                    max_connection_age: { type: ['string', 'number'], 'x-duration': true, description: 'A connection this old (±10 % jitter) is sent GOAWAY: its calls in flight finish, new ones go to a new connection, which lets a load balancer spread clients again (default: never).' },
                    max_connection_age_grace: { type: ['string', 'number'], 'x-duration': true, description: 'After a GOAWAY for age or idleness, calls still in flight get this long before the connection is closed (default: as long as they take).' },
                  },
                },
              },
            },
          },
        },
        http: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: {
            endpoint: { type: 'string', 'x-endpoint': true, description: 'host:port to listen on (default 127.0.0.1:4318; 0.0.0.0:4318 for all interfaces).' },
            max_request_body_size: { type: ['string', 'number'], 'x-size': true, description: 'Largest accepted body, after decompression (default 4MiB).' },
            tls,
          },
        },
      },
    },
    max_inflight_bytes: {
      type: ['string', 'number'],
      'x-size': true,
      description: 'Request bytes held at once across all connections (being read, decoded, or waiting for the pipeline); past it, requests are refused with UNAVAILABLE / 503 while being read.',
    },
    max_inflight_bytes_per_client: {
      type: ['string', 'number'],
      'x-size': true,
      description: 'What one client (remote address) may hold of max_inflight_bytes (default a quarter of it, and at least the largest request): one client cannot take the whole budget. Behind a proxy all clients have its address: raise it there.',
    },
    read_stall_timeout: {
      type: ['string', 'number'],
      'x-duration': true,
      description: 'A request whose body makes no progress for this long is cut (gRPC UNAVAILABLE, HTTP 408), and what it held is freed (default 10s).',
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      description: 'Require `Authorization: Bearer <token>` with one of these tokens.',
      properties: {
        bearer_tokens: { type: 'array', items: { type: 'string' } },
        bearer_tokens_file: { type: 'string', description: 'A file with one token per line.' },
      },
    },
  },
};

export const otlpReceiverFactory: Factory<OtlpReceiverConfig> = {
  type: 'otlp',
  kind: 'receiver',
  description: 'OTLP over gRPC (4317) and HTTP (4318: protobuf and JSON), gzip, bearer auth, TLS.',
  signals: ['traces', 'metrics', 'logs'],
  schema,
  createDefaultConfig: () => ({ protocols: {}, max_inflight_bytes: '64MiB' }) as unknown as OtlpReceiverConfig,
  createReceiver: (set, cfg, next) => new OtlpReceiver(set, cfg, next),
};
