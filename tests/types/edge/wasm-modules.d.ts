// What wrangler's generated types (or a hand-written declaration) give a Workers
// project whose rules import .wasm files as compiled modules.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
