/**
 * UTF-8 encoding into a reusable scratch buffer: the tokenizers encode many
 * short words, and TextEncoder.encode would allocate a new array for each.
 */

/**
 * Encodes a well-formed string as UTF-8 into scratch.buf (grown as needed).
 * @param {string} s @param {{ buf: Uint8Array }} scratch @returns {number} byte count
 */
export function utf8Into(s, scratch) {
  const need = s.length * 3;
  if (scratch.buf.length < need) scratch.buf = new Uint8Array(Math.max(need, scratch.buf.length * 2));
  const buf = scratch.buf;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) { buf[n++] = c; continue; }
    if (c < 0x800) { buf[n++] = 0xc0 | (c >> 6); buf[n++] = 0x80 | (c & 63); continue; }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
        i++;
        buf[n++] = 0xf0 | (c >> 18); buf[n++] = 0x80 | ((c >> 12) & 63);
        buf[n++] = 0x80 | ((c >> 6) & 63); buf[n++] = 0x80 | (c & 63);
        continue;
      }
    }
    buf[n++] = 0xe0 | (c >> 12); buf[n++] = 0x80 | ((c >> 6) & 63); buf[n++] = 0x80 | (c & 63);
  }
  return n;
}
