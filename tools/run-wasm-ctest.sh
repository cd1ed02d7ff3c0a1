#!/bin/sh
# Builds tests/c/test_*.c with emcc -msimd128 (twice: pthreads, and the
# single-threaded WL_NO_THREADS variant) and runs them under node, so the
# SIMD128 kernels are checked against their scalar twins (test_simd_twins)
# and every C test also passes on the wasm target.
# Usage: tools/run-wasm-ctest.sh [name-filter]   e.g. tools/run-wasm-ctest.sh simd,matmul
# WL_WASM_ISA=relaxed builds with -mrelaxed-simd as the relaxed-SIMD builds
# are (clang-19 from WL_LLVM_ROOT, linked without binaryen: CMakeLists.txt
# says why) and runs under WL_NODE, a Node that runs relaxed SIMD
# correctly (22+; tests/ref/node22/bin/node, which setup --test fetches).
set -eu
cd "$(dirname "$0")/.."
export NODE_PATH="${NODE_PATH:-/usr/share/nodejs}"
isa="${WL_WASM_ISA:-simd128}"
node="${WL_NODE:-node}"
isa_cflags=""
link_opt="-O2"
if [ "$isa" = relaxed ]; then
  isa_cflags="-mrelaxed-simd"
  link_opt="-O1 -sWASM_BIGINT=1"
  export EM_LLVM_ROOT="${WL_LLVM_ROOT:-/usr/lib/llvm-19/bin}" EM_LLVM_ADD_VERSION= EM_CLANG_ADD_VERSION= EMCC_READ_METADATA=python
elif [ "$isa" != simd128 ]; then
  echo "WL_WASM_ISA must be simd128 or relaxed, got $isa"; exit 2
fi
out="${WL_WASM_TEST_DIR:-/tmp/wasmllm-wasm-ctest-$isa}"
mkdir -p "$out"
# The glue is CommonJS; inside this repository (type: module) node would
# load a .js as ESM without this.
echo '{ "type": "commonjs" }' > "$out/package.json"
filter="${1:-}"
fail=0
for variant in mt st; do
  if [ "$variant" = mt ]; then
    cflags="-pthread"
    lflags="-pthread -sPTHREAD_POOL_SIZE=8 -sPROXY_TO_PTHREAD=1"
  else
    cflags="-DWL_NO_THREADS=1"
    lflags=""
  fi
  obj="$out/$variant"
  mkdir -p "$obj"
  # Compile the runtime once per variant; only changed sources are rebuilt,
  # and only objects of sources that still exist are linked.
  objs=""
  for src in src/*.c; do
    o="$obj/$(basename "$src" .c).o"
    objs="$objs $o"
    if [ ! -f "$o" ] || [ -n "$(find src -name '*.h' -newer "$o")" ] || [ "$src" -nt "$o" ]; then
      # shellcheck disable=SC2086
      emcc -O3 -msimd128 $isa_cflags -std=gnu11 -Isrc $cflags -c "$src" -o "$o" || { echo "BUILD FAILED: $src ($variant, $isa)"; fail=1; rm -f "$o"; }
    fi
  done
  for t in tests/c/test_*.c; do
    name=$(basename "$t" .c)
    # the filter: name parts, comma-separated (any one selects a test)
    hit=""
    for part in $(echo "${filter:-test}" | tr ',' ' '); do case "$name" in *"$part"*) hit=1 ;; esac; done
    [ -n "$hit" ] || continue
    js="$out/$name-$variant.js"
    # shellcheck disable=SC2086
    if ! emcc $link_opt -msimd128 $isa_cflags -std=gnu11 -Isrc $cflags $lflags -sENVIRONMENT=node -sEXIT_RUNTIME=1 \
         -sALLOW_MEMORY_GROWTH=1 -sNODERAWFS=1 -o "$js" "$t" $objs -lm; then
      echo "BUILD FAILED: $name ($variant, $isa)"; fail=1; continue
    fi
    # Emscripten 3.1.6 glue trips over Node >= 18's global fetch: disable it.
    if "$node" --no-experimental-fetch "$js"; then echo "PASS: $name ($variant, $isa)"; else echo "FAIL: $name ($variant, $isa)"; fail=1; fi
  done
done
exit $fail
