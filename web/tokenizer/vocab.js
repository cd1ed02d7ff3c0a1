/**
 * Reads a GGUF's `tokenizer.ggml.*` metadata into the vocabulary facts every
 * tokenizer model shares: token texts and attributes, special token ids, the
 * add-BOS/EOS flags and the end-of-generation set, with the defaults and
 * fix-ups llama.cpp applies when it loads the same file (so ids and flags
 * agree with llama.cpp's, not just with the metadata).
 */
import { WasmllmError } from '../errors.js';
import { GGUFStringArray, asStringArray } from '../gguf-strings.js';
import { TokenTable } from './token-table.js';

/** Token attribute bits (llama.cpp's llama_token_attr). */
export const ATTR = Object.freeze({
  UNDEFINED: 0,
  UNKNOWN: 1 << 0,
  UNUSED: 1 << 1,
  NORMAL: 1 << 2,
  CONTROL: 1 << 3,
  USER_DEFINED: 1 << 4,
  BYTE: 1 << 5,
  NORMALIZED: 1 << 6,
  LSTRIP: 1 << 7,
  RSTRIP: 1 << 8,
  SINGLE_WORD: 1 << 9,
});

/** GGUF token types (tokenizer.ggml.token_type) to attributes. */
const TYPE_TO_ATTR = [ATTR.UNDEFINED, ATTR.NORMAL, ATTR.UNKNOWN, ATTR.CONTROL, ATTR.USER_DEFINED, ATTR.UNUSED, ATTR.BYTE];

const MODEL_TYPES = { llama: 'spm', gpt2: 'bpe', bert: 'wpm', t5: 'ugm' };

// Texts llama.cpp recognises as end-of-turn / end-of-message / FIM tokens
// when the metadata does not name them, in the order we prefer a match.
const EOT_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>',
  '<EOT>', '_<EOT>', '[EOT]', '<｜end▁of▁sentence｜>', '<end_of_utterance>'];
const EOM_TEXTS = ['<|eom_id|>'];
const FIM_TEXTS = {
  fimPre: ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>', '<|prefix|>'],
  fimSuf: ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>', '<|suffix|>'],
  fimMid: ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>', '<|middle|>'],
  fimPad: ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'],
  fimRep: ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'],
  fimSep: ['<|file_sep|>'],
};
// Texts that end generation whatever the metadata says.
const EOG_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>',
  '<end_of_turn>', '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>',
  '<end_of_utterance>', '<eos>', '<turn|>', '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~['];

const SPECIAL_ID_KEYS = [
  ['bos', 'tokenizer.ggml.bos_token_id'],
  ['eos', 'tokenizer.ggml.eos_token_id'],
  ['eot', 'tokenizer.ggml.eot_token_id'],
  ['eom', 'tokenizer.ggml.eom_token_id'],
  ['unk', 'tokenizer.ggml.unknown_token_id'],
  ['sep', 'tokenizer.ggml.seperator_token_id'], // sic: llama.cpp's key
  ['pad', 'tokenizer.ggml.padding_token_id'],
  ['mask', 'tokenizer.ggml.mask_token_id'],
  ['fimPre', 'tokenizer.ggml.fim_pre_token_id'],
  ['fimSuf', 'tokenizer.ggml.fim_suf_token_id'],
  ['fimMid', 'tokenizer.ggml.fim_mid_token_id'],
  ['fimPad', 'tokenizer.ggml.fim_pad_token_id'],
  ['fimRep', 'tokenizer.ggml.fim_rep_token_id'],
  ['fimSep', 'tokenizer.ggml.fim_sep_token_id'],
  ['fimPre', 'tokenizer.ggml.prefix_token_id'],
  ['fimSuf', 'tokenizer.ggml.suffix_token_id'],
  ['fimMid', 'tokenizer.ggml.middle_token_id'],
];

/**
 * @typedef {object} Vocab
 * @property {string} model 'llama' | 'gpt2' | 'bert' | 't5'
 * @property {'spm'|'bpe'|'wpm'|'ugm'} type
 * @property {string} pre tokenizer.ggml.pre as written ('' if absent)
 * @property {number} nVocab
 * @property {GGUFStringArray} texts token texts, packed (empty ones as [EMPTY_id], as llama.cpp)
 * @property {TokenTable} table text -> id over those bytes
 * @property {Float32Array | null} scores
 * @property {Int32Array} tokenTypes GGUF token types as stored (1 normal when absent)
 * @property {Uint16Array} attrs
 * @property {number} maxTokenLen longest token, in UTF-8 bytes
 * @property {Record<string, number | null>} ids bos, eos, eot, eom, unk, sep, pad, mask, fim*
 * @property {{ addBos: boolean, addEos: boolean, addSep: boolean, addSpacePrefix: boolean,
 *   removeExtraWhitespaces: boolean, escapeWhitespaces: boolean, treatWhitespaceAsSuffix: boolean,
 *   cleanSpaces: boolean, lowercase: boolean, stripAccents: boolean }} flags
 * @property {Set<number>} eog
 * @property {number[]} specialTokens control / user-defined / unknown ids, longest text first
 * @property {string[]} specialTexts their texts (the only token texts kept as JS strings)
 * @property {Map<string, any>} metadata
 */

