#!/usr/bin/env node
/**
 * Browser benchmark: wasmllm and wllama (@wllama/wllama 3.8.1, and 2.3.7 as
 * `wllama2`) in the same headless Chromium, on the same synthetic GGUF files
 * as bench/run.js (bench/models.js), in a cross-origin isolated page (so all
 * can use threads). bench/run.js runs it as part of `npm run bench`; alone:
 *
 *   node bench/browser.js [--models smollm2-135m] [--types Q8_0,Q4_0] [--threads 1,2]
 *     [--runtimes wasmllm,wasmllm-relaxed,wllama,wllama2] [--prompt 128] [--gen 64] [--repeat 2]
 *
 * Prints one JSON line per measurement:
 *   {"runtime","version","host","model","type","threads","pp_tok_s","tg_tok_s","peak_mb"}, and
 *   "isa" ("simd128" | "relaxed": which wasmllm build) on wasmllm's rows
 * Module use (bench/run.js): `import { runBrowserBench } from './browser.js'`.
 *
 * wasmllm and wllama 2.3.7 are timed the same way, from the page's main
 * thread (what an app sees, worker messages included): pp = prompt tokens /
 * time to decode the prompt; tg = (generated - 1) / time between the first
 * and the last generated token; fixed token ids. wllama 3.x takes only text
 * and no token-level calls: it gets the same ids as text (about as many
 * tokens; the row's prompt_tokens says how many) and its own llama-server
 * timings are used, measured inside its worker (no messaging cost: in its
 * favour); it is kept off tokens that are not UTF-8 on their own, which its
 * JSON response cannot carry. Greedy, a warm-up run first. peak_mb is
 * the peak resident memory (VmHWM) of the page's own renderer process, which
 * holds its workers and wasm heaps (each run gets a fresh page and process);
 * Linux only (null elsewhere).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startServer } from '../demo/serve.js';
import { benchFile, benchNonUtf8Tokens, benchPrompt, benchPromptText, parseBenchArgs } from './models.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Where each wllama lives in tests/ref (3.8.1 installed under the alias wllama3). */
const WLLAMA_DIRS = {
  wllama: path.join(ROOT, 'tests/ref/node_modules/wllama3'),
  wllama2: path.join(ROOT, 'tests/ref/node_modules/@wllama/wllama'),
};
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-quic', '--no-first-run', '--disable-sync',
  // Every page in its own renderer process, so its peak memory is its own.
  '--site-per-process', '--renderer-process-limit=100',
];

/**
 * @typedef {{ runtime: string, version: string, host: string, model: string, type: string, threads: number,
 *   pp_tok_s: number | null, tg_tok_s: number | null, peak_mb: number | null, error?: string }} BenchRow
 * @typedef {object} BrowserBenchOptions
 * @property {string[]} [models]     default ['smollm2-135m']
 * @property {string[]} [types]      default ['Q8_0', 'Q4_0']
 * @property {number[]} [threads]    default [1, 2]
 * @property {string[]} [runtimes]   default ['wasmllm', 'wasmllm-relaxed', 'wllama', 'wllama2']
 * @property {number} [prompt]       prompt tokens (default 128)
 * @property {number} [gen]          generated tokens (default 64)
 * @property {number} [repeat]       runs per cell, best kept (default 2)
 * @property {(row: BenchRow) => void} [onRow]
 * @property {(msg: string) => void} [log]
 */

/**
 * Runs the measurements; resolves with every row.
 * @param {BrowserBenchOptions} [options]
 * @returns {Promise<BenchRow[]>}
 */
