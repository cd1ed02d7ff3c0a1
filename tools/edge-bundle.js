#!/usr/bin/env node
/**
 * Writes the workerd config of an edge worker: every module it can reach,
 * found by walking the static and dynamic `import` specifiers from its entry,
 * so no module list is kept by hand.
 *
 *   node tools/edge-bundle.js                 regenerates demo/edge-worker/config.capnp
 *   node tools/edge-bundle.js --check         exits 1 if that file is stale
 *   node tools/edge-bundle.js --list          prints the modules as JSON
 *   node tools/edge-bundle.js --out DIR/x.capnp --model FILE.gguf --port 9000
 *       writes a config elsewhere, embedding FILE.gguf in place of every
 *       .gguf data module (measurements with other models)
 *
 * Module names mirror paths relative to the repository root: workerd resolves
 * a specifier against the importing module's name the way a URL path resolves,
 * bare ones too (`@huggingface/jinja` from `web/chat.js` is the module
 * `web/@huggingface/jinja`), whose file is found in node_modules through its
 * package.json `exports` (the `import` condition).
 * `node:` builtins are skipped: they are imported only on Node-only paths.
 * `.wasm` files become wasm modules (precompiled by workerd) and `.gguf`/`.bin`
 * files data modules (an ArrayBuffer).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_ENTRY = 'demo/edge-worker/worker.mjs';
const DEFAULT_OUT = 'demo/edge-worker/config.capnp';
const COMPATIBILITY_DATE = '2025-11-01';
/** request.signal aborts when the client disconnects only with this flag. */
const COMPATIBILITY_FLAGS = ['enable_request_signal'];

/** Keywords after which `/` starts a regular expression, not a division. */
const REGEX_AFTER_WORDS = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

/**
 * Splits JavaScript into the tokens the import search needs: words, string
 * literals (with their value) and single punctuation characters. Comments,
 * template literal text and regular expressions are skipped, so an `import(`
 * in a JSDoc comment or a string is never taken for a real one.
 * @param {string} src
 * @returns {{ type: 'word'|'string'|'punct', value: string }[]}
 */
export function lexImports(src) {
  const out = [];
  /** Brace depths at which a template literal resumes after `${ ... }`. */
  const templateStack = [];
  let depth = 0;
  let i = 0;
  const last = () => out[out.length - 1];
  const regexAllowed = () => {
    const t = last();
    if (!t) return true;
    if (t.type === 'word') return REGEX_AFTER_WORDS.has(t.value);
    if (t.type === 'string') return false;
    return !(t.value === ')' || t.value === ']' || t.value === '}');
  };
  /** Scans template text from i (just after ` or a closing }); stops after ` or ${. */
  const template = () => {
    for (; i < src.length; i++) {
      if (src[i] === '\\') { i++; continue; }
      if (src[i] === '`') { i++; out.push({ type: 'string', value: '`template`' }); return; }
      if (src[i] === '$' && src[i + 1] === '{') { i += 2; templateStack.push(depth); depth++; return; }
    }
  };
  while (i < src.length) {
    const c = src[i];
    if (c === '/' && src[i + 1] === '/') { const e = src.indexOf('\n', i); i = e < 0 ? src.length : e; continue; }
    if (c === '/' && src[i + 1] === '*') { const e = src.indexOf('*/', i + 2); i = e < 0 ? src.length : e + 2; continue; }
    if (/\s/.test(c)) { i++; continue; }
    if (c === '"' || c === "'") {
      let value = '';
      for (i++; i < src.length && src[i] !== c; i++) {
        if (src[i] === '\\') { value += src[i + 1]; i++; } else value += src[i];
      }
      i++;
      out.push({ type: 'string', value });
      continue;
    }
    if (c === '`') { i++; template(); continue; }
    if (c === '/' && regexAllowed()) {
      let inClass = false;
      for (i++; i < src.length; i++) {
        if (src[i] === '\\') { i++; continue; }
        if (src[i] === '[') inClass = true;
        else if (src[i] === ']') inClass = false;
        else if (src[i] === '/' && !inClass) break;
      }
      i++;
      while (i < src.length && /[a-z]/i.test(src[i])) i++; // flags
      out.push({ type: 'string', value: '/regex/' });
      continue;
    }
    if (/[A-Za-z_$\d]/.test(c)) {
      let j = i;
      while (j < src.length && /[\w$]/.test(src[j])) j++;
      out.push({ type: 'word', value: src.slice(i, j) });
      i = j;
      continue;
    }
    if (c === '{') depth++;
    if (c === '}') {
      depth--;
      if (templateStack.length && templateStack[templateStack.length - 1] === depth) {
        templateStack.pop();
        i++;
        template();
        continue;
      }
    }
    out.push({ type: 'punct', value: c });
    i++;
  }
  return out;
}

