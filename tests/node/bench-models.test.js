/**
 * The benchmark's inputs that decide what a runtime is asked to do: the
 * tokens wllama 3.x is kept off (bench/models.js benchNonUtf8Tokens).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchNonUtf8Tokens, benchTokenizer } from '../../bench/models.js';

test('SmolLM2 bench vocabulary: exactly the SentencePiece byte tokens <0x80>..<0xFF> are not UTF-8 alone', () => {
  const ids = benchNonUtf8Tokens('smollm2-135m');
  const tok = benchTokenizer('smollm2-135m');
  const names = ids.map((id) => tok.tokens.get(id));
  assert.equal(ids.length, 128);
  assert.equal(names[0], '<0x80>');
  assert.equal(names[127], '<0xFF>');
  for (let i = 0; i < names.length; i++) assert.equal(names[i], `<0x${(0x80 + i).toString(16).toUpperCase()}>`);
});

test('what is left concatenates to valid UTF-8: a text of every other token decodes without a replacement', () => {
  const banned = new Set(benchNonUtf8Tokens('smollm2-135m'));
  const tok = benchTokenizer('smollm2-135m');
  const strict = new TextDecoder('utf-8', { fatal: true });
  const parts = [];
  for (let id = 3; id < tok.nVocab; id++) if (!banned.has(id)) parts.push(tok.tokenToPiece(id));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { all.set(p, o); o += p.length; }
  assert.doesNotThrow(() => strict.decode(all));
  // and the banned ones would not: one byte token after ASCII is an orphan continuation byte
  assert.throws(() => strict.decode(Uint8Array.of(0x61, ...tok.tokenToPiece([...banned][0x17]))));
});
