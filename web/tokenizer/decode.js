/**
 * Token ids back to bytes and text, as llama.cpp renders them:
 * token_to_piece (SentencePiece's U+2581 as a space, <0xXX> byte tokens as
 * that byte, GPT-2's byte-level alphabet mapped back to bytes, control
 * tokens shown only on request), llama_detokenize's first-token space strip
 * and clean-up of spaces before punctuation, and a streaming decoder that
 * holds back incomplete UTF-8 sequences.
 */
import { WasmllmError } from '../errors.js';
import { ATTR } from './vocab.js';
import { unicodeToByteTable } from './bpe.js';

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * Renders pieces of one vocabulary straight from its packed UTF-8, cached per
 * id once rendered (special tokens shown; the cache holds only ids seen).
 */
export class PieceRenderer {
  /** @param {import('./vocab.js').Vocab} vocab */
  constructor(vocab) {
    this.vocab = vocab;
    /** @type {Map<number, Uint8Array>} */
    this.cache = new Map();
    this.u2b = vocab.type === 'bpe' ? unicodeToByteTable() : null;
  }

  /** @param {number} id */
  #check(id) {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocab.nVocab) {
      throw new WasmllmError('ERR_TOKENIZER', `token id ${id} is out of range (vocabulary has ${this.vocab.nVocab} tokens)`);
    }
  }

  /**
   * Bytes of a token as llama.cpp's token_to_piece renders it.
   * @param {number} id @param {boolean} special show control/unknown tokens
   * @returns {Uint8Array}
   */
  piece(id, special) {
    this.#check(id);
    const attr = this.vocab.attrs[id];
    if (!special && (attr & (ATTR.UNKNOWN | ATTR.CONTROL))) return EMPTY;
    let p = this.cache.get(id);
    if (p === undefined) this.cache.set(id, p = this.#render(id, attr));
    return p;
  }

  /**
   * Every token's bytes, special tokens shown (token_to_piece with
   * special = true, what llama.cpp's grammars match), written into one
   * buffer: no per-token arrays for 100k+ tokens (for the grammar engine).
   * @returns {{ bytes: Uint8Array, offsets: Uint32Array }}
   */
  packAll() {
    const n = this.vocab.nVocab;
    const sink = new ByteSink(this.vocab.texts.bytes.length + 64);
    const offsets = new Uint32Array(n + 1);
    for (let id = 0; id < n; id++) {
      offsets[id] = sink.n;
      this.#renderInto(id, this.vocab.attrs[id], sink);
    }
    offsets[n] = sink.n;
    return { bytes: sink.buf.subarray(0, sink.n), offsets };
  }

  /** @param {number} id @param {number} attr */
  #render(id, attr) {
    const sink = new ByteSink(16);
    this.#renderInto(id, attr, sink);
    return sink.n === 0 ? EMPTY : sink.buf.slice(0, sink.n);
  }

  /** Appends token id's piece to sink. @param {number} id @param {number} attr @param {ByteSink} sink */
  #renderInto(id, attr, sink) {
    const { bytes, offsets } = this.vocab.texts;
    const a = offsets[id], b = offsets[id + 1];
    if (attr & (ATTR.UNKNOWN | ATTR.CONTROL | ATTR.USER_DEFINED)) {
      sink.pushRange(bytes, a, b);
    } else if (attr & ATTR.NORMAL) {
      if (this.u2b) this.#byteLevel(id, bytes, a, b, sink);
      else spaceMarksToSpaces(bytes, a, b, sink);
    } else if (attr & ATTR.BYTE) {
      const v = parseInt(this.vocab.table.text(id).slice(3, 5), 16);
      sink.push(Number.isNaN(v) ? 0 : v);
    }
  }

  /**
   * GPT-2 byte-level alphabet back to bytes (llama_decode_text), reading the
   * token's code points from its UTF-8.
   * @param {number} id @param {Uint8Array} bytes @param {number} a @param {number} b @param {ByteSink} sink
   */
  #byteLevel(id, bytes, a, b, sink) {
    for (let i = a; i < b;) {
      const c = bytes[i];
      const n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
      const cp = n === 1 ? c : n === 2 ? ((c & 0x1f) << 6) | (bytes[i + 1] & 63)
        : n === 3 ? ((c & 0x0f) << 12) | ((bytes[i + 1] & 63) << 6) | (bytes[i + 2] & 63)
          : ((c & 0x07) << 18) | ((bytes[i + 1] & 63) << 12) | ((bytes[i + 2] & 63) << 6) | (bytes[i + 3] & 63);
      const u = cp < this.u2b.length ? this.u2b[cp] : -1;
      if (u >= 0) {
        sink.push(u);
      } else {
        // llama.cpp's marker for a character outside the alphabet
        const hex = Array.from(bytes.subarray(i, i + n), (x) => x.toString(16).padStart(2, '0')).join('');
        const marker = utf8.encode(`[UNK_BYTE_0x${hex}${this.vocab.table.text(id)}]`);
        sink.pushRange(marker, 0, marker.length);
      }
      i += n;
    }
  }
}

