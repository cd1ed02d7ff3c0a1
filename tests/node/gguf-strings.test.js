// Packed string arrays (web/gguf-strings.js, parseGGUF's packStrings): the
// model loader keeps token texts and merges as UTF-8 bytes plus offsets
// (issue #4, peak memory). They must read back as exactly the strings the
// string[] form gives, and a tokenizer built on them must give the same ids
// as one built on string[] metadata.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseGGUF, readGGUFHeader, GGUFStringArray } from '../../web/gguf.js';
import { isWellFormedUtf8, asStringArray, stringAt } from '../../web/gguf-strings.js';
import { createTokenizer } from '../../web/tokenizer/index.js';
import { GGUFWriter, VT } from '../../tools/gguf-writer.js';
import { VOCAB_DIR, readVectors, rng, variedCorpus } from './tokenizer-helpers.js';

const VOCABS = ['llama-spm', 'phi-3', 'gpt-2', 'deepseek-coder', 'bert-bge'];
const vocabFile = (name) => path.join(VOCAB_DIR, `ggml-vocab-${name}.gguf`);
const read = (name) => new Uint8Array(fs.readFileSync(vocabFile(name)));

test('GGUFStringArray reads like the string[] it packs', () => {
  const list = ['', 'a', 'héllo', '\u2581the', '😀x', '\uFEFFbom', 'a b', 'x'.repeat(100)];
  const a = GGUFStringArray.from(list);
  assert.equal(a.length, list.length);
  assert.deepEqual([...a], list);
  assert.deepEqual(a.toArray(), list);
  assert.equal(JSON.stringify(a), JSON.stringify(list));
  list.forEach((s, i) => {
    assert.equal(a.get(i), s);
    assert.equal(a.byteLength(i), new TextEncoder().encode(s).length);
    assert.equal(a.indexOf(s), list.indexOf(s));
  });
  assert.equal(a.get(-1), undefined);
  assert.equal(a.get(list.length), undefined);
  assert.equal(a.at(-1), list.at(-1));
  assert.equal(a.indexOf('nope'), -1);
  assert.equal(a.indexOf('a', 2), -1);
  assert.ok(a.includes('😀x'));
  assert.deepEqual(a.slice(2, 4), list.slice(2, 4));
  assert.deepEqual(a.slice(-2), list.slice(-2));
  assert.deepEqual(a.findAll(['a', 'x', '😀x', '']), [[0, ''], [1, 'a'], [4, '😀x']]);
  // Lone surrogates cannot be UTF-8: they pack as U+FFFD, as TextEncoder writes them.
  assert.equal(GGUFStringArray.from(['a\uD800b']).get(0), 'a\uFFFDb');
  assert.throws(() => GGUFStringArray.from([1]), (e) => e.code === 'ERR_BAD_ARG');
  // Helpers that take either form.
  assert.equal(asStringArray(a), a);
  assert.deepEqual([...asStringArray(['x', 'y'])], ['x', 'y']);
  assert.equal(asStringArray([1, 2]), null);
  assert.equal(asStringArray(new Int32Array(2)), null);
  assert.equal(stringAt(a, 2), 'héllo');
  assert.equal(stringAt(list, 2), 'héllo');
  assert.equal(stringAt(list, 99), undefined);
});

test('isWellFormedUtf8 agrees with a fatal TextDecoder', () => {
  const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const next = rng(11);
  // Random short sequences biased towards lead and continuation bytes and the edges of their ranges.
  const pool = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef,
    0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xff];
  for (let n = 0; n < 200000; n++) {
    const len = 1 + Math.floor(next() * 5);
    const b = Uint8Array.from({ length: len }, () => (next() < 0.8 ? pool[Math.floor(next() * pool.length)] : Math.floor(next() * 256)));
    let ok = true;
    try { fatal.decode(b); } catch { ok = false; }
    if (isWellFormedUtf8(b, 0, b.length) !== ok) assert.fail(`isWellFormedUtf8 is ${!ok} for ${Buffer.from(b).toString('hex')}`);
  }
});

test('packStrings: every string array of the reference vocabularies reads back the same', () => {
  for (const name of VOCABS) {
    const bytes = read(name);
    const plain = parseGGUF(bytes, { allowNoData: true });
    const packed = parseGGUF(bytes, { allowNoData: true, packStrings: true });
    assert.deepEqual([...packed.metadata.keys()], [...plain.metadata.keys()]);
    for (const [key, v] of plain.metadata) {
      const p = packed.metadata.get(key);
      if (Array.isArray(v) && typeof v[0] === 'string') {
        assert.ok(p instanceof GGUFStringArray, `${name} ${key} is packed`);
        assert.equal(p.length, v.length);
        for (let i = 0; i < v.length; i++) if (p.get(i) !== v[i]) assert.fail(`${name} ${key}[${i}]: ${JSON.stringify(p.get(i))} vs ${JSON.stringify(v[i])}`);
      } else {
        assert.deepEqual(p, v, `${name} ${key}`);
      }
    }
    assert.equal(packed.headerSize, plain.headerSize);
  }
});

