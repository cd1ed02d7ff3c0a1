/**
 * wasmllm: run GGUF language models on the CPU in WebAssembly.
 *
 *   import { loadModel } from 'wasmllm';
 *   const model = await loadModel('model.gguf');
 *   for await (const { text } of model.complete('Once upon a time')) process.stdout.write(text);
 *   model.dispose();
 */
export { loadModel, readHeaders } from './load.js';
export { Model, Session } from '../model.js';
export { WasmllmError } from '../errors.js';
export { parseGGUF, readGGUFHeader, GGUFStringArray } from '../gguf.js';
export { createTokenizer } from '../tokenizer/index.js';
export { defaultThreadCount, canUseThreads } from './wasm-build.js';
export { embeddedModelPath, embeddedDraftModelPath } from './embedded-model.js';
export { jsonSchemaToGrammar } from '../structured/json-schema.js';
export { responseFormatToGrammar } from '../structured/response-format.js';
