// The grammar engine against llama.cpp's (node-llama-cpp 3.21.1):
//  - accept/reject: the same answer for every (grammar, string) of a corpus,
//    llama.cpp's from its grammar object (AddonGrammar.isTextCompatible,
//    code point by code point), ours from the wasm build fed one byte token
//    at a time; grammars llama.cpp refuses must be refused here too;
//  - greedy decoding under a grammar on an F32 synthetic model gives the
//    same tokens as llama.cpp's grammar sampler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getLlama, greedyReference } from './oracle.js';
import { ensureSynthetic } from './models.js';
import { wasmllm } from './wasmllm-runner.js';
import { loadWasm } from '../../web/wasm-loader.js';
import { codeFromStatus } from '../../web/errors.js';

const GRAMMARS = [
  'root ::= "abc"',
  'root ::= [a-c]+ "x"?',
  'root ::= [^a-c]* "!"',
  'root ::= ("ab" | "a" "c"*) "d"',
  'root ::= x{2,4}\nx ::= "ab" | "b"',
  'root ::= "a"{3}',
  'root ::= "a"{2,}',
  'root ::= "a"{0,2} "b"?',
  'root ::= . . .',
  'root ::= [\\u00e0-\\u00ff]+ | "€"',
  'root ::= [^é]+',
  'root ::= "\\x41\\t\\n\\"\\\\"',
  'root ::= [\\]\\[-]+',
  'root ::= [a-]+ # comment\n# another\n',
  'root ::= (\n  "a"\n  | "b"\n)+',
  'root ::= list\nlist ::= "[" (item ("," item)*)? "]"\nitem ::= [0-9]+ | list',
  'root ::= (" "?)* "x"',
  'root ::= w ("," w)*\nw ::= [a-z]+ | "\\"" [^"]* "\\""',
  'root ::= [0-9]{1,3} ("." [0-9]{1,3}){3}',
  'root ::= "🙂"+ [🙃-🙆]?',
  'root ::= "a"\nroot ::= "b"',
  'root ::= ""',
  'root ::= "x" | ',
  'root ::= ( "a" | "" )* "b"',
  'root ::= ([α-ω] | [А-я] | [0-9])+ [^α-ωА-я0-9]',
  'root ::= [^\\x00-\\x7F]{2,3} | [\\u00c0-\\u00d6\\u00d8-\\u00f6]+ "."',
];
// Each grammar's strings: a few chosen ones plus random ones over its own characters.
const CHOSEN = ['', 'a', 'b', 'ab', 'abc', 'abcd', 'aaa', 'aab', 'acd', 'acccd', 'abd', 'd', 'x', 'ax', 'bbx', '!', 'xyz!',
  'a!', 'abab', 'bbbb', 'bab', 'é', 'éà', '€', 'e', 'A\t\n"\\', '][-', 'a-', '-', '[1,22,[3]]', '[]', '[1,]', '  x',
  'ab,"c d",e', 'ab,', '1.2.3.4', '255.0.10.1', '1.2.3', '🙂', '🙂🙂🙃', '🙂🙇', 'ba', 'aab', 'b', 'bb'];

