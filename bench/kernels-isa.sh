#!/bin/sh
# bench/kernels.c twice, SIMD128 and relaxed SIMD, built by the same
# compiler (Debian's clang-19) and linker (wasm-ld-19, no binaryen), then run
# one after the other under the same Node, so the two columns differ only in
# the instructions: the way to tell whether a relaxed kernel pays.
#   bench/kernels-isa.sh [--cold] [TYPE...]      (WL_NODE: a Node >= 22)
set -eu
cd "$(dirname "$0")/.."
node="${WL_NODE:-tests/ref/node22/bin/node}"
out="${WL_BENCH_DIR:-/tmp/wasmllm-bench-isa}"
mkdir -p "$out"
echo '{ "type": "commonjs" }' > "$out/package.json"
export NODE_PATH="${NODE_PATH:-/usr/share/nodejs}" EM_LLVM_ROOT="${WL_LLVM_ROOT:-/usr/lib/llvm-19/bin}" \
  EM_LLVM_ADD_VERSION= EM_CLANG_ADD_VERSION= EMCC_READ_METADATA=python
# kernels.c's main(argc, argv) is __main_argc_argv to clang-19, which emcc
# 3.1.6's Python metadata reader does not see as a main: a main(void) shim
# reads the arguments from a file instead (NODERAWFS: the real one).
cat > "$out/shim.c" <<'SHIM'
#include <stdio.h>
int wl_bench_main(int argc, char **argv);
int main(void) {
    static char words[32][64];
    char *argv[33] = { "kernels" };
    int argc = 1;
    FILE *f = fopen(WL_BENCH_ARGS, "r");
    while (f && argc < 33 && fscanf(f, "%63s", words[argc - 1]) == 1) argv[argc] = words[argc - 1], argc++;
    if (f) fclose(f);
    return wl_bench_main(argc, argv);
}
SHIM
for isa in ${WL_BENCH_ISAS:-simd128 relaxed}; do
  flags="-msimd128"
  case "$isa" in relaxed*) flags="-msimd128 -mrelaxed-simd ${WL_BENCH_RELAXED_FLAGS:-}";; esac
  mkdir -p "$out/$isa"
  objs=""
  for src in bench/kernels.c "$out/shim.c" src/types.c src/quant_*.c src/matmul.c src/repack.c src/threadpool.c; do
    o="$out/$isa/$(basename "$src" .c).o"
    objs="$objs $o"
    rename=""
    if [ "$src" = bench/kernels.c ]; then rename="-Dmain=wl_bench_main"; fi
    # shellcheck disable=SC2086
    emcc -O3 $flags -pthread -Isrc $rename -DWL_BENCH_ARGS="\"$out/args\"" -c "$src" -o "$o" 2>/dev/null &
  done
  wait
  # Linked at -O1: no binaryen (it cannot read the relaxed opcodes), for both columns alike.
  # shellcheck disable=SC2086
  emcc -O1 -sWASM_BIGINT=1 -pthread $objs -o "$out/kernels-$isa.js" -sPTHREAD_POOL_SIZE=4 -sPROXY_TO_PTHREAD=1 \
    -sEXIT_RUNTIME=1 -sINITIAL_MEMORY=512MB -sALLOW_MEMORY_GROWTH=1 -sENVIRONMENT=node -sNODERAWFS=1 2>/dev/null
done
[ "${WL_BENCH_RUN:-1}" = 1 ] || exit 0  # WL_BENCH_RUN=0: build only (to run elsewhere)
echo "$@" > "$out/args"
for isa in ${WL_BENCH_ISAS:-simd128 relaxed}; do
  echo "== $isa"
  "$node" --no-experimental-fetch "$out/kernels-$isa.js"
done
