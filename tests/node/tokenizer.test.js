/**
 * Tokenizer behaviour that needs no reference implementation: round trips,
 * the streaming decoder, invalid input, API shape and the errors for broken
 * vocabularies; plus the Unigram (t5) model against native llama.cpp on a
 * vocabulary built for the purpose.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseGGUF } from '../../web/gguf.js';
import { createTokenizer, toWellFormed } from '../../web/tokenizer/index.js';
import { GGUFWriter, VT } from '../../tools/gguf-writer.js';
import { convertTokenizerJson } from '../../tools/tokenizer-json-to-gguf.js';
import { VOCAB_DIR, readMetadata, rng, variedCorpus, refMissing, loadLlama } from './tokenizer-helpers.js';

const vocabFile = (name) => path.join(VOCAB_DIR, `ggml-vocab-${name}.gguf`);
const cache = new Map();
/** @param {string} name */
function tokenizer(name) {
  if (!cache.has(name)) cache.set(name, createTokenizer(readMetadata(vocabFile(name))));
  return cache.get(name);
}

/** Random text over assorted scripts, emoji and whitespace (well-formed). */
function randomText(next, len) {
  const pools = ['abcdefghijklmnopqrstuvwxyz', 'ABCXYZ', '0123456789', ' ', '  \t\n\r', '.,;:!?\'"()[]{}<>-_=+*/\\|@#$%^&~`',
    'éèêëàâäôöüçñß', 'αβγδεζηθ', 'абвгдеж', '中文字符日本語', '한국어', 'العربية', 'हिन्दी', '🦙🚀😀👍🏽👨‍👩‍👧', '\u200b\u00a0\u3000\ufeff'];
  let s = '';
  for (let i = 0; i < len; i++) {
    const pool = [...pools[Math.floor(next() * pools.length)]];
    s += pool[Math.floor(next() * pool.length)];
  }
  return s;
}

/** Metadata of a vocab with some keys replaced. */
function patchedMetadata(name, patch) {
  const header = parseGGUF(new Uint8Array(fs.readFileSync(vocabFile(name))), { allowNoData: true });
  const w = new GGUFWriter();
  w.copyKVs(header, (k) => !(k in patch));
  for (const [k, [type, value, elem]] of Object.entries(patch)) if (value !== undefined) w.addKV(k, type, value, elem);
  return parseGGUF(w.toBuffer(), { allowNoData: true }).metadata;
}

test('properties: model, vocabulary size, special ids and flags', () => {
  const spm = tokenizer('llama-spm');
  assert.equal(spm.model, 'llama');
  assert.equal(spm.nVocab, 32000);
  assert.deepEqual([spm.bos, spm.eos, spm.unk, spm.addBos, spm.addEos], [1, 2, 0, true, false]);
  assert.ok(spm.isEog(2) && !spm.isEog(1) && !spm.isEog(100));
  assert.equal(spm.tokenTypes[3], 6); // <0x00> is a byte token
  const gpt2 = tokenizer('gpt-2');
  assert.deepEqual([gpt2.model, gpt2.pre, gpt2.bos, gpt2.eos], ['gpt2', 'gpt-2', 50256, 50256]);
  assert.ok(gpt2.isEog(50256));
  const phi3 = tokenizer('phi-3');
  assert.equal(phi3.eot, 32007); // <|end|>
  assert.ok(phi3.isEog(32007) && phi3.isEog(32000));
  const bert = tokenizer('bert-bge');
  assert.deepEqual([bert.model, bert.bos, bert.sep, bert.unk], ['bert', 101, 102, 100]);
  assert.deepEqual(bert.encode('hello world'), [101, 7592, 2088, 102]);
  assert.deepEqual(spm.encode('Hello world'), [1, 15043, 3186]);
  assert.deepEqual(spm.encode('Hello world', { addSpecial: false }), [15043, 3186]);
});

