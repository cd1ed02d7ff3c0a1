// Type declarations for `wasmllm/server` (web/node/server.js): the OpenAI-compatible
// API over node:http, as `wasmllm serve` runs it.
import type { Server } from 'node:http';
import type { Session, SpeculativeOptions } from './index.js';

export interface ServerConfig {
  /**
   * The slots: requests generate in these at once, one each; more wait in a queue.
   * A Model and the sessions created from it (`model.createSession()`), e.g. `[model]`.
   */
  engines: Session[];
  /** The id /v1/models reports; a request that names another model (or alias) gets 404. */
  modelId: string;
  /** Other ids requests may name (`wasmllm serve` adds the file name, e.g. 'shakespeare'). */
  aliases?: string[];
  /** Require `Authorization: Bearer <apiKey>` (401 invalid_api_key otherwise); GET /health and /ready stay open. */
  apiKey?: string;
  /** Request body limit in bytes (413 beyond). Default 1 MiB. */
  maxBodyBytes?: number;
  /** Requests that may wait for a slot (503 beyond). Default 256. */
  maxQueue?: number;
  /** max_tokens when a request names none. Default 256. */
  maxTokensDefault?: number;
  /** Serve POST /v1/embeddings from the first engine (an embedding model). Default false. */
  embeddings?: boolean;
  /**
   * Each slot's speculative decoding, by index of `engines` (e.g. `[{ draft: draftModel }]`, one draft
   * session per slot). A request's OpenAI `prediction` drafts by lookup in the predicted text instead,
   * and its usage then carries completion_tokens_details.accepted/rejected_prediction_tokens.
   */
  speculative?: SpeculativeOptions[];
  /** Called with one line per request ("POST /v1/completions 200"). */
  log?: (line: string) => void;
}

export interface WasmllmServer extends Server {
  /**
   * Graceful shutdown: stops accepting connections and generations (503, /ready says so),
   * lets running requests finish for up to `graceMs`, then ends them (a stream gets an
   * error event with code 'shutting_down'). Resolves once the server is closed.
   */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * A node:http server (not yet listening) for GET /health (liveness), GET /ready (503 while a
 * request would be refused), GET /v1/models, POST /v1/completions, POST /v1/chat/completions
 * and, with `embeddings`, POST /v1/embeddings. Call `listen()` on it; disposing the engines is
 * the caller's job once it is closed.
 */
export declare function createServer(config: ServerConfig): WasmllmServer;
