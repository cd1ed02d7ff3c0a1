#!/usr/bin/env node
/**
 * Checks models/shakespeare.gguf against native llama.cpp (node-llama-cpp in
 * tests/ref/), independently of the wasm runtime:
 *  1. llama.cpp tokenizes every string in tools/train/tokcheck.json to the ids
 *     SentencePiece gave it during training;
 *  2. llama.cpp's greedy continuation of "ROMEO:" matches PyTorch's
 *     (tools/train/reference.json), and so do the first-token probabilities;
 *  3. prints a greedy and a temperature-0.8 sample.
 * Exits non-zero when 1 fails or 2 diverges within the first 16 tokens.
 *
 *   node tools/train/check-llama-cpp.js [models/shakespeare.gguf]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const modelPath = path.resolve(process.argv[2] ?? path.join(root, 'models', 'shakespeare.gguf'));
const nlcEntry = path.join(root, 'tests', 'ref', 'node_modules', 'node-llama-cpp', 'dist', 'index.js');

/** @param {number[]} a @param {number[]} b */
const sameIds = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Greedy or sampled continuation; returns the generated ids and, for the first step, the probabilities. */
async function continueFrom(context, ids, n, options) {
  const seq = context.getSequence();
  const out = [];
  let firstProbs = null;
  try {
    for await (const { token, probabilities } of seq.evaluateWithMetadata(ids, { probabilities: out.length === 0 }, options)) {
      if (!firstProbs && probabilities) firstProbs = probabilities;
      out.push(token);
      if (out.length >= n) break;
    }
  } finally {
    seq.dispose();
  }
  return { ids: out, firstProbs };
}

async function main() {
  if (!fs.existsSync(nlcEntry)) throw new Error('node-llama-cpp is not installed in tests/ref (node tools/setup.js --test)');
  const { getLlama } = await import(pathToFileURL(nlcEntry).href);
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error', progressLogs: false });
  const model = await llama.loadModel({ modelPath });
  const tokcheck = JSON.parse(fs.readFileSync(path.join(here, 'tokcheck.json'), 'utf8'));
  const reference = JSON.parse(fs.readFileSync(path.join(here, 'reference.json'), 'utf8'));
  let failures = 0;

  let tokOk = 0;
  for (const c of tokcheck.cases) {
    const got = [...model.tokenize(c.text, false)];
    if (sameIds(got, c.ids)) tokOk++;
    else {
      failures++;
      console.log(`TOKENIZE MISMATCH ${JSON.stringify(c.text)}\n  sentencepiece ${JSON.stringify(c.ids)}\n  llama.cpp     ${JSON.stringify(got)}`);
    }
  }
  console.log(`tokenizer: ${tokOk}/${tokcheck.cases.length} strings tokenize as SentencePiece did`);

  const prompt = [model.tokens.bos, ...model.tokenize(reference.prompt, false)];
  if (!sameIds(prompt, reference.prompt_ids)) {
    failures++;
    console.log(`prompt ids differ: llama.cpp ${JSON.stringify(prompt)} vs ${JSON.stringify(reference.prompt_ids)}`);
  }
  const context = await model.createContext({ contextSize: 512, threads: 2, sequences: 1 });
  try {
    const want = reference.greedy_ids.slice(reference.prompt_ids.length);
    const greedy = await continueFrom(context, prompt, want.length, { temperature: 0 });
    let agree = 0;
    while (agree < want.length && greedy.ids[agree] === want[agree]) agree++;
    console.log(`greedy: llama.cpp agrees with PyTorch on the first ${agree}/${want.length} tokens`);
    if (agree < Math.min(16, want.length)) failures++;

    // First-step probabilities: llama.cpp's softmax vs PyTorch's logits.
    const logits = reference.last_logits;
    const max = Math.max(...logits);
    const z = logits.reduce((s, l) => s + Math.exp(l - max), 0);
    let maxDiff = 0;
    for (const [t, p] of greedy.firstProbs ?? []) maxDiff = Math.max(maxDiff, Math.abs(p - Math.exp(logits[t] - max) / z));
    console.log(`first-token probabilities: max |llama.cpp - PyTorch| = ${maxDiff.toExponential(2)}`);

    const long = await continueFrom(context, prompt, 120, { temperature: 0 });
    console.log(`\n--- llama.cpp greedy, prompt "ROMEO:"\nROMEO:${model.detokenize(long.ids)}`);
    const warm = await continueFrom(context, prompt, 120, { temperature: 0.8, seed: 42 });
    console.log(`\n--- llama.cpp temperature 0.8, seed 42, prompt "ROMEO:"\nROMEO:${model.detokenize(warm.ids)}`);
  } finally {
    await context.dispose();
    await model.dispose();
  }
  if (failures) {
    console.log(`\n${failures} check(s) failed`);
    process.exit(1);
  }
  console.log('\nall checks passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
