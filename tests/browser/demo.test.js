/**
 * The demo page in real Chromium: it loads the embedded model (threaded
 * when cross-origin isolated), streams text, stops, loads from the cache on
 * reload (the server's request log shows no second download), shows
 * readable load errors, and falls back to one thread without COOP/COEP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { skipReason, launch, server, requestsFor, fixtures, writeSplitModel, ARTIFACTS, ROOT } from './helpers.js';

const skip = skipReason() || false;
const MODEL = '/models/shakespeare.gguf';

/** Waits until the page is done loading a model; returns the demo state. */
async function settled(page, timeout = 60_000) {
  await page.waitForFunction(() => ['ready', 'error'].includes(window.wasmllmDemo?.phase), null, { timeout });
  return page.evaluate(() => ({
    phase: wasmllmDemo.phase, lastError: wasmllmDemo.lastError, lastWarning: wasmllmDemo.lastWarning,
    info: wasmllmDemo.model?.info() ?? null, report: wasmllmDemo.model?.loadReport ?? null,
  }));
}

test('demo page (isolated): loads, streams, stops, reloads from the cache', { skip, timeout: 180_000 }, async (t) => {
  const srv = await server();
  const browser = await launch();
  t.after(async () => { await browser.close(); await srv.close(); });
  const { page } = browser;
  // Short outputs keep the test quick but long enough to be mid-generation when we look.
  await page.goto(`${srv.url}?retryDelayMs=20`);
  const first = await settled(page);
  assert.equal(first.phase, 'ready', JSON.stringify(first.lastError));
  assert.equal(await page.evaluate(() => crossOriginIsolated), true);
  assert.equal(first.info.wasmVariant, 'mt', 'an isolated page runs the threaded build');
  // The threaded build, but one thread for the 6.8M model: below 100M parameters one thread decodes faster.
  assert.equal(first.info.threads, 1);
  assert.equal(first.report.downloaded, 1);
  assert.equal(requestsFor(srv.requests, MODEL).length, 1, 'one download of the model');
  assert.match(await page.textContent('#model-facts'), /6\.8 M/);
  assert.ok(!browser.logs.some((l) => /cross-origin isolated/.test(l)), 'no isolation warning on an isolated page');

  // Streams: the output grows while the phase is "generating"; the stats move.
  await page.fill('#max-tokens', '400');
  await page.fill('#seed', '42');
  await page.click('#generate');
  await page.waitForFunction(() => document.querySelector('#output .generated')?.textContent.length > 40, null, { timeout: 30_000 });
  assert.equal(await page.evaluate(() => wasmllmDemo.phase), 'generating');
  await page.waitForFunction(() => Number(document.querySelector('#stat-tokens').textContent) >= 12, null, { timeout: 30_000 });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'demo-generating.png') });
  const tps = Number(await page.textContent('#stat-tps'));
  assert.ok(tps > 0, `live tokens/s shown (${tps})`);
  assert.match(await page.textContent('#stat-mem'), /MB/);

  // Stop: generation ends early, marked "stopped", and the page is ready again.
  await page.click('#stop');
  await page.waitForFunction(() => wasmllmDemo.phase === 'ready', null, { timeout: 10_000 });
  assert.equal(await page.evaluate(() => wasmllmDemo.lastEnd), 'stopped');
  const stoppedAt = Number(await page.textContent('#stat-tokens'));
  assert.ok(stoppedAt < 400, `stopped before maxTokens (${stoppedAt})`);
  assert.equal(await page.textContent('.stopped-mark'), 'stopped');

  // A second run after a stop works and finishes by itself.
  await page.fill('#max-tokens', '8');
  await page.click('#generate');
  await page.waitForFunction(() => wasmllmDemo.phase === 'ready' && wasmllmDemo.lastEnd !== 'stopped', null, { timeout: 30_000 });
  assert.equal(await page.evaluate(() => wasmllmDemo.lastEnd), 'max tokens');

  // Reload: the model comes from the Cache API; the server sees no second download.
  await page.reload();
  const second = await settled(page);
  assert.equal(second.phase, 'ready', JSON.stringify(second.lastError));
  assert.equal(second.report.fromCache, 1);
  assert.equal(second.report.downloaded, 0);
  assert.equal(requestsFor(srv.requests, MODEL).length, 1, 'still one download after the reload');
  assert.match(await page.textContent('#cache-list'), /shakespeare\.gguf/);
  assert.match(await page.textContent('#model-facts'), /from cache/);
});

