// Declarations shared by every host's entry: the options, results and errors of the
// generation API, and the GGUF reader. web/node/index.d.ts and web/browser/index.d.ts
// re-export these; what differs per host (sources, load options, the model class) is
// declared there.

/**
 * A compiled wasm module: WebAssembly.Module where the project's lib declares it (DOM,
 * WebWorker), else any object (Node's own types have no WebAssembly namespace).
 */
export type WasmModule = typeof globalThis extends { WebAssembly: { Module: abstract new (...args: any) => infer M } } ? M : object;

/** KV cache types: llama.cpp's names. */
export type KvType = 'f16' | 'q8_0';

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
  /**
   * Log-probabilities on every piece: true for the sampled token's (`logprob`, `bytes`, `tokenText`),
   * a number k for the k most likely tokens too (`topLogprobs`). They are the model's own distribution
   * (log-softmax of the raw logits), before temperature, penalties, logit biases and grammars, as OpenAI
   * reports them.
   */
  logprobs?: boolean | number;
  /** Generation ends when one of these texts appears; it is not included in the output. */
  stop?: string[];
  /** Token ids that end generation, besides the model's end-of-generation tokens. */
  stopTokens?: number[];
  /**
   * GBNF grammar (llama.cpp's syntax, starting at the rule `root`): only text it allows is generated,
   * and an end-of-generation token only where it may end. Bad grammars throw ERR_BAD_GRAMMAR naming
   * the line and column; control tokens are never generated under a grammar.
   */
  grammar?: string;
  /** A JSON Schema the output must follow (converted to a grammar); not together with `grammar`. */
  jsonSchema?: object | boolean;
  /** Added to a token's logit before sampling, keyed by token id; -Infinity bans the token. */
  logitBias?: Record<number, number> | Map<number, number>;
  /**
   * Speculative decoding: draft a few tokens cheaply, verify them in one forward pass. The output is
   * the same as without it (greedy, and sampled with the same seed); only the speed changes.
   */
  speculative?: SpeculativeOptions;
  /** Ends the iteration with a WasmllmError of code 'ERR_ABORTED'; the model stays usable. */
  signal?: AbortSignal;
}

/**
 * Exactly one of `lookup` and `draft`. Bad values throw ERR_BAD_ARG naming the field; a draft model
 * whose vocabulary differs from the model's throws ERR_BAD_ARG, one that is generating ERR_BUSY.
 */
export interface SpeculativeOptions {
  /**
   * Prompt lookup: copy the tokens that followed the latest earlier match of the last ngramMin..ngramMax
   * (default 2..4) tokens of the context; `text` (e.g. the expected output) is searched first.
   */
  lookup?: true | { ngramMin?: number; ngramMax?: number; text?: string };
  /**
   * A draft model of the same vocabulary proposing tokens greedily: a Model or Session of the Node or
   * edge API (wasmllm / wasmllm/edge), not busy with a generation of its own. Not in the browser API,
   * whose models live in a worker.
   */
  draft?: object;
  /** Most tokens drafted at a time, 1..16 (default 4); the drafter adapts below it while guesses miss. */
  maxDraft?: number;
}

/** What speculative decoding did in one completion (Completion.timings.speculative). */
export interface SpeculativeStats {
  method: 'lookup' | 'draft';
  maxDraft: number;
  /** Tokens proposed, and how many of them the model kept. */
  drafted: number;
  accepted: number;
  /** accepted / drafted (0 when nothing was drafted). */
  acceptanceRate: number;
  /** Time spent drafting (part of decodeMs). */
  draftMs: number;
}

export interface CompleteOptions extends SamplingOptions {
  /** String prompts: add BOS/EOS as the model's metadata asks. Default true. */
  addSpecial?: boolean;
  /** String prompts: turn special-token text (e.g. "<|im_start|>") into its token. Default true. */
  parseSpecial?: boolean;
  /**
   * Yield one piece per prompt token first (`prompt: true`, its text); with `logprobs`, each carries
   * its log-probability given the tokens before it (the first token's is null, with no alternatives).
   * The prompt is then evaluated afresh rather than taken from the cache. Not for chat().
   */
  echo?: boolean;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | string;
  content?: string | null | Array<{ type: string; text?: string }>;
  tool_calls?: Array<{ id?: string; type?: string; function: { name: string; arguments: object | string } }>;
  tool_call_id?: string;
  name?: string;
  reasoning_content?: string;
}

export interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: object };
}

export interface ChatOptions extends SamplingOptions {
  /** Functions the model may call: rendered by the chat template, read back from the reply (Completion.message.tool_calls). */
  tools?: ChatTool[];
  /**
   * 'auto' (default): the model decides; 'none': no tools are rendered; 'required' or a named function:
   * a grammar makes the reply one call (several if parallelToolCalls) to a declared function, with
   * arguments valid against its parameters schema.
   */
  toolChoice?: 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };
  /** false: the reply ends after its first tool call. Default true. */
  parallelToolCalls?: boolean;
  /** 'deepseek' (default): `<think>...</think>` goes to `reasoning` / reasoning_content; 'none': left in the content. */
  reasoningFormat?: 'deepseek' | 'none';
  /** A Jinja template to use instead of the model's. */
  template?: string;
  /** One of the GGUF's named templates (tokenizer.chat_template.NAME). */
  templateName?: string;
  /** Extra template variables, e.g. { enable_thinking: false }. */
  extra?: Record<string, unknown>;
}

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

export interface PerplexityOptions {
  /** Tokens per chunk (llama-perplexity's --ctx-size), default 512; at most the session's contextSize. */
  contextSize?: number;
  /** Tokens per forward pass, default 64 (logit rows held at once); the result does not depend on it. */
  batchSize?: number;
  /** Score at most this many chunks (llama-perplexity's --chunks); default every whole chunk of the text. */
  chunks?: number;
  /** Checked between forward passes: ERR_ABORTED. */
  signal?: AbortSignal;
  /** After each chunk, with the running estimate (llama-perplexity's `[chunk]ppl,`). */
  onChunk?: (c: PerplexityChunk) => void;
}

export interface PerplexityChunk {
  /** 1-based. */
  chunk: number;
  chunks: number;
  /** The estimate over every chunk so far. */
  ppl: number;
}

export interface PerplexityResult {
  /** exp(mean negative log-likelihood of the scored tokens). */
  ppl: number;
  /** Its standard error (llama-perplexity's `+/-`). */
  uncertainty: number;
  /** Mean negative log-likelihood, nats per token. */
  meanNll: number;
  /** The running estimate after each chunk. */
  estimates: number[];
  contextSize: number;
  chunks: number;
  /** Tokens of the whole text, BOS included. */
  tokens: number;
  /** Tokens scored: the second half of each chunk, less its last token. */
  scored: number;
}

/**
 * One step of generation. `text` is always whole UTF-8 characters: bytes of a
 * character split across tokens are held back until it is complete. A final
 * piece of held-back text has token -1.
 */
export interface TokenPiece {
  token: number;
  text: string;
  /** With the logprobs option: the sampled token's log-probability, bytes and own text (null: an echoed prompt's first token). */
  logprob?: number | null;
  bytes?: number[];
  tokenText?: string;
  /** With logprobs: k, the k most likely tokens, most likely first. */
  topLogprobs?: TokenLogprob[];
  /** With the echo option: this piece is a token of the prompt. */
  prompt?: true;
  /** chat() only: what this piece adds to the message's content, reasoning_content and tool_calls. */
  content?: string;
  reasoning?: string;
  toolCalls?: ToolCallDelta[];
}

export interface TokenLogprob {
  token: number;
  /** The token's bytes as text (an unfinished UTF-8 character shows as U+FFFD). */
  text: string;
  bytes: number[];
  logprob: number;
}

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** OpenAI's streamed tool-call delta: the first of a call has id, type and name; later ones argument text. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

export interface ChatReplyMessage {
  role: 'assistant';
  /** null when the reply is only tool calls. */
  content: string | null;
  reasoning_content?: string;
  tool_calls?: ToolCall[];
}

