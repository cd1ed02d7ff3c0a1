/**
 * A reasoning model's thinking, split from its answer as llama.cpp's
 * `--reasoning-format deepseek` does: text between `<think>` (at the start
 * of the reply, or already opened by the prompt) and `</think>` is
 * reasoning_content, the rest is content. Whitespace around the thinking is
 * dropped. Only the first block counts: a later `<think>` is content.
 */

const OPEN = '<think>';
const CLOSE = '</think>';

/**
 * Whether a template writes thinking blocks (Qwen3, DeepSeek-R1, SmolLM3,
 * Granite 3.3): only then is `<think>` split off (llama.cpp decides the same way).
 * @param {string} source
 */
export function templateThinks(source) {
  return source.includes(OPEN);
}

/**
 * Whether the rendered prompt leaves a thinking block open, so the reply
 * starts inside it (DeepSeek-R1's generation prompt ends with `<think>\n`).
 * @param {string} prompt
 */
export function promptOpensThinking(prompt) {
  const tail = prompt.trimEnd();
  return tail.endsWith(OPEN);
}

/** The length of the longest end of `text` that starts `marker`. @param {string} text @param {string} marker */
function partialSuffix(text, marker) {
  for (let k = Math.min(marker.length - 1, text.length); k > 0; k--) {
    if (text.endsWith(marker.slice(0, k))) return k;
  }
  return 0;
}

/**
 * push() pieces of the reply, then finish(); each returns the reasoning and
 * content text that became certain. Joined, the chunks are the same however
 * the reply was split.
 */
export class ReasoningStream {
  /** @param {{ startInside?: boolean }} [options] startInside: the prompt opened the block */
  constructor(options = {}) {
    /** 'start' (may still open), 'think', 'lead' (after the block: dropping whitespace), 'content' */
    this.mode = options.startInside ? 'think' : 'start';
    this.pending = '';
    this.thinkStarted = false; // leading whitespace of the reasoning is dropped
    this.reasoning = '';
    this.content = '';
  }

  /** @param {string} text @returns {{ reasoning: string, content: string }} */
  push(text) {
    this.pending += text;
    const out = { reasoning: '', content: '' };
    this.#run(out, false);
    return out;
  }

  /** @returns {{ reasoning: string, content: string }} */
  finish() {
    const out = { reasoning: '', content: '' };
    this.#run(out, true);
    if (this.mode === 'think') this.#think(out, this.pending.trimEnd());
    else this.#say(out, this.pending);
    this.pending = '';
    return out;
  }

  /** @param {{ reasoning: string, content: string }} out @param {string} text */
  #think(out, text) {
    if (!this.thinkStarted) {
      text = text.trimStart();
      if (!text) return;
      this.thinkStarted = true;
    }
    out.reasoning += text;
    this.reasoning += text;
  }

  /** @param {{ reasoning: string, content: string }} out @param {string} text */
  #say(out, text) {
    out.content += text;
    this.content += text;
  }

  /** @param {{ reasoning: string, content: string }} out @param {boolean} final */
  #run(out, final) {
    for (;;) {
      if (this.mode === 'start') {
        const t = this.pending.trimStart();
        if (t.startsWith(OPEN)) {
          this.pending = t.slice(OPEN.length);
          this.mode = 'think';
          continue;
        }
        if (!final && OPEN.startsWith(t)) return; // whitespace, or a prefix of <think>
        this.mode = 'content';
        continue;
      }
      if (this.mode === 'think') {
        const at = this.pending.indexOf(CLOSE);
        if (at >= 0) {
          this.#think(out, this.pending.slice(0, at).trimEnd());
          this.pending = this.pending.slice(at + CLOSE.length);
          this.mode = 'lead';
          continue;
        }
        if (final) return;
        // Hold a possible start of </think>, and trailing whitespace (it may precede </think>).
        const hold = Math.max(partialSuffix(this.pending, CLOSE), 0);
        let cut = this.pending.length - hold;
        const body = this.pending.slice(0, cut);
        cut = body.trimEnd().length;
        this.#think(out, this.pending.slice(0, cut));
        this.pending = this.pending.slice(cut);
        return;
      }
      if (this.mode === 'lead') {
        const t = this.pending.trimStart();
        if (!t) { this.pending = ''; return; }
        this.pending = t;
        this.mode = 'content';
        continue;
      }
      this.#say(out, this.pending);
      this.pending = '';
      return;
    }
  }
}
