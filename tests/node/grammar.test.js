// Grammars and logit biases through the public API and the CLI, on a tiny
// synthetic llama (llama-spm vocabulary, random weights: left alone it
// writes noise, so anything well-formed comes from the constraint).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadModel, parseGGUF, createTokenizer } from '../../web/node/index.js';
import { tinyModel, runCli, tempDir, VOCAB_SPM } from './runtime-fixtures.js';
import { VOCAB_DIR } from './tokenizer-helpers.js';

const JSON_GRAMMAR = String.raw`root ::= object
value ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9]{1,3})? ws
ws ::= | " " | "\n" [ \t]{0,20}
`;
// A fixed shape with short strings: sampling from random weights never closes a free string.
const BOUNDED_JSON = String.raw`root ::= "{" ws "\"name\":" ws str "," ws "\"n\":" ws num "," ws "\"tags\":" ws "[" ws (str ("," ws str){0,3})? "]" ws "}"
str ::= "\"" [^"\\\x00-\x1F\x7F]{0,12} "\""
num ::= "-"? [0-9]{1,6}
ws ::= [ ]?
`;
const PROMPT = 'The quick brown fox';

let model;
before(async () => { model = await loadModel(tinyModel(), { threads: 1, contextSize: 512 }); });
after(() => model?.dispose());

async function run(prompt, options) {
  let text = '';
  const tokens = [];
  for await (const p of model.complete(prompt, options)) {
    text += p.text;
    if (p.token >= 0) tokens.push(p.token);
  }
  return { text, tokens, result: model.lastCompletion };
}

test('the grammar engine sees every token as token_to_piece(special) renders it (SentencePiece, byte-level BPE)', () => {
  for (const file of [VOCAB_SPM, path.join(VOCAB_DIR, 'ggml-vocab-gpt-2.gguf'), path.join(VOCAB_DIR, 'ggml-vocab-phi-3.gguf')]) {
    const buf = fs.readFileSync(file);
    const { metadata } = parseGGUF(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), { packStrings: true });
    const tok = createTokenizer(metadata);
    const { bytes, offsets, kinds } = tok.grammarVocab();
    assert.equal(kinds.length, tok.nVocab);
    for (let id = 0; id < tok.nVocab; id++) {
      assert.deepEqual(bytes.subarray(offsets[id], offsets[id + 1]), tok.tokenToPiece(id, { showSpecial: true }), `${path.basename(file)} token ${id}`);
      const want = tok.isEog(id) ? 2 : tok.isControl(id) ? 1 : null;
      if (want !== null) assert.equal(kinds[id], want, `${path.basename(file)} token ${id} kind`);
    }
  }
});

test('JSON grammars give JSON that parses, greedy and sampled, and end at the grammar\'s end', async () => {
  const free = await run(PROMPT, { maxTokens: 40, temperature: 0 });
  assert.throws(() => JSON.parse(free.text), 'the model alone does not write JSON');
  const greedy = await run(PROMPT, { grammar: JSON_GRAMMAR, maxTokens: 400, temperature: 0 });
  assert.equal(greedy.result.finishReason, 'stop', greedy.text);
  assert.equal(typeof JSON.parse(greedy.text), 'object');
  for (const sampling of [{ temperature: 0 }, { temperature: 1, topK: 0, topP: 1, minP: 0, seed: 3 }, { temperature: 0.8, seed: 11 }]) {
    const { text, result } = await run(PROMPT, { grammar: BOUNDED_JSON, maxTokens: 400, ...sampling });
    assert.equal(result.finishReason, 'stop', `${JSON.stringify(sampling)}: ended by ${result.finishReason}: ${text}`);
    const value = JSON.parse(text);
    assert.deepEqual(Object.keys(value), ['name', 'n', 'tags']);
    assert.ok(result.timings.sampleMs > 0);
  }
});

