// The `wasmllm` command line, run as a child process like a user would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadModel } from '../../web/node/index.js';
import { threadsForModel, SMALL_MODEL_PARAMS } from '../../web/model.js';
import { tinyModel, runCli, vocabVectors, tempDir, VOCAB_SPM, EMBEDDED } from './runtime-fixtures.js';

test('tokenize on a vocab-only GGUF prints llama.cpp\'s ids as one JSON array', async () => {
  const vectors = vocabVectors(VOCAB_SPM).filter((v) => v.text.trim() !== '').slice(0, 12);
  assert.ok(vectors.length >= 10);
  for (const { text, ids } of vectors) {
    const r = await runCli(['tokenize', '--model', VOCAB_SPM, '--text', text, '--no-special']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), ids, `text ${JSON.stringify(text)}`);
    assert.equal(r.stdout.trim().split('\n').length, 1, 'one line');
  }
  // Without --no-special: BOS first (the vocab asks for it), special text parsed.
  const r = await runCli(['tokenize', '--model', VOCAB_SPM, '--text', 'Hello world</s>']);
  assert.equal(r.code, 0, r.stderr);
  const hello = vectors.find((v) => v.text === 'Hello world').ids;
  assert.deepEqual(JSON.parse(r.stdout), [1, ...hello, 2]);
});

test('tokenize --file reads the text from a file', async () => {
  const file = path.join(tempDir(), 'text.txt');
  fs.writeFileSync(file, 'Hello world');
  const a = await runCli(['tokenize', '-m', VOCAB_SPM, '--file', file]);
  const b = await runCli(['tokenize', '-m', VOCAB_SPM, '--text', 'Hello world']);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
});