test('demo page: a truncated model shows a readable error, nothing is cached', { skip, timeout: 120_000 }, async (t) => {
  const srv = await server();
  const browser = await launch();
  t.after(async () => { await browser.close(); await srv.close(); });
  // The embedded model served cut short (the server's Content-Length matches the cut).
  fs.copyFileSync(path.join(ROOT, 'models/shakespeare.gguf'), path.join(fixtures(), 'cut.gguf'));
  srv.faults.set('cut.gguf', { size: 6_000_000 });
  await browser.page.goto(`${srv.url}?model=/fx/cut.gguf`);
  const s = await settled(browser.page);
  assert.equal(s.phase, 'error');
  assert.equal(s.lastError.code, 'ERR_TRUNCATED');
  const notice = await browser.page.textContent('#notice');
  assert.match(notice, /Could not load the model/);
  assert.match(notice, /cut\.gguf/);
  assert.match(notice, /truncated|ended|needs/i);
  assert.equal(await browser.page.isVisible('#notice'), true);
  const cached = await browser.page.evaluate(async () => (await (await import('/web/browser/index.js')).modelCache().list()).length);
  assert.equal(cached, 0, 'a file that failed to load is not cached');
});

test('demo page without COOP/COEP: single-threaded build, one console warning', { skip, timeout: 120_000 }, async (t) => {
  const srv = await server({ isolation: false });
  const browser = await launch();
  t.after(async () => { await browser.close(); await srv.close(); });
  const { page } = browser;
  await page.goto(srv.url);
  const s = await settled(page);
  assert.equal(s.phase, 'ready', JSON.stringify(s.lastError));
  assert.equal(await page.evaluate(() => crossOriginIsolated), false);
  assert.equal(s.info.wasmVariant, 'st');
  assert.equal(s.info.threads, 1);
  assert.match(await page.textContent('#badge-isolation'), /not isolated/);
  await page.fill('#max-tokens', '16');
  await page.click('#generate');
  await page.waitForFunction(() => wasmllmDemo.phase === 'ready' && wasmllmDemo.lastEnd, null, { timeout: 30_000 });
  assert.ok((await page.textContent('#output .generated')).length > 0, 'text was generated');
  // Loading a second model in the same page must not warn again.
  await page.click('#load-embedded');
  await settled(page);
  const warnings = browser.logs.filter((l) => /not cross-origin isolated/.test(l));
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /^warning: .*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/);
});

test('demo page: storage quota exceeded is a readable warning and the model still runs', { skip, timeout: 120_000 }, async (t) => {
  const srv = await server();
  const browser = await launch();
  t.after(async () => { await browser.close(); await srv.close(); });
  await browser.page.goto(`${srv.url}?cacheLimit=1000000`);
  const s = await settled(browser.page);
  assert.equal(s.phase, 'ready', JSON.stringify(s.lastError));
  assert.equal(s.lastWarning?.code, 'ERR_QUOTA');
  const notice = await browser.page.textContent('#notice');
  assert.match(notice, /Not cached/);
  assert.match(notice, /storage quota exceeded/);
  const cached = await browser.page.evaluate(async () => (await (await import('/web/browser/index.js')).modelCache().list()).length);
  assert.equal(cached, 0, 'nothing half-written in the cache');
});