export async function runBrowserBench(options = {}) {
  const models = options.models ?? ['smollm2-135m'];
  const types = options.types ?? ['Q8_0', 'Q4_0'];
  const threadList = options.threads ?? [1, 2];
  const runtimes = options.runtimes ?? ['wasmllm', 'wasmllm-relaxed', 'wllama', 'wllama2'];
  const nPrompt = options.prompt ?? 128;
  const gen = options.gen ?? 64;
  const repeat = options.repeat ?? 2;
  const log = options.log ?? (() => {});

  const require = createRequire(path.join(ROOT, 'tests/ref/package.json'));
  const { chromium } = require('playwright-core');
  const executablePath = [process.env.CHROME_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && fs.existsSync(p));
  if (!executablePath) throw new Error('bench/browser: Chromium is missing (node tools/setup.js --test installs it)');
  for (const r of runtimes) {
    if (!WASMLLM_ISAS[r] && !WLLAMA_DIRS[r]) throw new Error(`bench/browser: unknown runtime ${r} (wasmllm, wasmllm-relaxed, wllama, wllama2)`);
    if (WLLAMA_DIRS[r] && !fs.existsSync(path.join(WLLAMA_DIRS[r], 'esm/index.js'))) {
      throw new Error(`bench/browser: ${path.relative(ROOT, WLLAMA_DIRS[r])} is missing (node tools/setup.js --test)`);
    }
  }
  const cells = [];
  for (const model of models) {
    const prompt = benchPrompt(model, nPrompt);
    const promptText = benchPromptText(model, prompt);
    const nonUtf8 = runtimes.includes('wllama') ? benchNonUtf8Tokens(model) : [];
    for (const type of types) {
      log(`bench/browser: ${model} ${type} (cached under .cache/synth)`);
      cells.push({ model, type, file: benchFile(model, type), prompt, promptText, nonUtf8 });
    }
  }
  const modelDir = path.dirname(cells[0].file);
  const server = await startServer({
    isolation: true,
    mounts: { '/bench-models/': modelDir, '/wllama/': path.join(WLLAMA_DIRS.wllama, 'esm'), '/wllama2/': path.join(WLLAMA_DIRS.wllama2, 'esm') },
  });
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-bench-chromium-'));
  const context = await chromium.launchPersistentContext(userDir, { executablePath, headless: true, args: CHROMIUM_ARGS });
  // No page other than the measured one: a new page then gets a renderer process of its own.
  for (const p of context.pages()) await p.close();
  const version = /Chromium (\S+)/.exec(execFileSync(executablePath, ['--version'], { encoding: 'utf8' }))?.[1];
  const host = `chromium-${version ?? 'unknown'} wasm`;
  const versionAt = (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  const versions = { wasmllm: versionAt(ROOT), 'wasmllm-relaxed': versionAt(ROOT), wllama: versionAt(WLLAMA_DIRS.wllama), wllama2: versionAt(WLLAMA_DIRS.wllama2) };
  const rows = [];
  try {
    for (const { model, type, file, prompt, promptText, nonUtf8 } of cells) {
      for (const threads of threadList) {
        for (const runtime of runtimes) {
          let best = null;
          for (let r = 0; r < repeat; r++) {
            // A fresh page per run: every run starts with fresh workers and heaps.
            await waitUntil(() => rendererPids(userDir).length === 0, 3000);
            const before = new Set(rendererPids(userDir));
            const page = await context.newPage();
            await page.goto(`${server.url}?nopreload`);
            const mine = rendererPids(userDir).filter((pid) => !before.has(pid));
            const url = `/bench-models/${path.basename(file)}`;
            let m;
            try {
              const measure = WASMLLM_ISAS[runtime] ? measureWasmllm : { wllama: measureWllama3, wllama2: measureWllama2 }[runtime];
              m = await page.evaluate(measure, { url, threads, prompt, promptText, nonUtf8, gen, isa: WASMLLM_ISAS[runtime] });
            } catch (e) {
              m = { error: String(e?.message ?? e).split('\n')[0] };
            }
            // The page's own renderer process (its workers and wasm heaps live there): peak RSS.
            const hwm = mine.reduce((sum, pid) => sum + peakRssMb(pid), 0);
            if (!m.error) m.peakMb = hwm > 0 ? hwm : null;
            await page.close();
            if (m.error) { best = m; break; }
            if (!best || m.tg > best.tg) best = { ...m, pp: Math.max(m.pp, best?.pp ?? 0), peakMb: Math.max(m.peakMb ?? 0, best?.peakMb ?? 0) || null };
          }
          const row = {
            runtime: WASMLLM_ISAS[runtime] ? 'wasmllm' : 'wllama', version: versions[runtime], host, model, type, threads, runs: repeat,
            ...(WASMLLM_ISAS[runtime] ? { isa: best.isa ?? WASMLLM_ISAS[runtime] } : {}),
            pp_tok_s: best.error ? null : round2(best.pp), tg_tok_s: best.error ? null : round2(best.tg),
            peak_mb: best.error || !best.peakMb ? null : Math.round(best.peakMb),
            ...(best.error ? { error: best.error } : { threads_used: best.threadsUsed }),
            ...(best.promptTokens ? { prompt_tokens: best.promptTokens, timing: 'internal' } : {}),
          };
          rows.push(row);
          options.onRow?.(row);
        }
      }
    }
  } finally {
    await context.close().catch(() => {});
    await server.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  }
  return rows;
}

const round2 = (x) => Number(x.toFixed(2));

/** wasmllm's runtimes here and the isa each loads (its rows' "isa"). */
const WASMLLM_ISAS = { wasmllm: 'simd128', 'wasmllm-relaxed': 'relaxed' };

/** Polls `done` every 50 ms for at most `ms`. */
async function waitUntil(done, ms) {
  for (const end = Date.now() + ms; !done() && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
}

/** Page renderer processes of the Chromium whose profile is `userDir` (Linux /proc). */
function rendererPids(userDir) {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Chromium rewrites its children's titles: arguments come space-separated, not NUL-separated.
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split(/[\0 ]/);
      if (cmd.includes('--type=renderer') && cmd.includes(`--user-data-dir=${userDir}`) && !cmd.includes('--top-chrome-webui')) {
        out.push(Number(name));
      }
    } catch { /* exited meanwhile */ }
  }
  return out;
}

