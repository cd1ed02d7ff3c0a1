/**
 * The grammar, not the model, makes the output valid: every corpus schema
 * (the bounded ones: a random model never closes a free-length string) is
 * generated under complete({ jsonSchema }) on a random-weight F32 llama, at
 * temperature 0 and at temperature 1 with nothing cut from the distribution
 * (three seeds), and each output must end by itself, parse, and pass ajv.
 * Native llama.cpp's grammar engine (node-llama-cpp) generating under the
 * same grammars cross-checks them against the engine they were written for.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadModel } from '../../web/node/index.js';
import { jsonSchemaToGrammar } from '../../web/structured/json-schema.js';
import { CORPUS } from './json-schema-corpus.js';
import { loadValidator } from './json-schema-validate.js';
import { runCli, tempDir, tinyModel } from './runtime-fixtures.js';
import { loadLlama, refMissing } from './tokenizer-helpers.js';

const PROMPT = 'Answer in JSON:';
const BOUNDED = CORPUS.filter((e) => !e.open);
const SAMPLINGS = [
  { temperature: 0 },
  ...[1, 2, 3].map((seed) => ({ temperature: 1, topK: 0, topP: 1, minP: 0, repeatPenalty: 1, seed })),
];
/** Enough for the longest bounded document in tokens, with room to spare. */
const MAX_TOKENS = 700;
const modelFile = () => tinyModel('tiny-f32.gguf', { type: 'F32' });

/**
 * What is wrong with one output, or null when it ended by itself, parses and validates.
 * @param {import('./json-schema-corpus.js').CorpusEntry} entry
 * @param {string} text @param {boolean} ended @param {string} how
 */
async function problem(entry, text, ended, how) {
  const at = `${entry.name} (${how})`;
  if (!ended) return `${at} did not end by itself: ${text.slice(0, 300)}`;
  const validate = await loadValidator(entry.schema);
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `${at}: not JSON (${/** @type {Error} */ (err).message}): ${JSON.stringify(text)}`;
  }
  return validate(value) ? null : `${at}: ${JSON.stringify(validate.errors)}: ${text}`;
}

let model;
before(async () => {
  if (!refMissing) model = await loadModel(modelFile(), { threads: 1, contextSize: 1024 });
});
after(() => model?.dispose());

test(`wasmllm: ${BOUNDED.length} schemas x ${SAMPLINGS.length} samplings on a random-weight model all give valid JSON`, { skip: refMissing && 'tests/ref (ajv) not installed' }, async () => {
  assert.ok(BOUNDED.length >= 30);
  const shapes = new Set();
  const problems = [];
  for (const entry of BOUNDED) {
    for (const sampling of SAMPLINGS) {
      let text = '';
      for await (const piece of model.complete(PROMPT, { jsonSchema: entry.schema, maxTokens: MAX_TOKENS, ...sampling })) text += piece.text;
      const wrong = await problem(entry, text, model.lastCompletion.finishReason === 'stop', JSON.stringify(sampling));
      if (wrong) problems.push(wrong);
      shapes.add(text);
    }
  }
  // The open schemas too parse in the C engine and start validly (a random model would not close them).
  for (const entry of CORPUS.filter((e) => e.open)) {
    let text = '';
    for await (const piece of model.complete(PROMPT, { jsonSchema: entry.schema, maxTokens: 8, temperature: 0 })) text += piece.text;
    if (!/^[[{"0-9tfn-]/.test(text)) problems.push(`${entry.name}: starts with ${JSON.stringify(text)}`);
  }
  assert.deepEqual(problems, []);
  // Samples differ, so the runs explore the grammars rather than repeat one path.
  assert.ok(shapes.size > BOUNDED.length * 2, `only ${shapes.size} distinct outputs`);
});

test('native llama.cpp under the same grammars: same schemas, greedy and sampled, all valid', { skip: refMissing && 'tests/ref not installed' }, async () => {
  const llama = await loadLlama();
  const { LlamaCompletion, LlamaGrammar } = await import('../ref/node_modules/node-llama-cpp/dist/index.js');
  const native = await llama.loadModel({ modelPath: modelFile() });
  // One thread: the oracle's default thread count oversubscribes a 2-core machine by far.
  const context = await native.createContext({ contextSize: 1024, threads: 1, batchSize: 64 });
  const sequence = context.getSequence();
  const completion = new LlamaCompletion({ contextSequence: sequence });
  const problems = [];
  try {
    for (const entry of BOUNDED) {
      const grammar = new LlamaGrammar(llama, { grammar: jsonSchemaToGrammar(entry.schema) });
      // Two samplings of the four: the oracle is slower here, and this run checks the grammars, not the sampler.
      for (const sampling of SAMPLINGS.slice(0, 2)) {
        sequence.clearHistory();
        const { response, metadata } = await completion.generateCompletionWithMeta(PROMPT, {
          grammar, maxTokens: MAX_TOKENS, temperature: sampling.temperature, seed: sampling.seed, topK: sampling.topK, topP: sampling.topP, minP: sampling.minP,
        });
        const wrong = await problem(entry, response, metadata.stopReason === 'eogToken', `native ${JSON.stringify(sampling)}`);
        if (wrong) problems.push(wrong);
      }
    }
    assert.deepEqual(problems, []);
  } finally {
    await context.dispose();
    await native.dispose();
  }
});

test('API and CLI: a schema the grammar cannot enforce is ERR_BAD_ARG naming the keyword; --json-schema and --json-object give valid JSON', { skip: refMissing && 'tests/ref (ajv) not installed' }, async () => {
  const refused = { type: 'object', properties: { tags: { type: 'array', uniqueItems: true } } };
  await assert.rejects(async () => {
    for await (const piece of model.complete(PROMPT, { jsonSchema: refused })) void piece;
  }, (/** @type {any} */ err) => err.code === 'ERR_BAD_ARG' && err.keyword === 'uniqueItems' && err.pointer === '#/properties/tags');
  const chat = [];
  for await (const piece of model.chat([{ role: 'user', content: 'Hi' }], { jsonSchema: BOUNDED[0].schema, maxTokens: MAX_TOKENS, temperature: 0 })) chat.push(piece.text);
  assert.equal(await problem(BOUNDED[0], chat.join(''), model.lastCompletion.finishReason === 'stop', 'chat'), null);

  const dir = tempDir();
  const entry = CORPUS.find((e) => e.name === 'formats');
  const schemaFile = path.join(dir, 'formats.schema.json');
  fs.writeFileSync(schemaFile, JSON.stringify(entry.schema));
  const args = ['complete', '-m', modelFile(), '-p', PROMPT, '-n', String(MAX_TOKENS), '-t', '1'];
  const r = await runCli([...args, '--temperature', '1', '--seed', '5', '--json-schema', schemaFile]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await problem(entry, r.stdout.trim(), true, 'CLI --json-schema'), null);
  const o = await runCli([...args, '--temperature', '0', '--json-object']);
  assert.equal(o.code, 0, o.stderr);
  assert.equal(typeof JSON.parse(o.stdout), 'object');
  const refusedFile = path.join(dir, 'refused.schema.json');
  fs.writeFileSync(refusedFile, JSON.stringify(refused));
  const e = await runCli([...args, '--json-schema', refusedFile]);
  assert.equal(e.code, 1);
  assert.match(e.stderr, /ERR_BAD_ARG.*"uniqueItems" at #\/properties\/tags/);
});
