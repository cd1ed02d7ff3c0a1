// Type declarations for the public API of wasmllm (web/node/index.js).

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

/** KV cache types: llama.cpp's names. */
export type KvType = 'f16' | 'q8_0';

export interface LoadOptions {
  /** Worker threads (the calling thread counts as one). Default: every core. 1 uses the single-threaded build. */
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
  /** Sessions (KV caches) expected at once, default 1: their worker threads start up front. */
  sessions?: number;
  /** A precompiled build and its ES6 glue's default export (edge workers), given together. */
  wasmModule?: WebAssembly.Module;
  wasmFactory?: (settings: object) => Promise<unknown>;
}

export interface SamplingOptions {
  /** Default 256. Generation also ends at an end-of-generation token or when the context is full. */
  maxTokens?: number;
  /** Default 0.8; 0 (or less) is greedy. */
  temperature?: number;
  /** Default 40; 0 disables. */
  topK?: number;
  /** Default 0.95; 1 disables. */
  topP?: number;
  /** Default 0.05; 0 disables. */
  minP?: number;
  /** Default 1 (off). */
  repeatPenalty?: number;
  /** Default 64. */
  repeatLastN?: number;
  /** Default 0. */
  frequencyPenalty?: number;
  /** Default 0. */
  presencePenalty?: number;
  /** Default random. The same seed, prompt and options give the same text. */
  seed?: number;
  /** Generation ends when one of these texts appears; it is not included in the output. */
  stop?: string[];
  /** Token ids that end generation, besides the model's end-of-generation tokens. */
  stopTokens?: number[];
  /** Ends the iteration with a WasmllmError of code 'ERR_ABORTED'; the model stays usable. */
  signal?: AbortSignal;
}

export interface CompleteOptions extends SamplingOptions {
  /** String prompts: add BOS/EOS as the model's metadata asks. Default true. */
  addSpecial?: boolean;
  /** String prompts: turn special-token text (e.g. "<|im_start|>") into its token. Default true. */
  parseSpecial?: boolean;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | string;
  content?: string | null | Array<{ type: string; text?: string }>;
  tool_calls?: Array<{ id?: string; type?: string; function: { name: string; arguments: object | string } }>;
  tool_call_id?: string;
  name?: string;
  reasoning_content?: string;
}

export interface ChatOptions extends SamplingOptions {
  tools?: object[];
  /** A Jinja template to use instead of the model's. */
  template?: string;
  /** One of the GGUF's named templates (tokenizer.chat_template.NAME). */
  templateName?: string;
  /** Extra template variables, e.g. { enable_thinking: false }. */
  extra?: Record<string, unknown>;
}

/**
 * One step of generation. `text` is always whole UTF-8 characters: bytes of a
 * character split across tokens are held back until it is complete. A final
 * piece of held-back text has token -1.
 */
export interface EmbedOptions {
  /** Default: the GGUF's `<arch>.pooling_type`, else 'mean' for encoders and 'last' for decoders. */
  pooling?: 'mean' | 'cls' | 'last' | 1 | 2 | 3;
  /** Divide each vector by its L2 norm (default true). */
  normalize?: boolean;
  /** String inputs: add the model's special tokens, e.g. bert's [CLS] ... [SEP] (default true). */
  addSpecial?: boolean;
  /** String inputs: turn special-token text into its id (default true). */
  parseSpecial?: boolean;
  /** Checked between texts. */
  signal?: AbortSignal;
}

export interface TokenPiece {
  token: number;
  text: string;
}

export interface Completion {
  promptTokens: number[];
  tokens: number[];
  text: string;
  /** 'stop': an end-of-generation token or stop string; 'length': maxTokens; 'context': the context is full. */
  finishReason: 'stop' | 'length' | 'context';
  /** Prompt tokens actually evaluated (the rest were reused from the KV cache). */
  promptEvaluated: number;
  timings: {
    promptMs: number;
    decodeMs: number;
    promptTokensPerSecond: number;
    decodeTokensPerSecond: number;
  };
}

export interface ModelInfo {
  architecture: string;
  name: string | null;
  nParams: number;
  nVocab: number;
  nCtxTrain: number;
  embeddingLength: number;
  layers: number;
  heads: number | null;
  headsKv: number | null;
  /** llama.cpp's file type name, e.g. 'MOSTLY_Q8_0'. */
  fileType: string | null;
  tensorCount: number;
  tensorBytes: number;
  /** Tensor count per type name, e.g. { Q8_0: 154, F32: 61 }. */
  tensorTypes: Record<string, number>;
  shards: number;
  fileBytes: number;
  /** The KV cache size in tokens. */
  contextSize: number;
  /** The KV cache type (LoadOptions.kvType). */
  kvType: KvType;
  /** Bytes of the default session's KV cache: layers x positions x KV heads x (K + V head bytes). */
  kvCacheBytes: number;
  threads: number;
  wasmVariant: 'mt' | 'st';
  loadMs: number;
  /** Weight matrices rearranged at load time for the SIMD kernels (4-row interleaved Q4_0, Q5_0, Q8_0, IQ4_NL). */
  repackedMatrices: number;
  /** How embed() pools by default: encoders always pool; decoders only when the file names a pooling_type (else null). */
  pooling: 'mean' | 'cls' | 'last' | null;
  /** An embedding-only model (bert, nomic-bert): complete() and chat() fail with ERR_BAD_ARG. */
  isEncoder: boolean;
}

