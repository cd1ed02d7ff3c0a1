// The GGUF writer and block encoders the synthetic models are built with:
// files must round-trip through web/gguf.js, and encodings must match ggml's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GGUFWriter, VT } from '../../tools/gguf-writer.js';
import { parseGGUF } from '../../web/gguf.js';
import { sharedPath } from '../../tools/shared-data.js';
import {
  FORMATS, encode, decode, f32ToF16Bits, f16BitsToF32, f32ToBf16Bits, bf16BitsToF32,
} from '../../tools/quantize.js';

function gaussian(n, seed = 1) {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) + 0.5) / 4294967296;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  return out;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-writer-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

test('every value type round-trips through parseGGUF', () => {
  const w = new GGUFWriter();
  w.addU8('t.u8', 250).addI8('t.i8', -120).addU16('t.u16', 65000).addI16('t.i16', -32000)
    .addU32('t.u32', 4000000000).addI32('t.i32', -2000000000).addF32('t.f32', 1.5)
    .addBool('t.bool', true).addString('t.str', 'héllo ▁world').addU64('t.u64', 2 ** 40)
    .addI64('t.i64', -(2 ** 40)).addF64('t.f64', Math.PI)
    .addArray('t.strs', VT.STRING, ['a', '', 'ü'])
    .addArray('t.i32s', VT.INT32, [1, -2, 3])
    .addKV('t.f32s', VT.ARRAY, new Float32Array([0.5, -1]))
    .addKV('t.bools', VT.ARRAY, { type: VT.BOOL, values: [true, false] })
    .addKV('t.nested', VT.ARRAY, [new Uint8Array([1, 2]), new Uint8Array([3])]);
  const h = parseGGUF(w.toBuffer());
  const m = h.metadata;
  assert.equal(h.version, 3);
  assert.equal(m.get('t.u8'), 250); assert.equal(h.types.get('t.u8'), VT.UINT8);
  assert.equal(m.get('t.i8'), -120);
  assert.equal(m.get('t.u16'), 65000);
  assert.equal(m.get('t.i16'), -32000);
  assert.equal(m.get('t.u32'), 4000000000);
  assert.equal(m.get('t.i32'), -2000000000);
  assert.equal(m.get('t.f32'), 1.5); assert.equal(h.types.get('t.f32'), VT.FLOAT32);
  assert.equal(m.get('t.bool'), true);
  assert.equal(m.get('t.str'), 'héllo ▁world');
  assert.equal(m.get('t.u64'), 2 ** 40); assert.equal(h.types.get('t.u64'), VT.UINT64);
  assert.equal(m.get('t.i64'), -(2 ** 40));
  assert.equal(m.get('t.f64'), Math.PI);
  assert.deepEqual(m.get('t.strs'), ['a', '', 'ü']);
  assert.deepEqual([...m.get('t.i32s')], [1, -2, 3]);
  assert.ok(m.get('t.i32s') instanceof Int32Array);
  assert.deepEqual([...m.get('t.f32s')], [0.5, -1]);
  assert.deepEqual(m.get('t.bools'), [true, false]);
  assert.deepEqual(m.get('t.nested').map((a) => [...a]), [[1, 2], [3]]);
  assert.ok(!m.has('general.alignment'), 'the default alignment is not written');
});

