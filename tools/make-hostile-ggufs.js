#!/usr/bin/env node
/**
 * Writes a corpus of hostile GGUF files: each breaks one rule a loader must
 * check (a count, length, offset or shape that lies), plus shard sets with a
 * missing or duplicated shard. Both parsers (web/gguf.js and src/gguf.c via
 * wl_file_open) must reject every one with the code in manifest.json.
 *
 *   node tools/make-hostile-ggufs.js <folder>             hostile files + manifest.json
 *   node tools/make-hostile-ggufs.js --fuzz-seeds <folder> seeds for tests/fuzz/fuzz_gguf.c
 *
 * The bytes are written field by field here (not with tools/gguf-writer.js)
 * because a well-behaved writer cannot produce most of these files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const T_U8 = 0, T_U16 = 2, T_U32 = 4, T_I32 = 5, T_STRING = 8, T_ARRAY = 9;
const F32 = 0, Q8_0 = 8;

/** Little-endian byte builder. */
class Bytes {
  constructor() { this.parts = []; this.length = 0; }
  raw(u8) { this.parts.push(u8); this.length += u8.length; return this; }
  u8(v) { return this.raw(Uint8Array.of(v)); }
  u16(v) { const b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, v, true); return this.raw(b); }
  u32(v) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v >>> 0, true); return this.raw(b); }
  u64(v) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(v)), true); return this.raw(b); }
  f32(v) { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); return this.raw(b); }
  str(s) { const u = typeof s === 'string' ? new TextEncoder().encode(s) : s; return this.u64(u.length).raw(u); }
  header(nTensors, nKv, version = 3) { return this.raw(new TextEncoder().encode('GGUF')).u32(version).u64(nTensors).u64(nKv); }
  key(k, type) { return this.str(k).u32(type); }
  tensor(name, ne, type, offset) {
    this.str(name).u32(ne.length);
    for (const n of ne) this.u64(n);
    return this.u32(type).u64(offset);
  }
  pad(align = 32) { while (this.length % align) this.u8(0); return this; }
  zeros(n) { return this.raw(new Uint8Array(n)); }
  done() {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) { out.set(p, at); at += p.length; }
    return out;
  }
}

/** A small valid file: a name and two tensors (F32[4,2] and one Q8_0 block). */
function validFile() {
  const b = new Bytes().header(2, 1);
  b.key('general.name', T_STRING).str('valid');
  b.tensor('a.weight', [4, 2], F32, 0).tensor('b.weight', [32], Q8_0, 32).pad();
  for (let i = 0; i < 8; i++) b.f32(i + 0.5);
  return b.zeros(34).done();
}

/** One tensor info with the given fields, then 64 bytes of data. */
function oneTensor(name, ne, type, offset) {
  return new Bytes().header(1, 0).tensor(name, ne, type, offset).pad().zeros(64).done();
}

/** Shard `no` of a gguf-split set of `count` holding one F32[4] tensor. */
function shard(no, count, total, name) {
  const b = new Bytes().header(1, no === 0 ? 4 : 3);
  if (no === 0) b.key('general.name', T_STRING).str('split');
  b.key('split.no', T_U16).u16(no);
  b.key('split.count', T_U16).u16(count);
  b.key('split.tensors.count', T_I32).u32(total);
  return b.tensor(name, [4], F32, 0).pad().f32(no).zeros(12).done();
}

/**
 * @returns {{ name: string, why: string, shards: Uint8Array[], code: string }[]}
 * `code` is what both parsers report (web/errors.js codes).
 */
