#!/usr/bin/env node
/**
 * `npm run bench`: prompt processing and generation speed, and peak memory,
 * side by side in one run on the same synthetic GGUF files (bench/models.js:
 * SmolLM2-135M, Qwen2.5-0.5B and Llama-3.2-1B shapes, random weights):
 *   - wasmllm under Node (wasm, public API),
 *   - native llama.cpp through node-llama-cpp (the ceiling),
 *   - wasmllm, wllama 3.8.1 and wllama 2.3.7 in the same headless Chromium
 *     (bench/browser.js).
 *
 *   node bench/run.js [--json] [--models smollm2-135m,qwen2.5-0.5b,llama-3.2-1b]
 *     [--types Q8_0,Q4_0,Q4_K_M] [--threads 1,2] [--runtimes wasmllm,llama.cpp,chromium,chromium-relaxed,wllama,wllama2,wasmllm-json]
 *     [--prompt 128] [--gen 64] [--repeat 2] [--write-docs] [--llama-bench PATH]
 *     [--results FILE [--load START,END]]   (re-render a saved run's JSON lines;
 *      --load gives the load averages that run saw, which the lines do not hold)
 *
 * Output: one JSON object per line, {"runtime","version","host","model","type",
 * "threads","pp_tok_s","tg_tok_s","peak_mb",...}, then one {"artifact","bytes",
 * "gzip_bytes"} line per wasm variant. Without --json a Markdown table
 * follows; --write-docs puts it in docs/BENCHMARKS.md.
 *
 * Each Node measurement runs in its own child process, so peak_mb is that
 * process's peak resident memory (model, KV cache, runtime) and runs do not
 * disturb each other; for wasmllm the child also reports its wasm heap
 * (heap_mb) against the budget the issue sets: file + KV cache + 64 MB.
 * Prompt and generated tokens are fixed ids, greedy. wasmllm-json (not run
 * unless named) is wasmllm under Node decoding under bench/grammars.js's
 * JSON grammar: its table compares decode + sampling time with and without
 * the grammar, and gives the sampler's time per token (the masks).
 *
 * Runtimes run only when named (not in the default set):
 *   wasmllm-relaxed  wasmllm's relaxed-SIMD build under this Node (isa 'relaxed': Node 22+);
 *   llamacpp-wasm    llama.cpp's own llama-bench compiled to wasm with the same emcc
 *                    (tools/build-llamacpp-wasm.js builds it), under this Node;
 *   llama-bench      a native llama-bench binary given by --llama-bench PATH (the
 *                    16-core scaling table, where node-llama-cpp is not installed).
 * The llama-bench rows time what llama-bench times: pp = a -p N prompt in one batch,
 * tg = -n N tokens decoded from an empty context (wasmllm's decode starts after the prompt).
 */