test('tensors of every encoder land at aligned offsets with the right bytes', () => {
  for (const alignment of [32, 64]) {
    const w = new GGUFWriter({ alignment });
    const data = {};
    for (const [name, f] of Object.entries(FORMATS)) {
      const shape = [f.blockSize === 256 ? 512 : 64, 3];
      data[name] = gaussian(shape[0] * shape[1], name.length * 7 + f.id);
      w.addTensor(`w.${name}`, name, shape, data[name]);
    }
    w.addTensor('odd', 'F32', [5], new Float32Array([1, 2, 3, 4, 5])); // forces padding before the next
    w.addTensor('lazy', 'Q8_0', [32], () => data.Q8_0.subarray(0, 32));
    const buf = w.toBuffer();
    const h = parseGGUF(buf);
    assert.equal(h.alignment, alignment);
    assert.equal(h.metadata.has('general.alignment'), alignment !== 32);
    assert.equal(h.dataOffset % alignment, 0);
    for (const t of h.tensors) {
      assert.equal(t.offset % alignment, 0, `${t.name} offset`);
      const bytes = buf.subarray(h.dataOffset + t.offset, h.dataOffset + t.offset + t.nBytes);
      const name = t.name.slice(2);
      if (t.name.startsWith('w.')) {
        assert.equal(t.typeName, name);
        assert.deepEqual([...bytes], [...encode(name, data[name])], `${name} bytes`);
      }
    }
    const odd = h.tensors.find((t) => t.name === 'odd');
    assert.deepEqual([...decode('F32', buf.subarray(h.dataOffset + odd.offset), 5)], [1, 2, 3, 4, 5]);
  }
});

test('write() streams the same bytes toBuffer() builds; version 2 is accepted', () => {
  const w = new GGUFWriter({ version: 2 });
  w.addString('general.architecture', 'llama');
  w.addTensor('a', 'Q4_0', [64, 2], () => gaussian(128, 3));
  w.addTensor('b', 'F16', [7], gaussian(7, 4));
  const file = path.join(tmp, 'v2.gguf');
  const n = w.write(file);
  const onDisk = fs.readFileSync(file);
  assert.equal(n, onDisk.length);
  assert.deepEqual(new Uint8Array(onDisk), w.toBuffer());
  assert.equal(parseGGUF(new Uint8Array(onDisk)).version, 2);
});

test('writeSplit produces the gguf-split layout', () => {
  const w = new GGUFWriter();
  w.addString('general.architecture', 'llama').addU32('llama.block_count', 2);
  for (let i = 0; i < 5; i++) w.addTensor(`t${i}`, 'F32', [8], gaussian(8, i + 10));
  const paths = w.writeSplit(path.join(tmp, 'split'), 2);
  assert.deepEqual(paths.map((p) => path.basename(p)), ['split-00001-of-00003.gguf', 'split-00002-of-00003.gguf', 'split-00003-of-00003.gguf']);
  const names = [];
  paths.forEach((p, i) => {
    const h = parseGGUF(new Uint8Array(fs.readFileSync(p)));
    assert.equal(h.metadata.get('split.no'), i); assert.equal(h.types.get('split.no'), VT.UINT16);
    assert.equal(h.metadata.get('split.count'), 3); assert.equal(h.types.get('split.count'), VT.UINT16);
    assert.equal(h.metadata.get('split.tensors.count'), 5); assert.equal(h.types.get('split.tensors.count'), VT.INT32);
    assert.equal(h.metadata.has('general.architecture'), i === 0, `metadata only in shard 1 (shard ${i + 1})`);
    names.push(...h.tensors.map((t) => t.name));
  });
  assert.deepEqual(names, ['t0', 't1', 't2', 't3', 't4']);
  const byBytes = w.writeSplit(path.join(tmp, 'bybytes'), { maxBytes: 64 });
  assert.equal(byBytes.length, 3, '32-byte tensors, two per 64-byte shard');
});

test('f32 -> f16 rounds to nearest even, exhaustively over f16 values and midpoints', () => {
  for (let h = 0; h < 0x7c00; h++) {
    const v = f16BitsToF32(h);
    assert.equal(f32ToF16Bits(v), h);
    assert.equal(f32ToF16Bits(-v), h | 0x8000);
    // Halfway to the next f16 (exact in f32): ties go to the even neighbour.
    const mid = (v + f16BitsToF32(h + 1)) / 2;
    assert.equal(f32ToF16Bits(mid), h & 1 ? h + 1 : h, `midpoint above 0x${h.toString(16)}`);
  }
  assert.equal(f32ToF16Bits(65520), 0x7c00, 'rounds up to infinity');
  assert.equal(f32ToF16Bits(Infinity), 0x7c00);
  assert.equal(f32ToF16Bits(-Infinity), 0xfc00);
  assert.equal(f32ToF16Bits(1e-9), 0);
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN))));
});