export interface ModelMemory {
  /** Size of the wasm memory (it only grows). */
  heapBytes: number;
  /** Bytes malloc has handed out now. */
  heapInUseBytes: number;
  /** Bytes the KV caches of all live sessions take (part of heapInUseBytes). */
  kvCacheBytes: number;
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
  /** Frees this session's KV cache (for a Model: everything). */
  dispose(): void;
}

/** A loaded model: the weights plus a default session. */
export declare class Model extends Session {
  /** Another session over the same weights (its own KV cache); contextSize defaults to the model's. */
  createSession(options?: { contextSize?: number }): Session;
  info(): ModelInfo;
  memory(): ModelMemory;
  /** Frees the wasm memory (every session's too) and stops the worker threads. */
  dispose(): void;
}

export declare function loadModel(source: ModelSource, options?: LoadOptions): Promise<Model>;

export type WasmllmErrorCode =
  | 'ERR_TRUNCATED' | 'ERR_BAD_MAGIC' | 'ERR_BAD_VERSION' | 'ERR_BAD_VALUE' | 'ERR_UNKNOWN_TYPE'
  | 'ERR_BAD_TENSOR' | 'ERR_UNSUPPORTED_ARCH' | 'ERR_MISSING_KEY' | 'ERR_MISSING_TENSOR' | 'ERR_OOM'
  | 'ERR_CONTEXT_FULL' | 'ERR_BAD_ARG' | 'ERR_SHARDS' | 'ERR_NOT_FOUND' | 'ERR_FETCH' | 'ERR_ABORTED'
  | 'ERR_TOKENIZER' | 'ERR_TEMPLATE' | 'ERR_WASM' | 'ERR_BUSY' | 'ERR_DISPOSED' | (string & {});

export declare class WasmllmError extends Error {
  constructor(code: string, message: string, options?: { cause?: unknown });
  readonly name: 'WasmllmError';
  readonly code: WasmllmErrorCode;
}

export interface GGUFTensorInfo {
  name: string;
  nDims: number;
  shape: number[];
  type: number;
  typeName: string;
  offset: number;
  nBytes: number;
}

/**
 * A GGUF array of strings kept as UTF-8 bytes plus offsets (what parseGGUF returns with
 * `packStrings`, and what a loaded model's metadata holds): a 150k-token vocabulary is a
 * few MB instead of tens of MB of JS strings. Elements are decoded when asked for.
 */
export declare class GGUFStringArray implements Iterable<string> {
  /** `offsets` has length + 1 entries: element i is `bytes[offsets[i], offsets[i + 1])`, well-formed UTF-8. */
  constructor(bytes: Uint8Array, offsets: Uint32Array);
  static from(strings: Iterable<string> | ArrayLike<string>): GGUFStringArray;
  readonly bytes: Uint8Array;
  readonly offsets: Uint32Array;
  readonly length: number;
  /** Element i, or undefined out of range. */
  get(i: number): string | undefined;
  at(i: number): string | undefined;
  byteLength(i: number): number;
  /** Compares bytes: nothing is decoded. */
  indexOf(s: string, fromIndex?: number): number;
  includes(s: string): boolean;
  /** Every element equal to one of `strings`, as [index, string] in index order. */
  findAll(strings: Iterable<string>): Array<[number, string]>;
  slice(start?: number, end?: number): string[];
  toArray(): string[];
  toJSON(): string[];
  [Symbol.iterator](): Iterator<string>;
}

export interface GGUFHeader {
  version: number;
  metadata: Map<string, unknown>;
  /** GGUF value type of each key. */
  types: Map<string, number>;
  tensors: GGUFTensorInfo[];
  alignment: number;
  dataOffset: number;
  headerSize: number;
}

/**
 * Parses a GGUF header (metadata and tensor table); `bytes` may be a prefix of a file of `totalSize`
 * bytes. Arrays of strings come back as string[], or as GGUFStringArray with `packStrings`.
 */
export declare function parseGGUF(bytes: Uint8Array, options?: { totalSize?: number; allowNoData?: boolean; packStrings?: boolean }): GGUFHeader;
export declare function readGGUFHeader(
  readPrefix: (n: number) => Promise<Uint8Array>,
  totalSize: number,
  options?: { allowNoData?: boolean; packStrings?: boolean },
): Promise<GGUFHeader>;
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