test('demo page: a failed load keeps the working model; retries, download speed and time left are shown', { skip, timeout: 120_000 }, async (t) => {
  const srv = await server();
  const browser = await launch();
  t.after(async () => { await browser.close(); await srv.close(); });
  const { page } = browser;
  const [slow] = writeSplitModel('demo-slow', { shards: 1 });
  // ~5 MB at 2 MB/s: a few seconds of download to read the speed from.
  srv.faults.set(slow, { bytesPerSecond: 2_000_000 });
  await page.goto(`${srv.url}?model=/fx/${slow}&retryDelayMs=150`);
  const seen = await page.waitForFunction(() => {
    const text = document.querySelector('#progress-text')?.textContent ?? '';
    return /\/s · \d+ s left/.test(text) && text;
  }, null, { timeout: 30_000, polling: 50 });
  const progress = await seen.jsonValue();
  const rate = Number(/([\d.]+) MB\/s/.exec(progress)?.[1]);
  assert.ok(rate > 1 && rate < 3, `the speed is the link's 2 MB/s: ${progress}`);
  const first = await settled(page);
  assert.equal(first.phase, 'ready', JSON.stringify(first.lastError));

  // A typo in the URL: the load fails, the model that worked is still there and generates.
  await page.fill('#model-url', '/fx/no-such-model.gguf');
  await page.click('#load-url');
  await page.waitForFunction(() => wasmllmDemo.phase !== 'loading' && wasmllmDemo.lastError, null, { timeout: 30_000 });
  let s = await page.evaluate(() => ({ phase: wasmllmDemo.phase, loads: wasmllmDemo.loads, code: wasmllmDemo.lastError.code }));
  assert.deepEqual(s, { phase: 'ready', loads: 1, code: 'ERR_FETCH' });
  assert.match(await page.textContent('#notice'), /Could not load the model.*no-such-model\.gguf: HTTP 404.*is still loaded/s);
  assert.match(await page.textContent('#model-name'), new RegExp(slow.replace(/\./g, '\\.')));
  await page.fill('#max-tokens', '4');
  await page.click('#generate');
  await page.waitForFunction(() => wasmllmDemo.phase === 'ready' && wasmllmDemo.lastEnd, null, { timeout: 30_000 });
  assert.equal(await page.evaluate(() => wasmllmDemo.lastEnd), 'max tokens');

  // A connection that keeps dropping: each retry shows while it waits, then the failure; the model stays.
  fs.copyFileSync(path.join(fixtures(), slow), path.join(fixtures(), 'drops.gguf'));
  srv.faults.set('drops.gguf', { dropAt: 100_000 });
  await page.fill('#model-url', '/fx/drops.gguf');
  await page.click('#load-url');
  await page.waitForFunction(() => wasmllmDemo.phase === 'loading'
    && /retrying/.test(document.querySelector('#notice').textContent), null, { timeout: 10_000, polling: 20 });
  assert.match(await page.textContent('#notice'), /drops\.gguf: .*retry 1 of 4 in 150 ms/s);
  assert.match(await page.textContent('#progress-text'), /retrying: retry \d of 4/);
  await page.waitForFunction(() => wasmllmDemo.phase !== 'loading', null, { timeout: 30_000 });
  s = await page.evaluate(() => ({ phase: wasmllmDemo.phase, loads: wasmllmDemo.loads, code: wasmllmDemo.lastError?.code }));
  assert.deepEqual(s, { phase: 'ready', loads: 1, code: 'ERR_FETCH' });
  assert.match(await page.textContent('#notice'), /failed after 5 attempts/);
});

