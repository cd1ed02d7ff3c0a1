/**
 * The CLI's speculative decoding flags, shared by run/complete, chat and
 * serve: --lookup (prompt lookup), --draft-model PATH (a second GGUF with the
 * same vocabulary), --draft-max N (tokens per draft).
 */
import { WasmllmError } from '../errors.js';
import { MAX_DRAFT } from '../speculative.js';

/** Flag definitions for node:util parseArgs. */
export const SPECULATIVE_OPTIONS = {
  lookup: { type: 'boolean' },
  'draft-model': { type: 'string' },
  'draft-max': { type: 'string' },
};

/** Usage lines for the flags, descriptions starting at column `col`. */
export function speculativeUsage(col) {
  return [
    ['--lookup', 'speculative decoding by prompt lookup: drafts tokens by copying what'],
    ['', 'followed the latest match of the last 2-4 tokens (same text, faster on'],
    ['', 'text that repeats its input)'],
    ['--draft-model PATH', 'speculative decoding with a small GGUF of the same vocabulary'],
    ['', '(e.g. models/shakespeare-draft.gguf for the embedded model)'],
    ['--draft-max N', `tokens drafted at a time (1-${MAX_DRAFT}, default 4)`],
  ].map(([flag, text]) => (flag ? `      ${flag}` : '').padEnd(col) + text).join('\n');
}

/**
 * The flags checked: which method, and maxDraft; null when neither is given.
 * @param {Record<string, any>} values parsed flags
 * @param {(message: string) => Error} usageError
 * @returns {{ lookup: boolean, draftModel: string | null, maxDraft: number | undefined } | null}
 */
export function speculativeFlags(values, usageError) {
  const lookup = values.lookup === true;
  const draftModel = values['draft-model'] ?? null;
  if (lookup && draftModel !== null) throw usageError('give --lookup or --draft-model, not both');
  let maxDraft;
  if (values['draft-max'] !== undefined) {
    const v = values['draft-max'];
    maxDraft = Number(v);
    if (!/^\d+$/.test(v) || maxDraft < 1 || maxDraft > MAX_DRAFT) throw usageError(`--draft-max must be an integer from 1 to ${MAX_DRAFT}, got '${v}'`);
    if (!lookup && draftModel === null) throw usageError('--draft-max needs --lookup or --draft-model');
  }
  if (!lookup && draftModel === null) return null;
  return { lookup, draftModel, maxDraft };
}

/**
 * Loads the draft model (if any) for `sessions` generations at once and
 * returns one `speculative` option per session, plus a dispose function.
 * @param {NonNullable<ReturnType<typeof speculativeFlags>>} flags
 * @param {number} sessions
 * @param {(source: string, options: object) => Promise<any>} loadModel
 * @param {object} loadOptions threads, contextSize, kvType of the target
 */
export async function openSpeculative(flags, sessions, loadModel, loadOptions) {
  const maxDraft = flags.maxDraft === undefined ? {} : { maxDraft: flags.maxDraft };
  if (flags.lookup) return { options: Array.from({ length: sessions }, () => ({ lookup: true, ...maxDraft })), dispose() {} };
  let draft;
  try {
    draft = await loadModel(flags.draftModel, { ...loadOptions, sessions });
  } catch (e) {
    if (e instanceof WasmllmError) e.message = `--draft-model ${flags.draftModel}: ${e.message}`;
    throw e;
  }
  const drafts = [draft];
  for (let i = 1; i < sessions; i++) drafts.push(draft.createSession());
  return {
    options: drafts.map((d) => ({ draft: d, ...maxDraft })),
    dispose() { for (const d of drafts.reverse()) d.dispose(); },
  };
}

/** One stderr line on what speculation did in a completion (the CLI's --verbose). */
export function speculativeSummary(stats) {
  const pct = (100 * stats.acceptanceRate).toFixed(1);
  return `speculative (${stats.method}, up to ${stats.maxDraft}): drafted ${stats.drafted}, accepted ${stats.accepted} (${pct}%), drafting ${stats.draftMs.toFixed(1)} ms`;
}
