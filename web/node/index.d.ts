// Type declarations for the Node entry of wasmllm (web/node/index.js). What the
// browser entry shares with it is in ../types.d.ts.
import type {
  KvType, CompleteOptions, ChatMessage, ChatOptions, EmbedOptions, PerplexityOptions, PerplexityResult, TokenPiece, Completion, ModelInfo,
  GGUFHeader, GGUFStringArray, WasmModule,
} from '../types.js';

export * from '../types.js';

/** A model source: a file path (Node), a URL, bytes, a Blob/File, or the shards of a split model. */
export type ModelSource =
  | string
  | URL
  | ArrayBuffer
  | ArrayBufferView
  | Blob
  /** A fetch() answer or a stream (e.g. an R2 object's body): streamed into the wasm heap. */
  | Response
  | ReadableStream<Uint8Array>
  | ReadonlyArray<string | URL | ArrayBuffer | ArrayBufferView | Blob | Response | ReadableStream<Uint8Array>>;

export interface LoadProgress {
  /** Bytes copied into the wasm heap so far (all shards). */
  loaded: number;
  /** Total bytes, when every shard's size is known in advance. */
  total: number | undefined;
  /** Index of the shard being read. */
  shard: number;
  shards: number;
}

export interface LoadOptions {
  /** Worker threads (the calling thread counts as one). Default: 1 for models under 100M parameters (one thread decodes them faster), else every core. 1 uses the single-threaded build. */
  threads?: number;
  /** KV cache size in tokens. Default: the training context, at most 4096. */
  contextSize?: number;
  /**
   * How the KV cache (of every session of this model) stores keys and values, as llama.cpp's
   * `--cache-type-k/--cache-type-v`: 'f16' (default) or 'q8_0' (blocks of 32 int8 values with an
   * f16 scale: 17/32 = ~53% of the f16 bytes, logits within a small rounding of f16's). 'q8_0'
   * needs head dims that are multiples of 32; otherwise, or for any other value, loadModel
   * rejects with ERR_BAD_ARG. Case-insensitive.
   */
  kvType?: KvType;
  signal?: AbortSignal;
  onProgress?: (progress: LoadProgress) => void;
  /** Force the pthreads ('mt') or single-threaded ('st') wasm build. */
  variant?: 'mt' | 'st';
  /** 'simd128' (default), 'relaxed' (ERR_WASM where the host cannot run relaxed SIMD right) or 'auto' (relaxed where it can); same results. */
  isa?: 'simd128' | 'relaxed' | 'auto';
  /** Sessions (KV caches) expected at once, default 1: their worker threads start up front. */
  sessions?: number;
  /**
   * Default true: the decode steps of every session generating at once (the model and its
   * createSession() sessions) run as one pass over the weights, prompts fed in 32-token chunks
   * between them; results are bit-identical to generating alone. false: each session's step runs
   * alone, in turns (for comparison). Not a boolean: ERR_BAD_ARG.
   */
  batch?: boolean;
  /** A precompiled build and its ES6 glue's default export (edge workers), given together. */
  wasmModule?: WasmModule;
  wasmFactory?: (settings: object) => Promise<unknown>;
}

export interface ModelMemory {
  /** Size of the wasm memory (it only grows). */
  heapBytes: number;
  /** Bytes malloc has handed out now. */
  heapInUseBytes: number;
  /** Bytes the KV caches of all live sessions take (part of heapInUseBytes). */
  kvCacheBytes: number;
}

/** Model.batchStats(): how the sessions' decode steps have run so far. */
export interface BatchStats {
  /** LoadOptions.batch. */
  enabled: boolean;
  /** Model steps run (each carries one decode step or prompt chunk of every session that had one ready). */
  steps: number;
  /** Steps that were one batched pass over several sessions. */
  batches: number;
  /** The most sessions one step carried. */
  maxSequences: number;
}

export interface StreamDecoder {
  push(id: number): string;
  flush(): string;
}

export interface Tokenizer {
  encode(text: string, options?: { addSpecial?: boolean; parseSpecial?: boolean }): ArrayLike<number>;
  decode(ids: ArrayLike<number>, options?: { showSpecial?: boolean }): string;
  createStreamDecoder(options?: { showSpecial?: boolean }): StreamDecoder;
  isEog(id: number): boolean;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly nVocab: number;
  /** Token texts, packed (`tokens.get(id)` decodes one). */
  readonly tokens: GGUFStringArray;
  [key: string]: unknown;
}

