#!/usr/bin/env node
/**
 * Converts a Hugging Face tokenizer.json (+ tokenizer_config.json) with a
 * byte-level BPE model into a vocab-only GGUF that llama.cpp and wasmllm
 * load: the token list and types, merges, special token ids, add-BOS/EOS
 * flags, the pre-tokenizer name and the chat template. Token types follow
 * llama.cpp's convert_hf_to_gguf.py: added tokens marked special (or that
 * look special, like <|...|>) are control tokens, other added tokens are
 * user-defined, ids missing from the vocabulary become unused [PADn].
 *
 * Usage:
 *   node tools/tokenizer-json-to-gguf.js --tokenizer DIR|tokenizer.json [--config tokenizer_config.json]
 *        --out vocab.gguf [--pre NAME] [--name NAME] [--vocab-size N]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GGUFWriter, VT } from './gguf-writer.js';

const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 };

/** Split regexes of known tokenizers -> tokenizer.ggml.pre. */
const KNOWN_SPLITS = new Map([
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 'llama-bpe'],
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 'qwen2'],
  ["'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", 'gpt-2'],
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 'qwen35'],
  ["[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 'gpt-4o'],
  ["[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 'tekken'],
]);

/** As llama.cpp's does_token_look_special. @param {string} t */
function looksSpecial(t) {
  return ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(t) ||
    (t.startsWith('<|') && t.endsWith('|>')) ||
    (t.startsWith('<｜') && t.endsWith('｜>')) ||
    (t.startsWith('<unused') && t.endsWith('>'));
}

/** @param {any} pre */
function flattenPreTokenizers(pre) {
  if (!pre) return [];
  if (pre.type === 'Sequence') return pre.pretokenizers.flatMap(flattenPreTokenizers);
  return [pre];
}

/**
 * Guesses tokenizer.ggml.pre from the pre-tokenizer's split expression.
 * @param {any} tokenizer parsed tokenizer.json
 * @returns {string}
 */
export function detectPre(tokenizer) {
  const steps = flattenPreTokenizers(tokenizer.pre_tokenizer);
  const split = steps.find((s) => s.type === 'Split');
  if (split) {
    const re = split.pattern?.Regex;
    const name = KNOWN_SPLITS.get(re);
    if (name) return name;
    throw new Error(`unrecognised pre-tokenizer split ${JSON.stringify(re)}: pass --pre NAME`);
  }
  if (steps.some((s) => s.type === 'ByteLevel' && s.use_regex !== false)) return 'gpt-2';
  throw new Error('cannot tell the pre-tokenizer of this tokenizer.json: pass --pre NAME');
}

/** Content of a tokenizer_config special token entry (string or {content}). */
function contentOf(entry) {
  if (typeof entry === 'string') return entry;
  if (entry && typeof entry === 'object' && typeof entry.content === 'string') return entry.content;
  return null;
}

/**
 * Builds the GGUF writer for a byte-level BPE tokenizer.json.
 * @param {any} tokenizer parsed tokenizer.json
 * @param {any} [config] parsed tokenizer_config.json
 * @param {{ pre?: string, name?: string, vocabSize?: number }} [options]
 * @returns {GGUFWriter}
 */