import { spawnSync, execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { BENCH_MODELS, DEFAULT_TYPES, benchFile, benchPrompt, parseBenchArgs, wasmSizes } from './models.js';
import { BENCH_JSON_GRAMMAR } from './grammars.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const MB = 1e6;
/** wasmllm and llama.cpp run under Node; the rest in Chromium (chromium = wasmllm there). */
const RUNTIMES = ['wasmllm', 'llama.cpp', 'chromium', 'chromium-relaxed', 'wllama', 'wllama2', 'wasmllm-json',
  'wasmllm-relaxed', 'llamacpp-wasm', 'llama-bench'];
const OPT_IN = ['wasmllm-json', 'wasmllm-relaxed', 'llamacpp-wasm', 'llama-bench'];
const DEFAULT_RUNTIMES = RUNTIMES.filter((r) => !OPT_IN.includes(r));
/** llama.cpp's llama-bench as wasm (tools/build-llamacpp-wasm.js writes it there). */
const LLAMACPP_WASM_BENCH = path.join(repoRoot, '.cache', 'llamacpp-wasm', 'build', 'bin', 'llama-bench.js');
// chromium-relaxed: wasmllm's relaxed-SIMD build (isa 'relaxed'), rows with "isa": "relaxed"
const BROWSER_RUNTIMES = { chromium: 'wasmllm', 'chromium-relaxed': 'wasmllm-relaxed', wllama: 'wllama', wllama2: 'wllama2' };

function parseArgs(argv) {
  const given = parseBenchArgs(argv, 'bench/run', {
    json: null, 'write-docs': null, child: JSON.parse, results: String, load: (v) => v.split(',').map(Number),
    'llama-bench': (v) => path.resolve(v),
  });
  const o = {
    json: false, writeDocs: false, models: Object.keys(BENCH_MODELS), types: DEFAULT_TYPES, threads: [1, 2],
    runtimes: DEFAULT_RUNTIMES, prompt: 128, gen: 64, repeat: 2,
    ...given, writeDocs: given['write-docs'] ?? false, loadGiven: given.load,
  };
  for (const m of o.models) if (!BENCH_MODELS[m]) throw new Error(`bench: unknown model ${m} (have ${Object.keys(BENCH_MODELS).join(', ')})`);
  for (const r of o.runtimes) if (!RUNTIMES.includes(r)) throw new Error(`bench: unknown runtime ${r} (${RUNTIMES.join(', ')})`);
  o.llamaBench = given['llama-bench'];
  if (o.runtimes.includes('llama-bench') && !o.llamaBench) throw new Error('bench: the llama-bench runtime needs --llama-bench PATH (a native llama-bench binary)');
  if (o.runtimes.includes('llamacpp-wasm') && !fs.existsSync(LLAMACPP_WASM_BENCH)) {
    throw new Error(`bench: ${path.relative(repoRoot, LLAMACPP_WASM_BENCH)} is missing; build it with node tools/build-llamacpp-wasm.js`);
  }
  return o;
}

// ------------------------------------------------------------ child: one measurement

async function measureWasmllm({ file, threads, prompt, gen, runtime }) {
  const grammar = runtime === 'wasmllm-json' ? BENCH_JSON_GRAMMAR : undefined;
  const { loadModel } = await import('../web/node/index.js');
  const baseMb = process.memoryUsage().rss / MB; // the runtime imported, nothing loaded yet
  const isa = runtime === 'wasmllm-relaxed' ? 'relaxed' : 'simd128';
  const model = await loadModel(file, { threads, contextSize: prompt.length + gen + 8, isa });
  try {
    // Warm-up (first-touch of weights, JIT of the JS loop), then the timed run on a fresh cache.
    for await (const _ of model.complete(prompt.slice(0, 8), { maxTokens: 4, temperature: 0 })) { /* drain */ }
    // A different second token defeats prefix reuse of the KV cache (only BOS is kept).
    const ids = [...prompt];
    ids[1] = ids[1] + 1;
    let generated = 0;
    for await (const { token } of model.complete(ids, { maxTokens: gen, temperature: 0, grammar })) if (token >= 0) generated++;
    const t = model.lastCompletion.timings;
    // The wasm memory only grows, so its size now is the heap's peak.
    const { heapBytes, kvCacheBytes } = model.memory();
    // Decode + sampling per generated token: what a grammar's masks add to shows here, not in tg.
    const sampleMs = t.sampleMs / generated;
    const tgSampled = 1000 / (t.decodeMs / Math.max(1, generated - 1) + sampleMs);
    return { pp: t.promptTokensPerSecond, tg: t.decodeTokensPerSecond, tgSampled, sampleMs, generated, heapBytes, kvCacheBytes, baseMb };
  } finally {
    model.dispose();
  }
}

async function measureLlamaCpp({ file, threads, prompt, gen }) {
  const { getLlama } = await import('../tests/parity/oracle.js');
  const llama = await getLlama();
  const baseMb = process.memoryUsage().rss / MB;
  const model = await llama.loadModel({ modelPath: file });
  const context = await model.createContext({ contextSize: prompt.length + gen + 8, threads, batchSize: 512, sequences: 1 });
  try {
    const seq = context.getSequence();
    const warm = seq.evaluate(prompt.slice(0, 8), { temperature: 0 });
    let w = 0;
    for await (const _ of warm) if (++w >= 4) break;
    await seq.clearHistory();
    const ids = [...prompt];
    ids[1] = ids[1] + 1;
    const t0 = performance.now();
    let tFirst = 0, tLast = 0, n = 0;
    for await (const _ of seq.evaluate(ids, { temperature: 0 })) {
      const t = performance.now();
      if (n === 0) tFirst = t;
      tLast = t;
      if (++n >= gen) break;
    }
    // First token: prompt decode (+ one greedy pick); each later one: one decode step.
    return { pp: (prompt.length * 1000) / (tFirst - t0), tg: n > 1 ? ((n - 1) * 1000) / (tLast - tFirst) : 0, generated: n, baseMb };
  } finally {
    await context.dispose();
    await model.dispose();
  }
}

/**
 * One llama-bench run (native, or the wasm build under this Node), its JSON output read back:
 * one record per test, avg_ts its tokens per second. Peak memory is the child's, as for the others.
 */
function measureLlamaBench({ runtime, file, threads, prompt, gen, llamaBench }) {
  // Emscripten 3.1.6's glue fetch()es the .wasm by path where fetch exists (Node 18+): without it, it reads the file.
  const [cmd, pre] = runtime === 'llamacpp-wasm' ? [process.execPath, ['--no-experimental-fetch', LLAMACPP_WASM_BENCH]] : [llamaBench, []];
  // -mmp 0: the wasm build has no mmap; the native one reads the file the same way.
  const args = [...pre, '-m', file, '-p', String(prompt.length), '-n', String(gen), '-t', String(threads), '-r', '1', '-mmp', '0', '-o', 'json'];
  const res = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24, timeout: 15 * 60 * 1000 });
  const start = res.stdout?.indexOf('[') ?? -1;
  if (res.status !== 0 || start < 0) throw new Error(`llama-bench exited ${res.status ?? res.signal}: ${(res.stderr || res.error?.message || '').trim().split('\n').slice(-2).join(' | ')}`);
  const tests = JSON.parse(res.stdout.slice(start, res.stdout.lastIndexOf(']') + 1));
  const pp = tests.find((t) => t.n_prompt > 0 && t.n_gen === 0);
  const tg = tests.find((t) => t.n_gen > 0 && t.n_prompt === 0);
  return { pp: pp.avg_ts, tg: tg.avg_ts, generated: gen, baseMb: 0, version: `${tests[0].build_commit} (${tests[0].cpu_info ?? ''})` };
}