test('f32 -> bf16 rounds to nearest even like ggml', () => {
  assert.equal(f32ToBf16Bits(1), 0x3f80);
  assert.equal(f32ToBf16Bits(1 + 2 ** -8), 0x3f80, 'tie to even (down)');
  assert.equal(f32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82, 'tie to even (up)');
  assert.equal(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20), 0x3f81);
  assert.equal(bf16BitsToF32(0xc040), -3);
  assert.ok(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN))));
});

test('Q8_0 and Q4_0 follow ggml reference quantizers on a hand-checked block', () => {
  const x = Float32Array.from({ length: 32 }, (_, j) => j - 16); // -16..15
  const q4 = encode('Q4_0', x);
  // max by magnitude is -16 -> d = 2, q = trunc(x/2 + 8.5) clamped to 15
  assert.equal(f16BitsToF32(q4[0] | (q4[1] << 8)), 2);
  assert.equal(q4[2] & 15, 0); // x=-16
  assert.equal(q4[2] >> 4, 8); // x=0 -> 8
  assert.equal(q4[17] >> 4, 15); // x=15 -> trunc(16) = 16 -> clamped
  assert.equal(q4[3] & 15, 1); // x=-15 -> trunc(1.0) = 1
  const q8 = encode('Q8_0', x);
  const d8 = Math.fround(16 / 127);
  assert.equal(f16BitsToF32(q8[0] | (q8[1] << 8)), f16BitsToF32(f32ToF16Bits(d8)));
  assert.equal((q8[2] << 24) >> 24, -127);
  assert.equal((q8[2 + 24] << 24) >> 24, Math.round(8 * Math.fround(1 / d8))); // x=8 -> 63.5 -> 64 (half away from zero)
  assert.equal((q8[2 + 24] << 24) >> 24, 64);
});

test('every format decodes back close to its input', () => {
  // RMS error relative to RMS of N(0,1) data, generous for each bit width.
  const limits = { F32: 0, F16: 1e-3, BF16: 5e-3, Q8_0: 0.01, Q6_K: 0.03, Q5_0: 0.06, Q5_1: 0.06, Q5_K: 0.06, Q4_0: 0.13, Q4_1: 0.13, Q4_K: 0.13, IQ4_NL: 0.13, IQ4_XS: 0.13, Q3_K: 0.3, Q2_K: 0.55 };
  for (const name of Object.keys(FORMATS)) {
    const x = gaussian(4096, 99);
    const y = decode(name, encode(name, x), x.length);
    let err = 0, ref = 0;
    for (let i = 0; i < x.length; i++) { err += (x[i] - y[i]) ** 2; ref += x[i] ** 2; }
    const rel = Math.sqrt(err / ref);
    assert.ok(rel <= limits[name], `${name}: relative RMS error ${rel.toFixed(4)} > ${limits[name]}`);
    // A constant block (zero range) must not produce NaN.
    const z = decode(name, encode(name, new Float32Array(256)), 256);
    assert.ok(z.every((v) => v === 0), `${name}: zeros stay zeros`);
  }
});

test('bad tensors are refused', () => {
  const w = new GGUFWriter();
  assert.throws(() => w.addTensor('x', 'Q4_0', [48], new Float32Array(48)), /multiple of/);
  assert.throws(() => w.addTensor('x', 'F32', [4], new Float32Array(3)), /values/);
  assert.throws(() => w.addTensor('x', 'NOPE', [4], new Float32Array(4)), /no encoder/);
  w.addTensor('x', 'F32', [4], new Float32Array(4));
  assert.throws(() => w.addTensor('x', 'F32', [4], new Float32Array(4)), /twice/);
  assert.throws(() => new GGUFWriter({ alignment: 48 }), /power of two/);
});

