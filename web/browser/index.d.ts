// Type declarations for the browser entry of wasmllm (web/browser/index.js): the
// model runs in a dedicated Web Worker. What it shares with the Node entry is in
// ../types.d.ts; tokenize() and detokenize() return promises here (the tokenizer
// lives in the worker).
import type {
  KvType, CompleteOptions, ChatMessage, ChatOptions, TokenPiece, Completion, ModelInfo, EmbedOptions, PerplexityOptions, PerplexityResult, WasmllmError,
} from '../types.js';

export * from '../types.js';

/** Hugging Face Hub file: resolved to `${endpoint}/${repo}/resolve/${revision}/${file}`. */
export interface HfSource {
  repo: string;
  file: string;
  /** Default 'main'. */
  revision?: string;
  endpoint?: string;
}

/** One shard URL with the SHA-256 (hex) it must have. */
export interface CheckedShard {
  url: string;
  sha256?: string;
}

/**
 * A URL (absolute or relative to the page; a `NAME-00001-of-0000N.gguf` URL
 * stands for all N shards), a list of shard URLs, a Hugging Face file, a
 * File/Blob from a picker, or bytes.
 */
export type BrowserModelSource =
  | string
  | URL
  | HfSource
  | CheckedShard
  | Blob
  | ArrayBuffer
  | ArrayBufferView
  | ReadonlyArray<string | URL | HfSource | CheckedShard | Blob | ArrayBuffer | ArrayBufferView>;

export interface ShardProgress {
  /** The URL, or the File's name. */
  name: string;
  url: string | null;
  loaded: number;
  total: number | undefined;
  fromCache: boolean;
  done: boolean;
}

export interface BrowserLoadProgress {
  /** Bytes in the wasm heap so far, all shards. */
  loaded: number;
  /** Sum of the shard sizes once every size is known. */
  total: number | undefined;
  /** The shard this event is about. */
  shard: number;
  shards: number;
  perShard: ShardProgress[];
  phase: 'download';
}

export interface BrowserLoadOptions {
  /** Default: 1 for models under 100M parameters (one thread decodes them faster); else navigator.hardwareConcurrency when cross-origin isolated, 1 (single-threaded build) when not. */
  threads?: number;
  /** KV cache size in tokens. Default: the training context, at most 4096. */
  contextSize?: number;
  /** KV cache type, as in Node's LoadOptions.kvType: 'f16' (default) or 'q8_0' (~53% of the bytes). */
  kvType?: KvType;
  /** Force the pthreads ('mt', needs cross-origin isolation) or single-threaded ('st') build; 'st' also silences the isolation warning. */
  variant?: 'mt' | 'st';
  /** 'simd128' (default), 'relaxed' (ERR_WASM where the browser cannot run it right) or 'auto'; same results. */
  isa?: 'simd128' | 'relaxed' | 'auto';
  /** Stops the download and the load (ERR_ABORTED) and terminates the worker. */
  signal?: AbortSignal;
  /** Called at most every 100 ms per shard while bytes arrive, and when a shard starts and ends. */
  onProgress?: (progress: BrowserLoadProgress) => void;
  /** Non-fatal problems, e.g. ERR_QUOTA when the shards could not be cached. Default: console.warn. */
  onWarning?: (warning: WasmllmError) => void;
  /** Shards downloading at once (default 3). */
  parallel?: number;
  /** Tries again per shard after a network error or HTTP 408/425/429/5xx, counted since the last byte arrived (default 4). */
  retries?: number;
  /** First backoff delay, doubled per retry, at most 8 s (default 500). */
  retryDelayMs?: number;
  /** Keep downloaded shards in the Cache API (default true); maxBytes caps the cache (ERR_QUOTA past it). */
  cache?: boolean | { maxBytes?: number; name?: string };
  /** Where Hugging Face sources without their own `endpoint` resolve. Default https://huggingface.co */
  hfEndpoint?: string;
  /** Where web/browser/worker-host.js is served, when a bundler moves it. */
  workerUrl?: string | URL;
}