async function child(spec) {
  const fn = spec.runtime.startsWith('wasmllm') ? measureWasmllm
    : (spec.runtime === 'llamacpp-wasm' || spec.runtime === 'llama-bench') ? measureLlamaBench : measureLlamaCpp;
  const r = await fn(spec);
  const peakMb = (process.resourceUsage().maxRSS * 1024) / MB;
  process.stdout.write(JSON.stringify({ ...r, peakMb }) + '\n');
  // node-llama-cpp and the wasm worker pool can keep handles open: leave now.
  process.exit(0);
}

// ------------------------------------------------------------ parent

function cpuInfo() {
  let model = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /Model name:\s*(.+)/.exec(execSync('lscpu', { encoding: 'utf8' }));
    if (m) model = m[1].trim();
  } catch { /* lscpu missing: keep os.cpus() */ }
  return { model, cores: os.cpus().length };
}

function runChild(spec) {
  const res = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(spec)], {
    cwd: repoRoot, encoding: 'utf8', maxBuffer: 1 << 24, timeout: 15 * 60 * 1000,
  });
  const line = res.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (res.status !== 0 || !line) {
    const why = (res.stderr || res.stdout || `exit ${res.status}`).trim().split('\n').filter((l) => !/empty token/.test(l)).slice(-3).join(' | ');
    return { error: why.slice(0, 300) };
  }
  return JSON.parse(line);
}

