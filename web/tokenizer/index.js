/**
 * createTokenizer(metadata): the tokenizer a GGUF describes, producing the
 * ids llama.cpp produces for the same file. Pure JS: no wasm needed, so the
 * CLI's `tokenize` and the loader can use it before any wasm memory exists.
 *
 * Models (tokenizer.ggml.model): llama (SentencePiece BPE), gpt2 (byte-level
 * BPE with the pre-tokenizer tokenizer.ggml.pre names), bert (WordPiece),
 * t5 (Unigram).
 */
import { WasmllmError } from '../errors.js';
import { ATTR, loadVocab } from './vocab.js';
import { preRule } from './pre-rules.js';
import { BpeModel } from './bpe.js';
import { SpmModel } from './spm.js';
import { WpmModel } from './wpm.js';
import { UgmModel } from './ugm.js';
import { partitionSpecial } from './special.js';
import { PieceRenderer, detokenizeBytes, completeUtf8Prefix } from './decode.js';

export { ATTR } from './vocab.js';
export { supportedPreNames } from './pre-rules.js';

const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Replaces lone surrogates (text that cannot be UTF-8) with U+FFFD.
 * @param {string} s
 */
export function toWellFormed(s) {
  if (typeof s.isWellFormed === 'function') return s.isWellFormed() ? s : s.toWellFormed();
  return s.replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * @typedef {object} Tokenizer
 * @property {(text: string, options?: { addSpecial?: boolean, parseSpecial?: boolean }) => number[]} encode
 * @property {(ids: ArrayLike<number>, options?: { showSpecial?: boolean }) => string} decode
 * @property {(id: number, options?: { showSpecial?: boolean }) => Uint8Array} tokenToPiece
 * @property {(options?: { showSpecial?: boolean }) => { push(id: number): string, flush(): string }} createStreamDecoder
 * @property {(id: number) => boolean} isEog
 * @property {number} nVocab
 * @property {number | null} bos
 * @property {number | null} eos
 * @property {number | null} eot
 * @property {number | null} eom
 * @property {number | null} pad
 * @property {number | null} unk
 * @property {number | null} sep
 * @property {number | null} nl
 * @property {string} model
 * @property {string} pre
 * @property {Int32Array} tokenTypes
 * @property {boolean} addBos
 * @property {boolean} addEos
 * @property {import('../gguf-strings.js').GGUFStringArray} tokens token texts, packed: `.get(id)` decodes one
 */

/**
 * @param {Map<string, any>} metadata the `metadata` of parseGGUF()
 * @returns {Tokenizer}
 */
export function createTokenizer(metadata) {
  let rule = null;
  const vocab = loadVocab(metadata, {
    preFlags(v) {
      if (v.type !== 'bpe') return;
      rule = preRule(v.pre);
      const f = rule.flags;
      if (f.cleanSpaces !== undefined) v.flags.cleanSpaces = f.cleanSpaces;
      if (f.addBos) v.flags.addBos = true;
      if (f.addSep) v.flags.addSep = true;
      if (f.noBos) v.ids.bos = null;
    },
  });

  let model;
  if (vocab.type === 'bpe') model = new BpeModel(vocab, rule);
  else if (vocab.type === 'spm') model = new SpmModel(vocab);
  else if (vocab.type === 'wpm') model = new WpmModel(vocab);
  else model = new UgmModel(vocab);
  const renderer = new PieceRenderer(vocab);
  const { ids, flags } = vocab;

  /** @param {string} text @param {{ addSpecial?: boolean, parseSpecial?: boolean }} [options] */
  function encode(text, { addSpecial = true, parseSpecial = false } = {}) {
    if (typeof text !== 'string') throw new WasmllmError('ERR_BAD_ARG', `encode needs a string, got ${typeof text}`);
    const frags = partitionSpecial(vocab, toWellFormed(text), parseSpecial);
    /** @type {number[]} */
    const out = [];
    const bos = addSpecial && (vocab.type === 'wpm' || flags.addBos) ? ids.bos : null;
    if (addSpecial && (vocab.type === 'wpm' || flags.addBos) && bos === null) {
      throw new WasmllmError('ERR_TOKENIZER', 'the vocabulary asks for a BOS token but has none');
    }
    if (bos !== null) out.push(bos);
    let prevSpecial = true; // SentencePiece: a space goes before text that starts the input or follows a special token
    for (const f of frags) {
      if ('id' in f) { out.push(f.id); prevSpecial = true; continue; }
      if (vocab.type === 'spm') {
        const t = (flags.addSpacePrefix && prevSpecial ? ' ' : '') + f.text;
        model.encode(t.replaceAll(' ', '\u2581'), out);
      } else {
        model.encode(f.text, out);
      }
      prevSpecial = false;
    }
    if (addSpecial) {
      if (vocab.type === 'wpm') {
        if (ids.sep === null) throw new WasmllmError('ERR_TOKENIZER', 'the vocabulary asks for a SEP token but has none');
        out.push(ids.sep);
      } else if (flags.addEos) {
        if (ids.eos === null) throw new WasmllmError('ERR_TOKENIZER', 'the vocabulary asks for an EOS token but has none');
        out.push(ids.eos);
      }
    }
    return out;
  }

  /** @param {ArrayLike<number>} tokenIds @param {{ showSpecial?: boolean }} [options] */
  function decode(tokenIds, { showSpecial = false } = {}) {
    return utf8Decoder.decode(detokenizeBytes(vocab, renderer, tokenIds, showSpecial));
  }

  /** @param {number} id @param {{ showSpecial?: boolean }} [options] */
  function tokenToPiece(id, { showSpecial = true } = {}) {
    return renderer.piece(id, showSpecial).slice();
  }

  /** @param {{ showSpecial?: boolean }} [options] */
  function createStreamDecoder({ showSpecial = false } = {}) {
    let pending = new Uint8Array(0);
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    return {
      /** @param {number} id @returns {string} the text that is complete so far */
      push(id) {
        const p = renderer.piece(id, showSpecial);
        if (p.length === 0) return '';
        const buf = new Uint8Array(pending.length + p.length);
        buf.set(pending, 0);
        buf.set(p, pending.length);
        const cut = completeUtf8Prefix(buf, buf.length);
        pending = buf.slice(cut);
        return cut ? decoder.decode(buf.subarray(0, cut)) : '';
      },
      /** @returns {string} whatever was held back (incomplete sequences become U+FFFD) */
      flush() {
        const rest = pending;
        pending = new Uint8Array(0);
        return rest.length ? decoder.decode(rest) : '';
      },
    };
  }

  const linefeed = (() => {
    if (vocab.type === 'spm') return model.byteIds[10] >= 0 ? model.byteIds[10] : ids.pad;
    if (vocab.type === 'wpm') return ids.pad;
    try { const t = encode('\n', { addSpecial: false }); return t.length ? t[0] : ids.pad; } catch { return ids.pad; }
  })();

  /**
   * The vocabulary as the grammar engine reads it (wl_vocab_new): each
   * token's bytes, and its kind: 0 text, 1 never generated under a grammar
   * (control, unknown, unused), 2 end of generation.
   */
  function grammarVocab() {
    const { bytes, offsets } = renderer.packAll();
    const kinds = new Uint8Array(vocab.nVocab);
    const never = ATTR.CONTROL | ATTR.UNKNOWN | ATTR.UNUSED;
    for (let id = 0; id < vocab.nVocab; id++) {
      const attr = vocab.attrs[id];
      kinds[id] = vocab.eog.has(id) ? 2 : (attr & never) || attr === ATTR.UNDEFINED ? 1 : 0;
    }
    return { bytes, offsets, kinds };
  }

  return {
    encode,
    grammarVocab,
    decode,
    tokenToPiece,
    createStreamDecoder,
    streamDecoder: createStreamDecoder, // the name docs/DESIGN.md uses
    isEog: (id) => vocab.eog.has(id),
    isControl: (id) => id >= 0 && id < vocab.nVocab && (vocab.attrs[id] & ATTR.CONTROL) !== 0,
    nVocab: vocab.nVocab,
    bos: ids.bos, eos: ids.eos, eot: ids.eot, eom: ids.eom, pad: ids.pad, unk: ids.unk, sep: ids.sep, nl: linefeed,
    fim: { pre: ids.fimPre, suf: ids.fimSuf, mid: ids.fimMid, pad: ids.fimPad, rep: ids.fimRep, sep: ids.fimSep },
    model: vocab.model,
    pre: vocab.pre,
    tokenTypes: vocab.tokenTypes,
    tokenAttrs: vocab.attrs,
    tokens: vocab.texts,
    addBos: flags.addBos,
    addEos: flags.addEos,
    addSep: flags.addSep,
    eogIds: [...vocab.eog].sort((a, b) => a - b),
  };
}
