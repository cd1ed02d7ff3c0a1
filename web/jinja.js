/**
 * @huggingface/jinja, the chat template engine, loaded on first use.
 *
 * Its import is dynamic so that a host can point it elsewhere: a page
 * without a bundler names `@huggingface/jinja` in an import map, but import
 * maps do not reach into Web Workers, so the browser worker cannot resolve
 * the bare name and loads the URL the page resolved instead. Bundlers,
 * Node and edge runtimes resolve the literal import below.
 *
 * The engine's classes are live bindings: set once loadJinja() resolves.
 */
import { WasmllmError } from './errors.js';

/** @type {typeof import('@huggingface/jinja').Template} */
export let Template;
/** @type {typeof import('@huggingface/jinja').Environment} */
export let Environment;
/** @type {typeof import('@huggingface/jinja').Interpreter} */
export let Interpreter;
/** @type {typeof import('@huggingface/jinja').tokenize} */
export let tokenize;
/** @type {typeof import('@huggingface/jinja').parse} */
export let parse;

/** @type {Promise<void> | null} */
let loading = null;

/**
 * Loads the engine once. `url`: where to import it from when the bare name
 * does not resolve here (a worker started by a page with an import map).
 * @param {string} [url]
 */
export function loadJinja(url) {
  loading ??= importEngine(url).then((engine) => {
    ({ Template, Environment, Interpreter, tokenize, parse } = engine);
  }, (e) => {
    loading = null; // let a later call (with a URL, say) try again
    throw e;
  });
  return loading;
}

/** @param {string} [url] */
async function importEngine(url) {
  try {
    return await import('@huggingface/jinja');
  } catch (e) {
    if (!url) throw missing(e);
  }
  try {
    return await import(/* @vite-ignore */ /* webpackIgnore: true */ url);
  } catch (e) {
    throw missing(e, url);
  }
}

/** @param {unknown} cause @param {string} [url] */
function missing(cause, url) {
  const where = url ? `from ${url}` : '(the bare name @huggingface/jinja did not resolve)';
  return new WasmllmError('ERR_TEMPLATE', `could not load the chat template engine ${where}: ${/** @type {any} */ (cause)?.message ?? cause}. `
    + 'Without a bundler, map "@huggingface/jinja" in the page\'s import map', { cause });
}

/** Throws unless loadJinja() has finished (the renderers are synchronous). */
export function requireJinja() {
  if (!Template) throw new WasmllmError('ERR_INTERNAL', 'the chat template engine is not loaded: await loadJinja() first');
}
