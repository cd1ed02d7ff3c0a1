/**
 * Shared helpers for the tokenizer tests: where the reference data and the
 * reference implementations are, how llama.cpp's vocab vectors are laid out,
 * a varied text corpus, and a seeded random source.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseGGUF } from '../../web/gguf.js';
import { SHARED_DIR } from '../../tools/shared-data.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED = SHARED_DIR;
export const VOCAB_DIR = path.join(SHARED, 'data', 'vocab');
export const REF_MODULES = path.join(ROOT, 'tests', 'ref', 'node_modules');

/** Why reference-based tests are skipped, or false when tests/ref is installed. */
export const refMissing = fs.existsSync(path.join(REF_MODULES, 'node-llama-cpp', 'package.json'))
  ? false
  : 'tests/ref is not installed (run `node tools/setup.js --test` or `npm install --prefix tests/ref`)';

/** @param {string} file @returns {Map<string, any>} */
export function readMetadata(file) {
  return parseGGUF(new Uint8Array(fs.readFileSync(file)), { allowNoData: true }).metadata;
}

/**
 * llama.cpp's test vectors for a vocab: the .inp strings (separated by
 * "\n__ggml_vocab_test__\n") and the .out id lists, one line each.
 * @param {string} gguf path to the vocab file
 * @returns {{ text: string, ids: number[] }[]}
 */
export function readVectors(gguf) {
  const raw = fs.readFileSync(`${gguf}.inp`, 'utf8');
  const sep = '\n__ggml_vocab_test__\n';
  const inputs = [];
  for (let pos = 0; pos < raw.length;) {
    const next = raw.indexOf(sep, pos);
    if (next < 0) { inputs.push(raw.slice(pos)); break; }
    inputs.push(raw.slice(pos, next));
    pos = next + sep.length;
  }
  const lines = fs.readFileSync(`${gguf}.out`, 'utf8').split('\n');
  if (lines.length < inputs.length) throw new Error(`${gguf}.out has ${lines.length} lines for ${inputs.length} inputs`);
  return inputs.map((text, i) => {
    const l = lines[i].trim();
    return { text, ids: l === '' ? [] : l.split(' ').map(Number) };
  });
}

/** node-llama-cpp (the native llama.cpp oracle), or null when not installed. */
export async function loadLlama() {
  if (refMissing) return null;
  const mod = await import(pathToFileURL(path.join(REF_MODULES, 'node-llama-cpp', 'dist', 'index.js')).href);
  return mod.getLlama({ gpu: false, build: 'never', logLevel: mod.LlamaLogLevel?.error ?? 'error' });
}

/** A seeded PRNG (mulberry32). @param {number} seed */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JS_SOURCE = `export async function* stream(model, prompt, { signal, maxTokens = 128 } = {}) {
  const ids = model.tokenizer.encode(prompt);\n\tfor (let i = 0; i < maxTokens; i++) {
    if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
    const next = await model.step(ids); // => number
    if (model.tokenizer.isEog(next)) return;
    yield { token: next, text: \`\${decoder.push(next)}\` };
  }
}
const re = /[\\p{L}\\p{N}]+/gu; const x = a?.b ?? c || d && e !== f;   // ops: => === !== >>>= **= ??=
`;
const PY_SOURCE = `def fib(n: int) -> int:
    """Return the n-th Fibonacci number."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


if __name__ == "__main__":
    print(f"{fib(30)=}")  # 832040
    data = {'key': [1, 2, 3], "other": None}
\tlambda x: x ** 2 if x else -1
`;
const C_SOURCE = `#include <stdio.h>
static int q4_0_dot(const unsigned char *restrict a, const signed char *restrict b, int n) {
    int sum = 0;
    for (int i = 0; i < n; ++i) { sum += (a[i] & 0x0F) * b[2*i] + (a[i] >> 4) * b[2*i+1]; }
    return sum; /* no overflow for n < 2^16 */
}
int main(void){printf("%d\\n",q4_0_dot((unsigned char*)"\\x12\\x34",(signed char*)"\\1\\2\\3\\4",2));}
`;