test('parseSpecial splits control-token text out; otherwise it is plain text', () => {
  const spm = tokenizer('llama-spm');
  assert.deepEqual(spm.encode('<s>hi</s>', { addSpecial: false, parseSpecial: true }), [1, 7251, 2]);
  const plain = spm.encode('<s>hi</s>', { addSpecial: false });
  assert.ok(!plain.includes(1) && !plain.includes(2));
  assert.equal(spm.decode(spm.encode('<s>hi</s>', { addSpecial: false, parseSpecial: true }), { showSpecial: true }), '<s> hi</s>');
  assert.equal(spm.decode([1, 7251, 2]), ' hi'); // control tokens hidden; the space after BOS stays, as llama.cpp
});

for (const name of ['llama-spm', 'phi-3', 'deepseek-coder']) {
  test(`${name}: decode(encode(x)) === x for random text`, () => {
    const tok = tokenizer(name);
    const next = rng(name.length * 7919);
    for (let i = 0; i < 400; i++) {
      const text = randomText(next, 1 + Math.floor(next() * 30));
      assert.equal(tok.decode(tok.encode(text, { addSpecial: false })), text, JSON.stringify(text));
    }
  });
}

for (const name of ['gpt-2', 'deepseek-coder']) {
  test(`${name}: token pieces concatenate to the input's UTF-8 bytes (random text and random bytes)`, () => {
    const tok = tokenizer(name);
    const next = rng(4242);
    const enc = new TextEncoder(), dec = new TextDecoder();
    for (let i = 0; i < 400; i++) {
      const text = i % 2 ? randomText(next, 1 + Math.floor(next() * 30))
        : dec.decode(Uint8Array.from({ length: 1 + Math.floor(next() * 30) }, () => Math.floor(next() * 256)));
      const ids = tok.encode(text, { addSpecial: false });
      const bytes = ids.flatMap((id) => Array.from(tok.tokenToPiece(id)));
      assert.deepEqual(bytes, Array.from(enc.encode(text)), JSON.stringify(text));
    }
  });
}

test('invalid UTF-16 (lone surrogates) is replaced by U+FFFD, never thrown', () => {
  assert.equal(toWellFormed('a\uD800b\uDC00c\uD83D'), 'a\uFFFDb\uFFFDc\uFFFD');
  assert.equal(toWellFormed('ok 🦙'), 'ok 🦙');
  for (const name of ['llama-spm', 'gpt-2', 'deepseek-coder', 'bert-bge', 'phi-3']) {
    const tok = tokenizer(name);
    for (const s of ['\uD800', 'x\uDFFFy', '\uDBFF\uDBFF', 'tail\uD83D']) {
      assert.deepEqual(tok.encode(s), tok.encode(toWellFormed(s)), `${name} ${JSON.stringify(s)}`);
    }
  }
});

test('encode never throws on random input, for every vocabulary', () => {
  const next = rng(99);
  const dec = new TextDecoder();
  for (const name of ['llama-spm', 'gpt-2', 'deepseek-coder', 'bert-bge', 'phi-3']) {
    const tok = tokenizer(name);
    for (let i = 0; i < 150; i++) {
      const bytes = Uint8Array.from({ length: Math.floor(next() * 64) }, () => Math.floor(next() * 256));
      const ids = tok.encode(dec.decode(bytes), { parseSpecial: i % 2 === 0 });
      assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.nVocab));
      let s = '';
      for (let k = 0; k < 20; k++) s += String.fromCharCode(Math.floor(next() * 0x10000)); // includes lone surrogates
      tok.encode(s);
    }
  }
});

