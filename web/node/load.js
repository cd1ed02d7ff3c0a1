/**
 * The core's loaders with Node's file system and wasm builds plugged in
 * (web/node/files.js, web/node/wasm-build.js): what the Node entry, the CLI
 * and the server call. The core itself (web/model.js, web/sources.js) has no
 * `node:` import, so browsers and edge runtimes can bundle it.
 */
import { loadModel as loadModelWith } from '../model.js';
import { readHeaders as readHeadersWith } from '../sources.js';
import { openPath } from './files.js';
import { loadNodeBuild, defaultThreadCount } from './wasm-build.js';

const NODE_HOST = { openPath, loadBuild: loadNodeBuild, defaultThreads: defaultThreadCount };

/**
 * loadModel (web/model.js) that also reads file paths and file: URLs.
 * @param {any} source
 * @param {import('../model.js').LoadOptions} [options]
 */
export function loadModel(source, options = {}) {
  return loadModelWith(source, { ...options, ...NODE_HOST });
}

/**
 * readHeaders (web/sources.js) that also reads file paths and file: URLs.
 * @param {any} source
 * @param {Parameters<typeof readHeadersWith>[1]} [options]
 */
export function readHeaders(source, options = {}) {
  return readHeadersWith(source, { ...options, openPath });
}