test('complete --json prints prompt tokens, tokens and text matching the API', async () => {
  const file = tinyModel();
  const r = await runCli(['complete', '-m', file, '-p', 'Hello world', '-n', '10', '--temperature', '0', '-t', '1']);
  const j = await runCli(['complete', '-m', file, '-p', 'Hello world', '-n', '10', '--temperature', '0', '-t', '2', '--json']);
  assert.equal(j.code, 0, j.stderr);
  const out = JSON.parse(j.stdout);
  assert.deepEqual(Object.keys(out), ['prompt_tokens', 'tokens', 'text']);
  const model = await loadModel(file, { threads: 1 });
  try {
    assert.deepEqual(out.prompt_tokens, model.tokenize('Hello world'));
    assert.equal(out.tokens.length, 10);
    assert.equal(model.detokenize([...out.prompt_tokens, ...out.tokens]), model.detokenize(out.prompt_tokens) + out.text);
    const api = [];
    for await (const { token } of model.complete('Hello world', { maxTokens: 10, temperature: 0 })) api.push(token);
    assert.deepEqual(out.tokens, api, '--temperature 0 is plain greedy: the CLI adds no repeat penalty');
  } finally {
    model.dispose();
  }
  // Without --json, complete streams just the continuation.
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${out.text}\n`);
});

test('--temperature 0 is greedy: no repeat penalty unless asked (llama.cpp\'s default 1.0)', async () => {
  const args = ['complete', '-p', 'ROMEO:', '-n', '48', '--temperature', '0', '-t', '1', '--json'];
  const plain = await runCli(args);
  const penalized = await runCli([...args, '--repeat-penalty', '1.1']);
  assert.equal(plain.code, 0, plain.stderr);
  const model = await loadModel(EMBEDDED, { threads: 1 });
  try {
    const greedy = [];
    for await (const { token } of model.complete('ROMEO:', { maxTokens: 48, temperature: 0, repeatPenalty: 1 })) greedy.push(token);
    assert.deepEqual(JSON.parse(plain.stdout).tokens, greedy);
    // The penalty does change this text, so the check above can tell them apart.
    assert.notDeepEqual(JSON.parse(penalized.stdout).tokens, greedy);
  } finally {
    model.dispose();
  }
});

test('run echoes the prompt and streams; --verbose prints timings on stderr', async () => {
  const file = tinyModel();
  const r = await runCli(['run', '--model', file, '--prompt', 'Hello', '--max-tokens', '8', '--temperature', '0', '--verbose']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith('Hello'), r.stdout);
  assert.ok(r.stdout.length > 'Hello\n'.length);
  assert.match(r.stderr, /load \d+ ms/);
  assert.match(r.stderr, /prompt \d+ tokens in [\d.]+ ms \([\d.]+ tokens\/s\)/);
  assert.match(r.stderr, /decode 8 tokens in [\d.]+ ms \([\d.]+ tokens\/s\)/);
  const q = await runCli(['run', '--model', file, '--prompt', 'Hello', '--max-tokens', '8', '--temperature', '0', '--quiet']);
  assert.equal(q.code, 0, q.stderr);
  assert.equal(`Hello${q.stdout}`, r.stdout);
  assert.equal(q.stderr, '');
});

test('the same --seed gives the same text', async () => {
  const args = ['complete', '--model', tinyModel(), '--prompt', 'Hello', '-n', '12', '--temperature', '1.0', '--seed', '1234', '--json'];
  const a = await runCli(args);
  const b = await runCli(args);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
});

test('info prints metadata with long arrays summarized and a tensor summary', async () => {
  const r = await runCli(['info', '--model', tinyModel()]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /general\.architecture = "llama"/);
  assert.match(r.stdout, /tokenizer\.ggml\.tokens = \[32000 strings: "<unk>", "<s>", "<\/s>"/);
  assert.match(r.stdout, /^tensors: 21, /m);
  assert.match(r.stdout, /^ {2}Q8_0: 16$/m);
  assert.match(r.stdout, /^ {2}F32: 5$/m);
  assert.match(r.stdout, /token_embd\.weight Q8_0 \[64, 32000\]/);
  assert.ok(r.stdout.length < 4000, 'summarized, not dumped');

  const j = await runCli(['info', '--model', tinyModel(), '--json']);
  const info = JSON.parse(j.stdout);
  assert.equal(info.metadata['general.architecture'], 'llama');
  assert.deepEqual(info.tensors.types, { Q8_0: 16, F32: 5 });

  const v = await runCli(['info', '--model', VOCAB_SPM]);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /^tensors: 0, /m);
});

test('bad arguments print the usage on stderr and exit 2', async () => {
  const file = tinyModel();
  for (const args of [
    [],
    ['frobnicate'],
    ['run', '--bogus'],
    ['run', '--max-tokens', 'abc'],
    ['run', '--temperature', ''],
    ['run', '--threads', '0'],
    ['run', 'stray-positional'],
    ['tokenize', '--model', VOCAB_SPM],
    ['tokenize', '--model', VOCAB_SPM, '--text', 'a', '--file', 'b'],
    ['run', '-m', file, '--json'],
    ['info', '--nope'],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `wasmllm ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /usage: wasmllm/, args.join(' '));
    assert.equal(r.stdout, '');
  }
});

test('run without --model uses the embedded model', { skip: !fs.existsSync(EMBEDDED) && 'models/shakespeare.gguf is not there yet' }, async () => {
  const r = await runCli(['run', '--max-tokens', '30', '--seed', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith('ROMEO:'), r.stdout);
  assert.ok(r.stdout.length > 'ROMEO:'.length + 20, r.stdout);
});

test('default threads: one for models under 100M parameters, every core above; the CLI, loadModel and info() agree', async () => {
  assert.equal(threadsForModel(6.8e6, 8), 1);
  assert.equal(threadsForModel(SMALL_MODEL_PARAMS - 1, 8), 1);
  assert.equal(threadsForModel(135e6, 8), 8);
  const small = await loadModel(EMBEDDED);
  try {
    assert.equal(small.info().threads, 1, 'the embedded 6.8M model decodes faster on one thread');
  } finally {
    small.dispose();
  }
  const asked = await loadModel(EMBEDDED, { threads: 2 });
  try {
    assert.equal(asked.info().threads, 2, 'an explicit count is kept');
  } finally {
    asked.dispose();
  }
  const r = await runCli(['run', '-n', '2', '--verbose']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, / 1 thread\(s\)/);
});