/**
 * A varied corpus: Shakespeare, source code, emoji (with ZWJ sequences and
 * modifiers), CJK, Arabic, Hindi and other scripts, whitespace runs, long
 * digit strings, contractions, and assorted edge cases.
 * @returns {string[]}
 */
export function variedCorpus() {
  const shakespeare = fs.readFileSync(path.join(SHARED, 'data', 'corpus', 'tinyshakespeare.txt'), 'utf8');
  const lines = shakespeare.split('\n');
  const out = [];
  for (let i = 0; i < 400; i += 7) out.push(lines[i]);
  for (let i = 0; i < 20; i++) out.push(lines.slice(1000 + i * 150, 1000 + i * 150 + 12).join('\n'));
  out.push(JS_SOURCE, PY_SOURCE, C_SOURCE);
  out.push(
    '🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ 🦙🦙',
    '👨‍👩‍👧‍👦 family, 👩🏽‍💻 coder, 🏳️‍🌈 flag, 🇯🇵🇫🇷 flags, ❤️‍🔥, 🧑🏿‍🤝‍🧑🏻, 1️⃣ #️⃣',
    '我想在apple工作1314151天～ 你好，世界！这是一个测试。',
    '日本語のテキスト、カタカナとひらがな。漢字も。ｶﾀｶﾅ半角',
    '한국어 텍스트입니다. 안녕하세요!',
    'مرحبا بالعالم! هذا نص عربي مع أرقام ١٢٣٤٥ و 12345.',
    'नमस्ते दुनिया! यह हिंदी पाठ है। संख्या: १२३४',
    'Ελληνικά: Γειά σου Κόσμε. Русский: Привет, мир! нещо на Български',
    'ไทย: สวัสดีชาวโลก ភាសាខ្មែរ: កាន់តែពិសេសអាច',
    'עברית: שלום עולם',
    'Ǆemal ǅ ǆ ﬁnance ﬀ ℌ ℍ Ⅻ ① ½ ² ⁴ ₅ µ ß ẞ İstanbul ı',
    'combining: e\u0301 a\u0308 n\u0303 o\u0302\u0323 — dashes – and “quotes” ‘single’ «guillemets»',
    '   leading spaces', 'trailing spaces   ', '\t\ttabs\tand\ttabs\t', 'a\n\nb\n\n\nc\r\nd\re',
    ' \n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n', '\u00a0nbsp\u2003em space\u3000ideographic\u200bzwsp\ufeffbom',
    '3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3',
    '12345678901234567890123456789012345678901234567890 3.14159265358979323846 1,000,000 0x1F 1e-10',
    "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL",
    "''''''```````\"\"\"\"......!!!!!!?????? ------======= <<>> ~~~ ||| $$$ ^^^",
    'https://example.com/path?query=1&b=2#frag user@example.org C:\\Windows\\System32',
    '<html><body class="x">Hello &amp; <b>world</b></body></html>',
    'Hello world', ' Hello world', 'Hello World!', 'Hello, y\'all! How are you 😁 ?',
    '', ' ', '  ', '\n', 'a', '\u00e9', '🦙',
    'x'.repeat(300), ' '.repeat(100) + 'end', '\n'.repeat(50), '9'.repeat(200), 'ab  cd\t\t\n\n  '.repeat(200), '🦙'.repeat(300),
    'ALLCAPS WORDS AND MiXeD CaSe, camelCaseIdentifier snake_case_identifier kebab-case',
  );
  return out;
}

/** Special-token texts of Llama 3 / Qwen / ChatML around ordinary text. */
export const SPECIAL_TEXTS = [
  '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHi',
  'text with <|endoftext|> in the middle and <tool_call>{"a":1}</tool_call> after',
  '<|fim_prefix|>def f():\n<|fim_suffix|>\n    return 1<|fim_middle|>',
  'not special: <|im_start |> < |im_end|> <|eot_id|',
  '<|user|>\n  Hello<|end|>\n<|assistant|>\n  Hi </s>  x <s> \t<unk>\n\nend',
  '<s><s> </s></s>  [CLS] a [SEP] b [MASK]  [PAD]',
];
