/**
 * The README's examples, as the package test runs and type-checks them: each
 * is the fenced block right after a `<!-- example: NAME ... -->` comment, so
 * what is tested is what users read, character for character.
 */
const MARKER = /^<!-- example: ([\w-]+)\b.*-->\n```(\w+)\n([\s\S]*?)\n```$/gm;

/** @param {string} markdown @returns {Map<string, { lang: string, code: string }>} */
export function readmeExamples(markdown) {
  const out = new Map();
  for (const [, name, lang, code] of markdown.matchAll(MARKER)) {
    if (out.has(name)) throw new Error(`two README examples are named "${name}"`);
    out.set(name, { lang, code: `${code}\n` });
  }
  return out;
}

/**
 * The words of one shell command line: plain words, '...' and "..." quoting
 * (what the README's sh examples use; no variables or globs).
 * @param {string} line
 */
export function shellWords(line) {
  const words = [];
  for (const [, dq, sq, plain] of line.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) {
    words.push(dq !== undefined ? dq.replace(/\\(.)/g, '$1') : sq ?? plain);
  }
  return words;
}

/**
 * Relative links of a markdown file, `[text](target)`, without URLs; `file` is '' for an
 * anchor in the same file.
 * @param {string} markdown
 * @returns {{ file: string, anchor: string | null }[]}
 */
export function relativeLinks(markdown) {
  const out = [];
  const withoutCode = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  for (const [, target] of withoutCode.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const [file, anchor] = target.split('#');
    out.push({ file, anchor: anchor ?? null });
  }
  return out;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. @param {string} markdown */
export function headingAnchors(markdown) {
  const anchors = new Set();
  const withoutCode = markdown.replace(/```[\s\S]*?```/g, '');
  for (const [, text] of withoutCode.matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    anchors.add(text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-'));
  }
  return anchors;
}
