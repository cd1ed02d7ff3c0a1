/**
 * JS encoders (and decoders, for tests) of ggml's tensor block formats.
 *
 * F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 follow ggml's reference
 * quantizers bit for bit (every float step is rounded to f32 with
 * Math.fround, as C computes it), so a file written here holds the bytes
 * llama.cpp's own `*_ref` quantizers would produce. The K-quants and the
 * IQ4 formats use a simpler min/max search than ggml's iterative one: the
 * encodings are valid and close, not identical to llama-quantize's output.
 * Only the test tools use this module; the runtime never does.
 */
const fround = Math.fround;

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/**
 * f32 -> IEEE binary16 bits, round to nearest even, with subnormals,
 * overflow to infinity and NaN kept a (quiet) NaN.
 * @param {number} x
 */
export function f32ToF16Bits(x) {
  f32Scratch[0] = x;
  const b = u32Scratch[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15; // biased f16 exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Result is subnormal (or zero): value = h * 2^-24.
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    let h = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/** @param {number} h binary16 bits @returns {number} */
export function f16BitsToF32(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** Rounds through f16 and back, as storing a ggml_half does. @param {number} x */
export function roundF16(x) {
  return f16BitsToF32(f32ToF16Bits(x));
}

/**
 * f32 -> bfloat16 bits the way ggml converts: round to nearest even on the
 * upper half, NaNs forced quiet.
 * @param {number} x
 */
export function f32ToBf16Bits(x) {
  f32Scratch[0] = x;
  const u = u32Scratch[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** @param {number} h @returns {number} */
export function bf16BitsToF32(h) {
  u32Scratch[0] = (h & 0xffff) << 16;
  return f32Scratch[0];
}

/** C's roundf: halves away from zero. @param {number} x */
function roundAway(x) {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/** ggml's nearest_int (round half to even, via the 1.5*2^23 trick). @param {number} x */
function nearestInt(x) {
  const r = Math.round(x); // halves go up; pull odd results of exact halves back down
  return r - x === 0.5 && (r & 1) ? r - 1 : r;
}

const clamp = (v, lo, hi) => (v < lo ? lo : v > hi ? hi : v);

/** @param {Uint8Array} out @param {number} p @param {number} bits */
function put16(out, p, bits) {
  out[p] = bits & 0xff;
  out[p + 1] = bits >>> 8;
}
/** @param {Uint8Array} b @param {number} p */
const get16 = (b, p) => b[p] | (b[p + 1] << 8);
/** @param {Uint8Array} b @param {number} p */
const getF16 = (b, p) => f16BitsToF32(get16(b, p));

// ---------------------------------------------------------------- 32-blocks

/** @param {Float32Array} x @param {number} o @param {Uint8Array} out @param {number} p */
function encodeQ8_0(x, o, out, p) {
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[o + j]));
  const d = fround(amax / 127);
  const id = d ? fround(1 / d) : 0;
  put16(out, p, f32ToF16Bits(d));
  for (let j = 0; j < 32; j++) out[p + 2 + j] = roundAway(fround(x[o + j] * id)) & 0xff;
}
function decodeQ8_0(b, p, y, o) {
  const d = getF16(b, p);
  for (let j = 0; j < 32; j++) y[o + j] = fround(((b[p + 2 + j] << 24) >> 24) * d);
}

/** Signed value of largest magnitude (the first one, on ties), as ggml picks it. */
function signedAbsMax(x, o, n) {
  let amax = 0, max = 0;
  for (let j = 0; j < n; j++) {
    const v = x[o + j];
    if (amax < Math.abs(v)) { amax = Math.abs(v); max = v; }
  }
  return max;
}

function encodeQ4_0(x, o, out, p) {
  const d = fround(signedAbsMax(x, o, 32) / -8);
  const id = d ? fround(1 / d) : 0;
  put16(out, p, f32ToF16Bits(d));
  for (let j = 0; j < 16; j++) {
    // (int8_t) truncates toward zero; the sums are >= 0.5 so trunc == floor.
    const q0 = Math.min(15, Math.trunc(fround(fround(x[o + j] * id) + 8.5)));
    const q1 = Math.min(15, Math.trunc(fround(fround(x[o + 16 + j] * id) + 8.5)));
    out[p + 2 + j] = q0 | (q1 << 4);
  }
}
function decodeQ4_0(b, p, y, o) {
  const d = getF16(b, p);
  for (let j = 0; j < 16; j++) {
    y[o + j] = fround(((b[p + 2 + j] & 15) - 8) * d);
    y[o + 16 + j] = fround(((b[p + 2 + j] >> 4) - 8) * d);
  }
}

function minMax(x, o, n) {
  let min = Infinity, max = -Infinity;
  for (let j = 0; j < n; j++) {
    const v = x[o + j];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

function encodeQ4_1(x, o, out, p) {
  const [min, max] = minMax(x, o, 32);
  const d = fround(fround(max - min) / 15);
  const id = d ? fround(1 / d) : 0;
  put16(out, p, f32ToF16Bits(d));
  put16(out, p + 2, f32ToF16Bits(min));
  for (let j = 0; j < 16; j++) {
    const q0 = Math.min(15, Math.trunc(fround(fround(fround(x[o + j] - min) * id) + 0.5)));
    const q1 = Math.min(15, Math.trunc(fround(fround(fround(x[o + 16 + j] - min) * id) + 0.5)));
    out[p + 4 + j] = q0 | (q1 << 4);
  }
}
function decodeQ4_1(b, p, y, o) {
  const d = getF16(b, p), m = getF16(b, p + 2);
  for (let j = 0; j < 16; j++) {
    y[o + j] = fround(fround((b[p + 4 + j] & 15) * d) + m);
    y[o + 16 + j] = fround(fround((b[p + 4 + j] >> 4) * d) + m);
  }
}

/** Writes 5-bit quants q[32] as 16 low-nibble bytes at qs and a 32-bit high-bit mask at qh. */
function pack5(q, out, qhPos, qsPos) {
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    out[qsPos + j] = (q[j] & 15) | ((q[16 + j] & 15) << 4);
    qh |= ((q[j] >> 4) & 1) << j;
    qh |= ((q[16 + j] >> 4) & 1) << (j + 16);
  }
  out[qhPos] = qh & 0xff; out[qhPos + 1] = (qh >>> 8) & 0xff;
  out[qhPos + 2] = (qh >>> 16) & 0xff; out[qhPos + 3] = qh >>> 24;
}
function unpack5(b, qhPos, qsPos, j) {
  const qh = b[qhPos] | (b[qhPos + 1] << 8) | (b[qhPos + 2] << 16) | (b[qhPos + 3] << 24);
  const lo = j < 16 ? b[qsPos + j] & 15 : b[qsPos + j - 16] >> 4;
  return lo | (((qh >>> j) & 1) << 4);
}

const q5Scratch = new Uint8Array(32);
function encodeQ5_0(x, o, out, p) {
  const d = fround(signedAbsMax(x, o, 32) / -16);
  const id = d ? fround(1 / d) : 0;
  put16(out, p, f32ToF16Bits(d));
  for (let j = 0; j < 32; j++) q5Scratch[j] = Math.min(31, Math.trunc(fround(fround(x[o + j] * id) + 16.5)));
  pack5(q5Scratch, out, p + 2, p + 6);
}
function decodeQ5_0(b, p, y, o) {
  const d = getF16(b, p);
  for (let j = 0; j < 32; j++) y[o + j] = fround((unpack5(b, p + 2, p + 6, j) - 16) * d);
}

function encodeQ5_1(x, o, out, p) {
  const [min, max] = minMax(x, o, 32);
  const d = fround(fround(max - min) / 31);
  const id = d ? fround(1 / d) : 0;
  put16(out, p, f32ToF16Bits(d));
  put16(out, p + 2, f32ToF16Bits(min));
  // ggml casts to uint8 without a clamp; max maps to at most 31.5 -> 31.
  for (let j = 0; j < 32; j++) q5Scratch[j] = Math.min(31, Math.trunc(fround(fround(fround(x[o + j] - min) * id) + 0.5)));
  pack5(q5Scratch, out, p + 4, p + 8);
}
function decodeQ5_1(b, p, y, o) {
  const d = getF16(b, p), m = getF16(b, p + 2);
  for (let j = 0; j < 32; j++) y[o + j] = fround(fround(unpack5(b, p + 4, p + 8, j) * d) + m);
}

/** The 16 non-uniform levels of IQ4_NL and IQ4_XS. */
export const IQ4_LEVELS = Object.freeze([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]);

/** Index of the IQ4 level nearest to v (v in level units). */
function nearestIq4(v) {
  let best = 0, err = Infinity;
  for (let i = 0; i < 16; i++) {
    const e = Math.abs(IQ4_LEVELS[i] - v);
    if (e < err) { err = e; best = i; }
  }
  return best;
}

/**
 * Encodes 32 values on IQ4 levels with scale d (levels*d ~ x); returns the
 * least-squares scale for the chosen levels so a second pass can refine it.
 */
function iq4Pick(x, o, d, q) {
  const id = d ? 1 / d : 0;
  let sumqx = 0, sumq2 = 0;
  for (let j = 0; j < 32; j++) {
    q[j] = nearestIq4(x[o + j] * id);
    const l = IQ4_LEVELS[q[j]];
    sumqx += l * x[o + j];
    sumq2 += l * l;
  }
  return sumq2 > 0 ? sumqx / sumq2 : 0;
}

const iq4Scratch = new Uint8Array(32);
function encodeIQ4_NL(x, o, out, p) {
  // The largest magnitude lands on the -127 level; one least-squares pass refines d.
  let d = signedAbsMax(x, o, 32) / IQ4_LEVELS[0];
  d = iq4Pick(x, o, d, iq4Scratch) || d;
  d = roundF16(d);
  iq4Pick(x, o, d, iq4Scratch);
  put16(out, p, f32ToF16Bits(d));
  for (let j = 0; j < 16; j++) out[p + 2 + j] = iq4Scratch[j] | (iq4Scratch[16 + j] << 4);
}
function decodeIQ4_NL(b, p, y, o) {
  const d = getF16(b, p);
  for (let j = 0; j < 16; j++) {
    y[o + j] = fround(d * IQ4_LEVELS[b[p + 2 + j] & 15]);
    y[o + 16 + j] = fround(d * IQ4_LEVELS[b[p + 2 + j] >> 4]);
  }
}

// ---------------------------------------------------------------- K-quants (256-blocks)

/**
 * Affine fit of one sub-block: x ~ scale*q - min with q in [0, nmax] and
 * min >= 0 (ggml's K-quants keep the offset non-positive in value space).
 */
function affineFit(x, o, n, nmax) {
  let [lo, hi] = minMax(x, o, n);
  if (lo > 0) lo = 0;
  return { scale: hi > lo ? (hi - lo) / nmax : 0, min: -lo };
}

/** Packs 8 six-bit scales and mins of Q4_K/Q5_K into their 12 bytes. */
function packScales6(ls, lm, out, p) {
  for (let j = 0; j < 12; j++) out[p + j] = 0;
  for (let j = 0; j < 8; j++) {
    if (j < 4) {
      out[p + j] |= ls[j] & 63;
      out[p + j + 4] |= lm[j] & 63;
    } else {
      out[p + j + 4] = (ls[j] & 15) | ((lm[j] & 15) << 4);
      out[p + j - 4] |= (ls[j] >> 4) << 6;
      out[p + j] |= (lm[j] >> 4) << 6;
    }
  }
}
/** @returns {[number, number]} scale and min of sub-block j */
function unpackScales6(b, p, j) {
  if (j < 4) return [b[p + j] & 63, b[p + j + 4] & 63];
  return [(b[p + j + 4] & 15) | ((b[p + j - 4] >> 6) << 4), (b[p + j + 4] >> 4) | ((b[p + j] >> 6) << 4)];
}

/**
 * Shared front half of Q4_K and Q5_K: per 32-value sub-block scale and min,
 * quantized to 6 bits against two f16 super-scales; then the quants.
 * @returns {{ d: number, dmin: number, ls: number[], lm: number[], q: Uint8Array }}
 */
function kquantAffine(x, o, nmax) {
  const fits = [];
  let maxScale = 0, maxMin = 0;
  for (let j = 0; j < 8; j++) {
    const f = affineFit(x, o + 32 * j, 32, nmax);
    fits.push(f);
    maxScale = Math.max(maxScale, f.scale);
    maxMin = Math.max(maxMin, f.min);
  }
  const d = roundF16(maxScale / 63), dmin = roundF16(maxMin / 63);
  const ls = fits.map((f) => (d ? clamp(nearestInt(f.scale / d), 0, 63) : 0));
  const lm = fits.map((f) => (dmin ? clamp(nearestInt(f.min / dmin), 0, 63) : 0));
  const q = new Uint8Array(256);
  for (let j = 0; j < 8; j++) {
    const sc = d * ls[j], mn = dmin * lm[j];
    if (!sc) continue;
    for (let l = 0; l < 32; l++) q[32 * j + l] = clamp(nearestInt((x[o + 32 * j + l] + mn) / sc), 0, nmax);
  }
  return { d, dmin, ls, lm, q };
}

function encodeQ4_K(x, o, out, p) {
  const { d, dmin, ls, lm, q } = kquantAffine(x, o, 15);
  put16(out, p, f32ToF16Bits(d));
  put16(out, p + 2, f32ToF16Bits(dmin));
  packScales6(ls, lm, out, p + 4);
  // Each 64-value chunk: first 32 in the low nibbles, next 32 in the high.
  for (let c = 0; c < 4; c++) {
    for (let l = 0; l < 32; l++) out[p + 16 + 32 * c + l] = q[64 * c + l] | (q[64 * c + 32 + l] << 4);
  }
}
function decodeQ4_K(b, p, y, o) {
  const d = getF16(b, p), dmin = getF16(b, p + 2);
  for (let c = 0; c < 4; c++) {
    for (let h = 0; h < 2; h++) {
      const [sc, m] = unpackScales6(b, p + 4, 2 * c + h);
      const d1 = fround(d * sc), m1 = fround(dmin * m);
      for (let l = 0; l < 32; l++) {
        const byte = b[p + 16 + 32 * c + l];
        y[o + 64 * c + 32 * h + l] = fround(fround(d1 * (h ? byte >> 4 : byte & 15)) - m1);
      }
    }
  }
}

function encodeQ5_K(x, o, out, p) {
  const { d, dmin, ls, lm, q } = kquantAffine(x, o, 31);
  put16(out, p, f32ToF16Bits(d));
  put16(out, p + 2, f32ToF16Bits(dmin));
  packScales6(ls, lm, out, p + 4);
  const qh = p + 16, qs = p + 48;
  for (let l = 0; l < 32; l++) out[qh + l] = 0;
  for (let c = 0; c < 4; c++) {
    for (let l = 0; l < 32; l++) {
      const a = q[64 * c + l], bq = q[64 * c + 32 + l];
      out[qs + 32 * c + l] = (a & 15) | ((bq & 15) << 4);
      out[qh + l] |= ((a >> 4) << (2 * c)) | ((bq >> 4) << (2 * c + 1));
    }
  }
}
function decodeQ5_K(b, p, y, o) {
  const d = getF16(b, p), dmin = getF16(b, p + 2);
  const qh = p + 16, qs = p + 48;
  for (let c = 0; c < 4; c++) {
    for (let h = 0; h < 2; h++) {
      const [sc, m] = unpackScales6(b, p + 4, 2 * c + h);
      const d1 = fround(d * sc), m1 = fround(dmin * m);
      for (let l = 0; l < 32; l++) {
        const byte = b[qs + 32 * c + l];
        const v = (h ? byte >> 4 : byte & 15) + (((b[qh + l] >> (2 * c + h)) & 1) << 4);
        y[o + 64 * c + 32 * h + l] = fround(fround(d1 * v) - m1);
      }
    }
  }
}

/** 2-bit quants of 256 values in ggml's order: byte = 32*(e/128) + e%32, shift = 2*((e%128)/32). */
function pack2(q, out, p) {
  for (let c = 0; c < 2; c++) {
    for (let l = 0; l < 32; l++) {
      const e = 128 * c + l;
      out[p + 32 * c + l] = (q[e] & 3) | ((q[e + 32] & 3) << 2) | ((q[e + 64] & 3) << 4) | ((q[e + 96] & 3) << 6);
    }
  }
}
const get2 = (b, p, e) => (b[p + 32 * (e >> 7) + (e & 31)] >> (2 * ((e & 127) >> 5))) & 3;

function encodeQ2_K(x, o, out, p) {
  const fits = [];
  let maxScale = 0, maxMin = 0;
  for (let j = 0; j < 16; j++) {
    const f = affineFit(x, o + 16 * j, 16, 3);
    fits.push(f);
    maxScale = Math.max(maxScale, f.scale);
    maxMin = Math.max(maxMin, f.min);
  }
  const d = roundF16(maxScale / 15), dmin = roundF16(maxMin / 15);
  const q = new Uint8Array(256);
  for (let j = 0; j < 16; j++) {
    const ls = d ? clamp(nearestInt(fits[j].scale / d), 0, 15) : 0;
    const lm = dmin ? clamp(nearestInt(fits[j].min / dmin), 0, 15) : 0;
    out[p + j] = ls | (lm << 4);
    const sc = d * ls, mn = dmin * lm;
    if (!sc) continue;
    for (let l = 0; l < 16; l++) q[16 * j + l] = clamp(nearestInt((x[o + 16 * j + l] + mn) / sc), 0, 3);
  }
  pack2(q, out, p + 16);
  put16(out, p + 80, f32ToF16Bits(d));
  put16(out, p + 82, f32ToF16Bits(dmin));
}
function decodeQ2_K(b, p, y, o) {
  const d = getF16(b, p + 80), dmin = getF16(b, p + 82);
  for (let e = 0; e < 256; e++) {
    const sc = b[p + (e >> 4)];
    y[o + e] = fround(fround(fround(d * (sc & 15)) * get2(b, p + 16, e)) - fround(dmin * (sc >> 4)));
  }
}

/** Signed symmetric fit: x ~ s*q, q in [-nmax, nmax-1], the largest magnitude at -nmax. */
const symScale = (x, o, n, nmax) => signedAbsMax(x, o, n) / -nmax;

function encodeQ3_K(x, o, out, p) {
  const s = [];
  let big = 0;
  for (let j = 0; j < 16; j++) {
    s.push(symScale(x, o + 16 * j, 16, 4));
    if (Math.abs(s[j]) > Math.abs(big)) big = s[j];
  }
  const d = roundF16(big / -32);
  const hmask = p, qs = p + 32, scales = p + 96;
  for (let j = 0; j < 12; j++) out[scales + j] = 0;
  const q = new Uint8Array(256);
  for (let j = 0; j < 16; j++) {
    const l = d ? clamp(nearestInt(s[j] / d), -32, 31) : 0;
    const u = l + 32;
    out[scales + (j % 8)] |= (u & 15) << (4 * (j >> 3));
    out[scales + 8 + (j % 4)] |= (u >> 4) << (2 * (j >> 2));
    const sc = d * l;
    for (let i = 0; i < 16; i++) q[16 * j + i] = (sc ? clamp(nearestInt(x[o + 16 * j + i] / sc), -4, 3) : 0) + 4;
  }
  for (let j = 0; j < 32; j++) out[hmask + j] = 0;
  for (let e = 0; e < 256; e++) {
    if (q[e] > 3) { out[hmask + (e & 31)] |= 1 << (e >> 5); q[e] -= 4; }
  }
  pack2(q, out, qs);
  put16(out, p + 108, f32ToF16Bits(d));
}
function decodeQ3_K(b, p, y, o) {
  const d = getF16(b, p + 108);
  const hmask = p, qs = p + 32, scales = p + 96;
  for (let e = 0; e < 256; e++) {
    const j = e >> 4;
    const u = ((b[scales + (j % 8)] >> (4 * (j >> 3))) & 15) | (((b[scales + 8 + (j % 4)] >> (2 * (j >> 2))) & 3) << 4);
    const hi = (b[hmask + (e & 31)] >> (e >> 5)) & 1;
    y[o + e] = fround(fround(d * (u - 32)) * (get2(b, qs, e) - (hi ? 0 : 4)));
  }
}

function encodeQ6_K(x, o, out, p) {
  const s = [];
  let amax = 0;
  for (let j = 0; j < 16; j++) {
    s.push(symScale(x, o + 16 * j, 16, 32));
    amax = Math.max(amax, Math.abs(s[j]));
  }
  const d = roundF16(amax / 127);
  const ql = p, qh = p + 128, scales = p + 192;
  const q = new Uint8Array(256);
  for (let j = 0; j < 16; j++) {
    const l = d ? clamp(nearestInt(s[j] / d), -128, 127) : 0;
    out[scales + j] = l & 0xff;
    const sc = d * l;
    for (let i = 0; i < 16; i++) q[16 * j + i] = (sc ? clamp(nearestInt(x[o + 16 * j + i] / sc), -32, 31) : 0) + 32;
  }
  // Per 128-chunk: ql[l] holds e=l (low nibble) and l+64 (high); ql[l+32] holds l+32 and l+96.
  for (let c = 0; c < 2; c++) {
    const e0 = 128 * c, qlc = ql + 64 * c, qhc = qh + 32 * c;
    for (let l = 0; l < 32; l++) {
      const a = q[e0 + l], bq = q[e0 + l + 32], cq = q[e0 + l + 64], dq = q[e0 + l + 96];
      out[qlc + l] = (a & 15) | ((cq & 15) << 4);
      out[qlc + l + 32] = (bq & 15) | ((dq & 15) << 4);
      out[qhc + l] = (a >> 4) | ((bq >> 4) << 2) | ((cq >> 4) << 4) | ((dq >> 4) << 6);
    }
  }
  put16(out, p + 208, f32ToF16Bits(d));
}
function decodeQ6_K(b, p, y, o) {
  const d = getF16(b, p + 208);
  const ql = p, qh = p + 128, scales = p + 192;
  for (let c = 0; c < 2; c++) {
    const qlc = ql + 64 * c, qhc = qh + 32 * c, sc = scales + 8 * c;
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const h = b[qhc + l];
      const q1 = ((b[qlc + l] & 15) | ((h & 3) << 4)) - 32;
      const q2 = ((b[qlc + l + 32] & 15) | (((h >> 2) & 3) << 4)) - 32;
      const q3 = ((b[qlc + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
      const q4 = ((b[qlc + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
      const s8 = (k) => (b[sc + is + k] << 24) >> 24;
      y[o + 128 * c + l] = fround(fround(d * s8(0)) * q1);
      y[o + 128 * c + l + 32] = fround(fround(d * s8(2)) * q2);
      y[o + 128 * c + l + 64] = fround(fround(d * s8(4)) * q3);
      y[o + 128 * c + l + 96] = fround(fround(d * s8(6)) * q4);
    }
  }
}

function encodeIQ4_XS(x, o, out, p) {
  const s = [];
  let big = 0;
  for (let j = 0; j < 8; j++) {
    let sj = signedAbsMax(x, o + 32 * j, 32) / IQ4_LEVELS[0];
    sj = iq4Pick(x, o + 32 * j, sj, iq4Scratch) || sj;
    s.push(sj);
    if (Math.abs(sj) > Math.abs(big)) big = sj;
  }
  // Sub-scales are 6-bit signed (ls - 32); the biggest maps to -32.
  const d = roundF16(big / -32);
  let scalesH = 0;
  for (let j = 0; j < 4; j++) out[p + 4 + j] = 0;
  for (let j = 0; j < 8; j++) {
    const l = d ? clamp(nearestInt(s[j] / d), -32, 31) : 0;
    const u = l + 32;
    out[p + 4 + (j >> 1)] |= (u & 15) << (4 * (j & 1));
    scalesH |= (u >> 4) << (2 * j);
    iq4Pick(x, o + 32 * j, d * l, iq4Scratch);
    for (let i = 0; i < 16; i++) out[p + 8 + 16 * j + i] = iq4Scratch[i] | (iq4Scratch[16 + i] << 4);
  }
  put16(out, p, f32ToF16Bits(d));
  put16(out, p + 2, scalesH);
}
function decodeIQ4_XS(b, p, y, o) {
  const d = getF16(b, p);
  const scalesH = get16(b, p + 2);
  for (let j = 0; j < 8; j++) {
    const u = ((b[p + 4 + (j >> 1)] >> (4 * (j & 1))) & 15) | (((scalesH >> (2 * j)) & 3) << 4);
    const dl = fround(d * (u - 32));
    for (let i = 0; i < 16; i++) {
      const byte = b[p + 8 + 16 * j + i];
      y[o + 32 * j + i] = fround(dl * IQ4_LEVELS[byte & 15]);
      y[o + 32 * j + 16 + i] = fround(dl * IQ4_LEVELS[byte >> 4]);
    }
  }
}

// ---------------------------------------------------------------- table

/**
 * @typedef {{ id: number, blockSize: number, typeSize: number,
 *   encode: (x: Float32Array, o: number, out: Uint8Array, p: number) => void,
 *   decode: (b: Uint8Array, p: number, y: Float32Array, o: number) => void }} BlockFormat
 * @type {Record<string, BlockFormat>}
 */
export const FORMATS = {
  F32: {
    id: 0, blockSize: 1, typeSize: 4,
    encode(x, o, out, p) { f32Scratch[0] = x[o]; const u = u32Scratch[0]; out[p] = u & 255; out[p + 1] = (u >>> 8) & 255; out[p + 2] = (u >>> 16) & 255; out[p + 3] = u >>> 24; },
    decode(b, p, y, o) { u32Scratch[0] = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24); y[o] = f32Scratch[0]; },
  },
  F16: {
    id: 1, blockSize: 1, typeSize: 2,
    encode(x, o, out, p) { put16(out, p, f32ToF16Bits(x[o])); },
    decode(b, p, y, o) { y[o] = getF16(b, p); },
  },
  BF16: {
    id: 30, blockSize: 1, typeSize: 2,
    encode(x, o, out, p) { put16(out, p, f32ToBf16Bits(x[o])); },
    decode(b, p, y, o) { y[o] = bf16BitsToF32(get16(b, p)); },
  },
  Q4_0: { id: 2, blockSize: 32, typeSize: 18, encode: encodeQ4_0, decode: decodeQ4_0 },
  Q4_1: { id: 3, blockSize: 32, typeSize: 20, encode: encodeQ4_1, decode: decodeQ4_1 },
  Q5_0: { id: 6, blockSize: 32, typeSize: 22, encode: encodeQ5_0, decode: decodeQ5_0 },
  Q5_1: { id: 7, blockSize: 32, typeSize: 24, encode: encodeQ5_1, decode: decodeQ5_1 },
  Q8_0: { id: 8, blockSize: 32, typeSize: 34, encode: encodeQ8_0, decode: decodeQ8_0 },
  Q2_K: { id: 10, blockSize: 256, typeSize: 84, encode: encodeQ2_K, decode: decodeQ2_K },
  Q3_K: { id: 11, blockSize: 256, typeSize: 110, encode: encodeQ3_K, decode: decodeQ3_K },
  Q4_K: { id: 12, blockSize: 256, typeSize: 144, encode: encodeQ4_K, decode: decodeQ4_K },
  Q5_K: { id: 13, blockSize: 256, typeSize: 176, encode: encodeQ5_K, decode: decodeQ5_K },
  Q6_K: { id: 14, blockSize: 256, typeSize: 210, encode: encodeQ6_K, decode: decodeQ6_K },
  IQ4_NL: { id: 20, blockSize: 32, typeSize: 18, encode: encodeIQ4_NL, decode: decodeIQ4_NL },
  IQ4_XS: { id: 23, blockSize: 256, typeSize: 136, encode: encodeIQ4_XS, decode: decodeIQ4_XS },
};

/** @param {string} typeName @returns {BlockFormat} */
export function formatOf(typeName) {
  const f = FORMATS[String(typeName).toUpperCase()];
  if (!f) throw new Error(`quantize: no encoder for tensor type ${typeName} (have ${Object.keys(FORMATS).join(', ')})`);
  return f;
}

/** Bytes that n values take in a type. @param {string} typeName @param {number} n */
export function encodedSize(typeName, n) {
  const f = formatOf(typeName);
  if (n % f.blockSize !== 0) throw new Error(`quantize: ${n} values are not a whole number of ${typeName} blocks (${f.blockSize})`);
  return (n / f.blockSize) * f.typeSize;
}

/**
 * Encodes values into a type's blocks (rows are simply consecutive blocks).
 * @param {string} typeName @param {Float32Array} x @param {Uint8Array} [out]
 * @returns {Uint8Array}
 */
export function encode(typeName, x, out) {
  const f = formatOf(typeName);
  const size = encodedSize(typeName, x.length);
  out ??= new Uint8Array(size);
  if (out.length < size) throw new Error(`quantize: output of ${out.length} bytes, need ${size}`);
  const nBlocks = x.length / f.blockSize;
  for (let i = 0; i < nBlocks; i++) f.encode(x, i * f.blockSize, out, i * f.typeSize);
  return out;
}

/**
 * Decodes blocks back to f32 (ggml's dequantize_row_* semantics).
 * @param {string} typeName @param {Uint8Array} bytes @param {number} n values
 * @returns {Float32Array}
 */
export function decode(typeName, bytes, n) {
  const f = formatOf(typeName);
  const size = encodedSize(typeName, n);
  if (bytes.length < size) throw new Error(`quantize: ${bytes.length} bytes hold fewer than ${n} ${typeName} values`);
  const y = new Float32Array(n);
  const nBlocks = n / f.blockSize;
  for (let i = 0; i < nBlocks; i++) f.decode(bytes, i * f.typeSize, y, i * f.blockSize);
  return y;
}
