/**
 * The runtime's per-token log-probabilities (TokenPiece.logprob,
 * .topLogprobs) in OpenAI's two shapes: chat's `logprobs.content[]` and the
 * legacy completions' parallel arrays.
 */

/** @param {{ tokenText: string, logprob: number, bytes: number[] }} p */
const chatEntry = (p) => ({ token: p.tokenText, logprob: p.logprob, bytes: p.bytes });

/**
 * Chat: one entry per generated token, with its top alternatives.
 * @param {import('./model.js').TokenPiece[]} pieces (pieces without a token, token -1, are skipped)
 */
export function chatLogprobs(pieces) {
  return {
    content: pieces.filter((p) => p.token >= 0 && p.logprob !== undefined).map((p) => ({
      ...chatEntry(p),
      top_logprobs: (p.topLogprobs ?? []).map((t) => ({ token: t.text, logprob: t.logprob, bytes: t.bytes })),
    })),
    refusal: null,
  };
}

/**
 * Completions: tokens, token_logprobs, top_logprobs (a token -> logprob
 * object per position) and text_offset (where each token's text starts in
 * the choice's text, counted from `offset`). An echoed prompt's first token
 * has nothing before it to be predicted from: its logprob and top_logprobs
 * are null, as OpenAI sends them.
 * @param {import('./model.js').TokenPiece[]} pieces @param {number} offset
 */
export function completionLogprobs(pieces, offset = 0) {
  const out = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let at = offset;
  for (const p of pieces) {
    if (p.token < 0 || p.logprob === undefined) continue;
    out.tokens.push(p.tokenText);
    out.token_logprobs.push(p.logprob);
    out.top_logprobs.push(p.logprob === null ? null : Object.fromEntries((p.topLogprobs ?? []).map((t) => [t.text, t.logprob])));
    out.text_offset.push(at);
    // The text, not tokenText: a token's rendering can differ from what it adds to the text
    // (BOS shows as <s> and adds nothing).
    at += p.text.length;
  }
  return out;
}