const fmt = (v, d = 1) => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(d));

/** Best of the runs: the fastest decode, the fastest prompt, the largest memory. */
function keepBest(best, m) {
  if (!best) return m;
  return {
    ...(m.tg > best.tg ? m : best),
    pp: Math.max(m.pp, best.pp), peakMb: Math.max(m.peakMb ?? 0, best.peakMb ?? 0),
    ...(m.heapBytes ? { heapBytes: Math.max(m.heapBytes, best.heapBytes ?? 0) } : {}),
  };
}

function versionOf(pkgDir) {
  try { return JSON.parse(fs.readFileSync(path.join(repoRoot, pkgDir, 'package.json'), 'utf8')).version; } catch { return 'missing'; }
}

/** Node-side rows (wasmllm in Node, llama.cpp) for one file and thread count. */
function nodeRows({ model, type, file, prompt, threads, opts }) {
  const host = `node-${process.versions.node}`;
  const rows = [];
  for (const runtime of opts.runtimes.filter((r) => !BROWSER_RUNTIMES[r])) {
    let best = null;
    for (let r = 0; r < opts.repeat; r++) {
      const m = runChild({ runtime, file, threads, prompt, gen: opts.gen, llamaBench: opts.llamaBench });
      if (m.error) { best = m; break; }
      best = keepBest(best, m);
    }
    const wasm = runtime.startsWith('wasmllm');
    const bench = runtime === 'llamacpp-wasm' || runtime === 'llama-bench';
    const row = {
      runtime, version: wasm ? versionOf('.') : bench ? best.version ?? null : versionOf('tests/ref/node_modules/node-llama-cpp'),
      host: wasm || runtime === 'llamacpp-wasm' ? `${host} wasm` : runtime === 'llama-bench' ? 'native' : `${host} native`, model, type, threads,
      ...(wasm ? { isa: runtime === 'wasmllm-relaxed' ? 'relaxed' : 'simd128' } : {}),
      pp_tok_s: best.error ? null : Number(best.pp.toFixed(2)), tg_tok_s: best.error ? null : Number(best.tg.toFixed(2)),
      peak_mb: best.error || bench ? null : Math.round(best.peakMb), // llama-bench's own RSS is a grandchild's: not seen here
      file_mb: Math.round(fs.statSync(file).size / MB), runs: opts.repeat,
      ...(best.error || bench ? {} : { growth_mb: Math.round(best.peakMb - best.baseMb) }),
      ...(best.error ? { error: best.error } : {}),
    };
    if (wasm && !best.error) {
      row.tg_sampled_tok_s = Number(best.tgSampled.toFixed(2));
      row.sample_ms = Number(best.sampleMs.toFixed(3));
      // The wasm memory's size: what the heap reserved (Emscripten grows it up to
      // 96 MB past a request; untouched pages are not resident).
      row.heap_mb = Math.round(best.heapBytes / MB);
      row.budget_mb = Math.round((fs.statSync(file).size + best.kvCacheBytes) / MB + 64);
    }
    rows.push(row);
  }
  return rows;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.child) return child(opts.child);
  const cpu = cpuInfo();
  const loadBefore = os.loadavg()[0];
  const log = (s) => { if (!opts.json) console.error(s); };
  const emit = (row) => { results.push(row); console.log(JSON.stringify(row)); };

  const results = [];
  if (opts.results) {
    // Re-render the table (and docs) from JSON lines saved by an earlier run.
    for (const line of fs.readFileSync(opts.results, 'utf8').split('\n')) if (line.startsWith('{')) results.push(JSON.parse(line));
    opts.models = [];
  }
  let runBrowserBench = null;
  const inBrowser = opts.runtimes.filter((r) => BROWSER_RUNTIMES[r]).map((r) => BROWSER_RUNTIMES[r]);
  if (inBrowser.length && opts.models.length) ({ runBrowserBench } = await import('./browser.js'));
  for (const model of opts.models) {
    const prompt = benchPrompt(model, opts.prompt);
    for (const type of opts.types) {
      log(`bench: ${model} ${type} (generated once, cached under .cache/synth) ...`);
      const file = benchFile(model, type);
      for (const threads of opts.threads) for (const row of nodeRows({ model, type, file, prompt, threads, opts })) emit(row);
      if (runBrowserBench) {
        // Same file, same prompt ids, same thread counts, right after the Node rows.
        try {
          await runBrowserBench({ models: [model], types: [type], threads: opts.threads, runtimes: inBrowser, prompt: opts.prompt, gen: opts.gen, repeat: opts.repeat, onRow: emit, log });
        } catch (e) {
          for (const runtime of inBrowser) {
            for (const threads of opts.threads) emit({ runtime, host: 'chromium', model, type, threads, pp_tok_s: null, tg_tok_s: null, peak_mb: null, error: e.message });
          }
        }
      }
    }
  }
  if (!opts.results) for (const size of wasmSizes()) emit(size);
  const table = markdownTables(results);
  if (!opts.json) console.log('\n' + table);
  if (opts.writeDocs) writeDocs(table, results, cpu, { ...opts, load: opts.loadGiven ?? (opts.results ? null : [loadBefore, os.loadavg()[0]]) });
}

