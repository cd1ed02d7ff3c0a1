/**
 * Incremental SHA-256 (FIPS 180-4). WebCrypto's digest() needs the whole
 * input in one buffer, which is exactly the copy a streamed multi-GB shard
 * must avoid; this hashes chunk by chunk as bytes arrive.
 */

// Int32Array, not Uint32Array: values past 2^31 would leave V8's small-integer
// fast path and make every round float arithmetic (5x slower).
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export class Sha256 {
  constructor() {
    this.h = new Int32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    this.w = new Int32Array(64);
    /** Bytes of an unfinished 64-byte block. */
    this.tail = new Uint8Array(64);
    this.tailLength = 0;
    this.length = 0;
    this.finished = false;
  }

  /** @param {Uint8Array} bytes @returns {this} */
  update(bytes) {
    if (this.finished) throw new Error('Sha256: update() after digest()');
    this.length += bytes.length;
    let pos = 0;
    if (this.tailLength > 0) {
      const take = Math.min(64 - this.tailLength, bytes.length);
      this.tail.set(bytes.subarray(0, take), this.tailLength);
      this.tailLength += take;
      pos = take;
      if (this.tailLength < 64) return this;
      compress(this.h, this.w, this.tail, 0, 64);
      this.tailLength = 0;
    }
    const whole = (bytes.length - pos) & ~63;
    compress(this.h, this.w, bytes, pos, whole);
    pos += whole;
    this.tail.set(bytes.subarray(pos), 0);
    this.tailLength = bytes.length - pos;
    return this;
  }

  /** @returns {string} lowercase hex */
  hexDigest() {
    if (!this.finished) {
      const bits = this.length * 8;
      const pad = new Uint8Array(((this.tailLength + 9 + 63) & ~63) - this.tailLength);
      pad[0] = 0x80;
      const view = new DataView(pad.buffer);
      // 64-bit big-endian bit length; a Number holds it exactly below 2^53.
      view.setUint32(pad.length - 8, Math.floor(bits / 2 ** 32));
      view.setUint32(pad.length - 4, bits >>> 0);
      const length = this.length;
      this.update(pad);
      this.length = length;
      this.finished = true;
    }
    let hex = '';
    for (const word of this.h) hex += (word >>> 0).toString(16).padStart(8, '0');
    return hex;
  }
}

/**
 * Hashes [pos, pos + n) of `bytes` (n a multiple of 64) into state `h`.
 * @param {Int32Array} h @param {Int32Array} w @param {Uint8Array} bytes @param {number} pos @param {number} n
 */
function compress(h, w, bytes, pos, n) {
  for (let end = pos + n; pos < end; pos += 64) {
    for (let i = 0; i < 16; i++) {
      const j = pos + 4 * i;
      w[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15], b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0;
      d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
  }
}

/** @param {Uint8Array} bytes @returns {string} */
export function sha256Hex(bytes) {
  return new Sha256().update(bytes).hexDigest();
}