export function convertTokenizerJson(tokenizer, config = {}, options = {}) {
  const model = tokenizer?.model;
  if (!model || model.type !== 'BPE') throw new Error(`only BPE tokenizer.json models are supported (got ${model?.type})`);
  const steps = flattenPreTokenizers(tokenizer.pre_tokenizer);
  if (!steps.some((s) => s.type === 'ByteLevel')) throw new Error('only byte-level BPE (a ByteLevel pre-tokenizer) is supported');
  const pre = options.pre ?? detectPre(tokenizer);

  /** @type {Map<number, string>} */
  const byId = new Map();
  for (const [text, id] of Object.entries(model.vocab)) byId.set(id, text);
  const added = new Map();
  for (const t of tokenizer.added_tokens ?? []) { byId.set(t.id, t.content); added.set(t.id, t); }
  let maxId = -1;
  for (const id of byId.keys()) if (id > maxId) maxId = id;
  const n = Math.max(maxId + 1, options.vocabSize ?? 0);

  const tokens = new Array(n);
  const types = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const text = byId.get(i);
    if (text === undefined) { tokens[i] = `[PAD${i}]`; types[i] = TOKEN_TYPE.UNUSED; continue; }
    const a = added.get(i);
    if (a) {
      if (a.special || looksSpecial(text)) { tokens[i] = text; types[i] = TOKEN_TYPE.CONTROL; }
      else { tokens[i] = text.replaceAll('\u2581', ' '); types[i] = TOKEN_TYPE.USER_DEFINED; }
    } else {
      tokens[i] = text; types[i] = TOKEN_TYPE.NORMAL;
    }
  }

  const merges = (model.merges ?? []).map((m, i) => {
    if (typeof m === 'string') return m;
    if (Array.isArray(m) && m.length === 2) return m.map((part) => part.replaceAll(' ', '\u0120')).join(' ');
    throw new Error(`merge #${i} has an unknown format`);
  });

  const w = new GGUFWriter();
  w.addString('general.architecture', 'llama');
  w.addString('general.name', options.name ?? 'tokenizer');
  w.addString('tokenizer.ggml.model', 'gpt2');
  w.addString('tokenizer.ggml.pre', pre);
  w.addArray('tokenizer.ggml.tokens', VT.STRING, tokens);
  w.addArray('tokenizer.ggml.token_type', VT.INT32, types);
  w.addArray('tokenizer.ggml.merges', VT.STRING, merges);

  // Special tokens: tokenizer_config names them by content.
  const idOf = (entry) => {
    const c = contentOf(entry);
    if (c === null) return null;
    for (const t of tokenizer.added_tokens ?? []) if (t.content === c) return t.id;
    return null;
  };
  const special = { bos: idOf(config.bos_token), eos: idOf(config.eos_token), unk: idOf(config.unk_token), pad: idOf(config.pad_token) };
  const addFlags = {};
  // A TemplateProcessing post-processor that starts with BOS / ends with EOS means "add it".
  for (const p of tokenizer.post_processor?.type === 'Sequence' ? tokenizer.post_processor.processors : [tokenizer.post_processor]) {
    if (p?.type !== 'TemplateProcessing' || !Array.isArray(p.single) || p.single.length < 2) continue;
    const first = p.single[0]?.SpecialToken?.id, last = p.single[p.single.length - 1]?.SpecialToken?.id;
    const bosText = contentOf(config.bos_token), eosText = contentOf(config.eos_token);
    if (first) addFlags.bos = first === bosText;
    if (last) addFlags.eos = last === eosText;
  }
  if (typeof config.add_bos_token === 'boolean') addFlags.bos = config.add_bos_token;
  if (typeof config.add_eos_token === 'boolean') addFlags.eos = config.add_eos_token;

  const keys = { bos: 'bos_token_id', eos: 'eos_token_id', unk: 'unknown_token_id', pad: 'padding_token_id' };
  for (const [k, key] of Object.entries(keys)) if (special[k] !== null) w.addU32(`tokenizer.ggml.${key}`, special[k]);
  if (addFlags.bos !== undefined) w.addBool('tokenizer.ggml.add_bos_token', addFlags.bos);
  if (addFlags.eos !== undefined) w.addBool('tokenizer.ggml.add_eos_token', addFlags.eos);
  if (typeof config.chat_template === 'string') w.addString('tokenizer.chat_template', config.chat_template);
  return w;
}

function parseArgs(argv) {
  const a = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (k === '--tokenizer') { a.tokenizer = v; i++; } else if (k === '--config') { a.config = v; i++; } else if (k === '--out') { a.out = v; i++; } else if (k === '--pre') { a.pre = v; i++; } else if (k === '--name') { a.name = v; i++; } else if (k === '--vocab-size') { a.vocabSize = Number(v); i++; } else throw new Error(`unknown argument ${k}`);
  }
  if (!a.tokenizer || !a.out) throw new Error('usage: tokenizer-json-to-gguf.js --tokenizer DIR|tokenizer.json [--config tokenizer_config.json] --out OUT.gguf [--pre NAME] [--name NAME] [--vocab-size N]');
  return a;
}

function main() {
  const a = parseArgs(process.argv.slice(2));
  const isDir = fs.statSync(a.tokenizer).isDirectory();
  const tokFile = isDir ? path.join(a.tokenizer, 'tokenizer.json') : a.tokenizer;
  const cfgFile = a.config ?? path.join(path.dirname(tokFile), 'tokenizer_config.json');
  const tokenizer = JSON.parse(fs.readFileSync(tokFile, 'utf8'));
  const config = fs.existsSync(cfgFile) ? JSON.parse(fs.readFileSync(cfgFile, 'utf8')) : {};
  const w = convertTokenizerJson(tokenizer, config, { pre: a.pre, name: a.name, vocabSize: a.vocabSize });
  const bytes = w.write(a.out);
  console.log(`wrote ${a.out} (${bytes} bytes)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try { main(); } catch (e) { console.error(`tokenizer-json-to-gguf: ${e.message}`); process.exit(1); }
}
