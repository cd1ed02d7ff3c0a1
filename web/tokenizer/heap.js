/**
 * A binary min-heap of numeric keys with two integer payloads, on typed
 * arrays so merge loops allocate nothing per entry. Callers pack their
 * priority (and tie-break) into the key.
 */
export class MinHeap {
  constructor(capacity = 64) {
    this.keys = new Float64Array(capacity);
    this.a = new Int32Array(capacity);
    this.b = new Int32Array(capacity);
    this.size = 0;
    /** payloads of the entry the last pop() removed */
    this.popA = 0;
    this.popB = 0;
  }

  clear() { this.size = 0; }

  #grow() {
    const cap = this.keys.length * 2;
    const k = new Float64Array(cap); k.set(this.keys); this.keys = k;
    const a = new Int32Array(cap); a.set(this.a); this.a = a;
    const b = new Int32Array(cap); b.set(this.b); this.b = b;
  }

  /** @param {number} key @param {number} pa @param {number} pb */
  push(key, pa, pb) {
    if (this.size === this.keys.length) this.#grow();
    const { keys, a, b } = this;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent] <= key) break;
      keys[i] = keys[parent]; a[i] = a[parent]; b[i] = b[parent];
      i = parent;
    }
    keys[i] = key; a[i] = pa; b[i] = pb;
  }

  /** Removes the smallest key and returns it; its payloads go to popA/popB. */
  pop() {
    const { keys, a, b } = this;
    const top = keys[0];
    this.popA = a[0];
    this.popB = b[0];
    const n = --this.size;
    if (n > 0) {
      const key = keys[n], pa = a[n], pb = b[n];
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && keys[child + 1] < keys[child]) child++;
        if (keys[child] >= key) break;
        keys[i] = keys[child]; a[i] = a[child]; b[i] = b[child];
        i = child;
      }
      keys[i] = key; a[i] = pa; b[i] = pb;
    }
    return top;
  }
}
