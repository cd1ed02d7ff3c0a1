/**
 * Whether this host runs relaxed SIMD's integer dot product as the
 * relaxed-SIMD builds need it: the instruction validates, and on fixed
 * inputs (signed bytes against bytes 0..127, the only operands the kernels
 * pass) it gives the exact sums. Node 20 validates it behind
 * --experimental-wasm-relaxed-simd yet computes an older draft's result, so
 * validating alone is not enough.
 */

// i8 operand (signed, both extremes), i7 operand (0..127), accumulator.
const A = [-128, 127, -1, 5, 100, -100, 3, -7, 64, -64, 1, 0, -128, -128, 127, 127];
const B = [127, 127, 1, 0, 2, 3, 126, 5, 0, 1, 127, 64, 127, 127, 127, 127];
const C = [1, -2, 1000, -1000];

/** The four i32 lanes of i32x4.relaxed_dot_i8x16_i7x16_add_s(A, B, C). */
function expected() {
  return C.map((c, lane) => {
    let s = c;
    for (let j = 0; j < 4; j++) s += A[4 * lane + j] * B[4 * lane + j];
    return s;
  });
}

/** 16 bytes of a v128.const: signed bytes, or i32 lanes little-endian. */
const bytes8 = (v) => v.map((x) => x & 0xff);
const bytes32 = (v) => v.flatMap((x) => [x & 0xff, (x >> 8) & 0xff, (x >> 16) & 0xff, (x >>> 24) & 0xff]);
const v128Const = (b) => [0xfd, 0x0c, ...b];

/**
 * (module (func (export "probe") (result i32)
 *   (i32x4.all_true (i32x4.eq (i32x4.relaxed_dot_i8x16_i7x16_add_s A B C) EXPECTED))))
 */
function probeModuleBytes() {
  const body = [
    0x00, // no locals
    ...v128Const(bytes8(A)), ...v128Const(bytes8(B)), ...v128Const(bytes32(C)),
    0xfd, 0x93, 0x02, // i32x4.relaxed_dot_i8x16_i7x16_add_s (0x113)
    ...v128Const(bytes32(expected())),
    0xfd, 0x37, // i32x4.eq
    0xfd, 0xa3, 0x01, // i32x4.all_true (0xa3)
    0x0b,
  ];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: () -> i32
    0x03, 0x02, 0x01, 0x00, // one function of type 0
    0x07, 0x09, 0x01, 0x05, 0x70, 0x72, 0x6f, 0x62, 0x65, 0x00, 0x00, // export "probe"
    0x0a, body.length + 2, 0x01, body.length, ...body,
  ]);
}

let cached;

/** @returns {boolean} */
export function relaxedSimdWorks() {
  if (cached === undefined) {
    try {
      const bytes = probeModuleBytes();
      cached = WebAssembly.validate(bytes)
        && new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.probe() === 1;
    } catch {
      cached = false;
    }
  }
  return cached;
}

