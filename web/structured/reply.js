/**
 * An assistant reply as OpenAI's message: the raw generated text goes
 * through the reasoning split (reasoning.js), then the tool-call parser
 * (tool-calls.js); what comes out is content, reasoning_content and
 * tool_calls, as they stream and as the final message.
 */
import { ReasoningStream, templateThinks, promptOpensThinking } from './reasoning.js';
import { ToolCallStream, detectToolFormat } from './tool-calls.js';

/**
 * @typedef {{ content: string, reasoning: string, toolCalls: import('./tool-calls.js').ToolCallDelta[] }} ReplyDelta
 * @typedef {{ role: 'assistant', content: string|null, reasoning_content?: string,
 *   tool_calls?: import('./tool-calls.js').ToolCall[] }} ReplyMessage
 */

/**
 * @param {{ template: string, prompt: string, rendersTools: boolean, tools?: object[]|null,
 *   parseTools: boolean, parallelToolCalls?: boolean, reasoningFormat?: 'deepseek'|'none' }} o
 *   template: the chat template's text; prompt: the rendered prompt (it may open a <think> block);
 *   parseTools: read tool calls (tools given and tool_choice not 'none')
 */
export function createReplyParser(o) {
  const reasoning = o.reasoningFormat !== 'none' && templateThinks(o.template)
    ? new ReasoningStream({ startInside: promptOpensThinking(o.prompt) })
    : null;
  const names = (o.tools ?? []).map((t) => t?.function?.name ?? t?.name).filter((n) => typeof n === 'string');
  const tools = o.parseTools
    ? new ToolCallStream(detectToolFormat(o.template, o.rendersTools), { toolNames: names, parallel: o.parallelToolCalls ?? true })
    : null;
  let content = '';

  /** @param {{ reasoning: string, content: string }} r @returns {ReplyDelta} */
  const onward = (r, final) => {
    /** @type {ReplyDelta} */
    const out = { content: '', reasoning: r.reasoning, toolCalls: [] };
    if (tools) {
      const a = tools.push(r.content);
      const b = final ? tools.finish() : { content: '', toolCalls: [] };
      out.content = a.content + b.content;
      out.toolCalls = [...a.toolCalls, ...b.toolCalls];
    } else {
      out.content = r.content;
    }
    content += out.content;
    return out;
  };

  return {
    /** @param {string} text generated text @returns {ReplyDelta} */
    push(text) {
      return onward(reasoning ? reasoning.push(text) : { reasoning: '', content: text }, false);
    },
    /** @returns {ReplyDelta} */
    finish() {
      return onward(reasoning ? reasoning.finish() : { reasoning: '', content: '' }, true);
    },
    /** Parallel calls are off and one call is complete: generation may stop. */
    get done() { return tools?.done ?? false; },
    /**
     * OpenAI's finish_reason: 'tool_calls' when the reply called tools and
     * ended by itself (or stopped after its one call), else the runtime's.
     * @param {string} reason the Completion's finishReason @param {boolean} stoppedEarly the parser ended it
     */
    finishReason(reason, stoppedEarly) {
      return (tools?.calls.length ?? 0) > 0 && (stoppedEarly || reason === 'stop') ? 'tool_calls' : reason;
    },
    /** @returns {ReplyMessage} */
    message() {
      const calls = tools?.calls ?? [];
      /** @type {ReplyMessage} */
      const m = { role: 'assistant', content: calls.length && !content ? null : content };
      if (reasoning && reasoning.reasoning) m.reasoning_content = reasoning.reasoning;
      if (calls.length) m.tool_calls = calls;
      return m;
    },
  };
}