test('stream decoder never emits half a character and adds up to decode()', () => {
  const next = rng(7);
  for (const name of ['gpt-2', 'llama-spm', 'deepseek-coder']) {
    const tok = tokenizer(name);
    for (let i = 0; i < 200; i++) {
      const text = randomText(next, 1 + Math.floor(next() * 25));
      const ids = tok.encode(text, { addSpecial: false });
      const sd = tok.createStreamDecoder();
      let joined = '';
      for (const id of ids) {
        const chunk = sd.push(id);
        assert.ok(!/[\uD800-\uDBFF]$/.test(chunk) && !chunk.includes('\uFFFD'), `${name}: ${JSON.stringify(chunk)} from ${JSON.stringify(text)}`);
        joined += chunk;
      }
      joined += sd.flush();
      const pieces = new TextDecoder('utf-8', { ignoreBOM: true }).decode(Uint8Array.from(ids.flatMap((id) => Array.from(tok.tokenToPiece(id)))));
      assert.equal(joined, pieces);
    }
  }
  // A sequence cut inside a character: held back, then flushed as U+FFFD.
  const gpt2 = tokenizer('gpt-2');
  const ids = gpt2.encode('🦙', { addSpecial: false });
  assert.ok(ids.length > 1, 'the llama emoji is several byte tokens in GPT-2');
  const sd = gpt2.createStreamDecoder();
  assert.equal(sd.push(ids[0]), '');
  assert.equal(sd.flush(), '\uFFFD');
  const sd2 = gpt2.createStreamDecoder();
  assert.equal(ids.map((id) => sd2.push(id)).join('') + sd2.flush(), '🦙');
  // Control tokens are hidden unless asked for.
  const spm = tokenizer('llama-spm');
  assert.equal(spm.createStreamDecoder().push(1), '');
  assert.equal(spm.createStreamDecoder({ showSpecial: true }).push(1), '<s>');
});

test('tokenToPiece renders bytes, U+2581 and byte-level characters as llama.cpp', () => {
  const spm = tokenizer('llama-spm');
  assert.deepEqual(Array.from(spm.tokenToPiece(3 + 0x41)), [0x41]); // <0x41>
  assert.equal(new TextDecoder().decode(spm.tokenToPiece(15043)), ' Hello');
  const gpt2 = tokenizer('gpt-2');
  assert.equal(new TextDecoder().decode(gpt2.tokenToPiece(995)), ' world'); // "Ġworld"
  assert.throws(() => spm.decode([32000]), (e) => e.code === 'ERR_TOKENIZER');
  assert.throws(() => spm.decode([-1]), (e) => e.code === 'ERR_TOKENIZER');
});