/** @param {Map<string, any>} md @param {string} key */
function getNumber(md, key) {
  const v = md.get(key);
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/** @param {Map<string, any>} md @param {string} key */
function getBool(md, key) {
  const v = md.get(key);
  return typeof v === 'boolean' ? v : undefined;
}


/**
 * The texts with each empty one replaced by [EMPTY_id] (as llama.cpp: an
 * empty token can never match); the same object when none is empty.
 * @param {GGUFStringArray} texts
 */
function fillEmpty(texts) {
  const { bytes, offsets } = texts;
  const n = texts.length;
  let extra = 0;
  for (let i = 0; i < n; i++) if (offsets[i + 1] === offsets[i]) extra += `[EMPTY_${i}]`.length;
  if (extra === 0) return texts;
  const out = new Uint8Array(bytes.length + extra);
  const outOffsets = new Uint32Array(n + 1);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const a = offsets[i], b = offsets[i + 1];
    if (a === b) {
      const name = `[EMPTY_${i}]`; // ASCII: one byte per character
      for (let k = 0; k < name.length; k++) out[at++] = name.charCodeAt(k);
    } else {
      out.set(bytes.subarray(a, b), at);
      at += b - a;
    }
    outOffsets[i + 1] = at;
  }
  return new GGUFStringArray(out, outOffsets);
}

/**
 * @param {Map<string, any>} metadata
 * @param {{ preFlags?: (vocab: Vocab) => void }} [hooks] lets the pre-tokenizer table adjust flags
 * @returns {Vocab}
 */