function randomStrings(grammar, n, seed) {
  const chars = [...new Set([...grammar.replace(/[\s:=|()*+?{}\\#]/g, ''), 'a', 'b', ' ', '"', 'é', 'ÿ', '×', '€', '🙂', 'α', 'я', 'Ω', 'Ж'])];
  const out = [];
  let s = seed;
  const rnd = (k) => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return (s >>> 8) % k; };
  for (let i = 0; i < n; i++) {
    let t = '';
    const len = rnd(8);
    for (let j = 0; j < len; j++) t += chars[rnd(chars.length)];
    out.push(t);
  }
  return out;
}

/** Our answer for each text, from the wasm build: one token per byte (0 never), token 256 ends. */
async function ourAnswers(grammar, texts, M, vocab, err) {
  const enc = new TextEncoder();
  const g = enc.encode(grammar);
  const p = M._wl_alloc(g.length + 1);
  M.HEAPU8.set(g, p);
  const gr = M._wl_grammar_new(p, g.length, vocab, err);
  M._wl_free(p);
  if (!gr) return null;
  const answers = texts.map((t) => {
    const m = M._wl_matcher_new(gr, err);
    let ok = true;
    for (const b of enc.encode(t)) if (M._wl_matcher_accept(m, b, err) !== 0) { ok = false; break; }
    ok = ok && M._wl_matcher_can_end(m) === 1;
    M._wl_matcher_free(m);
    return ok;
  });
  M._wl_grammar_free(gr);
  return answers;
}

test('accept/reject: the same answers as llama.cpp on a corpus of grammars and strings', async (t) => {
  const llama = await getLlama();
  const AddonGrammar = llama._bindings.AddonGrammar;
  const wasm = await loadWasm({ threads: 1, variant: 'st' });
  const M = wasm.module;
  const err = M._wl_error_new();
  const bytes = M._wl_alloc(256), offsets = M._wl_alloc(4 * 258), kinds = M._wl_alloc(257);
  for (let i = 0; i < 256; i++) { M.HEAPU8[bytes + i] = i; M.HEAP32[(offsets >> 2) + i] = i; M.HEAPU8[kinds + i] = 0; }
  M.HEAP32[(offsets >> 2) + 256] = 256;
  M.HEAP32[(offsets >> 2) + 257] = 256;
  M.HEAPU8[kinds + 256] = 2;
  const vocab = M._wl_vocab_new(bytes, offsets, kinds, 257, err);
  assert.ok(vocab);
  let cases = 0, accepted = 0, refused = 0;
  const BAD = ['root ::= foo', 'rot ::= "a"', 'root ::= "a', 'root ::= [a', 'root ::= (', 'root ::= root "a"',
    'root ::= "\\q"', 'root ::= * "a"', 'root ::= "a"{2001}', 'root ::= "a"\n  | "b"', 'root ::= x\nx ::= "" | x "a"'];
  try {
    for (const [gi, grammar] of [...GRAMMARS, ...BAD].entries()) {
      const texts = [...CHOSEN, ...randomStrings(grammar, 60, gi + 1)];
      let ref = null;
      try { ref = new AddonGrammar(grammar, { rootRuleName: 'root' }); } catch { /* refused */ }
      const ours = await ourAnswers(grammar, texts, M, vocab, err);
      if (!ref) {
        assert.equal(ours, null, `llama.cpp refuses ${JSON.stringify(grammar)}, we accept it`);
        assert.equal(codeFromStatus(M._wl_error_code(err)), 'ERR_BAD_GRAMMAR');
        refused++;
        continue;
      }
      assert.ok(BAD.indexOf(grammar) < 0, `llama.cpp accepts ${JSON.stringify(grammar)}`);
      assert.ok(ours, `grammar #${gi} ${JSON.stringify(grammar)} refused here: ${M.UTF8ToString(M._wl_error_message(err))}`);
      texts.forEach((x, i) => {
        const want = ref.isTextCompatible(x);
        assert.equal(ours[i], want, `grammar #${gi} ${JSON.stringify(grammar)} on ${JSON.stringify(x)}: llama.cpp ${want}`);
        cases++;
        if (want) accepted++;
      });
    }
  } finally {
    wasm.terminate();
  }
  t.diagnostic(`${cases} (grammar, string) cases, ${accepted} accepted by both; ${refused} grammars refused by both`);
  assert.ok(refused >= BAD.length, 'the refusals were checked');
  assert.ok(accepted > 50 && cases - accepted > 500, 'the corpus has both answers');
});

test('greedy decoding under a grammar: the same tokens as llama.cpp on F32 synthetic models', async (t) => {
  const llama = await getLlama();
  const { loadModel } = await wasmllm();
  const grammars = [
    String.raw`root ::= "{" ws "\"name\":" ws "\"" [a-zA-Z ]{1,24} "\"" ws "," ws "\"age\":" ws [0-9]{1,3} ws "}"
ws ::= [ ]?`,
    'root ::= ("yes" | "no" | "maybe") ", because " [a-z ,]{4,60} "."',
    'root ::= [^\\n]{10,80} "\\n"',
  ];
  for (const [arch, seed] of [['llama', 9], ['qwen2', 3]]) {
    const [file] = ensureSynthetic({ arch, shape: 'tiny-gqa', type: 'F32', seed });
    const nlcModel = await llama.loadModel({ modelPath: file });
    const model = await loadModel(file, { threads: 1, contextSize: 512 });
    try {
      const context = await nlcModel.createContext({ contextSize: 512, threads: 1, sequences: 1 });
      const ref = await greedyReference(file, { prompt: 'Once upon a time, there was a little', nPredict: 0 });
      const ids = ref.promptTokens;
      for (const grammar of grammars) {
        const g = await llama.createGrammar({ grammar });
        const nlc = await import('../ref/node_modules/node-llama-cpp/dist/index.js');
        const state = new nlc.LlamaGrammarEvaluationState({ model: nlcModel, grammar: g });
        const seq = context.getSequence();
        const refTokens = [];
        for await (const token of seq.evaluate(ids, { temperature: 0, grammarEvaluationState: state, yieldEogToken: true })) {
          if (nlcModel.isEogToken(token)) break;
          refTokens.push(token);
          if (refTokens.length >= 100) break;
        }
        await seq.clearHistory();
        seq.dispose();
        const ours = [];
        for await (const p of model.complete(ids, { grammar, temperature: 0, maxTokens: 100, repeatPenalty: 1 })) if (p.token >= 0) ours.push(p.token);
        t.diagnostic(`${arch}: ${JSON.stringify(model.detokenize(ours)).slice(0, 90)} (${ours.length} tokens)`);
        assert.ok(ours.length >= 5);
        assert.deepEqual(ours, refTokens, `${arch} ${JSON.stringify(grammar).slice(0, 60)}`);
      }
      await context.dispose();
    } finally {
      model.dispose();
      await nlcModel.dispose();
    }
  }
});