/** A KV cache over a model's weights: generation state for one conversation at a time. */
export declare class Session {
  protected constructor();
  /**
   * The GGUF metadata (arrays of numbers are typed arrays; 64-bit values past 2^53 are BigInt;
   * arrays of strings are GGUFStringArray, e.g. `metadata.get('tokenizer.ggml.tokens').get(id)`).
   */
  readonly metadata: Map<string, unknown>;
  readonly tokenizer: Tokenizer;
  /** The last finished or aborted completion. */
  readonly lastCompletion: Completion | null;
  /** Tokens the KV cache holds. */
  readonly contextSize: number;
  /** How this session's KV cache stores keys and values (the model's LoadOptions.kvType). */
  readonly kvType: KvType;
  /** Bytes of this session's KV cache. */
  readonly kvCacheBytes: number;
  tokenize(text: string, options?: { addSpecial?: boolean; parseSpecial?: boolean }): number[];
  detokenize(ids: ArrayLike<number>, options?: { showSpecial?: boolean }): string;
  /**
   * Generates a continuation. The iterator's return value is the Completion.
   * Throws (synchronously) ERR_CONTEXT_FULL when the prompt does not fit the
   * context, ERR_BAD_ARG for a bad prompt. One completion at a time per session (else ERR_BUSY).
   * The KV cache is reused for the prefix shared with the previous prompt.
   */
  complete(prompt: string | ArrayLike<number>, options?: CompleteOptions): AsyncGenerator<TokenPiece, Completion, void>;
  /** Renders the conversation with the model's chat template and generates the assistant's reply. */
  chat(messages: ChatMessage[], options?: ChatOptions): AsyncGenerator<TokenPiece, Completion, void>;
  /**
   * One vector (info().embeddingLength floats) per text, each text run as a fresh
   * sequence (the cached prompt is dropped). Token-id arrays are used as given.
   * ERR_CONTEXT_FULL for a text longer than the context, ERR_BAD_ARG for bad input.
   */
  embed(texts: string | Array<string | ArrayLike<number>>, options?: EmbedOptions): Promise<Float32Array[]>;
  /**
   * Perplexity as llama.cpp's llama-perplexity computes it: the text tokenized whole (BOS in front as
   * the model asks), cut into chunks of contextSize tokens, each evaluated on an empty cache with BOS
   * as its first token, the second half of each scored. Token-id arrays are used as given. The cached
   * prompt is dropped. ERR_BAD_ARG when the text has fewer than 2 * contextSize tokens.
   */
  perplexity(text: string | ArrayLike<number>, options?: PerplexityOptions): Promise<PerplexityResult>;
  /** Frees this session's KV cache (for a Model: everything). */
  dispose(): void;
}

/** A loaded model: the weights plus a default session. */
export declare class Model extends Session {
  /** Another session over the same weights (its own KV cache); contextSize defaults to the model's. */
  createSession(options?: { contextSize?: number }): Session;
  info(): ModelInfo;
  memory(): ModelMemory;
  batchStats(): BatchStats;
  /** Frees the wasm memory (every session's too) and stops the worker threads. */
  dispose(): void;
}

export declare function loadModel(source: ModelSource, options?: LoadOptions): Promise<Model>;

/** Reads the GGUF header of every shard of a source without loading wasm or tensor data. */
export declare function readHeaders(
  source: ModelSource,
  options?: { signal?: AbortSignal; allowNoData?: boolean; packStrings?: boolean },
): Promise<Array<{ name: string; size: number; header: GGUFHeader }>>;

/**
 * A tokenizer from GGUF metadata (tokenizer.ggml.*): works on vocab-only files. Token texts and
 * merges may be string[] or GGUFStringArray (string[] is packed first).
 */
export declare function createTokenizer(metadata: Map<string, unknown>): Tokenizer;

export declare function defaultThreadCount(): Promise<number>;

export declare function canUseThreads(): boolean;

/** The absolute path of the Shakespeare model shipped in the package (models/shakespeare.gguf), for loadModel(). */
export declare const embeddedModelPath: string;
/** Its draft model for speculative decoding (models/shakespeare-draft.gguf, same vocabulary): `speculative: { draft }`. */
export declare const embeddedDraftModelPath: string;
