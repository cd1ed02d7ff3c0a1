#!/usr/bin/env node
/**
 * Which x86 instructions this Node's V8 emits for relaxed SIMD's
 * i32x4.relaxed_dot_i8x16_i7x16_add_s: vpdpbusd (VNNI, 16 products and the add in
 * one instruction) or vpmaddubsw + vpmaddwd (+ add) as on CPUs without VNNI.
 * Compiles a 16-byte-step dot loop (the module below: clang-19 -O2 -mrelaxed-simd
 * of a loop over wasm_i32x4_relaxed_dot_i8x16_i7x16_add) with TurboFan and reads
 * V8's disassembly (--print-wasm-code, present in official Node builds).
 *
 *   node22 bench/isa-lowering.js      prints the instruction counts and the CPU's VNNI flags
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const DOT_WASM = 'AGFzbQEAAAABCAFgA39/fwF/AwIBAAQFAXABAQEFAwEAAgYIAX8BQYCIBAsHEAIGbWVtb3J5AgADZG90AAAKzwIBzAICAXsEfwJAAkAgAkEBTg0A/QwAAAAAAAAAAAAAAAAAAAAAIQMMAQsgAkF/akEEdkEBaiIEQQNxIQUCQAJAIAJBMU8NAP0MAAAAAAAAAAAAAAAAAAAAACEDQQAhAgwBCyAEQfz///8BcSEG/QwAAAAAAAAAAAAAAAAAAAAAIQNBACECA0AgACACaiIEQTBq/QAAACABIAJqIgdBMGr9AAAAIARBIGr9AAAAIAdBIGr9AAAAIARBEGr9AAAAIAdBEGr9AAAAIAT9AAAAIAf9AAAAIAP9kwL9kwL9kwL9kwIhAyACQcAAaiECIAZBfGoiBg0ACwsgBUUNACAAIAJqIQQgASACaiECA0AgBP0AAAAgAv0AAAAgA/2TAiEDIARBEGohBCACQRBqIQIgBUF/aiIFDQALCyAD/RsAIAP9GwFqIAP9GwJqIAP9GwNqCwAsBG5hbWUACQhkb3Qud2FzbQEGAQADZG90BxIBAA9fX3N0YWNrX3BvaW50ZXIAOQlwcm9kdWNlcnMBDHByb2Nlc3NlZC1ieQEMRGViaWFuIGNsYW5nEjE5LjEuNyAoM35kZWIxMnUxKQBgD3RhcmdldF9mZWF0dXJlcwYrCm11bHRpdmFsdWUrD211dGFibGUtZ2xvYmFscysPcmVmZXJlbmNlLXR5cGVzKwxyZWxheGVkLXNpbWQrCHNpZ24tZXh0KwdzaW1kMTI4';

if (process.argv[2] === '--child') {
  const m = new WebAssembly.Module(Buffer.from(DOT_WASM, 'base64'));
  const { exports } = new WebAssembly.Instance(m, {});
  const a = new Int8Array(exports.memory.buffer, 1024, 64);
  const b = new Int8Array(exports.memory.buffer, 2048, 64);
  let want = 0;
  for (let k = 0; k < 64; k++) { a[k] = k * 7 - 100; b[k] = k; want += a[k] * b[k]; }
  console.log(`dot ${exports.dot(1024, 2048, 64)} expected ${want}`);
} else {
  const r = spawnSync(process.execPath, ['--no-liftoff', '--print-wasm-code', fileURLToPath(import.meta.url), '--child'], { encoding: 'utf8' });
  const count = (re) => (r.stdout.match(re) ?? []).length;
  const flags = (/^flags\s*:(.*)$/m.exec(fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '')?.[1] ?? '')
    .split(' ').filter((f) => /vnni/.test(f));
  console.log(JSON.stringify({
    node: process.versions.node, v8: process.versions.v8, cpu_vnni_flags: flags,
    vpdpbusd: count(/\bvpdpbusd\b/g), vpmaddubsw: count(/\bvpmaddubsw\b/g), vpmaddwd: count(/\bvpmaddwd\b/g),
    result: /dot .*/.exec(r.stdout)?.[0] ?? r.stderr.trim().split('\n').pop(),
  }));
}
