/**
 * Every `tokenizer.ggml.pre` value we accept, checked against native
 * llama.cpp: the GPT-2 reference vocabulary is rewritten with that pre value
 * (so the merges are real) and both tokenizers run over the varied corpus
 * and a Shakespeare slice; ids, the add-BOS flag and detokenized text (which
 * shows the clean-up-spaces flag) must match. Unknown values must fail with
 * an error naming them.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseGGUF } from '../../web/gguf.js';
import { createTokenizer, supportedPreNames } from '../../web/tokenizer/index.js';
import { GGUFWriter, VT } from '../../tools/gguf-writer.js';
import { SHARED, VOCAB_DIR, refMissing, loadLlama, variedCorpus, SPECIAL_TEXTS } from './tokenizer-helpers.js';

const BASE = path.join(VOCAB_DIR, 'ggml-vocab-gpt-2.gguf');

/** The GPT-2 vocab's metadata with another pre-tokenizer name. */
function withPre(pre) {
  const header = parseGGUF(new Uint8Array(fs.readFileSync(BASE)), { allowNoData: true });
  const w = new GGUFWriter();
  w.copyKVs(header, (k) => k !== 'tokenizer.ggml.pre');
  w.addKV('tokenizer.ggml.pre', VT.STRING, pre);
  return w;
}

// The pre values issue #3 names, plus at least one name per distinct rule set
// and flag combination. Loading a vocab in native llama.cpp takes seconds, so
// every accepted alias is swept only with WASMLLM_FULL_PRE_SWEEP=1.
const NAMED = ['default', 'gpt-2', 'llama-bpe', 'qwen2', 'smollm', 'deepseek-llm', 'deepseek-coder', 'deepseek-v3',
  'falcon', 'starcoder', 'refact', 'mpt', 'gpt-4o', 'olmo', 'command-r', 'tekken', 'stablelm2', 'dbrx', 'smaug-bpe',
  'poro-chat', 'jais', 'bloom', 'chatglm-bpe', 'viking', 'exaone', 'minerva-7b', 'chameleon', 'codeshell',
  'seed-coder', 'llama4', 'qwen35', 'jina-v1-en', 'trillion', 'megrez', 'grok-2'];

function preNamesToTest() {
  const all = supportedPreNames();
  if (process.env.WASMLLM_FULL_PRE_SWEEP) return all;
  for (const n of NAMED) if (!all.includes(n)) throw new Error(`test lists pre ${n}, which the tokenizer does not accept`);
  return NAMED;
}

test('an unknown pre-tokenizer is an error naming it', () => {
  const md = parseGGUF(withPre('no-such-pre').toBuffer(), { allowNoData: true }).metadata;
  assert.throws(() => createTokenizer(md), (e) => e.code === 'ERR_TOKENIZER' && /no-such-pre/.test(e.message));
});

describe('every supported pre-tokenizer matches native llama.cpp', { skip: refMissing, concurrency: 4 }, () => {
  let llama, tmp, texts;
  before(async () => {
    llama = await loadLlama();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-pre-'));
    const shakespeare = fs.readFileSync(path.join(SHARED, 'data', 'corpus', 'tinyshakespeare.txt'), 'utf8');
    texts = [shakespeare.slice(5000, 25000), ...variedCorpus(), ...SPECIAL_TEXTS];
  });
  after(async () => {
    await llama?.dispose();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  for (const pre of preNamesToTest()) {
    test(`pre ${pre}`, async () => {
      const file = path.join(tmp, `${pre}.gguf`);
      const w = withPre(pre);
      w.write(file);
      const tok = createTokenizer(parseGGUF(new Uint8Array(fs.readFileSync(file)), { allowNoData: true }).metadata);
      const m = await llama.loadModel({ modelPath: file, vocabOnly: true });
      try {
        assert.equal(tok.addBos, m._model.shouldPrependBosToken(), 'add_bos');
        for (const text of texts) {
          const want = Array.from(m.tokenize(text, false));
          const got = tok.encode(text, { addSpecial: false });
          assert.deepEqual(got, want, `${pre}: ${JSON.stringify(text.slice(0, 80))}`);
          assert.equal(tok.decode(got), m.detokenize(got, false), `${pre} decode: ${JSON.stringify(text.slice(0, 80))}`);
        }
      } finally {
        await m.dispose();
      }
    });
  }
});