test('demo page: prompt tok/s only for prompts long enough to measure, and never stale after a stop', { skip, timeout: 120_000 }, async (t) => {
  const srv = await server();
  const browser = await launch();
  t.after(async () => { await browser.close(); await srv.close(); });
  const { page } = browser;
  await page.goto(srv.url);
  assert.equal((await settled(page)).phase, 'ready');
  const run = async (prompt, maxTokens) => {
    await page.fill('#prompt', prompt);
    await page.fill('#max-tokens', String(maxTokens));
    await page.evaluate(() => { wasmllmDemo.lastEnd = null; });
    await page.click('#generate');
    await page.waitForFunction(() => wasmllmDemo.phase === 'ready' && wasmllmDemo.lastEnd, null, { timeout: 30_000 });
    return page.evaluate(() => ({ shown: document.querySelector('#stat-prompt').textContent, evaluated: wasmllmDemo.model.lastCompletion.promptEvaluated }));
  };
  const short = await run('ROMEO:\n', 4);
  assert.ok(short.evaluated < 32, `${short.evaluated} prompt tokens`);
  assert.equal(short.shown, '–', 'no prompt speed from a handful of tokens');
  const long = await run('ROMEO:\nBut soft, what light through yonder window breaks? It is the east, and Juliet is the sun.\n'.repeat(2), 4);
  assert.ok(long.evaluated >= 32, `${long.evaluated} prompt tokens`);
  assert.ok(Number(long.shown) > 0, `prompt speed shown: ${long.shown}`);
  // Stopped mid-generation: the previous run's figure must not stay on screen.
  await page.fill('#max-tokens', '2000');
  await page.click('#generate');
  await page.waitForFunction(() => Number(document.querySelector('#stat-tokens').textContent) >= 3, null, { timeout: 30_000 });
  await page.click('#stop');
  await page.waitForFunction(() => wasmllmDemo.phase === 'ready', null, { timeout: 10_000 });
  assert.equal(await page.evaluate(() => wasmllmDemo.lastEnd), 'stopped');
  assert.equal(await page.textContent('#stat-prompt'), '–');

  // Chat mode: the worker loads the template engine from the page's import map URL.
  await page.selectOption('#mode', 'chat');
  await page.fill('#max-tokens', '6');
  await page.evaluate(() => { wasmllmDemo.lastEnd = null; });
  await page.click('#generate');
  await page.waitForFunction(() => wasmllmDemo.phase === 'ready' && wasmllmDemo.lastEnd, null, { timeout: 30_000 });
  const chat = await page.evaluate(() => ({ end: wasmllmDemo.lastEnd, error: wasmllmDemo.lastError, turns: wasmllmDemo.messages.length }));
  assert.deepEqual(chat, { end: 'max tokens', error: null, turns: 2 });
});

test('demo page on a phone: one page that scrolls, no control hidden in an inner scroll box', { skip, timeout: 120_000 }, async (t) => {
  const srv = await server();
  const browser = await launch();
  t.after(async () => { await browser.close(); await srv.close(); });
  const { page } = browser;
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(srv.url);
  assert.equal((await settled(page)).phase, 'ready');
  const layout = await page.evaluate(() => {
    const controls = ['#model-url', '#load-url', '#temperature', '#max-tokens', '#mode', '#prompt', '#generate', '#stop', '#cache-clear'];
    const clipped = [];
    for (const sel of controls) {
      for (let el = document.querySelector(sel)?.parentElement; el && el !== document.body; el = el.parentElement) {
        const { overflowY } = getComputedStyle(el);
        if (/auto|scroll|hidden/.test(overflowY) && el.scrollHeight > el.clientHeight + 1) clipped.push(`${sel} in ${el.className || el.tagName}`);
      }
    }
    const wide = [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > innerWidth + 1 && getComputedStyle(el).position !== 'absolute');
    return { clipped, pageScrolls: document.documentElement.scrollHeight > innerHeight, wide: wide.map((el) => el.id || el.className || el.tagName) };
  });
  assert.deepEqual(layout.clipped, [], 'controls inside a clipped scroll box');
  assert.equal(layout.pageScrolls, true, 'the page itself scrolls');
  assert.deepEqual(layout.wide, [], 'nothing wider than the screen');
  // The model card, then the text and the composer, then the settings.
  const order = await page.evaluate(() => ['#model-title', '#output', '#generate', '#sampling-title'].map((s) => document.querySelector(s).getBoundingClientRect().top));
  assert.deepEqual([...order].sort((a, b) => a - b), order, `top-to-bottom order: ${order}`);
  await page.click('#generate'); // reachable: Playwright scrolls the page to it and clicks
  await page.waitForFunction(() => wasmllmDemo.phase === 'ready' && wasmllmDemo.lastEnd, null, { timeout: 30_000 });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'demo-phone.png'), fullPage: true });
});
