/**
 * A string-keyed table looked up by a range of a larger string, so a lookup
 * allocates nothing (a Map would need the range as its own string first).
 * Used for the token ids of recently seen words. Open addressing on a
 * power-of-two table that starts small and doubles up to 2^maxBits slots
 * (a tokenizer that encodes only a prompt or two never pays for the full
 * 2.5 MB, issue #4); at that size, when half full, it starts over, which
 * bounds memory on endless input.
 */
export class WordCache {
  /** @param {number} [maxBits] log2 of the largest slot count */
  constructor(maxBits = 17) {
    this.maxBits = maxBits;
    this.#alloc(Math.min(maxBits, 10));
    this.size = 0;
  }

  /** @param {number} bits */
  #alloc(bits) {
    this.mask = (1 << bits) - 1;
    /** @type {(string | undefined)[]} */
    this.keys = new Array(1 << bits).fill(undefined);
    this.hashes = new Int32Array(1 << bits);
    /** @type {any[]} */
    this.values = new Array(1 << bits).fill(undefined);
  }

  /** FNV-1a over UTF-16 code units of s[a, b). */
  static hash(s, a, b) {
    let h = 0x811c9dc5 ^ (b - a);
    for (let i = a; i < b; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    return h;
  }

  /**
   * @param {string} s @param {number} a @param {number} b @param {number} h WordCache.hash(s, a, b)
   * @returns {any} the value, or undefined
   */
  get(s, a, b, h) {
    const { keys, hashes, mask } = this;
    const n = b - a;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === undefined) return undefined;
      if (hashes[i] !== h || k.length !== n) continue;
      let j = 0;
      while (j < n && k.charCodeAt(j) === s.charCodeAt(a + j)) j++;
      if (j === n) return this.values[i];
    }
  }

  /**
   * Adds a key known to be absent.
   * @param {string} word @param {number} h its hash @param {any} ids
   */
  set(word, h, ids) {
    if (this.size * 2 >= this.mask + 1) {
      if (this.mask + 1 < 1 << this.maxBits) this.#grow(); else this.clear();
    }
    const { keys, mask } = this;
    let i = h & mask;
    while (keys[i] !== undefined) i = (i + 1) & mask;
    keys[i] = word;
    this.hashes[i] = h;
    this.values[i] = ids;
    this.size++;
  }

  #grow() {
    const { keys, hashes, values } = this;
    this.#alloc(Math.log2(keys.length) + 1);
    const { mask } = this;
    for (let j = 0; j < keys.length; j++) {
      if (keys[j] === undefined) continue;
      let i = hashes[j] & mask;
      while (this.keys[i] !== undefined) i = (i + 1) & mask;
      this.keys[i] = keys[j];
      this.hashes[i] = hashes[j];
      this.values[i] = values[j];
    }
  }

  clear() {
    this.keys.fill(undefined);
    this.values.fill(undefined);
    this.size = 0;
  }
}
