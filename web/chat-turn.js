/**
 * One chat turn, ready to generate: the prompt's token ids and where the
 * assistant's turn ends (chat.js), the grammar a forced tool call needs
 * (structured/tool-grammar.js), and a parser for the reply
 * (structured/reply.js). Model.chat() and the server both start here, so a
 * reply reads the same through the API, `wasmllm serve` and the edge worker.
 */
import { renderChat, encodeChatPrompt } from './chat.js';
import { loadJinja } from './jinja.js';
import { createReplyParser } from './structured/reply.js';
import { checkToolOptions, toolChoiceGrammar } from './structured/tool-grammar.js';

/**
 * @param {Map<string, unknown>} metadata @param {any} tokenizer @param {any[]} messages
 * @param {import('./model.js').ChatOptions} options
 * @returns {Promise<{ ids: number[], stopStrings: string[], stopTokenIds: number[], grammar: string|null,
 *   newParser: () => ReturnType<typeof createReplyParser> }>}
 */
export async function prepareChatTurn(metadata, tokenizer, messages, options) {
  const tools = checkToolOptions(options);
  await loadJinja(); // the template engine loads on first use (web/jinja.js)
  const rendered = renderChat(metadata, messages, {
    addGenerationPrompt: true,
    tools: tools.render ? options.tools : undefined,
    template: options.template,
    templateName: options.templateName,
    extra: options.extra,
  });
  return {
    ids: encodeChatPrompt(tokenizer, rendered.prompt, metadata),
    stopStrings: rendered.stopStrings,
    stopTokenIds: rendered.stopTokenIds,
    grammar: toolChoiceGrammar(rendered, options),
    newParser: () => createReplyParser({
      template: rendered.template, prompt: rendered.prompt, rendersTools: rendered.rendersTools,
      tools: options.tools, parseTools: tools.render,
      parallelToolCalls: options.parallelToolCalls, reasoningFormat: options.reasoningFormat,
    }),
  };
}