export function hostileCases() {
  const cases = [];
  const add = (name, why, code, ...shards) => cases.push({ name, why, code, shards });

  add('truncated-header', 'a valid file cut inside its tensor table', 'ERR_TRUNCATED', validFile().subarray(0, 100));
  add('truncated-data', 'a valid file missing the end of its tensor data', 'ERR_TRUNCATED',
    validFile().subarray(0, validFile().length - 1));
  add('bad-magic', 'GGML instead of GGUF', 'ERR_BAD_MAGIC',
    (() => { const f = validFile(); f.set(new TextEncoder().encode('GGML')); return f; })());
  add('version-1', 'GGUF v1 (32-bit counts)', 'ERR_BAD_VERSION', new Bytes().header(0, 0, 1).zeros(16).done());
  add('tensor-count-2e63', 'n_tensors = 2^63 in a 88-byte file', 'ERR_TRUNCATED',
    new Bytes().header(2n ** 63n, 0).zeros(64).done());
  add('kv-count-2e64', 'n_kv = 2^64 - 1', 'ERR_TRUNCATED', new Bytes().header(0, 2n ** 64n - 1n).zeros(64).done());
  add('string-length-past-end', 'a string value claims 2^40 bytes', 'ERR_TRUNCATED',
    new Bytes().header(0, 1).key('general.name', T_STRING).u64(2n ** 40n).raw(new TextEncoder().encode('short')).done());
  add('array-2e40-elements', 'a u32 array claims 2^40 elements', 'ERR_TRUNCATED',
    new Bytes().header(0, 1).key('x.ids', T_ARRAY).u32(T_U32).u64(2n ** 40n).u32(1).done());
  add('array-2e40-strings', 'a string array claims 2^40 strings', 'ERR_TRUNCATED',
    new Bytes().header(0, 1).key('tokenizer.ggml.tokens', T_ARRAY).u32(T_STRING).u64(2n ** 40n).str('a').done());
  add('nested-array-2e40', 'an array of arrays whose inner array claims 2^40 bytes', 'ERR_TRUNCATED',
    new Bytes().header(0, 1).key('x.nested', T_ARRAY).u32(T_ARRAY).u64(1).u32(T_U8).u64(2n ** 40n).u8(1).done());
  const deep = new Bytes().header(0, 1).key('x.deep', T_ARRAY);
  for (let i = 0; i < 40; i++) deep.u32(T_ARRAY).u64(1);
  add('arrays-nested-40-deep', 'forty levels of one-element arrays (stack exhaustion)', 'ERR_BAD_VALUE',
    deep.u32(T_U8).u64(0).done());
  add('tensor-offset-overflow', 'offset 2^64 - 32: offset + size wraps around', 'ERR_TRUNCATED',
    oneTensor('t', [64], F32, 2n ** 64n - 32n));
  add('tensor-offset-past-end', 'offset 2^40 in a small file', 'ERR_TRUNCATED', oneTensor('t', [4], F32, 2n ** 40n));
  add('dims-product-overflow', 'ne = [2^32, 2^32]: 2^64 elements', 'ERR_BAD_TENSOR',
    oneTensor('t', [2n ** 32n, 2n ** 32n], F32, 0));
  add('misaligned-data', 'tensor offset 4 with alignment 32', 'ERR_BAD_TENSOR', oneTensor('t', [4], F32, 4));
  add('unknown-ggml-type', 'tensor type 99', 'ERR_UNKNOWN_TYPE', oneTensor('t', [4], 99, 0));
  add('removed-ggml-type', 'tensor type 4 (Q4_2, removed from ggml)', 'ERR_UNKNOWN_TYPE', oneTensor('t', [32], 4, 0));
  add('row-not-multiple-of-block', 'Q8_0 row of 33 elements', 'ERR_BAD_TENSOR', oneTensor('t', [33], Q8_0, 0));
  add('duplicate-tensor-names', 'two tensors named "same"', 'ERR_BAD_TENSOR',
    new Bytes().header(2, 0).tensor('same', [4], F32, 0).tensor('same', [4], F32, 32).pad().zeros(64).done());
  add('five-dims', 'n_dims = 5', 'ERR_BAD_TENSOR', oneTensor('t', [1, 1, 1, 1, 4], F32, 0));
  add('zero-dims', 'n_dims = 0', 'ERR_BAD_TENSOR', new Bytes().header(1, 0).str('t').u32(0).u32(F32).u64(0).pad().zeros(64).done());
  add('non-utf8-key', 'a key with byte 0xFF', 'ERR_BAD_VALUE',
    new Bytes().header(0, 1).str(Uint8Array.of(0x62, 0x61, 0x64, 0xff)).u32(T_U32).u32(1).done());
  add('overlong-utf8-key', 'a key with the overlong encoding C0 80', 'ERR_BAD_VALUE',
    new Bytes().header(0, 1).str(Uint8Array.of(0x6b, 0xc0, 0x80)).u32(T_U32).u32(1).done());
  add('duplicate-keys', 'general.name twice', 'ERR_BAD_VALUE',
    new Bytes().header(0, 2).key('general.name', T_STRING).str('a').key('general.name', T_STRING).str('b').done());
  add('alignment-not-power-of-two', 'general.alignment = 48', 'ERR_BAD_VALUE',
    new Bytes().header(0, 1).key('general.alignment', T_U32).u32(48).done());
  add('unknown-value-type', 'metadata value type 13', 'ERR_BAD_VALUE',
    new Bytes().header(0, 1).key('x.y', 13).u8(0).done());

  add('shards-missing', 'shards 1 and 3 of a 3-shard set', 'ERR_SHARDS',
    shard(0, 3, 3, 'a'), shard(2, 3, 3, 'c'));
  add('shards-duplicated', 'shard 2 of 3 given twice, shard 3 missing', 'ERR_SHARDS',
    shard(0, 3, 3, 'a'), shard(1, 3, 3, 'b'), shard(1, 3, 3, 'b'));
  add('shards-tensor-count', 'split.tensors.count says 4, the shards hold 3', 'ERR_SHARDS',
    shard(0, 3, 4, 'a'), shard(1, 3, 4, 'b'), shard(2, 3, 4, 'c'));
  add('shards-same-tensor', 'tensor "a" in two shards', 'ERR_SHARDS',
    shard(0, 3, 3, 'a'), shard(1, 3, 3, 'b'), shard(2, 3, 3, 'a'));
  return cases;
}

