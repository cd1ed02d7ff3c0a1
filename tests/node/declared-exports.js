/**
 * What a .d.ts declares an entry point exports, read with the TypeScript
 * compiler API, in the shape tests/node/package.test.js also reads from the
 * loaded module: export names, and for functions and class methods whether
 * they return a Promise or an AsyncGenerator (so an async method typed as
 * synchronous, or a method with no declaration, shows up as a difference).
 */

/**
 * @param {typeof import('typescript')} ts
 * @param {string} dtsPath
 * @returns {Record<string, { kind: 'class', members: Record<string, string> } | { kind: 'function', returns: string } | { kind: 'value' }>}
 */
export function declaredExports(ts, dtsPath) {
  const program = ts.createProgram([dtsPath], {
    strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], types: ['node'],
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(dtsPath);
  if (!source) throw new Error(`TypeScript could not read ${dtsPath}`);
  const out = {};
  for (let symbol of checker.getExportsOfModule(checker.getSymbolAtLocation(source))) {
    const name = symbol.name;
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    if (!(symbol.flags & ts.SymbolFlags.Value)) continue;
    if (symbol.flags & ts.SymbolFlags.Class) {
      out[name] = { kind: 'class', members: classMembers(ts, checker, symbol) };
    } else if (symbol.flags & ts.SymbolFlags.Function) {
      out[name] = { kind: 'function', returns: returnKind(ts, checker, symbol) };
    } else {
      out[name] = { kind: 'value' };
    }
  }
  return out;
}

/** 'method:Promise', 'method:AsyncGenerator', 'method' or 'property' per instance member. */
function classMembers(ts, checker, symbol) {
  const members = {};
  for (const member of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))) {
    const decl = member.valueDeclaration ?? member.declarations?.[0];
    if (!decl || decl.getSourceFile().hasNoDefaultLib) continue; // Error's own members come from the lib
    if (member.flags & ts.SymbolFlags.Method) {
      const kind = returnKind(ts, checker, member);
      members[memberName(member.name)] = kind ? `method:${kind}` : 'method';
    } else {
      members[memberName(member.name)] = 'property';
    }
  }
  return members;
}

/** TypeScript's internal name of a symbol-keyed member (`__@iterator@49`) as `[Symbol.iterator]`. */
const memberName = (name) => name.replace(/^__@(\w+)@\d+$/, '[Symbol.$1]');

/** 'Promise' or 'AsyncGenerator' when the (first) call signature returns one, else ''. */
function returnKind(ts, checker, symbol) {
  const decl = symbol.valueDeclaration ?? symbol.declarations[0];
  const [signature] = checker.getSignaturesOfType(checker.getTypeOfSymbolAtLocation(symbol, decl), ts.SignatureKind.Call);
  const name = signature?.getReturnType().getSymbol()?.name;
  return name === 'Promise' || name === 'AsyncGenerator' ? name : '';
}

/**
 * The same description of a loaded module (run in the installed project).
 * @param {Record<string, unknown>} mod
 */
export function runtimeExports(mod) {
  const kindOf = (fn) => ({ AsyncFunction: 'Promise', AsyncGeneratorFunction: 'AsyncGenerator' })[fn.constructor.name] ?? '';
  const out = {};
  for (const [name, value] of Object.entries(mod)) {
    if (typeof value === 'function' && /^class\b/.test(Function.prototype.toString.call(value))) {
      const members = {};
      for (let proto = value.prototype; proto && proto !== Object.prototype && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
        for (const key of Reflect.ownKeys(proto)) {
          if (typeof key === 'symbol' && Symbol[String(key.description).replace(/^Symbol\./, '')] !== key) continue; // a private symbol
          const name = typeof key === 'symbol' ? `[${key.description}]` : key;
          if (name === 'constructor' || name in members) continue;
          const d = Object.getOwnPropertyDescriptor(proto, key);
          members[name] = d.get ? 'property' : kindOf(d.value) ? `method:${kindOf(d.value)}` : 'method';
        }
      }
      out[name] = { kind: 'class', members };
    } else if (typeof value === 'function') {
      out[name] = { kind: 'function', returns: kindOf(value) };
    } else {
      out[name] = { kind: 'value' };
    }
  }
  return out;
}

/**
 * Where the declarations and the module disagree, one line each. A sync
 * function may be declared to return a Promise (it may return one); an async
 * one must be. Declared properties missing from the prototype may be instance fields.
 */
export function exportDifferences(declared, runtime) {
  const out = [];
  for (const name of Object.keys(runtime)) if (!declared[name]) out.push(`${name} is exported but not declared`);
  for (const name of Object.keys(declared)) if (!runtime[name]) out.push(`${name} is declared but not exported`);
  for (const [name, r] of Object.entries(runtime)) {
    const d = declared[name];
    if (!d) continue;
    if (d.kind !== r.kind) {
      out.push(`${name} is a ${r.kind} but declared as a ${d.kind}`);
    } else if (r.kind === 'function' && r.returns && d.returns !== r.returns) {
      out.push(`${name}() returns ${r.returns} but is declared to return ${d.returns || 'no promise'}`);
    } else if (r.kind === 'class') {
      for (const [key, kind] of Object.entries(r.members)) {
        const dk = d.members[key];
        if (!dk) out.push(`${name}.${key} exists but is not declared`);
        else if (kind === 'property' && dk !== 'property') out.push(`${name}.${key} is a getter but declared as a ${dk}`);
        else if (kind !== 'property' && dk === 'property') out.push(`${name}.${key} is a method but declared as a property`);
        else if (kind.includes(':') && dk !== kind) out.push(`${name}.${key}() returns ${kind.slice(7)} but is declared as ${dk}`);
      }
      for (const [key, kind] of Object.entries(d.members)) {
        if (kind !== 'property' && !r.members[key]) out.push(`${name}.${key}() is declared but does not exist`);
      }
    }
  }
  return out;
}