test('make-synthetic: deterministic per seed, real key names, tensor sets per architecture', async () => {
  const { buildSynthetic, tensorType } = await import('../../tools/make-synthetic.js');
  const vocab = sharedPath('data/vocab/ggml-vocab-llama-spm.gguf');
  const build = (o) => buildSynthetic({ shape: 'tiny-gqa', type: 'Q8_0', vocab, layers: 1, ...o }).writer.toBuffer();
  const a = build({ seed: 3 });
  assert.deepEqual(build({ seed: 3 }), a, 'same seed, same bytes');
  assert.notDeepEqual(build({ seed: 4 }), a, 'another seed, other weights');
  const h = parseGGUF(a);
  const md = h.metadata;
  assert.equal(md.get('general.architecture'), 'llama');
  assert.equal(md.get('llama.embedding_length'), 256);
  assert.equal(md.get('llama.attention.head_count_kv'), 2);
  assert.equal(md.get('llama.vocab_size'), 32000);
  assert.equal(md.get('tokenizer.ggml.tokens').length, 32000, 'tokenizer copied from the vocab file');
  const names = h.tensors.map((t) => t.name);
  assert.ok(names.includes('output.weight') && names.includes('blk.0.ffn_gate.weight'));
  assert.equal(h.tensors.find((t) => t.name === 'blk.0.attn_norm.weight').typeName, 'F32', 'norms stay F32');
  assert.deepEqual(h.tensors.find((t) => t.name === 'blk.0.attn_k.weight').shape, [256, 64]);

  const q3 = parseGGUF(build({ arch: 'qwen3' }));
  assert.deepEqual(q3.tensors.find((t) => t.name === 'blk.0.attn_q_norm.weight').shape, [64]);
  assert.equal(q3.metadata.get('qwen3.attention.key_length'), 64);
  assert.deepEqual(q3.tensors.find((t) => t.name === 'blk.0.attn_q.weight').shape, [256, 512]);
  const phi = parseGGUF(build({ arch: 'phi3' }));
  assert.deepEqual(phi.tensors.find((t) => t.name === 'blk.0.attn_qkv.weight').shape, [256, 256 + 2 * 64]);
  assert.deepEqual(phi.tensors.find((t) => t.name === 'blk.0.ffn_up.weight').shape, [256, 2 * 768]);
  const g2 = parseGGUF(build({ arch: 'gemma2' }));
  assert.ok(!g2.tensors.some((t) => t.name === 'output.weight'), 'gemma2 is always tied');
  assert.equal(g2.metadata.get('gemma2.final_logit_softcapping'), 30);

  // Q4_K_M mix and fallbacks for rows that are not whole 256-blocks.
  assert.equal(tensorType('Q4_K_M', 'blk.0.attn_v.weight', 256, 8), 'Q6_K');
  assert.equal(tensorType('Q4_K_M', 'blk.3.attn_q.weight', 256, 8), 'Q4_K');
  assert.equal(tensorType('Q4_K_M', 'blk.3.attn_q.weight', 576, 8), 'Q5_0');
  // tied embeddings: token_embd is the output, so it gets the output's Q6_K (Q8_0 on 576-wide rows)
  assert.equal(tensorType('Q4_K_M', 'token_embd.weight', 2048, 8, true), 'Q6_K');
  assert.equal(tensorType('Q4_K_M', 'token_embd.weight', 576, 8, true), 'Q8_0');
  assert.equal(tensorType('Q4_K_M', 'token_embd.weight', 2048, 8, false), 'Q4_K');
  assert.equal(tensorType('Q6_K', 'x', 576, 8), 'Q8_0');
  assert.equal(tensorType('Q4_0', 'x', 48, 8), 'F16');
});