/**
 * The module specifiers a source file imports.
 * @param {string} src
 * @returns {{ specifiers: string[], nonLiteral: number }} nonLiteral counts
 *   `import(expr)` calls whose target is computed (cannot be bundled)
 */
export function findImports(src) {
  const t = lexImports(src);
  const specifiers = [];
  let nonLiteral = 0;
  const isPunct = (k, v) => t[k]?.type === 'punct' && t[k].value === v;
  for (let k = 0; k < t.length; k++) {
    if (t[k].type !== 'word') continue;
    // `a.import` or `{ import: ... }` are property names, not imports.
    if (isPunct(k - 1, '.')) continue;
    if (t[k].value === 'import') {
      if (isPunct(k + 1, '.')) continue; // import.meta
      if (isPunct(k + 1, '(')) {
        if (t[k + 2]?.type === 'string' && (isPunct(k + 3, ')') || isPunct(k + 3, ','))) specifiers.push(t[k + 2].value);
        else nonLiteral++;
        continue;
      }
      if (t[k + 1]?.type === 'string') { specifiers.push(t[k + 1].value); continue; }
      const from = fromClause(t, k + 1);
      if (from) specifiers.push(from);
    } else if (t[k].value === 'export' && (isPunct(k + 1, '*') || isPunct(k + 1, '{'))) {
      const from = fromClause(t, k + 1);
      if (from) specifiers.push(from);
    }
  }
  return { specifiers, nonLiteral };
}

/** The string after `from` that ends an import/export clause starting at k, if any. */
function fromClause(t, k) {
  let braces = 0;
  for (; k < t.length; k++) {
    const x = t[k];
    if (x.type === 'punct' && x.value === '{') braces++;
    else if (x.type === 'punct' && x.value === '}') braces--;
    else if (braces === 0 && x.type === 'punct' && (x.value === ';' || x.value === '(' || x.value === '=')) return null;
    else if (braces === 0 && x.type === 'word' && x.value === 'from' && t[k + 1]?.type === 'string') return t[k + 1].value;
  }
  return null;
}

/** Finds a bare specifier's ES module file through node_modules, as Node would for `import`. */
function resolvePackage(specifier, fromFile) {
  const parts = specifier.split('/');
  const pkgName = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  const subpath = '.' + specifier.slice(pkgName.length);
  for (let dir = path.dirname(fromFile); ; dir = path.dirname(dir)) {
    const pkgDir = path.join(dir, 'node_modules', pkgName);
    const pkgJson = path.join(pkgDir, 'package.json');
    if (fs.existsSync(pkgJson)) {
      const pkg = JSON.parse(fs.readFileSync(pkgJson, 'utf8'));
      const target = exportTarget(pkg, subpath);
      if (!target) throw new Error(`${pkgName} exports no ES module for ${subpath}`);
      return path.join(pkgDir, target);
    }
    if (dir === path.dirname(dir)) throw new Error(`cannot find package ${pkgName} (imported by ${path.relative(ROOT, fromFile)}) in any node_modules`);
  }
}

/** The file an `exports` entry maps `subpath` to under the import/worker conditions. */
function exportTarget(pkg, subpath) {
  const pick = (entry) => {
    if (typeof entry === 'string') return entry;
    if (!entry || typeof entry !== 'object') return null;
    for (const cond of ['workerd', 'worker', 'import', 'module', 'default']) {
      if (cond in entry) {
        const r = pick(entry[cond]);
        if (r) return r;
      }
    }
    return null;
  };
  const exp = pkg.exports;
  if (exp === undefined) return subpath === '.' ? (pkg.module ?? pkg.main ?? 'index.js') : subpath;
  if (typeof exp === 'string' || !Object.keys(exp).some((key) => key.startsWith('.'))) return subpath === '.' ? pick(exp) : null;
  return pick(exp[subpath]);
}

/**
 * @typedef {{ name: string, file: string, kind: 'esModule'|'wasm'|'data' }} BundleModule
 * @param {string} entry path of the worker's main module
 * @returns {{ modules: BundleModule[], notes: string[] }}
 */