test('packStrings: bytes that are not UTF-8 read back as the lenient decoder reads them', () => {
  // Strings are written raw: a stray continuation byte, a truncated sequence, a surrogate, an overlong form.
  const raw = [[0x61, 0x80, 0x62], [0xe2, 0x96], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xef, 0xbb, 0xbf, 0x78], []];
  const parts = [];
  const u32 = (v) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); return b; };
  const u64 = (v) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v), true); return b; };
  const str = (s) => { const b = new TextEncoder().encode(s); return [u64(b.length), b]; };
  parts.push(new TextEncoder().encode('GGUF'), u32(3), u64(0), u64(1));
  parts.push(...str('general.tags'), u32(VT.ARRAY), u32(VT.STRING), u64(raw.length));
  for (const r of raw) parts.push(u64(r.length), Uint8Array.from(r));
  const file = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { file.set(p, at); at += p.length; }
  const plain = parseGGUF(file).metadata.get('general.tags');
  const packed = parseGGUF(file, { packStrings: true }).metadata.get('general.tags');
  assert.deepEqual([...packed], plain);
  assert.ok(plain[0].includes('\uFFFD') && plain[4].startsWith('\uFEFF'), 'the lenient decoder replaced and kept a BOM');
  for (let i = 0; i < packed.length; i++) assert.ok(isWellFormedUtf8(packed.bytes, packed.offsets[i], packed.offsets[i + 1]));
});

test('packStrings on a view of shared memory (the threaded build\'s heap)', () => {
  const bytes = read('gpt-2');
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
  shared.set(bytes);
  const h = parseGGUF(shared, { allowNoData: true, packStrings: true });
  const ref = parseGGUF(bytes, { allowNoData: true, packStrings: true });
  assert.equal(h.metadata.get('tokenizer.ggml.pre'), ref.metadata.get('tokenizer.ggml.pre'));
  assert.deepEqual(h.metadata.get('tokenizer.ggml.merges').slice(0, 50), ref.metadata.get('tokenizer.ggml.merges').slice(0, 50));
  assert.ok(!(h.metadata.get('tokenizer.ggml.tokens').bytes.buffer instanceof SharedArrayBuffer), 'copied out of the shared buffer');
});

test('readGGUFHeader with packStrings grows a short prefix in fewer steps than doubling', async () => {
  const bytes = read('gpt-2'); // 1.7 MB header: 100k tokens and merges
  const reads = [];
  const h = await readGGUFHeader(async (n) => { reads.push(n); return bytes.slice(0, n); }, bytes.length, { allowNoData: true, packStrings: true });
  assert.equal(h.metadata.get('tokenizer.ggml.tokens').length, 50257);
  assert.ok(reads.length <= 3, `prefix reads ${reads}`);
});

for (const name of VOCABS) {
  test(`vocab ${name}: a tokenizer on packed metadata gives the same ids and text as on string[]`, () => {
    const bytes = read(name);
    const packed = createTokenizer(parseGGUF(bytes, { allowNoData: true, packStrings: true }).metadata);
    const plain = createTokenizer(parseGGUF(bytes, { allowNoData: true }).metadata);
    assert.ok(packed.tokens instanceof GGUFStringArray);
    const texts = [...readVectors(vocabFile(name)).map((v) => v.text), ...variedCorpus()];
    for (const text of texts) {
      for (const parseSpecial of [false, true]) {
        const ids = packed.encode(text, { addSpecial: true, parseSpecial });
        assert.deepEqual(ids, plain.encode(text, { addSpecial: true, parseSpecial }), `${name}: ${JSON.stringify(text.slice(0, 60))}`);
        assert.equal(packed.decode(ids, { showSpecial: true }), plain.decode(ids, { showSpecial: true }));
      }
    }
    assert.deepEqual(packed.eogIds, plain.eogIds);
    assert.deepEqual(Array.from(packed.tokenAttrs), Array.from(plain.tokenAttrs));
  });
}

test('empty token texts become [EMPTY_id], as llama.cpp names them', () => {
  const w = new GGUFWriter();
  w.addString('tokenizer.ggml.model', 'gpt2');
  w.addString('tokenizer.ggml.pre', 'gpt-2');
  const chars = [];
  for (let b = 0x21; b <= 0x7e; b++) chars.push(String.fromCharCode(b));
  w.addArray('tokenizer.ggml.tokens', VT.STRING, [...chars, '', 'ab', '']);
  w.addArray('tokenizer.ggml.merges', VT.STRING, ['a b']);
  const md = parseGGUF(w.toBuffer(), { allowNoData: true, packStrings: true }).metadata;
  const tok = createTokenizer(md);
  const n = chars.length;
  assert.equal(tok.tokens.get(n), `[EMPTY_${n}]`);
  assert.equal(tok.tokens.get(n + 2), `[EMPTY_${n + 2}]`);
  assert.equal(md.get('tokenizer.ggml.tokens').get(n), '', 'the metadata keeps the file\'s text');
  assert.deepEqual(tok.encode('ab', { addSpecial: false }), [n + 1]);
  assert.deepEqual(tok.encode(`[EMPTY_${n}]`, { addSpecial: false, parseSpecial: true }).includes(n), false);
});