export interface LoadReport {
  fromCache: number;
  downloaded: number;
  bytesDownloaded: number;
  /** Downloads continued with a Range request after a dropped connection. */
  resumed: number;
  requests: number;
}

export declare class BrowserModel {
  private constructor();
  /** How the shards arrived. */
  readonly loadReport: LoadReport;
  /** Size of the worker's wasm memory (it only grows), refreshed at load and with every token. */
  readonly heapBytes: number;
  /** The last finished or aborted completion. */
  readonly lastCompletion: Completion | null;
  info(): ModelInfo & { heapBytes: number };
  complete(prompt: string | ArrayLike<number>, options?: CompleteOptions): AsyncGenerator<TokenPiece, Completion, void>;
  chat(messages: ChatMessage[], options?: ChatOptions): AsyncGenerator<TokenPiece, Completion, void>;
  /** Computed in the worker; see Session.embed. */
  embed(texts: string | Array<string | ArrayLike<number>>, options?: EmbedOptions): Promise<Float32Array[]>;
  /** Computed in the worker; see Session.perplexity. onChunk is called on the page. */
  perplexity(text: string | ArrayLike<number>, options?: PerplexityOptions): Promise<PerplexityResult>;
  /** Async here (the tokenizer lives in the worker). */
  tokenize(text: string, options?: { addSpecial?: boolean; parseSpecial?: boolean }): Promise<number[]>;
  detokenize(ids: ArrayLike<number>, options?: { showSpecial?: boolean }): Promise<string>;
  /** Terminates the worker: all of the model's memory goes at once. */
  dispose(): void;
}

export declare function loadModel(source: BrowserModelSource, options?: BrowserLoadOptions): Promise<BrowserModel>;

/** Whether the multi-threaded build can run on this page (COOP/COEP served). */
export declare function isCrossOriginIsolated(): boolean;

export interface CacheEntry {
  url: string;
  size: number;
  cachedAt: string | null;
  sha256: string | null;
}

export declare class ShardCache {
  /** `name` defaults to 'wasmllm-shards-v1'; past `maxBytes` a put fails with ERR_QUOTA. */
  constructor(options?: { storage?: CacheStorage; name?: string; maxBytes?: number });
  /** Whether this context has the Cache API (not in opaque origins or some private modes). */
  readonly available: boolean;
  /** A complete cached shard (its recorded size, SHA-256 when one was checked, and bytes), or null. */
  match(url: string): Promise<{ size: number; sha256: string | null; body: ReadableStream<Uint8Array> } | null>;
  /** Stores one shard whose bytes come from `read(offset, n)`; all or nothing (ERR_QUOTA, ERR_CACHE). */
  put(url: string, size: number, read: (offset: number, n: number) => Uint8Array, meta?: { sha256?: string | null }): Promise<void>;
  list(): Promise<CacheEntry[]>;
  /** Bytes of cached shards, and the origin's storage estimate when the browser gives one. */
  usage(): Promise<{ entries: number; bytes: number; originUsage: number | null; originQuota: number | null }>;
  /** Whether an entry was deleted. */
  delete(url: string): Promise<boolean>;
  /** Deletes every cached shard (the whole named cache). */
  clear(): Promise<boolean>;
}

/** The cache manager: list, sizes and deletion of cached shards. */
export declare function modelCache(options?: { name?: string; maxBytes?: number }): ShardCache;

export declare function hfFileUrl(source: HfSource): string;
export declare function resolveHfShards(source: HfSource, options?: { signal?: AbortSignal }): Promise<string[]>;

/** The wasm32 heap's size limit (4 GiB less one page). */
export declare const MAX_HEAP_BYTES: number;
/** The largest single shard (one heap block): 2 GiB - 1. */
export declare const MAX_SHARD_BYTES: number;
