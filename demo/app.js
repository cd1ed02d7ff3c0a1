/**
 * The demo page: loads a GGUF (the embedded Shakespeare model by default, a
 * URL, a Hugging Face file, or a local file), shows download progress, and
 * streams generated text with live speed and memory figures.
 *
 * Page parameters: ?model=URL (preload another model), ?nopreload,
 * ?threads=N, ?cacheLimit=BYTES (cache budget), ?retryDelayMs=N, ?hfEndpoint=URL.
 */
import { loadModel, modelCache, isCrossOriginIsolated, WasmllmError } from '../web/browser/index.js';

const EMBEDDED_URL = new URL('models/shakespeare.gguf', location.href).href;
/** Prompt tokens (one evaluation batch) below which a prompt speed is not shown. */
const MIN_PROMPT_FOR_RATE = 32;
const params = new URLSearchParams(location.search);
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const ui = {
  badgeThreads: $('badge-threads'), badgeIsolation: $('badge-isolation'),
  modelName: $('model-name'), facts: $('model-facts'),
  progressWrap: $('progress-wrap'), progressBar: $('progress-bar'), progressText: $('progress-text'),
  urlForm: $('url-form'), url: /** @type {HTMLInputElement} */ ($('model-url')), file: /** @type {HTMLInputElement} */ ($('file')),
  loadEmbedded: $('load-embedded'), loadUrl: $('load-url'),
  notice: $('notice'), noticeTitle: $('notice-title'), noticeText: $('notice-text'), noticeClose: $('notice-close'),
  output: $('output'), placeholder: $('placeholder'),
  tps: $('stat-tps'), tokens: $('stat-tokens'), promptTps: $('stat-prompt'), mem: $('stat-mem'), state: $('stat-state'),
  promptForm: $('prompt-form'), prompt: /** @type {HTMLTextAreaElement} */ ($('prompt')),
  generate: /** @type {HTMLButtonElement} */ ($('generate')), stop: /** @type {HTMLButtonElement} */ ($('stop')), clear: $('clear'),
  cacheList: $('cache-list'), cacheTotal: $('cache-total'), cacheClear: $('cache-clear'),
  mode: /** @type {HTMLSelectElement} */ ($('mode')),
};

/** What the page is doing; tests read it through window.wasmllmDemo. */
const state = {
  /** @type {'idle'|'loading'|'ready'|'generating'|'error'} */
  phase: 'idle',
  /** @type {import('../web/browser/index.js').BrowserModel | null} */
  model: null,
  /** The loaded model's name, shown again when loading another one fails. */
  label: '',
  lastError: null,
  lastWarning: null,
  loads: 0,
  /** @type {AbortController | null} */
  running: null,
  /** Chat turns so far, in chat mode. */
  messages: [],
};
window.wasmllmDemo = state;

const cache = modelCache(params.has('cacheLimit') ? { maxBytes: Number(params.get('cacheLimit')) } : {});

function formatBytes(n) {
  if (!Number.isFinite(n)) return '?';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function setPhase(phase) {
  state.phase = phase;
  document.body.dataset.phase = phase;
  const labels = { idle: 'idle', loading: 'loading model…', ready: 'ready', generating: 'generating…', error: 'error' };
  ui.state.textContent = labels[phase];
  ui.state.classList.toggle('busy', phase === 'loading' || phase === 'generating');
  ui.generate.disabled = phase !== 'ready';
  ui.stop.disabled = phase !== 'generating' && phase !== 'loading';
  for (const b of [ui.loadUrl, ui.loadEmbedded]) b.disabled = phase === 'loading' || phase === 'generating';
  ui.file.disabled = phase === 'loading' || phase === 'generating';
}

function showNotice(kind, title, text) {
  ui.notice.hidden = false;
  ui.notice.classList.toggle('warn', kind === 'warn');
  ui.notice.dataset.kind = kind;
  ui.noticeTitle.textContent = title;
  ui.noticeText.textContent = text;
}
function hideNotice() { ui.notice.hidden = true; }
ui.noticeClose.addEventListener('click', hideNotice);

/** A message a person can act on, with the stable code for bug reports. */
function describeError(e) {
  const code = e instanceof WasmllmError || e?.code ? e.code : 'ERR_INTERNAL';
  return `${e?.message ?? e} (${code})`;
}

function showFacts(info, report) {
  const rows = [
    ['Architecture', info.architecture],
    ['Parameters', info.nParams >= 1e9 ? `${(info.nParams / 1e9).toFixed(2)} B` : `${(info.nParams / 1e6).toFixed(1)} M`],
    ['Weights', `${info.fileType ?? Object.keys(info.tensorTypes).join('/')} · ${formatBytes(info.fileBytes)}${info.shards > 1 ? ` · ${info.shards} shards` : ''}`],
    ['Context', `${info.contextSize} tokens`],
    ['Runtime', `${info.wasmVariant === 'mt' ? `${info.threads} threads` : 'single thread'} · SIMD128`],
    ['Loaded', `${(info.loadMs / 1000).toFixed(2)} s${report.fromCache && !report.downloaded ? ' from cache' : report.fromCache ? ` (${report.fromCache} shard(s) from cache)` : ''}`],
  ];
  ui.facts.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    return [dt, dd];
  }));
}

