// The receiver's config after validation (durations in ms, sizes in bytes).
import type { ProtocolVersion } from './wire.js';

export interface AgentConfig {
  url: string;
  name?: string;
  headers?: Record<string, string>;
  bearer_token?: string;
  protocol_version?: ProtocolVersion;
}

export interface FeedConfig {
  url: string;
  name?: string;
  headers?: Record<string, string>;
}

export interface JwtConfig {
  secret?: string;
  public_key_file?: string;
  jwks_url?: string;
  issuer?: string;
  audience?: string;
}

export interface WebhookConfig {
  endpoint: string;
  token?: string;
  jwt?: JwtConfig;
  max_body_size: number;
  dedupe_size: number;
}

export interface A2aReceiverConfig {
  agents: AgentConfig[];
  tasks: { agent: string; id: string }[];
  feeds: FeedConfig[];
  webhook?: WebhookConfig | null;
  card_refresh_interval: number;
  list_tasks_interval: number;
  max_followed_tasks: number;
  follow_seen_tasks: boolean;
  max_tracked_tasks: number;
  max_card_size: number;
  max_event_size: number;
  request_timeout: number;
  reconnect: { initial_interval: number; max_interval: number };
}