export interface Completion {
  promptTokens: number[];
  tokens: number[];
  text: string;
  /** 'stop': an end-of-generation token or stop string; 'length': maxTokens; 'context': the context is full;
   *  'tool_calls': chat() replied with tool calls. */
  finishReason: 'stop' | 'length' | 'context' | 'tool_calls';
  /** chat() only: the reply as OpenAI's assistant message (content, reasoning_content, tool_calls). */
  message?: ChatReplyMessage;
  /** Prompt tokens actually evaluated (the rest were reused from the KV cache). */
  promptEvaluated: number;
  timings: {
    promptMs: number;
    decodeMs: number;
    /** Time choosing tokens (sampler, grammar masks), not part of decodeMs. */
    sampleMs: number;
    promptTokensPerSecond: number;
    decodeTokensPerSecond: number;
    /** With the `speculative` option. */
    speculative?: SpeculativeStats;
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
  /** Bytes of the default session's KV cache: per attention layer, its rows (contextSize, or a sliding-window layer's ring of window + 63) x KV heads x (K + V head bytes). */
  kvCacheBytes: number;
  threads: number;
  wasmVariant: 'mt' | 'st';
  /** The instructions of the build that runs: relaxed SIMD (integer dot) or plain SIMD128; results are the same. */
  wasmIsa: 'relaxed' | 'simd128';
  loadMs: number;
  /** Weight matrices rearranged at load time for the SIMD kernels (4-row interleaved Q4_0, Q5_0, Q8_0, IQ4_NL). */
  repackedMatrices: number;
  /** How embed() pools by default: encoders always pool; decoders only when the file names a pooling_type (else null). */
  pooling: 'mean' | 'cls' | 'last' | null;
  /** An embedding-only model (bert, nomic-bert): complete() and chat() fail with ERR_BAD_ARG. */
  isEncoder: boolean;
}

export type WasmllmErrorCode =
  | 'ERR_TRUNCATED' | 'ERR_BAD_MAGIC' | 'ERR_BAD_VERSION' | 'ERR_BAD_VALUE' | 'ERR_UNKNOWN_TYPE'
  | 'ERR_BAD_TENSOR' | 'ERR_UNSUPPORTED_ARCH' | 'ERR_MISSING_KEY' | 'ERR_MISSING_TENSOR' | 'ERR_OOM'
  | 'ERR_CONTEXT_FULL' | 'ERR_BAD_ARG' | 'ERR_SHARDS' | 'ERR_NOT_FOUND' | 'ERR_FETCH' | 'ERR_ABORTED'
  | 'ERR_TOKENIZER' | 'ERR_TEMPLATE' | 'ERR_WASM' | 'ERR_BUSY' | 'ERR_DISPOSED' | (string & {});

export declare class WasmllmError extends Error {
  constructor(code: string, message: string, options?: { cause?: unknown });
  readonly name: 'WasmllmError';
  readonly code: WasmllmErrorCode;
  /** jsonSchemaToGrammar errors: the schema keyword at fault and its JSON pointer. */
  readonly keyword?: string;
  readonly pointer?: string;
}

export interface JsonSchemaGrammarOptions {
  /**
   * Whitespace allowed between JSON tokens: 'flexible' (default: none, one
   * space, or a newline and up to 20 spaces or tabs) or 'none' (compact).
   */
  whitespace?: 'flexible' | 'none';
}

/**
 * GBNF grammar text (llama.cpp's dialect, start rule `root`) that only
 * matches JSON documents valid under `schema`. `{ type: 'json_object' }`
 * means any JSON object. A keyword the grammar cannot enforce throws a
 * WasmllmError 'ERR_BAD_ARG' whose `keyword` and `pointer` (JSON pointer,
 * e.g. "#/properties/tags") say which and where.
 */
export declare function jsonSchemaToGrammar(schema: object | boolean, options?: JsonSchemaGrammarOptions): string;

/** OpenAI's response_format shapes. */
export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; description?: string; schema: object | boolean; strict?: boolean | null } };

/** Grammar text for an OpenAI `response_format`, or null for `{ type: 'text' }`. */
export declare function responseFormatToGrammar(format: ResponseFormat, options?: JsonSchemaGrammarOptions): string | null;

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
