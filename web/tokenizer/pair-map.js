/**
 * An open-addressing hash map from a pair of non-negative int32 ids to an
 * int32 value, on typed arrays. BPE merge lookup is the hottest operation of
 * tokenization; a JS Map keyed by a packed pair exceeds the small-integer
 * range for large vocabularies and gets slow, this does not.
 */
export class PairMap {
  /** @param {number} expected number of entries */
  constructor(expected) {
    let cap = 16;
    while (cap * 3 < expected * 4) cap *= 2; // at most 3/4 full
    this.mask = cap - 1;
    this.left = new Int32Array(cap).fill(-1);
    this.right = new Int32Array(cap);
    this.value = new Int32Array(cap);
    this.size = 0;
  }

  /** @param {number} l @param {number} r */
  #slot(l, r) {
    return (Math.imul(l, 0x9e3779b1) ^ Math.imul(r + 0x7f4a7c15, 0x85ebca77)) >>> 7 & this.mask;
  }

  /**
   * Sets (l, r) -> v unless the pair is already present (first one wins).
   * @param {number} l @param {number} r @param {number} v
   * @returns {boolean} whether it was added
   */
  addIfAbsent(l, r, v) {
    if (this.size * 4 >= (this.mask + 1) * 3) this.#grow();
    const { left, right, value, mask } = this;
    for (let i = this.#slot(l, r); ; i = (i + 1) & mask) {
      if (left[i] === -1) { left[i] = l; right[i] = r; value[i] = v; this.size++; return true; }
      if (left[i] === l && right[i] === r) return false;
    }
  }

  /** @param {number} l @param {number} r @returns {number} the value, or -1 */
  get(l, r) {
    const { left, right, value, mask } = this;
    for (let i = this.#slot(l, r); ; i = (i + 1) & mask) {
      const k = left[i];
      if (k === -1) return -1;
      if (k === l && right[i] === r) return value[i];
    }
  }

  #grow() {
    const { left, right, value } = this;
    this.mask = left.length * 2 - 1;
    this.left = new Int32Array(left.length * 2).fill(-1);
    this.right = new Int32Array(left.length * 2);
    this.value = new Int32Array(left.length * 2);
    this.size = 0;
    for (let i = 0; i < left.length; i++) if (left[i] !== -1) this.addIfAbsent(left[i], right[i], value[i]);
  }
}