/**
 * Download speed over the last few seconds (a whole-load average would hide
 * a stall or a slow start), and the time left at that speed.
 */
class RateMeter {
  constructor(windowMs = 3000) {
    this.windowMs = windowMs;
    /** @type {{ t: number, bytes: number }[]} */
    this.samples = [];
  }

  /** @param {number} bytes downloaded so far (cache reads excluded) @param {number} [t] */
  add(bytes, t = performance.now()) {
    this.samples.push({ t, bytes });
    while (this.samples.length > 2 && t - this.samples[1].t > this.windowMs) this.samples.shift();
  }

  /** Bytes per second, or 0 until there are half a second of samples. */
  rate() {
    const first = this.samples[0], last = this.samples[this.samples.length - 1];
    if (!first || last.t - first.t < 500) return 0;
    return (last.bytes - first.bytes) / ((last.t - first.t) / 1000);
  }
}

function formatSeconds(s) {
  if (s < 60) return `${Math.ceil(s)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** @type {RateMeter | null} */
let meter = null;

function showProgress(p) {
  ui.progressWrap.hidden = false;
  const pct = p.total ? Math.min(100, (100 * p.loaded) / p.total) : 0;
  ui.progressBar.style.width = `${pct.toFixed(1)}%`;
  const cached = p.perShard?.filter((s) => s.fromCache).length ?? 0;
  const shards = p.shards > 1 ? ` · ${p.perShard.filter((s) => s.done).length}/${p.shards} shards` : '';
  // Only network bytes count toward the speed: a cache read is not a download.
  const downloaded = p.perShard ? p.perShard.filter((s) => !s.fromCache).reduce((n, s) => n + s.loaded, 0) : p.loaded;
  meter ??= new RateMeter();
  meter.add(downloaded);
  const rate = meter.rate();
  let speed = '';
  if (rate > 0 && p.loaded < (p.total ?? Infinity)) {
    speed = ` · ${formatBytes(rate)}/s`;
    if (p.total) speed += ` · ${formatSeconds((p.total - p.loaded) / rate)} left`;
  }
  ui.progressText.textContent = `${formatBytes(p.loaded)}${p.total ? ` of ${formatBytes(p.total)} (${pct.toFixed(0)}%)` : ''}${shards}${cached ? ` · ${cached} from cache` : ''}${speed}`;
}

/**
 * @param {any} source @param {string} label
 */
async function load(source, label) {
  if (state.phase === 'loading' || state.phase === 'generating') return;
  hideNotice();
  // The loaded model stays until the new one is ready: a typo in a URL must
  // not leave the page with nothing (two models are in memory meanwhile).
  const previous = state.model;
  state.lastError = null;
  state.lastWarning = null;
  setPhase('loading');
  ui.modelName.textContent = `Loading ${label}…`;
  ui.progressBar.style.width = '0%';
  ui.progressText.textContent = 'starting…';
  ui.progressWrap.hidden = false;
  meter = null;
  const controller = new AbortController();
  state.running = controller;
  try {
    const model = await loadModel(source, {
      signal: controller.signal,
      threads: params.has('threads') ? Number(params.get('threads')) : undefined,
      cache: params.has('cacheLimit') ? { maxBytes: Number(params.get('cacheLimit')) } : true,
      retryDelayMs: params.has('retryDelayMs') ? Number(params.get('retryDelayMs')) : undefined,
      hfEndpoint: params.get('hfEndpoint') ?? undefined,
      onProgress: showProgress,
      onWarning: (w) => {
        state.lastWarning = { code: w.code, message: w.message };
        // ERR_FETCH: a download failed and is retried after a pause; say so, or the page looks stuck.
        if (w.code === 'ERR_FETCH') {
          showNotice('warn', 'Download interrupted, retrying:', describeError(w));
          ui.progressText.textContent = `retrying: ${w.message.replace(/^.*; /, '')}`;
        } else {
          showNotice('warn', 'Not cached:', describeError(w));
        }
      },
    });
    if (state.lastWarning?.code === 'ERR_FETCH') hideNotice(); // the retry worked
    previous?.dispose();
    state.model = model;
    state.label = label;
    state.loads++;
    const info = model.info();
    ui.modelName.textContent = label;
    showFacts(info, model.loadReport);
    ui.progressWrap.hidden = true;
    ui.mem.textContent = formatBytes(model.heapBytes);
    ui.badgeThreads.textContent = info.wasmVariant === 'mt' ? `${info.threads} threads` : '1 thread';
    setPhase('ready');
  } catch (e) {
    state.lastError = { code: e?.code ?? 'ERR_INTERNAL', message: e?.message ?? String(e) };
    ui.progressWrap.hidden = true;
    const kept = previous ? ` ${state.label} is still loaded.` : ' Load a model to continue.';
    if (e?.code === 'ERR_ABORTED') showNotice('warn', 'Loading stopped.', kept.trim());
    else showNotice('error', 'Could not load the model:', `${describeError(e)}${kept}`);
    ui.modelName.textContent = previous ? state.label : `${label} — failed`;
    setPhase(previous ? 'ready' : 'error');
  } finally {
    state.running = null;
    refreshCache();
  }
}

/** Parses `hf:owner/repo/path/file.gguf[@revision]`. */
function parseHf(text) {
  const m = /^hf:([\w.-]+\/[\w.-]+)\/(.+?\.gguf)(?:@([\w./-]+))?$/.exec(text);
  return m ? { repo: m[1], file: m[2], revision: m[3] ?? 'main' } : null;
}

ui.urlForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = ui.url.value.trim();
  if (!text) return;
  if (text.startsWith('hf:')) {
    const hf = parseHf(text);
    if (!hf) return showNotice('error', 'Not a Hugging Face file:', 'write hf:owner/repo/file.gguf, optionally @revision');
    return load(hf, `${hf.repo}/${hf.file}`);
  }
  load(text, text.split('/').pop() || text);
});
ui.file.addEventListener('change', () => {
  const files = [...(ui.file.files ?? [])];
  if (files.length) load(files.length === 1 ? files[0] : files, files.map((f) => f.name).join(', '));
  ui.file.value = '';
});
ui.loadEmbedded.addEventListener('click', () => load(EMBEDDED_URL, 'Shakespeare (embedded, 6.8M params)'));

function samplingOptions() {
  const num = (id) => {
    const v = /** @type {HTMLInputElement} */ ($(id)).value.trim();
    return v === '' ? undefined : Number(v);
  };
  return {
    temperature: num('temperature'), topK: num('top-k'), topP: num('top-p'), minP: num('min-p'),
    repeatPenalty: num('repeat-penalty'), maxTokens: num('max-tokens') ?? 200, seed: num('seed'),
  };
}

function span(cls, text) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  return s;
}

async function generate() {
  const model = state.model;
  if (!model || state.phase !== 'ready') return;
  hideNotice();
  if (ui.placeholder.isConnected) ui.output.replaceChildren();
  const chat = ui.mode.value === 'chat';
  const prompt = ui.prompt.value;
  const out = span('generated', '');
  if (chat) {
    state.messages.push({ role: 'user', content: prompt });
    const turn = document.createElement('div');
    turn.className = 'turn';
    turn.append(span('turn-user', `You: ${prompt}\n`), out);
    ui.output.append(turn);
    ui.prompt.value = '';
  } else {
    ui.output.replaceChildren(span('prompt-text', prompt), out);
  }
  const controller = new AbortController();
  state.running = controller;
  setPhase('generating');
  ui.output.classList.add('running');
  let n = 0, tFirst = 0;
  ui.tokens.textContent = '0';
  ui.tps.textContent = '–';
  ui.promptTps.textContent = '–'; // a stopped run has no prompt figure: never show the last run's
  const options = { ...samplingOptions(), signal: controller.signal };
  let ended = 'end';
  try {
    const stream = chat ? model.chat(state.messages, options) : model.complete(prompt, options);
    for await (const { text } of stream) {
      n++;
      const t = performance.now();
      if (n === 1) tFirst = t;
      out.textContent += text;
      ui.tokens.textContent = String(n);
      if (n > 1) ui.tps.textContent = ((n - 1) / ((t - tFirst) / 1000)).toFixed(1);
      ui.mem.textContent = formatBytes(model.heapBytes);
      ui.output.scrollTop = ui.output.scrollHeight;
    }
    const c = model.lastCompletion;
    if (c) {
      // A few tokens take about as long as one batch: their rate says nothing about prompt speed.
      if (c.promptEvaluated >= MIN_PROMPT_FOR_RATE) ui.promptTps.textContent = c.timings.promptTokensPerSecond.toFixed(0);
      ui.promptTps.title = c.promptEvaluated >= MIN_PROMPT_FOR_RATE ? '' : `the prompt had ${c.promptEvaluated} new tokens: too few to measure`;
      if (c.timings.decodeTokensPerSecond) ui.tps.textContent = c.timings.decodeTokensPerSecond.toFixed(1);
      ended = c.finishReason === 'length' ? 'max tokens' : c.finishReason === 'context' ? 'context full' : 'end';
    }
    if (chat) state.messages.push({ role: 'assistant', content: out.textContent });
  } catch (e) {
    if (e?.code === 'ERR_ABORTED') {
      ended = 'stopped';
      if (chat) state.messages.push({ role: 'assistant', content: out.textContent });
    } else {
      ended = 'error';
      state.lastError = { code: e?.code ?? 'ERR_INTERNAL', message: e?.message ?? String(e) };
      showNotice('error', 'Generation failed:', describeError(e));
    }
  } finally {
    ui.output.classList.remove('running');
    out.after(span(ended === 'stopped' ? 'stopped-mark' : 'end-mark', ended));
    state.running = null;
    state.lastEnd = ended;
    setPhase(state.model ? 'ready' : 'idle');
  }
}

ui.promptForm.addEventListener('submit', (e) => { e.preventDefault(); generate(); });
ui.prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); generate(); }
});
ui.stop.addEventListener('click', () => state.running?.abort());
ui.clear.addEventListener('click', () => {
  state.messages = [];
  ui.output.replaceChildren(ui.placeholder);
});
ui.mode.addEventListener('change', () => {
  state.messages = [];
  ui.prompt.value = ui.mode.value === 'chat' ? 'Hello! Who are you?' : 'ROMEO:\n';
});

async function refreshCache() {
  let entries = [];
  try { entries = await cache.list(); } catch { /* no Cache API here */ }
  const total = entries.reduce((s, e) => s + e.size, 0);
  ui.cacheTotal.textContent = entries.length ? `· ${formatBytes(total)}` : '';
  if (!entries.length) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = cache.available ? 'Nothing cached yet.' : 'The Cache API is not available on this page.';
    ui.cacheList.replaceChildren(li);
    return;
  }
  ui.cacheList.replaceChildren(...entries.map((e) => {
    const li = document.createElement('li');
    const url = new URL(e.url);
    const name = url.origin === location.origin ? url.pathname : e.url;
    const del = document.createElement('button');
    del.type = 'button';
    del.title = `Delete ${name}`;
    del.textContent = '×';
    del.addEventListener('click', async () => { await cache.delete(e.url); refreshCache(); });
    li.append(span('url', name), span('size', formatBytes(e.size)), del);
    return li;
  }));
}
ui.cacheClear.addEventListener('click', async () => { await cache.clear(); refreshCache(); });

function init() {
  const isolated = isCrossOriginIsolated();
  ui.badgeIsolation.textContent = isolated ? 'cross-origin isolated' : 'not isolated: 1 thread';
  ui.badgeIsolation.classList.toggle('warn', !isolated);
  ui.badgeIsolation.title = isolated
    ? 'COOP/COEP headers are set: the multi-threaded build runs'
    : 'Serve the page with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp to use threads';
  ui.badgeThreads.textContent = isolated ? `${navigator.hardwareConcurrency} cores` : '1 thread';
  setPhase('idle');
  refreshCache();
  if (params.has('nopreload')) return;
  const url = params.get('model');
  if (url) load(new URL(url, location.href).href, url.split('/').pop());
  else load(EMBEDDED_URL, 'Shakespeare (embedded, 6.8M params)');
}

init();