/** Valid inputs, for fuzz seeds: one file, and a complete 3-shard set. */
export function validCases() {
  return [
    { name: 'valid-file', shards: [validFile()] },
    { name: 'valid-shards', shards: [shard(0, 3, 3, 'a'), shard(1, 3, 3, 'b'), shard(2, 3, 3, 'c')] },
  ];
}

/**
 * One fuzz_gguf input: byte 0 = flags (bit 0 allow_no_data, bits 1-2 =
 * shard count - 1), then every shard but the last as u32 length + bytes,
 * then the last shard (see tests/fuzz/fuzz_gguf.c).
 */
export function encodeFuzzInput(shards, allowNoData = false) {
  const b = new Bytes().u8((allowNoData ? 1 : 0) | ((shards.length - 1) << 1));
  shards.forEach((s, i) => { if (i < shards.length - 1) b.u32(s.length); b.raw(s); });
  return b.done();
}

function writeHostile(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const manifest = [];
  for (const c of hostileCases()) {
    const files = c.shards.length === 1
      ? [`${c.name}.gguf`]
      : c.shards.map((_, i) => `${c.name}-shard${i}.gguf`);
    c.shards.forEach((s, i) => fs.writeFileSync(path.join(dir, files[i]), s));
    manifest.push({ name: c.name, why: c.why, code: c.code, files });
  }
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  return manifest.length;
}

function writeFuzzSeeds(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const all = [...validCases(), ...hostileCases()];
  for (const c of all) fs.writeFileSync(path.join(dir, `${c.name}.bin`), encodeFuzzInput(c.shards));
  fs.writeFileSync(path.join(dir, 'valid-file-no-data.bin'), encodeFuzzInput([validFile().subarray(0, 200)], true));
  return all.length + 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const fuzz = args[0] === '--fuzz-seeds';
  const dir = fuzz ? args[1] : args[0];
  if (!dir) {
    console.error('usage: node tools/make-hostile-ggufs.js [--fuzz-seeds] <folder>');
    process.exit(2);
  }
  const n = fuzz ? writeFuzzSeeds(dir) : writeHostile(dir);
  console.log(`wrote ${n} ${fuzz ? 'fuzz seeds' : 'hostile cases'} to ${dir}`);
}
