/**
 * Conformance with llama.cpp on the five reference vocabularies in
 * ../shared/data/vocab: every .inp/.out vector (no BOS/EOS, special text not
 * parsed), and — with node-llama-cpp installed — the same ids, flags,
 * special ids, EOG set, token attributes and detokenized text as native
 * llama.cpp on a Shakespeare slice and a varied corpus.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createTokenizer } from '../../web/tokenizer/index.js';
import { ROOT, SHARED, VOCAB_DIR, readMetadata, readVectors, refMissing, loadLlama, variedCorpus, SPECIAL_TEXTS } from './tokenizer-helpers.js';

const VOCABS = ['llama-spm', 'phi-3', 'gpt-2', 'deepseek-coder', 'bert-bge'];

for (const name of VOCABS) {
  const file = path.join(VOCAB_DIR, `ggml-vocab-${name}.gguf`);
  test(`vocab ${name}: all llama.cpp test vectors`, () => {
    const tok = createTokenizer(readMetadata(file));
    const vectors = readVectors(file);
    assert.ok(vectors.length >= 40, `${name}: expected the llama.cpp vector set, found ${vectors.length}`);
    const failures = [];
    for (const { text, ids } of vectors) {
      const got = tok.encode(text, { addSpecial: false, parseSpecial: false });
      if (JSON.stringify(got) !== JSON.stringify(ids)) failures.push(`${JSON.stringify(text)}: expected [${ids}] got [${got}]`);
    }
    assert.deepEqual(failures, [], `${name}: ${failures.length}/${vectors.length} vectors differ`);
  });
}

// The CLI (`wasmllm tokenize --no-special`) is the same code path; check the
// wiring on a few vectors per vocab (one process each, so not all of them).
test('vectors through `wasmllm tokenize --no-special`', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-cli-tok-'));
  try {
    for (const name of VOCABS) {
      const file = path.join(VOCAB_DIR, `ggml-vocab-${name}.gguf`);
      const vectors = readVectors(file);
      const picks = [vectors[0], vectors.reduce((a, b) => (b.text.length > a.text.length ? b : a)),
        vectors.find((v) => /^\s+$/.test(v.text)) ?? vectors[1]];
      for (const [i, v] of picks.entries()) {
        const input = path.join(dir, `${name}-${i}.txt`);
        fs.writeFileSync(input, v.text);
        const out = execFileSync(process.execPath, [path.join(ROOT, 'web', 'node', 'cli.js'), 'tokenize', '--model', file, '--file', input, '--no-special'], { encoding: 'utf8' });
        assert.deepEqual(JSON.parse(out), v.ids, `${name}: ${JSON.stringify(v.text)}`);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('same as native llama.cpp (node-llama-cpp)', { skip: refMissing }, () => {
  let llama;
  before(async () => { llama = await loadLlama(); });
  after(async () => { await llama?.dispose(); });

  const shakespeare = () => fs.readFileSync(path.join(SHARED, 'data', 'corpus', 'tinyshakespeare.txt'), 'utf8').slice(0, 120_000);

  for (const name of VOCABS) {
    test(`vocab ${name}: ids, specials, EOG, attributes and detokenization match`, async () => {
      const file = path.join(VOCAB_DIR, `ggml-vocab-${name}.gguf`);
      const tok = createTokenizer(readMetadata(file));
      const m = await llama.loadModel({ modelPath: file, vocabOnly: true });
      try {
        const native = m._model;
        // node-llama-cpp reports a bos/eos/eot id only when that token is a control token
        const control = (id) => (id !== null && tok.isControl(id) ? id : -1);
        assert.equal(control(tok.bos), native.tokenBos(), 'bos');
        assert.equal(control(tok.eos), native.tokenEos(), 'eos');
        assert.equal(control(tok.eot), native.eotToken(), 'eot');
        assert.equal(tok.addBos, native.shouldPrependBosToken(), 'add_bos');
        assert.equal(tok.addEos, native.shouldAppendEosToken(), 'add_eos');
        assert.equal(tok.nl ?? -1, native.tokenNl(), 'newline token');
        for (let id = 0; id < tok.nVocab; id++) {
          if (tok.isEog(id) !== native.isEogToken(id)) assert.fail(`isEog(${id} ${JSON.stringify(tok.tokens.get(id))})`);
          if (tok.tokenAttrs[id] !== native.getTokenAttributes(id)) {
            assert.fail(`attributes of ${id} ${JSON.stringify(tok.tokens.get(id))}: ${tok.tokenAttrs[id]} vs ${native.getTokenAttributes(id)}`);
          }
        }
        const texts = [shakespeare(), ...variedCorpus(), ...SPECIAL_TEXTS];
        for (const text of texts) {
          for (const parseSpecial of [false, true]) {
            const want = Array.from(m.tokenize(text, parseSpecial));
            const got = tok.encode(text, { addSpecial: false, parseSpecial });
            assert.deepEqual(got, want, `${name} parseSpecial=${parseSpecial}: ${JSON.stringify(text.slice(0, 60))}`);
            // addSpecial adds exactly what llama.cpp's flags say
            const withSpecial = tok.encode(text, { addSpecial: true, parseSpecial });
            const expected = [...(tok.addBos || tok.model === 'bert' ? [tok.bos] : []), ...want,
              ...(tok.model === 'bert' ? [tok.sep] : tok.addEos ? [tok.eos] : [])];
            assert.deepEqual(withSpecial, expected, `${name} addSpecial: ${JSON.stringify(text.slice(0, 60))}`);
            for (const showSpecial of [false, true]) {
              assert.equal(tok.decode(got, { showSpecial }), m.detokenize(got, showSpecial),
                `${name} decode showSpecial=${showSpecial}: ${JSON.stringify(text.slice(0, 60))}`);
            }
          }
        }
      } finally {
        await m.dispose();
      }
    });
  }
});