/** Which measurement a row is: Node wasmllm, native llama.cpp, Chromium wasmllm, or a wllama version. */
function column(r) {
  if (r.runtime === 'llama.cpp') return 'native';
  if (r.runtime === 'wasmllm-json') return 'node-json';
  if (r.runtime === 'wasmllm-relaxed') return 'node relaxed';
  if (r.runtime === 'llamacpp-wasm') return 'llama.cpp wasm';
  if (r.runtime === 'llama-bench') return 'llama-bench native';
  if (r.runtime === 'wllama') return `wllama ${r.version ?? '?'}`;
  if (!r.host?.startsWith('chromium')) return 'node';
  return r.isa === 'relaxed' ? 'chromium relaxed' : 'chromium';
}

function markdownTables(results) {
  const speed = results.filter((r) => r.runtime);
  const keys = [...new Set(speed.map((r) => `${r.model}|${r.type}|${r.threads}`))];
  const get = (k, col) => speed.find((r) => `${r.model}|${r.type}|${r.threads}` === k && column(r) === col);
  const ratio = (a, b) => (a && b ? (a / b).toFixed(2) : 'n/a');
  const cell = (r, f) => (r ? (r.error ? 'error' : fmt(r[f])) : '-');
  const wllamas = [...new Set(speed.map(column).filter((c) => c.startsWith('wllama')))].sort().reverse();
  const speedTable = (f, label) => {
    const lines = [
      `| model | type | threads | wasmllm Node | llama.cpp native | wasmllm Chromium | ${wllamas.map((c) => `${c} Chromium`).join(' | ')} | Chromium: wasmllm / fastest wllama | Node: wasmllm / llama.cpp |`,
      `| --- | --- | ---: | ---: | ---: | ---: | ${wllamas.map(() => '---: | ').join('')}---: | ---: |`,
    ];
    for (const k of keys) {
      const [model, type, threads] = k.split('|');
      const [n, c, w] = ['node', 'native', 'chromium'].map((col) => get(k, col));
      const ws = wllamas.map((col) => get(k, col));
      const fastest = Math.max(...ws.map((r) => r?.[f] ?? 0)) || null;
      lines.push(`| ${model} | ${type} | ${threads} | ${cell(n, f)} | ${cell(c, f)} | ${cell(w, f)} | ${ws.map((r) => cell(r, f)).join(' | ')} | ${ratio(w?.[f], fastest)} | ${ratio(n?.[f], c?.[f])} |`);
    }
    return `### ${label}\n\n${lines.join('\n')}`;
  };
  const mem = [
    `| model | type | threads | wasmllm Node peak RSS | wasmllm RSS growth | wasmllm wasm memory | budget (file + KV + 64) | llama.cpp peak RSS | wasmllm Chromium renderer | ${wllamas.map((c) => `${c} renderer`).join(' | ')} |`,
    `| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ${wllamas.map(() => '---: |').join(' ')}`,
  ];
  for (const k of keys) {
    const [model, type, threads] = k.split('|');
    const [n, c, w] = ['node', 'native', 'chromium'].map((col) => get(k, col));
    const peak = (r) => (r ? (r.error ? 'error' : r.peak_mb ?? 'n/a') : '-');
    mem.push(`| ${model} | ${type} | ${threads} | ${peak(n)} | ${n?.growth_mb ?? '-'} | ${n?.heap_mb ?? '-'} | ${n?.budget_mb ?? '-'} | ${peak(c)} | ${peak(w)} | ${wllamas.map((col) => peak(get(k, col))).join(' | ')} |`);
  }
  // Merged runs (--results over several saved files) each carry the sizes: one row per file, the last seen.
  const byArtifact = new Map(results.filter((r) => r.artifact).map((r) => [r.artifact, r]));
  const sizes = [...byArtifact.values()].map((r) => `| ${r.artifact} | ${r.bytes} | ${r.gzip_bytes} |`);
  const errors = speed.filter((r) => r.error).map((r) => `- ${r.runtime} ${r.version ?? ''} (${r.host}) ${r.model} ${r.type} ${r.threads}t: ${r.error}`);
  const grammarLines = keys.filter((k) => get(k, 'node-json')).map((k) => {
    const [model, type, threads] = k.split('|');
    const [n, j] = [get(k, 'node'), get(k, 'node-json')];
    return `| ${model} | ${type} | ${threads} | ${cell(n, 'tg_sampled_tok_s')} | ${cell(j, 'tg_sampled_tok_s')} | ${ratio(j?.tg_sampled_tok_s, n?.tg_sampled_tok_s)} | ${fmt(n?.sample_ms, 2)} | ${fmt(j?.sample_ms, 2)} |`;
  });
  const grammarTable = `### Decode under a JSON grammar (wasmllm, Node)\n\n| model | type | threads | tokens/s, no grammar | tokens/s, JSON grammar | ratio | sampler ms/token, no grammar | sampler ms/token, JSON grammar |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n${grammarLines.join('\n')}`;
  return [
    ...(grammarLines.length ? [grammarTable] : []),
    speedTable('tg_tok_s', 'Decode, generated tokens per second'),
    speedTable('pp_tok_s', 'Prompt processing, prompt tokens per second'),
    `### Peak memory, MB\n\n${mem.join('\n')}`,
    ...(sizes.length ? [`### Wasm variants\n\n| file | bytes | gzipped (level 9) |\n| --- | ---: | ---: |\n${sizes.join('\n')}`] : []),
    ...(errors.length ? [`Errors:\n${errors.join('\n')}`] : []),
  ].join('\n\n');
}

