#!/usr/bin/env node
/**
 * Turns the output of tools/train/train.py or distill.py (weights.bin +
 * manifest.json + vocab.json) into models/shakespeare.gguf (or the draft) with the project's own GGUF
 * writer: llama architecture keys, a SentencePiece ("llama") vocabulary,
 * F16 matrices and F32 norms, tensors named as llama.cpp expects.
 *
 *   node tools/train/export-gguf.js [--in .train/out] [--out models/shakespeare.gguf]
 */
import fs from 'node:fs';
import path from 'node:path';
import { GGUFWriter, VT } from '../gguf-writer.js';

/** @param {string[]} argv */
function parseArgs(argv) {
  const args = { in: '.train/out', out: 'models/shakespeare.gguf' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args) || argv[i + 1] === undefined) throw new Error(`usage: export-gguf.js [--in DIR] [--out FILE] (bad ${argv[i]})`);
    args[key] = argv[i + 1];
  }
  return args;
}

/** @param {string} dir @param {string} name */
function readJSON(dir, name) {
  return JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
}

/**
 * Tensor bytes from weights.bin, checked against the manifest's shape.
 * f16 matrices go in as already-encoded bytes; f32 norms as Float32Array.
 * @param {Buffer} bin @param {{ name: string, shape: number[], dtype: string, offset: number, nbytes: number }} t
 */
function tensorData(bin, t) {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const width = t.dtype === 'f16' ? 2 : t.dtype === 'f32' ? 4 : 0;
  if (!width) throw new Error(`${t.name}: dtype ${t.dtype}`);
  if (t.nbytes !== n * width || t.offset < 0 || t.offset + t.nbytes > bin.length) {
    throw new Error(`${t.name}: ${t.nbytes} bytes at ${t.offset} do not fit shape ${t.shape} in a ${bin.length}-byte weights.bin`);
  }
  const bytes = bin.subarray(t.offset, t.offset + t.nbytes);
  if (t.dtype === 'f16') return { type: 'F16', data: new Uint8Array(bytes) };
  const f32 = new Float32Array(n);
  new Uint8Array(f32.buffer).set(bytes); // copy: the slice may be unaligned; both little-endian
  return { type: 'F32', data: f32 };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const manifest = readJSON(args.in, 'manifest.json');
  const vocab = readJSON(args.in, 'vocab.json');
  const bin = fs.readFileSync(path.join(args.in, 'weights.bin'));
  const c = manifest.config;
  const nVocab = vocab.pieces.length;
  if (nVocab !== c.vocab_size || vocab.scores.length !== nVocab || vocab.types.length !== nVocab) {
    throw new Error(`vocab.json has ${nVocab} pieces, ${vocab.scores.length} scores, ${vocab.types.length} types; config says ${c.vocab_size}`);
  }

  const w = new GGUFWriter();
  const millions = (manifest.params / 1e6).toFixed(1);
  w.addString('general.architecture', 'llama');
  // train.py's manifest has corpus losses; distill.py's (a draft model) the loss against its teacher.
  const draft = manifest.losses === undefined;
  w.addString('general.name', `wasmllm Shakespeare ${draft ? 'draft ' : ''}${millions}M`);
  w.addString('general.description', draft
    ? `A ${millions}M-parameter draft model for speculative decoding with models/shakespeare.gguf, distilled from it ` +
      `(${manifest.val.toFixed(3)} nats/token of cross entropy against its distribution on held-out samples). ` +
      'Recipe: tools/train/distill.py in the wasmllm repository.'
    : `A ${millions}M-parameter Llama trained from scratch on tinyshakespeare (last 10% held out: ` +
      `${manifest.losses.val_nats_per_token.toFixed(3)} nats/token, ${manifest.losses.val_nats_per_char.toFixed(3)} nats/char). ` +
      'Recipe: tools/train/ in the wasmllm repository.');
  w.addString('general.license', 'MIT');
  w.addString('general.source.url', 'https://github.com/karpathy/char-rnn (tinyshakespeare corpus, public domain text)');
  w.addU32('general.file_type', 1); // mostly F16

  w.addU32('llama.context_length', c.n_ctx);
  w.addU32('llama.embedding_length', c.dim);
  w.addU32('llama.block_count', c.n_layer);
  w.addU32('llama.feed_forward_length', c.ffn_dim);
  w.addU32('llama.attention.head_count', c.n_head);
  w.addU32('llama.attention.head_count_kv', c.n_kv_head);
  w.addF32('llama.attention.layer_norm_rms_epsilon', c.norm_eps);
  w.addF32('llama.rope.freq_base', c.rope_base);
  w.addU32('llama.rope.dimension_count', c.head_dim);
  w.addU32('llama.vocab_size', nVocab);

  w.addString('tokenizer.ggml.model', 'llama');
  w.addString('tokenizer.ggml.pre', 'default');
  w.addArray('tokenizer.ggml.tokens', VT.STRING, vocab.pieces);
  w.addArray('tokenizer.ggml.scores', VT.FLOAT32, Float32Array.from(vocab.scores));
  w.addArray('tokenizer.ggml.token_type', VT.INT32, Int32Array.from(vocab.types));
  w.addU32('tokenizer.ggml.bos_token_id', vocab.bos_id);
  w.addU32('tokenizer.ggml.eos_token_id', vocab.eos_id);
  w.addU32('tokenizer.ggml.unknown_token_id', vocab.unk_id);
  w.addBool('tokenizer.ggml.add_bos_token', true);
  w.addBool('tokenizer.ggml.add_eos_token', false);
  w.addBool('tokenizer.ggml.add_space_prefix', vocab.add_space_prefix !== false);

  // token_embd first, then blocks in order, output_norm last (as llama.cpp's converter orders them).
  // GGUF shapes run innermost first: a PyTorch [out, in] matrix is [in, out] here, same bytes.
  const order = (name) => (name === 'token_embd.weight' ? -1 : name === 'output_norm.weight' ? 1e9 : Number(name.split('.')[1]));
  const tensors = [...manifest.tensors].sort((a, b) => order(a.name) - order(b.name));
  for (const t of tensors) {
    const { type, data } = tensorData(bin, t);
    w.addTensor(t.name, type, [...t.shape].reverse(), data);
  }
  fs.mkdirSync(path.dirname(args.out), { recursive: true });
  const bytes = w.write(args.out);
  console.log(`wrote ${args.out}: ${bytes} bytes, ${tensors.length} tensors, ${manifest.params} parameters, vocab ${nVocab}`);
}

main();