test('a literal grammar is generated exactly, then generation stops', async () => {
  const { text, result } = await run(PROMPT, { grammar: 'root ::= "Hello, " [a-z]{3} "!"', maxTokens: 50, temperature: 0.7, seed: 2 });
  assert.match(text, /^Hello, [a-z]{3}!$/);
  assert.equal(result.finishReason, 'stop');
});

test('same grammar, same greedy text, with a cached grammar and in chat()', async () => {
  const g = 'root ::= ("yes" | "no" | "maybe") " because " [a-z ]{5,30} "."';
  const a = await run(PROMPT, { grammar: g, maxTokens: 60, temperature: 0 });
  const b = await run(PROMPT, { grammar: g, maxTokens: 60, temperature: 0 });
  assert.deepEqual(a.tokens, b.tokens);
  assert.match(a.text, /^(yes|no|maybe) because [a-z ]{5,30}\.$/);
  let chatText = '';
  for await (const p of model.chat([{ role: 'user', content: 'Hi' }], { grammar: g, maxTokens: 60, temperature: 0 })) chatText += p.text;
  assert.match(chatText, /^(yes|no|maybe) because [a-z ]{5,30}\.$/);
});

test('bad grammars are ERR_BAD_GRAMMAR naming line and column; the model stays usable', async () => {
  const cases = [
    ['root ::= "a"\nitem ::= [0-9', /line 2, column 10: character class is not closed/],
    ['root ::= foo', /line 1, column 10: undefined rule 'foo'/],
    ['start ::= "a"', /no 'root' rule/],
    ['root ::= root "a"', /left-recursive/],
  ];
  for (const [grammar, message] of cases) {
    await assert.rejects(run(PROMPT, { grammar, maxTokens: 5 }), (e) => e.code === 'ERR_BAD_GRAMMAR' && message.test(e.message), grammar);
  }
  await assert.rejects(run(PROMPT, { grammar: 42 }), { code: 'ERR_BAD_ARG' });
  await assert.rejects(run(PROMPT, { grammar: 'root ::= "a"', jsonSchema: { type: 'object' } }), { code: 'ERR_BAD_ARG' });
  const ok = await run(PROMPT, { maxTokens: 3, temperature: 0 });
  assert.equal(ok.tokens.length, 3);
});

test('a grammar no token can satisfy ends with ERR_BAD_GRAMMAR, not a hang', async () => {
  // Code point 0: no token's text holds a NUL (llama.cpp's rule), so nothing can start.
  await assert.rejects(run(PROMPT, { grammar: 'root ::= "\\x00"', maxTokens: 5 }), (e) => e.code === 'ERR_BAD_GRAMMAR' && /no token/.test(e.message));
  // The same after some text: "ab" then NUL.
  await assert.rejects(run(PROMPT, { grammar: 'root ::= "ab" "\\x00"', maxTokens: 5, temperature: 0 }), { code: 'ERR_BAD_GRAMMAR' });
});

test('logitBias: -Infinity bans, a large bias forces, bad entries are ERR_BAD_ARG', async () => {
  const ids = model.tokenize(PROMPT);
  const plain = await run(ids, { maxTokens: 4, temperature: 0 });
  const banned = await run(ids, { maxTokens: 4, temperature: 0, logitBias: { [plain.tokens[0]]: -Infinity } });
  assert.notEqual(banned.tokens[0], plain.tokens[0]);
  const forced = model.tokenize('hello', { addSpecial: false })[0];
  const pushed = await run(ids, { maxTokens: 4, temperature: 0.9, seed: 4, logitBias: new Map([[forced, 1000]]) });
  assert.deepEqual(pushed.tokens, [forced, forced, forced, forced]);
  const nVocab = model.info().nVocab;
  for (const logitBias of [{ [nVocab]: 1 }, { '-1': 1 }, { abc: 1 }, { 5: NaN }, { 5: Infinity }, [1, 2], 'x']) {
    await assert.rejects(run(ids, { maxTokens: 1, logitBias }), { code: 'ERR_BAD_ARG' }, JSON.stringify(logitBias));
  }
  // Banning every token the grammar allows leaves nothing: an error, not garbage.
  const a = model.tokenize('a', { addSpecial: false });
  const bias = {};
  for (let id = 0; id < nVocab; id++) bias[id] = -Infinity;
  await assert.rejects(run(ids, { maxTokens: 2, logitBias: bias }), (e) => e.code === 'ERR_BAD_ARG' && /bans every token/.test(e.message));
  await assert.rejects(run(ids, { maxTokens: 2, grammar: 'root ::= "a"+', logitBias: bias }), { code: 'ERR_BAD_GRAMMAR' });
  assert.ok(a.length > 0);
});

