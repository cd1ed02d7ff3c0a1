/**
 * The generated Unicode tables (web/unicode/tables.js): the category flags,
 * White_Space, simple lowercase and NFD first code point agree with the JS
 * engine's own Unicode data for every code point, and the checked-in file
 * is what tools/gen-unicode-tables.js produces (when this Node has the same
 * Unicode version the file was generated from).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { CPT, cptFlags, cptToLower, cptNfdFirst, UNICODE_VERSION } from '../../web/unicode/index.js';
import { ROOT } from './tokenizer-helpers.js';

const sameUnicode = process.versions.unicode === UNICODE_VERSION
  ? false : `tables are Unicode ${UNICODE_VERSION}, this Node has ${process.versions.unicode}`;

test('category flags of every code point match RegExp property escapes', { skip: sameUnicode }, () => {
  const classes = [[/\p{L}/u, CPT.LETTER], [/\p{N}/u, CPT.NUMBER], [/\p{P}/u, CPT.PUNCTUATION], [/\p{S}/u, CPT.SYMBOL],
    [/\p{M}/u, CPT.MARK], [/\p{Z}/u, CPT.SEPARATOR], [/\p{Cn}/u, CPT.UNDEFINED]];
  const ws = /\p{White_Space}/u;
  let checked = 0;
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    const s = String.fromCodePoint(cp);
    const f = cptFlags(cp);
    let want = CPT.CONTROL;
    for (const [re, bit] of classes) if (re.test(s)) { want = bit; break; }
    if ((f & CPT.CATEGORIES) !== want) assert.fail(`U+${cp.toString(16)}: flags ${f.toString(16)}, expected category ${want.toString(16)}`);
    if (((f & CPT.WHITESPACE) !== 0) !== ws.test(s)) assert.fail(`U+${cp.toString(16)}: whitespace flag`);
    checked++;
  }
  assert.equal(checked, 0x110000);
  assert.equal(cptFlags(-1), CPT.UNDEFINED);
  assert.equal(cptFlags(0x110000), CPT.UNDEFINED);
});

test('simple lowercase and NFD first code point', () => {
  assert.equal(cptToLower(0x41), 0x61);
  assert.equal(cptToLower(0x130), 0x69); // İ: simple mapping, not the two-code-point full one
  assert.equal(cptToLower(0x3a3), 0x3c3); // Σ
  assert.equal(cptToLower(0x61), 0x61);
  assert.equal(cptNfdFirst(0xe9), 0x65); // é -> e
  assert.equal(cptNfdFirst(0x1e69), 0x73); // ṩ -> s
  assert.equal(cptNfdFirst(0xac00), 0x1100); // 가 -> ᄀ
  assert.equal(cptNfdFirst(0x41), 0x41);
  for (let cp = 0; cp < 0x30000; cp += 13) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const s = String.fromCodePoint(cp);
    assert.equal(cptNfdFirst(cp), s.normalize('NFD').codePointAt(0), `NFD U+${cp.toString(16)}`);
    const lower = s.toLowerCase();
    if ([...lower].length === 1) assert.equal(cptToLower(cp), lower.codePointAt(0), `lower U+${cp.toString(16)}`);
  }
});

test('web/unicode/tables.js is what the generator writes', { skip: sameUnicode }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-uni-'));
  try {
    const out = path.join(dir, 'tables.js');
    execFileSync(process.execPath, [path.join(ROOT, 'tools', 'gen-unicode-tables.js'), out], { stdio: 'pipe' });
    const strip = (s) => s.split('\n').slice(2).join('\n'); // the two header lines name the Node and ICU versions
    assert.equal(strip(fs.readFileSync(out, 'utf8')), strip(fs.readFileSync(path.join(ROOT, 'web', 'unicode', 'tables.js'), 'utf8')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