describe('broken or unsupported vocabularies are clear errors', () => {
  test('unknown tokenizer model names the model', () => {
    const md = patchedMetadata('gpt-2', { 'tokenizer.ggml.model': [VT.STRING, 'rwkv'] });
    assert.throws(() => createTokenizer(md), (e) => e.code === 'ERR_TOKENIZER' && /'rwkv'/.test(e.message));
  });
  test('a merge that references a token not in the vocabulary names the merge', () => {
    const header = parseGGUF(new Uint8Array(fs.readFileSync(vocabFile('gpt-2'))), { allowNoData: true });
    const merges = [...header.metadata.get('tokenizer.ggml.merges')];
    merges[7] = 'Ġt zzzz-not-a-token';
    const md = patchedMetadata('gpt-2', { 'tokenizer.ggml.merges': [VT.ARRAY, merges, VT.STRING] });
    assert.throws(() => createTokenizer(md), (e) => e.code === 'ERR_TOKENIZER' && /#7/.test(e.message) && /zzzz-not-a-token/.test(e.message));
    merges[7] = 'nospace';
    const md2 = patchedMetadata('gpt-2', { 'tokenizer.ggml.merges': [VT.ARRAY, merges, VT.STRING] });
    assert.throws(() => createTokenizer(md2), (e) => e.code === 'ERR_TOKENIZER' && /nospace/.test(e.message));
  });
  test('missing merges, tokens or model', () => {
    assert.throws(() => createTokenizer(patchedMetadata('gpt-2', { 'tokenizer.ggml.merges': [VT.ARRAY, undefined] })), (e) => e.code === 'ERR_TOKENIZER' && /merges/.test(e.message));
    assert.throws(() => createTokenizer(patchedMetadata('gpt-2', { 'tokenizer.ggml.tokens': [VT.ARRAY, undefined] })), (e) => e.code === 'ERR_TOKENIZER' && /tokens/.test(e.message));
    assert.throws(() => createTokenizer(new Map()), (e) => e.code === 'ERR_TOKENIZER');
    assert.throws(() => createTokenizer({}), (e) => e.code === 'ERR_TOKENIZER');
  });
  test('scores or token types shorter than the token list', () => {
    const md = patchedMetadata('llama-spm', { 'tokenizer.ggml.scores': [VT.ARRAY, new Float32Array(10)] });
    assert.throws(() => createTokenizer(md), (e) => e.code === 'ERR_TOKENIZER' && /scores/.test(e.message));
    const md2 = patchedMetadata('llama-spm', { 'tokenizer.ggml.token_type': [VT.ARRAY, new Int32Array(10)] });
    assert.throws(() => createTokenizer(md2), (e) => e.code === 'ERR_TOKENIZER' && /token_type/.test(e.message));
  });
  test('encode of a non-string is a bad argument', () => {
    assert.throws(() => tokenizer('gpt-2').encode(42), (e) => e.code === 'ERR_BAD_ARG');
  });
});

/**
 * Writes `w` (a vocab-only GGUF) to a temp file, loads it in native
 * llama.cpp (vocab only) and in our tokenizer, runs `check(tok, native)`,
 * then frees both and the file.
 * @param {GGUFWriter} w
 * @param {(tok: ReturnType<typeof createTokenizer>, native: any) => void | Promise<void>} check
 */
async function withNativeVocab(w, check) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-vocab-'));
  const file = path.join(dir, 'vocab.gguf');
  w.write(file);
  const llama = await loadLlama();
  const m = await llama.loadModel({ modelPath: file, vocabOnly: true });
  try {
    await check(createTokenizer(readMetadata(file)), m);
  } finally {
    await m.dispose();
    await llama.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('Unigram (t5) against native llama.cpp', { skip: refMissing }, () => {
  for (const mergeSpaces of [false, true]) {
    test(`SentencePiece vocabulary as Unigram, remove_extra_whitespaces=${mergeSpaces}`, async () => {
      const header = parseGGUF(new Uint8Array(fs.readFileSync(vocabFile('llama-spm'))), { allowNoData: true });
      const w = new GGUFWriter();
      w.copyKVs(header, (k) => k.startsWith('tokenizer.') && !/model|add_bos|add_eos/.test(k));
      w.addKV('general.architecture', VT.STRING, 'llama');
      w.addKV('tokenizer.ggml.model', VT.STRING, 't5');
      w.addKV('tokenizer.ggml.add_space_prefix', VT.BOOL, true);
      w.addKV('tokenizer.ggml.remove_extra_whitespaces', VT.BOOL, mergeSpaces);
      await withNativeVocab(w, async (tok, m) => {
        assert.equal(tok.model, 't5');
        for (const text of variedCorpus()) {
          const got = tok.encode(text, { addSpecial: false });
          assert.deepEqual(got, Array.from(m.tokenize(text, false)), JSON.stringify(text.slice(0, 60)));
          assert.equal(tok.decode(got), m.detokenize(got, false));
          assert.deepEqual(tok.encode(text), [...got, tok.eos]); // t5 appends EOS
        }
      });
    });
  }
});

/**
 * Builds a SentencePiece-style precompiled charsmap: a blob size, an
 * XOR-compressed double array (each unit: label in bits 0-7, has-leaf in
 * bit 8, child offset XOR own index from bit 10; a value unit has bit 31
 * set) mapping
 * UTF-8 prefixes to offsets of NUL-terminated replacements that follow it.
 * @param {Record<string, string>} map
 */
function buildCharsmap(map) {
  const enc = new TextEncoder();
  const root = { next: new Map(), value: -1 };
  let repl = [];
  for (const [from, to] of Object.entries(map)) {
    let node = root;
    for (const b of enc.encode(from)) {
      if (!node.next.has(b)) node.next.set(b, { next: new Map(), value: -1 });
      node = node.next.get(b);
    }
    node.value = repl.length;
    repl = repl.concat([...enc.encode(to), 0]);
  }
  const units = new Map([[0, 0]]); // index -> unit; 0 is the root's
  const used = (i) => units.has(i);
  // Give each node an offset whose child slots (and value slot) are free.
  const place = (node) => {
    const labels = [...node.next.keys()];
    if (node.value >= 0) labels.push(0);
    for (let off = 1; ; off++) {
      if (off >= 1 << 21) throw new Error('charsmap too large for this builder');
      if (labels.every((c) => !used(off ^ c))) {
        for (const c of labels) units.set(off ^ c, 0); // reserve
        return off;
      }
    }
  };
  const rootOff = place(root);
  units.set(0, rootOff << 10);
  const queue = [[root, rootOff]];
  while (queue.length) {
    const [node, off] = queue.shift();
    if (node.value >= 0) units.set(off ^ 0, (0x80000000 | node.value) >>> 0);
    for (const [c, child] of node.next) {
      const childOff = child.next.size || child.value >= 0 ? place(child) : 0;
      // offsets are stored XORed with the unit's own index
      units.set(off ^ c, ((((off ^ c) ^ childOff) << 10) | (child.value >= 0 ? 1 << 8 : 0) | c) >>> 0);
      queue.push([child, childOff]);
    }
  }
  // Pad so that any offset ^ byte stays inside the array, as darts-clone's
  // 256-unit blocks guarantee (llama.cpp treats an index past the end as corrupt).
  const size = ((Math.max(...units.keys()) | 0xff) + 1);
  const xcda = new Uint32Array(size);
  for (const [i, u] of units) xcda[i] = u;
  const out = new Uint8Array(4 + size * 4 + repl.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, size * 4, true);
  for (let i = 0; i < size; i++) dv.setUint32(4 + i * 4, xcda[i], true);
  out.set(repl, 4 + size * 4);
  return out;
}

describe('Unigram precompiled charsmap against native llama.cpp', { skip: refMissing }, () => {
  test('charsmap replacements (NFKC-like folds, multi-byte keys, longest match) give the same ids', async () => {
    const charsmap = buildCharsmap({
      'Ａ': 'A', 'ｂ': 'b', 'ﬁ': 'fi', '①': '1', '\u3000': ' ', '\u00a0': ' ', '™': 'TM', 'Å': 'A\u030a',
      'ab': 'X', 'abc': 'Y', '…': '...', '\t': ' ',
    });
    const header = parseGGUF(new Uint8Array(fs.readFileSync(vocabFile('llama-spm'))), { allowNoData: true });
    const w = new GGUFWriter();
    w.copyKVs(header, (k) => k.startsWith('tokenizer.') && !/model|add_bos|add_eos/.test(k));
    w.addKV('general.architecture', VT.STRING, 'llama');
    w.addKV('tokenizer.ggml.model', VT.STRING, 't5');
    w.addKV('tokenizer.ggml.add_space_prefix', VT.BOOL, true);
    w.addKV('tokenizer.ggml.remove_extra_whitespaces', VT.BOOL, true);
    w.addKV('tokenizer.ggml.precompiled_charsmap', VT.ARRAY, charsmap, VT.UINT8);
    await withNativeVocab(w, async (tok, m) => {
      const texts = ['Ａｂｃ ﬁne ① abc ab a… x™', '\u3000lead\u00a0and\ttabs\t ', 'Åland abcabcab', ...variedCorpus().slice(0, 60)];
      for (const text of texts) {
        const got = tok.encode(text, { addSpecial: false });
        assert.deepEqual(got, Array.from(m.tokenize(text, false)), JSON.stringify(text.slice(0, 60)));
      }
      // the map is really applied: "ab" becomes "X"
      assert.notDeepEqual(tok.encode('ab', { addSpecial: false }), tok.encode('a b', { addSpecial: false }));
      assert.deepEqual(tok.encode('ab', { addSpecial: false }), tok.encode('X', { addSpecial: false }));
    });
  });
});

describe('SentencePiece with a token that spans a word boundary', { skip: refMissing }, () => {
  test('the whole-fragment merge path gives native llama.cpp ids', async () => {
    // "e▁t" lets merges cross the start of a word, so chunks are not independent.
    const header = parseGGUF(new Uint8Array(fs.readFileSync(vocabFile('llama-spm'))), { allowNoData: true });
    const tokens = [...header.metadata.get('tokenizer.ggml.tokens')];
    const scores = Float32Array.from(header.metadata.get('tokenizer.ggml.scores'));
    tokens[31990] = 'e\u2581t';
    scores[31990] = -5;
    const w = new GGUFWriter();
    w.copyKVs(header, (k) => k !== 'tokenizer.ggml.tokens' && k !== 'tokenizer.ggml.scores');
    w.addKV('tokenizer.ggml.tokens', VT.ARRAY, tokens, VT.STRING);
    w.addKV('tokenizer.ggml.scores', VT.ARRAY, scores, VT.FLOAT32);
    await withNativeVocab(w, async (tok, m) => {
      const texts = ['the tree the test', 'one two three', ...variedCorpus()];
      let crossed = 0;
      for (const text of texts) {
        const got = tok.encode(text, { addSpecial: false });
        if (got.includes(31990)) crossed++;
        assert.deepEqual(got, Array.from(m.tokenize(text, false)), JSON.stringify(text.slice(0, 60)));
      }
      assert.ok(crossed > 0, 'the boundary-spanning token was used');
    });
  });
});

describe('tools/tokenizer-json-to-gguf.js', () => {
  /** A tiny byte-level BPE tokenizer.json: the 256 byte characters, a few merges, added tokens. */
  function tinyTokenizerJson({ split = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)" } = {}) {
    const chars = [];
    for (let b = 0; b < 256; b++) {
      const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
      chars.push(printable ? b : 256 + chars.filter((c) => c >= 256).length);
    }
    const vocab = {};
    chars.forEach((cp, i) => { vocab[String.fromCodePoint(cp)] = i; });
    vocab['he'] = 256; vocab['ll'] = 257; vocab['hell'] = 258; vocab['hello'] = 259; vocab['Ġw'] = 260;
    return {
      model: { type: 'BPE', vocab, merges: [['h', 'e'], ['l', 'l'], ['he', 'll'], ['hell', 'o'], ['Ġ', 'w']] },
      pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: split }, behavior: 'Isolated' }, { type: 'ByteLevel', use_regex: false }] },
      post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|bos|>' } }, { Sequence: { id: 'A' } }] },
      added_tokens: [
        { id: 262, content: '<|bos|>', special: true }, { id: 263, content: '<|eos|>', special: true },
        { id: 264, content: '<think>', special: false }, { id: 265, content: '<|looks_special|>', special: false },
      ],
    };
  }

  test('token types, merges, special ids and flags as llama.cpp\'s converter writes them', () => {
    const w = convertTokenizerJson(tinyTokenizerJson(), { bos_token: '<|bos|>', eos_token: { content: '<|eos|>' } });
    const md = parseGGUF(w.toBuffer(), { allowNoData: true }).metadata;
    assert.equal(md.get('tokenizer.ggml.model'), 'gpt2');
    assert.equal(md.get('tokenizer.ggml.pre'), 'gpt-2');
    const types = md.get('tokenizer.ggml.token_type');
    assert.equal(md.get('tokenizer.ggml.tokens')[261], '[PAD261]');
    assert.deepEqual([types[0], types[259], types[261], types[262], types[264], types[265]], [1, 1, 5, 3, 4, 3]);
    assert.deepEqual(md.get('tokenizer.ggml.merges').slice(0, 2), ['h e', 'l l']);
    assert.equal(md.get('tokenizer.ggml.bos_token_id'), 262);
    assert.equal(md.get('tokenizer.ggml.eos_token_id'), 263);
    assert.equal(md.get('tokenizer.ggml.add_bos_token'), true);
    const tok = createTokenizer(md);
    assert.deepEqual(tok.encode('hello world'), [262, 259, 260, ...tok.encode('orld', { addSpecial: false })]);
    assert.deepEqual(tok.encode('<think>hello', { addSpecial: false }), [264, 259]); // user-defined: always split out
    assert.equal(tok.decode([262, 259, 260], { showSpecial: true }), '<|bos|>hello w');
  });

  test('an unknown split expression asks for --pre; --pre overrides', () => {
    assert.throws(() => convertTokenizerJson(tinyTokenizerJson({ split: '\\w+' })), /--pre/);
    const w = convertTokenizerJson(tinyTokenizerJson({ split: '\\w+' }), {}, { pre: 'starcoder' });
    assert.equal(parseGGUF(w.toBuffer(), { allowNoData: true }).metadata.get('tokenizer.ggml.pre'), 'starcoder');
    assert.throws(() => convertTokenizerJson({ model: { type: 'Unigram' } }), /BPE/);
  });
});