test('CLI: --grammar, --json-schema and --json-object for complete and chat, with usage errors', async () => {
  const file = tinyModel();
  const dir = tempDir();
  const gfile = path.join(dir, 'json.gbnf');
  fs.writeFileSync(gfile, BOUNDED_JSON);
  const r = await runCli(['complete', '-m', file, '-p', PROMPT, '-n', '300', '--temperature', '0', '-t', '1', '--grammar', gfile]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(Object.keys(JSON.parse(r.stdout)), ['name', 'n', 'tags']);
  const api = await run(PROMPT, { grammar: BOUNDED_JSON, maxTokens: 300, temperature: 0, repeatPenalty: 1.1 });
  assert.equal(r.stdout.trim(), api.text.trim(), 'the CLI generates what the API does');
  const q = await runCli(['run', '-q', '-m', file, '-p', PROMPT, '-n', '300', '--temperature', '0', '-t', '1', '--grammar', gfile]);
  assert.equal(q.stdout, r.stdout, 'run -q prints the same');

  const chat = await runCli(['chat', '-m', file, '-n', '60', '--temperature', '0', '-t', '1', '--grammar', gfile], { input: 'Hi\n' });
  assert.equal(chat.code, 0, chat.stderr);
  assert.match(chat.stdout, /\{ ?"name": ?"[^"]*", ?"n"/);

  const bad = path.join(dir, 'bad.gbnf');
  fs.writeFileSync(bad, 'root ::= "a"\nx ::= (');
  const e1 = await runCli(['complete', '-m', file, '-p', PROMPT, '--grammar', bad]);
  assert.notEqual(e1.code, 0);
  assert.match(e1.stderr, /line 2, column 8/);
  const e2 = await runCli(['complete', '-m', file, '-p', PROMPT, '--grammar', gfile, '--json-object']);
  assert.notEqual(e2.code, 0);
  assert.match(e2.stderr, /only one of --grammar, --json-object/);
  const e3 = await runCli(['run', '-m', file, '-p', PROMPT, '--grammar', path.join(dir, 'missing.gbnf')]);
  assert.notEqual(e3.code, 0);
  assert.match(e3.stderr, /no such file/);
  const e4 = await runCli(['chat', '-m', file, '--json-schema', gfile], { input: 'Hi\n' });
  assert.notEqual(e4.code, 0);
  assert.match(e4.stderr, /not JSON/);
});

test('a model keeps a few grammars and frees the rest: many distinct grammars do not grow the heap', async () => {
  const use = async (i) => {
    const { text } = await run(PROMPT, { grammar: `root ::= "n${i} " [a-z]{1,4} "."`, maxTokens: 10, temperature: 0 });
    assert.match(text, new RegExp(`^n${i} [a-z]{1,4}\\.$`));
  };
  for (let i = 0; i < 8; i++) await use(i);
  const before = model.memory().heapInUseBytes;
  for (let i = 8; i < 40; i++) await use(i);
  const grown = model.memory().heapInUseBytes - before;
  assert.ok(grown < 256 * 1024, `heap grew by ${grown} bytes over 32 more grammars`);
});