export function loadVocab(metadata, hooks = {}) {
  if (!(metadata instanceof Map)) throw new WasmllmError('ERR_TOKENIZER', 'createTokenizer needs the metadata Map from parseGGUF');
  const model = metadata.get('tokenizer.ggml.model');
  if (typeof model !== 'string') throw new WasmllmError('ERR_TOKENIZER', 'GGUF has no tokenizer.ggml.model');
  const type = MODEL_TYPES[model];
  if (!type) throw new WasmllmError('ERR_TOKENIZER', `unknown tokenizer model '${model}' (supported: ${Object.keys(MODEL_TYPES).join(', ')})`);
  const preRaw = metadata.get('tokenizer.ggml.pre');
  const pre = typeof preRaw === 'string' ? preRaw : '';

  const rawTokens = asStringArray(metadata.get('tokenizer.ggml.tokens'));
  if (!rawTokens) throw new WasmllmError('ERR_TOKENIZER', 'GGUF has no tokenizer.ggml.tokens string array');
  const n = rawTokens.length;
  if (n === 0) throw new WasmllmError('ERR_TOKENIZER', 'tokenizer.ggml.tokens is empty');

  const rawScores = metadata.get('tokenizer.ggml.scores');
  let scores = null;
  if (rawScores !== undefined) {
    if (!(rawScores instanceof Float32Array || rawScores instanceof Int32Array)) {
      throw new WasmllmError('ERR_TOKENIZER', 'tokenizer.ggml.scores must be a float32 or int32 array');
    }
    if (rawScores.length < n) throw new WasmllmError('ERR_TOKENIZER', `tokenizer.ggml.scores has ${rawScores.length} entries for ${n} tokens`);
    scores = rawScores instanceof Float32Array ? rawScores : Float32Array.from(rawScores);
  }
  const rawTypes = metadata.get('tokenizer.ggml.token_type');
  if (rawTypes !== undefined) {
    if (!(rawTypes instanceof Int32Array)) throw new WasmllmError('ERR_TOKENIZER', 'tokenizer.ggml.token_type must be an int32 array');
    if (rawTypes.length < n) throw new WasmllmError('ERR_TOKENIZER', `tokenizer.ggml.token_type has ${rawTypes.length} entries for ${n} tokens`);
  }

  const texts = fillEmpty(rawTokens);
  const table = new TokenTable(texts);
  const attrs = new Uint16Array(n);
  // The metadata's own array (only read from here on), else all normal.
  const tokenTypes = rawTypes ? rawTypes.subarray(0, n) : new Int32Array(n).fill(1);
  let maxTokenLen = 0;
  for (let i = 0; i < n; i++) {
    const bytes = texts.byteLength(i);
    if (bytes > maxTokenLen) maxTokenLen = bytes;
    const t = tokenTypes[i];
    attrs[i] = t >= 0 && t < TYPE_TO_ATTR.length ? TYPE_TO_ATTR[t] : ATTR.UNDEFINED;
  }

  const ids = { bos: null, eos: null, eot: null, eom: null, unk: null, sep: null, pad: null, mask: null,
    fimPre: null, fimSuf: null, fimMid: null, fimPad: null, fimRep: null, fimSep: null };
  const flags = { addBos: false, addEos: false, addSep: false, addSpacePrefix: false, removeExtraWhitespaces: false,
    escapeWhitespaces: true, treatWhitespaceAsSuffix: false, cleanSpaces: false, lowercase: true, stripAccents: true };

  // Per-model defaults, as llama.cpp sets them before reading the metadata.
  if (type === 'spm') {
    Object.assign(ids, { bos: 1, eos: 2, unk: 0 });
    Object.assign(flags, { addSpacePrefix: true, cleanSpaces: false, addBos: true, addEos: false });
  } else if (type === 'wpm') {
    Object.assign(ids, { bos: 101, unk: 100, sep: 102, pad: 0, mask: 103 });
    Object.assign(flags, { addSpacePrefix: false, cleanSpaces: true, addBos: true, addEos: false, addSep: true });
  } else if (type === 'bpe') {
    Object.assign(ids, { bos: 11, eos: 11 });
    Object.assign(flags, { addSpacePrefix: false, escapeWhitespaces: false, cleanSpaces: true });
  } else if (type === 'ugm') {
    Object.assign(ids, { eos: 1, unk: 2, pad: 0 });
    Object.assign(flags, { addBos: false, addEos: true });
  }

  /** @type {Vocab} */
  const vocab = { model, type, pre, nVocab: n, texts, table, scores, tokenTypes, attrs, maxTokenLen, ids, flags,
    eog: new Set(), specialTokens: [], specialTexts: [], metadata };

  // BPE pre-tokenizer rule sets adjust flags (clean_spaces, add_bos, ...).
  if (hooks.preFlags) hooks.preFlags(vocab);

  const addPrefix = getBool(metadata, 'tokenizer.ggml.add_space_prefix');
  if (addPrefix !== undefined) flags.addSpacePrefix = addPrefix;
  const removeWs = getBool(metadata, 'tokenizer.ggml.remove_extra_whitespaces');
  if (removeWs !== undefined) flags.removeExtraWhitespaces = removeWs;

  for (const key of Object.keys(ids)) {
    if (ids[key] !== null && ids[key] >= n) ids[key] = null; // default out of range: disabled
  }
  for (const [name, key] of SPECIAL_ID_KEYS) {
    const v = getNumber(metadata, key);
    if (v === undefined) continue;
    if (Number.isInteger(v) && v >= 0 && v < n) ids[name] = v; // out of range: keep the default, as llama.cpp
  }

  const addBos = getBool(metadata, 'tokenizer.ggml.add_bos_token');
  if (addBos !== undefined) flags.addBos = addBos;
  const addEos = getBool(metadata, 'tokenizer.ggml.add_eos_token');
  if (addEos !== undefined) flags.addEos = addEos;
  const addSep = getBool(metadata, 'tokenizer.ggml.add_sep_token');
  if (addSep !== undefined) flags.addSep = addSep;

  const lower = getBool(metadata, 'tokenizer.ggml.normalizer.lowercase');
  if (lower !== undefined) flags.lowercase = lower;
  flags.stripAccents = flags.lowercase;
  const strip = getBool(metadata, 'tokenizer.ggml.normalizer.strip_accents');
  if (strip !== undefined) flags.stripAccents = strip;

  detectSpecialTokens(vocab);
  applyModelAttrs(vocab);
  vocab.specialTexts = vocab.specialTokens.map((id) => table.text(id));
  return vocab;
}

/** @param {Vocab} vocab @param {string} text */
function markControl(vocab, text) {
  const id = vocab.table.idOf(text);
  if (id < 0) return undefined;
  vocab.attrs[id] |= ATTR.CONTROL;
  return id;
}

/**
 * Finds EOT/EOM/FIM tokens by their text when the metadata does not name
 * them, builds the end-of-generation set, and marks those tokens as control
 * tokens — the fix-ups llama.cpp applies at load.
 * @param {Vocab} vocab
 */
