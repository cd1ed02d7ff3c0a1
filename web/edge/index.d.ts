// Type declarations for `wasmllm/worker` (web/edge/index.js): the OpenAI-compatible
// API as a Workers-style fetch handler (Cloudflare Workers, workerd).
import type { WasmModule } from '../types.js';

/** GGUF bytes, a URL to fetch them from, or a streamed body. */
export type WorkerModelBytes = ArrayBuffer | ArrayBufferView | string | URL | ReadableStream<Uint8Array> | Response;

/** An object from a bucket binding, e.g. R2's `env.MODELS.get(key)`: its body streams, its size is known. */
export interface BucketObject {
  body: ReadableStream<Uint8Array>;
  size: number;
}

export interface WorkerHandlerConfig {
  /**
   * The model: bytes (a bundled data module), a URL, or a function of the
   * worker's env returning them, e.g. `(env) => env.MODELS.get('model.gguf')`.
   * Called on the first request that needs the model, again after a failure.
   */
  model: WorkerModelBytes | ((env: any) => Promise<WorkerModelBytes | BucketObject | null | undefined>);
  /** dist/mjs/wasmllm-st.wasm imported as a module (edge runtimes refuse to compile wasm bytes). */
  wasmModule: WasmModule;
  /** The id /v1/models reports and requests may name. Default: the GGUF's general.name, else 'wasmllm'. */
  modelId?: string;
  /** Other ids requests may name (e.g. a short name for a long general.name). */
  aliases?: string[];
  /**
   * Require `Authorization: Bearer KEY` (401 in OpenAI's error shape otherwise);
   * a function reads it from the worker's env, e.g. `(env) => env.API_KEY` (a secret).
   * GET /health and /ready stay open.
   */
  apiKey?: string | ((env: any) => string | undefined);
  /** KV cache size in tokens. Default: min(training context, 2048) for bytes; 2048 for streamed sources. */
  contextSize?: number;
  /** KV cache type. Default 'f16'; 'q8_0' takes 17/32 of the memory, for small isolates. */
  kvType?: 'f16' | 'q8_0';
  /** max_tokens when a request names none. Default 256. */
  maxTokensDefault?: number;
  /** Request body limit in bytes (413 beyond). Default 1 MiB. */
  maxBodyBytes?: number;
  /**
   * Requests generated at once, default 1. Each has its own KV cache of contextSize tokens over
   * the same weights (memory: slots x the KV cache), and their decode steps run together, one
   * pass over the weights per step.
   */
  slots?: number;
  /** Requests that may wait for a slot (503 beyond). Default 16. */
  maxQueue?: number;
  /**
   * A stream whose client has read nothing for this long is stopped when another
   * request waits for the model. Default 10000. Some hosts (wrangler dev) never
   * report a client that left; without this its stream would hold the model for good.
   */
  streamIdleTimeoutMs?: number;
}

export interface WorkerExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

export interface WorkerHandler {
  fetch(request: Request, env?: any, ctx?: WorkerExecutionContext): Promise<Response>;
}

/**
 * Serves GET /health (liveness; loads nothing), GET /ready (200 once the model
 * is loaded and a request would be taken; 503 otherwise, and starts the load),
 * GET /v1/models, POST /v1/chat/completions and POST /v1/completions
 * (`stream: true` for server-sent events) from one model per isolate, loaded
 * on the first request that needs it with the single-threaded build. Errors
 * known before the first byte (bad fields, a prompt over the context, a full
 * queue: 503 with Retry-After) are status codes, streamed or not.
 */
export function createWorkerHandler(config: WorkerHandlerConfig): WorkerHandler;