/** "2 runs (smollm2-135m), 1 run (qwen2.5-0.5b, llama-3.2-1b)" from the rows' run counts. */
function runsText(results) {
  const byRuns = new Map();
  for (const r of results) {
    if (!r.model || !r.runs) continue;
    if (!byRuns.has(r.runs)) byRuns.set(r.runs, new Set());
    byRuns.get(r.runs).add(r.model);
  }
  if (byRuns.size === 0) return 'the runs';
  if (byRuns.size === 1) return `${[...byRuns.keys()][0]} run(s)`;
  return [...byRuns].map(([n, models]) => `${n} run(s) for ${[...models].join(', ')}`).join(' and ');
}

const DOC_START = '<!-- bench/run.js: generated from here -->';
const DOC_END = '<!-- bench/run.js: generated up to here -->';

/** Rewrites the generated part of docs/BENCHMARKS.md; text outside the markers is kept. */
function writeDocs(table, results, cpu, opts) {
  const date = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  const versions = (runtime) => [...new Set(results.filter((r) => r.runtime === runtime && r.version).map((r) => r.version))].join(', ') || 'not measured';
  const chromium = results.find((r) => r.host?.startsWith('chromium-'))?.host.split(' ')[0] ?? 'not measured';
  const generated = `${DOC_START}
Measured by \`npm run bench -- --write-docs\` (bench/run.js) on ${date}.

- Machine: ${cpu.model}, ${cpu.cores} cores (${os.totalmem() / 2 ** 30 | 0} GiB), ${os.type()} ${os.release()}.
- Runtimes, side by side in one run on the same files, prompt ids and thread counts:
  wasmllm ${versions('wasmllm')} (this repository's wasm build, SIMD128, pthreads for threads > 1, public API)
  under Node ${process.versions.node} and in headless ${chromium} (a cross-origin-isolated page);
  wllama ${versions('wllama')} in the same Chromium (3.x through its llama-server completion API, with the
  prompt as text and its own internal timings, kept off tokens that are not UTF-8 on their own, which
  its JSON response cannot carry; 2.3.7 through its token-level API, timed like wasmllm
  from the page); native llama.cpp = node-llama-cpp ${versions('llama.cpp')}'s prebuilt CPU binary. An empty
  cell was not measured; "error" cells are listed under the tables.
- Models: random weights in real shapes (tools/make-synthetic.js, bench/models.js): SmolLM2-135M
  (dim 576, 30 layers, 9 heads / 3 KV heads, FFN 1536, llama-spm's 32000-token vocabulary in place of its
  own 49152), Qwen2.5-0.5B (dim 896, 24 layers, 14 / 2, FFN 4864, Qwen's tokenizer with the embedding
  padded to 151936 rows as in the checkpoint) and Llama-3.2-1B (dim 2048, 16 layers, 32 / 8, FFN 8192,
  Llama 3's 128256-token vocabulary), all with tied embeddings. \`Q4_K_M\` is llama-quantize's mix
  (Q4_K; Q6_K for attn_v/ffn_down halves and the output, which with tied embeddings is token_embd;
  rows whose length is not a multiple of 256 fall back to Q5_0/Q8_0 as llama-quantize does, so
  SmolLM2's and Qwen's token_embd are Q8_0).
- Workload: a ${opts.prompt}-token prompt (pp = prompt tokens per second), then ${opts.gen} greedy tokens
  (tg = generated tokens per second, decode steps only). Best of ${runsText(results)}, each in a fresh
  process (Node) or page (Chromium).
- Memory: Node peak RSS is the measuring process's (Node itself is about 45 MB of it); "RSS growth"
  is that peak minus the RSS just before the model was loaded (runs before this column existed
  show "-"); "wasm memory" is wasmllm's wasm memory at the end, which only grows, and which
  Emscripten reserves up to 96 MB past the last request (untouched pages are not resident). The
  budget is the file + the F16 KV cache for the ${opts.prompt + opts.gen + 8}-token context + 64 MB. Chromium figures are
  the page's renderer process (VmHWM), which holds its workers and wasm heaps.
- Load: ${opts.load ? `the 1-minute load average was ${opts.load[0].toFixed(1)} at the start and ${opts.load[1].toFixed(1)} at the end` : 'the load average was not recorded for this run'} on ${cpu.cores} cores.
  Absolute figures move with load; each ratio compares runs made one right after the other.

${table}
${DOC_END}`;
  const file = path.join(repoRoot, 'docs', 'BENCHMARKS.md');
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const a = old.indexOf(DOC_START);
  const b = old.indexOf(DOC_END);
  const doc = a >= 0 && b > a
    ? old.slice(0, a) + generated + old.slice(b + DOC_END.length)
    : `${old.trimEnd()}\n\n${generated}\n`;
  fs.writeFileSync(file, doc);
  console.error('wrote docs/BENCHMARKS.md');
}

main().catch((e) => {
  // Our own errors (bad arguments, a missing reference) need no stack.
  console.error(/^bench/.test(e?.message ?? "") ? e.message : e?.stack ?? e);
  process.exit(1);
});