function detectSpecialTokens(vocab) {
  const { ids, table, attrs, nVocab } = vocab;
  const idOf = (t) => { const id = table.idOf(t); return id < 0 ? undefined : id; };
  const firstPresent = (texts) => texts.find((t) => table.idOf(t) >= 0);

  if (ids.eot === null) {
    const t = firstPresent(EOT_TEXTS);
    if (t !== undefined) ids.eot = markControl(vocab, t);
  }
  if (ids.eom === null) {
    const t = firstPresent(EOM_TEXTS);
    if (t !== undefined) ids.eom = markControl(vocab, t);
  }
  for (const [name, texts] of Object.entries(FIM_TEXTS)) {
    if (ids[name] !== null) continue;
    const t = firstPresent(texts);
    if (t !== undefined) ids[name] = markControl(vocab, t);
  }

  // Control tokens named "unused" are unused.
  // (Only control tokens' texts are decoded: a few hundred at most.)
  for (let i = 0; i < nVocab; i++) {
    if ((attrs[i] & ATTR.CONTROL) && !(attrs[i] & ATTR.UNUSED) && table.text(i).includes('unused')) attrs[i] |= ATTR.UNUSED;
  }

  const eog = vocab.eog;
  for (const name of ['fimPad', 'fimRep', 'fimSep']) if (ids[name] !== null) eog.add(ids[name]);
  for (const text of EOG_TEXTS) {
    const id = markControl(vocab, text);
    if (id !== undefined) eog.add(id);
  }
  // gpt-oss: these structural tokens are always rendered.
  for (const text of ['<|channel|>', '<|message|>', '<|start|>', '<|constrain|>']) {
    const id = idOf(text);
    if (id !== undefined) attrs[id] = ATTR.USER_DEFINED;
  }
  for (const name of ['eos', 'eot', 'eom']) if (ids[name] !== null) eog.add(ids[name]);

  // Harmony-style vocabularies (<|return|> and <|call|>, or <|calls|> and
  // <|flush|>) use <|end|> between messages, not to stop.
  const has = (t) => { const id = idOf(t); return id !== undefined && eog.has(id); };
  const endId = idOf('<|end|>');
  if (endId !== undefined && eog.has(endId) &&
      ((has('<|return|>') && (has('<|call|>') || has('<|calls|>'))) || ((has('<|call|>') || has('<|calls|>')) && has('<|flush|>')))) {
    eog.delete(endId);
    attrs[endId] = ATTR.USER_DEFINED;
  }
  // Gemma 4 / PaddleOCR: </s> is an ordinary token where <|tool_response> exists.
  const sId = idOf('</s>');
  if (sId !== undefined && eog.has(sId) && has('<|tool_response>')) {
    eog.delete(sId);
    attrs[sId] = ATTR.NORMAL;
  }

  const special = [];
  for (let i = 0; i < nVocab; i++) {
    if (attrs[i] & (ATTR.CONTROL | ATTR.USER_DEFINED | ATTR.UNKNOWN)) special.push(i);
  }
  const byteLen = special.map((id) => table.byteLength(id));
  const order = special.map((_, i) => i).sort((a, b) => byteLen[b] - byteLen[a] || special[a] - special[b]);
  vocab.specialTokens = order.map((i) => special[i]);
}

/**
 * Per-model token attributes llama.cpp sets by name (they decide whether
 * whitespace next to a special token is swallowed).
 * @param {Vocab} vocab
 */
function applyModelAttrs(vocab) {
  const md = vocab.metadata;
  const name = String(md.get('general.name') ?? '').toLowerCase();
  const arch = String(md.get('general.architecture') ?? '');
  const set = (text, bit, on) => {
    const id = vocab.table.idOf(text);
    if (id < 0) return;
    vocab.attrs[id] = on ? vocab.attrs[id] | bit : vocab.attrs[id] & ~bit;
  };
  if (['jina-v2-de', 'jina-v2-es', 'jina-v2-code'].some((s) => vocab.pre.includes(s)) ||
      ['nomic-bert-moe', 'jina-bert-v3'].some((s) => arch.includes(s))) {
    set('<mask>', ATTR.LSTRIP, true);
  } else if (name.includes('phi-3') || name.includes('phi3')) {
    for (const id of vocab.specialTokens) vocab.attrs[id] |= ATTR.RSTRIP;
    set('</s>', ATTR.RSTRIP, true);
    for (const t of ['<unk>', '<s>', '<|endoftext|>']) set(t, ATTR.RSTRIP, false);
  } else if (name.includes('modern-bert')) {
    set('[MASK]', ATTR.LSTRIP, true);
  }
}