export function collectModules(entry) {
  const entryFile = path.resolve(ROOT, entry);
  const modules = new Map();
  const notes = [];
  const kindOf = (file) => (file.endsWith('.wasm') ? 'wasm' : /\.(gguf|bin)$/.test(file) ? 'data' : 'esModule');
  const visit = (name, file) => {
    if (modules.has(name)) {
      if (modules.get(name).file !== file) throw new Error(`module name ${name} would stand for both ${modules.get(name).file} and ${file}`);
      return;
    }
    if (!fs.existsSync(file)) throw new Error(`${name}: ${file} does not exist`);
    const kind = kindOf(file);
    modules.set(name, { name, file, kind });
    if (kind !== 'esModule') return;
    const { specifiers, nonLiteral } = findImports(fs.readFileSync(file, 'utf8'));
    if (nonLiteral) notes.push(`${name}: ${nonLiteral} import() of a computed specifier, not bundled (a Node or browser path)`);
    for (const spec of specifiers) {
      if (spec.startsWith('node:')) { notes.push(`${name}: skipped ${spec} (Node only)`); continue; }
      // workerd resolves every specifier, bare ones too, against the
      // importing module's name the way a URL path resolves: name the child
      // so, and find its file as Node would.
      const childName = new URL(spec, `file:///${name}`).pathname.slice(1);
      const relative = spec.startsWith('./') || spec.startsWith('../') || spec.startsWith('/');
      visit(childName, relative ? path.resolve(path.dirname(file), spec) : resolvePackage(spec, file));
    }
  };
  const entryName = path.relative(ROOT, entryFile).split(path.sep).join('/');
  if (entryName.startsWith('..')) throw new Error(`the entry ${entry} must be inside the repository`);
  visit(entryName, entryFile);
  return { modules: [...modules.values()], notes: [...new Set(notes)] };
}

/** A capnp string literal. */
const q = (s) => JSON.stringify(s);

/**
 * @param {{ modules: BundleModule[], notes: string[] }} bundle
 * @param {{ outFile: string, port: number, model?: string, entry: string,
 *   vars?: Record<string, string>, localFetch?: boolean }} o
 *   vars: text bindings (env.NAME); localFetch: let fetch() reach localhost
 *   (workerd's default outbound allows public addresses only), for tests
 */
export function renderConfig(bundle, o) {
  const dir = path.dirname(o.outFile);
  const embed = (file) => {
    const rel = path.relative(dir, file).split(path.sep).join('/');
    return rel.startsWith('.') ? rel : `./${rel}`;
  };
  const lines = bundle.modules.map((m) => {
    const file = m.kind === 'data' && o.model ? path.resolve(o.model) : m.file;
    return `    (name = ${q(m.name)}, ${m.kind} = embed ${q(embed(file))}),`;
  });
  return [
    `# workerd config for ${o.entry}, generated by tools/edge-bundle.js: do not edit,`,
    '# re-run `node tools/edge-bundle.js` after changing imports.',
    '#   workerd serve config.capnp [--socket-addr http=127.0.0.1:PORT]',
    ...bundle.notes.map((n) => `# ${n}`),
    'using Workerd = import "/workerd/workerd.capnp";',
    '',
    'const config :Workerd.Config = (',
    o.localFetch
      ? '  services = [ (name = "main", worker = .edgeWorker), (name = "internet", network = (allow = ["public", "private", "local"])) ],'
      : '  services = [ (name = "main", worker = .edgeWorker) ],',
    `  sockets = [ (name = "http", address = ${q(`127.0.0.1:${o.port}`)}, http = (), service = "main") ],`,
    ');',
    '',
    'const edgeWorker :Workerd.Worker = (',
    '  modules = [',
    ...lines,
    '  ],',
    ...(o.vars && Object.keys(o.vars).length
      ? [`  bindings = [ ${Object.entries(o.vars).map(([k, v]) => `(name = ${q(k)}, text = ${q(v)})`).join(', ')} ],`]
      : []),
    `  compatibilityDate = ${q(COMPATIBILITY_DATE)},`,
    `  compatibilityFlags = [${COMPATIBILITY_FLAGS.map(q).join(', ')}],`,
    ');',
    '',
  ].join('\n');
}

function main() {
  const { values } = parseArgs({
    options: {
      entry: { type: 'string', default: DEFAULT_ENTRY },
      out: { type: 'string', default: DEFAULT_OUT },
      model: { type: 'string' },
      port: { type: 'string', default: '8787' },
      check: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got ${values.port}`);
  if (values.model && !fs.existsSync(values.model)) throw new Error(`--model ${values.model} does not exist`);
  const bundle = collectModules(values.entry);
  if (values.list) {
    console.log(JSON.stringify(bundle.modules.map((m) => ({ ...m, file: path.relative(ROOT, m.file) })), null, 2));
    return;
  }
  const outFile = path.resolve(ROOT, values.out);
  const text = renderConfig(bundle, { outFile, port, model: values.model, entry: values.entry });
  if (values.check) {
    const current = fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '';
    if (current !== text) {
      console.error(`edge-bundle: ${path.relative(ROOT, outFile)} is stale: run \`node tools/edge-bundle.js\``);
      process.exit(1);
    }
    console.log(`edge-bundle: ${path.relative(ROOT, outFile)} is up to date (${bundle.modules.length} modules)`);
    return;
  }
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, text);
  console.log(`edge-bundle: wrote ${path.relative(process.cwd(), outFile)} (${bundle.modules.length} modules)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (e) {
    console.error(`edge-bundle: ${e.message}`);
    process.exit(1);
  }
}
