// The declaration a Workers project adds (README, TypeScript) for its bundler's rule
// that imports .wasm files as compiled modules.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
