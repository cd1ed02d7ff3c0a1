/**
 * The BPE pre-tokenizer rule sets, keyed by `tokenizer.ggml.pre`: which
 * splitting expressions run (in order, each one splitting the pieces the
 * previous ones produced) and the flags llama.cpp changes for that value.
 *
 * The expressions are the ones llama.cpp runs (its adaptations of each
 * model's tokenizer.json regex, e.g. case-insensitive groups spelled out),
 * because its splitting — including its way of mapping Unicode categories
 * onto a byte-sized alphabet — is what the ids must match.
 */
import { WasmllmError } from '../errors.js';

const CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const LLAMA3 = CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 = CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN35 = CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// Upper/lower-case letter runs written with lookaheads, since the category
// alphabet has a single "letter" class (GPT-4o / tekken style).
const UPPER_LOWER = "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+";
const UPPER_LOWER2 = "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*";
const CJK = '[一-龥ࠀ-一가-퟿]+';

/**
 * @typedef {object} PreRule
 * @property {string[]} regexes
 * @property {{ cleanSpaces?: boolean, ignoreMerges?: boolean, addBos?: boolean, addSep?: boolean, noBos?: boolean }} [flags]
 */

/** @type {Record<string, PreRule>} */
const RULES = {
  default: {
    regexes: ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]'],
  },
  llama3: { regexes: [LLAMA3], flags: { ignoreMerges: true, addBos: true } },
  'deepseek-llm': {
    regexes: [
      '[\r\n]',
      '\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\u{10400}-\u{1044f}\u{104b0}-\u{104d3}\u{104d8}-\u{104fb}\u{10c80}-\u{10cb2}\u{10cc0}-\u{10cf2}\u{118a0}-\u{118df}\u{1e900}-\u{1e943}]+',
      '\\s?[!-/:-~！-／：-～‘-‟　-。]+',
      '\\s+$',
      CJK,
      '\\p{N}+',
    ],
    flags: { cleanSpaces: false },
  },
  'deepseek-v3': {
    regexes: [
      '\\p{N}{1,3}',
      '[一-龥぀-ゟ゠-ヿ]+',
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    ],
    flags: { cleanSpaces: false },
  },
  'deepseek-coder': {
    regexes: ['[\r\n]', '\\s?\\p{L}+', '\\s?\\p{P}+', CJK, '\\p{N}'],
    flags: { cleanSpaces: false },
  },
  falcon: { regexes: ['[\\p{P}\\$\\+<=>\\^~\\|`]+', GPT2, '[0-9][0-9][0-9]'] },
  starcoder: { regexes: ['\\p{N}', GPT2] },
  gpt2: { regexes: [GPT2] },
  qwen2: { regexes: [QWEN2], flags: { cleanSpaces: false } },
  qwen35: { regexes: [QWEN35], flags: { cleanSpaces: false } },
  bloom: { regexes: [' ?[^(\\s|.,!?…。，、।۔،)]+'] },
  chatglm4: { regexes: [LLAMA3], flags: { noBos: true } },
  viking: { regexes: [' ?[^(\\s|.,!?…。，、।۔،)]+', '\\p{N}'], flags: { cleanSpaces: false } },
  tekken: {
    regexes: [UPPER_LOWER + '|' + UPPER_LOWER2 + "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
    flags: { cleanSpaces: false, ignoreMerges: true, addBos: true },
  },
  chameleon: {
    regexes: [
      '<sentinel:[0-9]+>',
      '(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z',
      '([\\t\\n]|    |  )',
      '\\p{N}',
      '[\\p{P}!-/:-@\\[-`{-~]',
      GPT2,
    ],
    flags: { addBos: true, cleanSpaces: false },
  },
  'gpt-4o': {
    regexes: [UPPER_LOWER + CONTRACTIONS + '?|' + UPPER_LOWER2 + CONTRACTIONS + "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
    flags: { cleanSpaces: false },
  },
  'seed-coder': {
    regexes: [CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
    flags: { cleanSpaces: false },
  },
};

/**
 * `tokenizer.ggml.pre` values -> [rule set, flag overrides for that name].
 * Names that share a rule set can still differ in flags (clean_spaces).
 * @type {Record<string, [string, object?]>}
 */
const PRE_NAMES = {
  default: ['default'],
  '': ['default'],
  llama3: ['llama3'], 'llama-v3': ['llama3'], 'llama-bpe': ['llama3'], falcon3: ['llama3'], 'falcon-h1': ['llama3'],
  pixtral: ['llama3'], 'midm-2.0': ['llama3'], lfm2: ['llama3'],
  dbrx: ['llama3', { ignoreMerges: false, addBos: false }],
  'smaug-bpe': ['llama3', { ignoreMerges: false, addBos: false }],
  'deepseek-llm': ['deepseek-llm'],
  'deepseek-coder': ['deepseek-coder'],
  'deepseek-v3': ['deepseek-v3'],
  falcon: ['falcon'],
  mpt: ['gpt2'],
  starcoder: ['starcoder'],
  refact: ['starcoder'],
  'command-r': ['starcoder', { cleanSpaces: false }],
  smollm: ['starcoder', { cleanSpaces: false }],
  codeshell: ['starcoder'],
  exaone: ['starcoder'],
  'minerva-7b': ['starcoder'],
  'gpt-2': ['gpt2'], 'phi-2': ['gpt2'], 'jina-es': ['gpt2'], 'jina-de': ['gpt2'], gigachat: ['gpt2'],
  'jina-v2-es': ['gpt2'], 'jina-v2-de': ['gpt2'], 'a.x-4.0': ['gpt2'], mellum: ['gpt2'], 'modern-bert': ['gpt2'],
  exaone4: ['gpt2'],
  'jina-v1-en': ['gpt2', { addSep: true }], 'jina-v2-code': ['gpt2', { addSep: true }], 'roberta-bpe': ['gpt2', { addSep: true }],
  olmo: ['gpt2'],
  jais: ['gpt2'],
  trillion: ['gpt2', { cleanSpaces: false }],
  'granite-docling': ['gpt2', { cleanSpaces: false }],
  qwen2: ['qwen2'], 'deepseek-r1-qwen': ['qwen2'], kormo: ['qwen2'], f2llmv2: ['qwen2'],
  megrez: ['qwen2', { cleanSpaces: true }],
  stablelm2: ['qwen2', { cleanSpaces: true }],
  qwen35: ['qwen35'],
  'poro-chat': ['bloom', { cleanSpaces: false }],
  bloom: ['bloom'],
  'gpt3-finnish': ['bloom'],
  'chatglm-bpe': ['chatglm4'], glm4: ['chatglm4'],
  viking: ['viking'],
  tekken: ['tekken'],
  chameleon: ['chameleon'],
  'gpt-4o': ['gpt-4o'], llama4: ['gpt-4o'], kanana2: ['gpt-4o'], talkie: ['gpt-4o'],
  'minimax-m2': ['gpt-4o'],
  'seed-coder': ['seed-coder'],
  'grok-2': ['qwen2'],
  'solar-open': ['qwen2'],
  hunyuan: ['qwen2'],
};

/**
 * Resolves a `tokenizer.ggml.pre` value to its rule set; throws naming the
 * value when it is not one we implement (never a silent fallback).
 * @param {string} pre
 * @returns {{ name: string, regexes: string[], flags: Record<string, boolean> }}
 */
export function preRule(pre) {
  const entry = PRE_NAMES[pre];
  if (!entry) {
    throw new WasmllmError('ERR_TOKENIZER', `unknown pre-tokenizer '${pre}' (tokenizer.ggml.pre); supported: ${Object.keys(PRE_NAMES).filter(Boolean).join(', ')}`);
  }
  const [name, override] = entry;
  const rule = RULES[name];
  return { name, regexes: rule.regexes, flags: { ...(rule.flags ?? {}), ...(override ?? {}) } };
}

/** @returns {string[]} every accepted `tokenizer.ggml.pre` value */
export function supportedPreNames() {
  return Object.keys(PRE_NAMES).filter(Boolean);
}