/** A growing byte buffer: pieces are written into it rather than built as arrays. */
class ByteSink {
  /** @param {number} capacity */
  constructor(capacity) {
    this.buf = new Uint8Array(Math.max(16, capacity));
    this.n = 0;
  }

  /** @param {number} extra */
  reserve(extra) {
    if (this.n + extra <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.n + extra));
    grown.set(this.buf.subarray(0, this.n));
    this.buf = grown;
  }

  /** @param {number} byte */
  push(byte) {
    this.reserve(1);
    this.buf[this.n++] = byte;
  }

  /** @param {Uint8Array} bytes @param {number} a @param {number} b */
  pushRange(bytes, a, b) {
    this.reserve(b - a);
    this.buf.set(bytes.subarray(a, b), this.n);
    this.n += b - a;
  }
}

/** SentencePiece's U+2581 (E2 96 81) as a space, appended to sink. @param {Uint8Array} bytes @param {number} a @param {number} b @param {ByteSink} sink */
function spaceMarksToSpaces(bytes, a, b, sink) {
  sink.reserve(b - a);
  for (let i = a; i < b; i++) {
    if (bytes[i] === 0xe2 && i + 2 < b && bytes[i + 1] === 0x96 && bytes[i + 2] === 0x81) { sink.buf[sink.n++] = 0x20; i += 2; } else sink.buf[sink.n++] = bytes[i];
  }
}

/**
 * llama_detokenize(remove_special = false): bytes of the whole sequence.
 * @param {import('./vocab.js').Vocab} vocab @param {PieceRenderer} renderer
 * @param {ArrayLike<number>} ids @param {boolean} showSpecial
 * @returns {Uint8Array}
 */
export function detokenizeBytes(vocab, renderer, ids, showSpecial) {
  const parts = [];
  let total = 0;
  for (let i = 0; i < ids.length; i++) {
    let p = renderer.piece(ids[i], showSpecial);
    // Only the first token loses a leading space (the one SentencePiece added).
    if (i === 0 && vocab.flags.addSpacePrefix && p.length && p[0] === 0x20) p = p.subarray(1);
    parts.push(p);
    total += p.length;
  }
  let text = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { text.set(p, at); at += p.length; }
  if (vocab.flags.cleanSpaces) text = cleanSpaces(text);
  return text;
}

/**
 * One left-to-right pass of clean_up_tokenization_spaces: every byte after
 * the first is copied, and `dropsSpace(t, i)` says when the space just
 * copied before byte i must go (it may also edit t ahead of i, and return
 * how many bytes to skip after copying byte i).
 * @param {Uint8Array} t
 * @param {(t: Uint8Array, i: number) => { drop: boolean, skip?: number }} rule
 */
function cleanPass(t, rule) {
  const n = t.length;
  const out = new Uint8Array(n);
  let total = n ? 1 : 0;
  if (n) out[0] = t[0];
  for (let i = 1; i < n; i++) {
    const { drop, skip = 0 } = rule(t, i);
    if (drop) total--;
    out[total++] = t[i];
    i += skip;
  }
  return out.slice(0, total);
}

const SPACE = 0x20, QUOTE = 0x27;
const KEEP = { drop: false };

/**
 * llama.cpp's clean_up_tokenization_spaces: no space before ? ! . , and
 * 's 'm 're 've, and " ' " loses both spaces. Three passes, in its order.
 * @param {Uint8Array} t
 */
function cleanSpaces(t) {
  // " ?", " !", " .", " ,"
  t = cleanPass(t, (b, i) => ({ drop: b[i - 1] === SPACE && (b[i] === 0x3f || b[i] === 0x21 || b[i] === 0x2e || b[i] === 0x2c) }));
  // " ' " -> "'": the next space becomes a NUL, as llama.cpp does, and is skipped
  t = cleanPass(t, (b, i) => {
    if (b[i] !== QUOTE || i + 1 >= b.length || b[i - 1] !== SPACE || b[i + 1] !== SPACE) return KEEP;
    b[i + 1] = 0;
    return { drop: true, skip: 1 };
  });
  // " 's", " 'm", " 're", " 've"
  return cleanPass(t, (b, i) => {
    if (b[i - 1] !== SPACE || b[i] !== QUOTE || i + 1 >= b.length) return KEEP;
    const x1 = b[i + 1], x2 = b[i + 2];
    if (x1 === 0x73 || x1 === 0x6d) return { drop: true };
    return { drop: i + 2 < b.length && (x1 === 0x72 || x1 === 0x76) && x2 === 0x65 };
  });
}

/** Length of the prefix of b[0..n) that ends on a complete UTF-8 character. */
export function completeUtf8Prefix(b, n) {
  for (let i = n - 1; i >= 0 && i >= n - 4; i--) {
    const c = b[i];
    if (c < 0x80) return n;
    if (c >= 0xc0) {
      const need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf8 ? 4 : 1;
      return i + need > n ? i : n;
    }
  }
  return n; // only continuation bytes: invalid, let the decoder replace them
}