/** VmHWM (peak resident set) of a process in MB, 0 when unknown. */
function peakRssMb(pid) {
  try {
    const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return Number.isFinite(kb) ? (kb * 1024) / 1e6 : 0;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------- in the page

/** Runs in the page: wasmllm through its public browser API. */
async function measureWasmllm({ url, threads, prompt, gen, isa }) {
  const { loadModel } = await import('/web/browser/index.js');
  const model = await loadModel(url, { threads, isa, contextSize: prompt.length + gen + 8, cache: false });
  try {
    for await (const _ of model.complete(prompt.slice(0, 8), { maxTokens: 4, temperature: 0 })) { /* warm-up */ }
    const ids = [...prompt];
    ids[1] += 1; // defeats KV prefix reuse (only BOS is kept)
    const t0 = performance.now();
    let tFirst = 0, tLast = 0, n = 0;
    for await (const { token } of model.complete(ids, { maxTokens: gen, temperature: 0 })) {
      if (token < 0) continue;
      tLast = performance.now();
      if (n++ === 0) tFirst = tLast;
    }
    const timings = model.lastCompletion.timings;
    return {
      pp: (prompt.length * 1000) / (timings.promptMs || (tFirst - t0)),
      tg: n > 1 ? ((n - 1) * 1000) / (tLast - tFirst) : 0,
      threadsUsed: model.info().threads,
      isa: model.info().wasmIsa,
      generated: n,
    };
  } finally {
    model.dispose();
  }
}

/**
 * Runs in the page: wllama 3.x's llama-server completion on the prompt as
 * text, greedy, its own timings; `nonUtf8` tokens banned (bench/models.js
 * benchNonUtf8Tokens says why).
 */
async function measureWllama3({ url, threads, promptText, nonUtf8, gen }) {
  const { Wllama } = await import('/wllama/index.js');
  const wllama = new Wllama({ default: '/wllama/wasm/wllama.wasm' }, { suppressNativeLog: true, logger: { debug() {}, log() {}, warn() {}, error: console.error } });
  await wllama.loadModelFromUrl(new URL(url, location.href).href, { n_threads: threads, n_ctx: 512, n_batch: 512, useCache: false });
  try {
    const logit_bias = nonUtf8.map((id) => [id, false]);
    const ask = (prompt, n) => wllama.createCompletion({ prompt, max_tokens: n, temperature: 0, ignore_eos: true, cache_prompt: false, logit_bias });
    await ask(promptText.slice(0, 40), 4);
    const { timings: t } = await ask(promptText, gen);
    return {
      pp: t.prompt_per_second, tg: t.predicted_per_second,
      promptTokens: t.prompt_n, threadsUsed: wllama.getNumThreads(), generated: t.predicted_n,
    };
  } finally {
    await wllama.exit();
  }
}

/** Runs in the page: wllama 2.3.7 with the same token ids, greedy. */
async function measureWllama2({ url, threads, prompt, gen }) {
  const { Wllama } = await import('/wllama2/index.js');
  const wllama = new Wllama({
    'single-thread/wllama.wasm': '/wllama2/single-thread/wllama.wasm',
    'multi-thread/wllama.wasm': '/wllama2/multi-thread/wllama.wasm',
  }, { suppressNativeLog: true, logger: { debug() {}, log() {}, warn() {}, error: console.error } });
  await wllama.loadModelFromUrl(new URL(url, location.href).href, {
    n_threads: threads, n_ctx: prompt.length + gen + 8, n_batch: 512, useCache: false,
  });
  try {
    await wllama.samplingInit({ temp: 0 });
    await wllama.decode(prompt.slice(0, 8), {});
    await wllama.kvClear();
    const ids = [...prompt];
    ids[1] += 1;
    const t0 = performance.now();
    await wllama.decode(ids, {});
    const tPrompt = performance.now() - t0;
    await wllama.samplingInit({ temp: 0 }, ids);
    let tFirst = 0, tLast = 0, n = 0;
    for (let i = 0; i < gen; i++) {
      const { token } = await wllama.samplingSample();
      await wllama.samplingAccept([token]);
      tLast = performance.now();
      if (n++ === 0) tFirst = tLast;
      if (i + 1 < gen) await wllama.decode([token], {});
    }
    return {
      pp: (prompt.length * 1000) / tPrompt,
      tg: n > 1 ? ((n - 1) * 1000) / (tLast - tFirst) : 0,
      threadsUsed: wllama.getNumThreads(),
      generated: n,
    };
  } finally {
    await wllama.exit();
  }
}

// ---------------------------------------------------------------- CLI

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let opts;
  try {
    opts = parseBenchArgs(process.argv.slice(2), 'bench/browser');
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  runBrowserBench({ ...opts, onRow: (row) => console.log(JSON.stringify(row)), log: (s) => console.error(s) })
    .catch((e) => { console.error(`bench/browser: ${e.message}`); process.exit(1); });
}
