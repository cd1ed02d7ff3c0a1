// Chat templates from ../shared/data/templates rendered through web/chat.js:
// each family's markers in the right order, tools, tool messages, thinking
// tags, the ChatML fallback, and template errors that name the line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { renderChat, needsBos, encodeChatPrompt, strftime, listChatTemplates, CHATML_TEMPLATE } from '../../web/chat.js';
import { loadJinja } from '../../web/jinja.js';
import { sharedPath } from '../../tools/shared-data.js';

await loadJinja(); // renderChat is synchronous: the template engine loads first

const TEMPLATE_DIR = sharedPath('data/templates');

const SYS = 'You are a terse pirate.';
const U1 = 'What is the capital of France?';
const A1 = 'Paris, matey.';
const U2 = 'And of Spain?';
const THREE_TURNS = [
  { role: 'system', content: SYS },
  { role: 'user', content: U1 },
  { role: 'assistant', content: A1 },
  { role: 'user', content: U2 },
];
const TOOLS = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
}];
const TOOL_CONVERSATION = [
  { role: 'user', content: 'Weather in Paris?' },
  { role: 'assistant', content: '', tool_calls: [{ id: 'call12345', type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
  { role: 'tool', tool_call_id: 'call12345', name: 'get_weather', content: '{"temperature_c": 21}' },
];

/**
 * Per template file: the special tokens its vocabulary has, the pieces a
 * three-turn conversation must contain in this order, how the generation
 * prompt ends, and the end-of-turn stop string.
 */
const FAMILIES = {
  'meta-llama-Llama-3.1-8B-Instruct.jinja': llama3(),
  'meta-llama-Llama-3.2-3B-Instruct.jinja': llama3(),
  'Qwen-Qwen2.5-7B-Instruct.jinja': qwen(),
  'Qwen-Qwen3-0.6B.jinja': qwen(),
  'HuggingFaceTB-SmolLM3-3B.jinja': {
    vocab: { bos: null, eos: '<|im_end|>', extra: ['<|im_start|>', '<|endoftext|>'] },
    order: ['<|im_start|>system\n', SYS, '<|im_end|>\n', `<|im_start|>user\n${U1}<|im_end|>\n`,
      `<|im_start|>assistant\n${A1}<|im_end|>\n`, `<|im_start|>user\n${U2}<|im_end|>\n`],
    genPrompt: '<|im_start|>assistant\n',
    stop: '<|im_end|>',
    nativeTools: false,
  },
  'deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja': {
    vocab: { bos: '<｜begin▁of▁sentence｜>', eos: '<｜end▁of▁sentence｜>', extra: ['<｜User｜>', '<｜Assistant｜>'] },
    order: ['<｜begin▁of▁sentence｜>', SYS, `<｜User｜>${U1}`, `<｜Assistant｜>${A1}<｜end▁of▁sentence｜>`, `<｜User｜>${U2}`],
    genPrompt: '<｜Assistant｜><think>\n',
    toolTail: '<｜tool▁outputs▁end｜>',
    stop: '<｜end▁of▁sentence｜>',
    nativeTools: false,
  },
  'google-gemma-2-2b-it.jinja': {
    vocab: { bos: '<bos>', eos: '<eos>', extra: ['<start_of_turn>', '<end_of_turn>'] },
    // No system role: the system text opens the first user turn.
    order: ['<bos>', `<start_of_turn>user\n${SYS}\n\n${U1}<end_of_turn>\n`, `<start_of_turn>model\n${A1}<end_of_turn>\n`,
      `<start_of_turn>user\n${U2}<end_of_turn>\n`],
    genPrompt: '<start_of_turn>model\n',
    stop: '<end_of_turn>',
    nativeTools: false,
  },
  'ibm-granite-granite-3.3-2B-Instruct.jinja': {
    vocab: { bos: '<|end_of_text|>', eos: '<|end_of_text|>', extra: ['<|start_of_role|>', '<|end_of_role|>'] },
    order: [`<|start_of_role|>system<|end_of_role|>${SYS}<|end_of_text|>\n`, `<|start_of_role|>user<|end_of_role|>${U1}<|end_of_text|>\n`,
      `<|start_of_role|>assistant<|end_of_role|>${A1}<|end_of_text|>\n`, `<|start_of_role|>user<|end_of_role|>${U2}<|end_of_text|>\n`],
    genPrompt: '<|start_of_role|>assistant<|end_of_role|>',
    stop: '<|end_of_text|>',
    nativeTools: true,
  },
  'microsoft-Phi-3.5-mini-instruct.jinja': {
    vocab: { bos: '<s>', eos: '<|endoftext|>', extra: ['<|system|>', '<|user|>', '<|assistant|>', '<|end|>'] },
    order: [`<|system|>\n${SYS}<|end|>\n`, `<|user|>\n${U1}<|end|>\n`, `<|assistant|>\n${A1}<|end|>\n`, `<|user|>\n${U2}<|end|>\n`],
    genPrompt: '<|assistant|>\n',
    stop: '<|end|>',
    nativeTools: false,
  },
  'mistralai-Mistral-Nemo-Instruct-2407.jinja': {
    vocab: { bos: '<s>', eos: '</s>', extra: ['[INST]', '[/INST]'] },
    // Mistral puts the system text into the last user turn.
    order: ['<s>', `[INST]${U1}[/INST]`, `${A1}</s>`, `[INST]${SYS}\n\n${U2}[/INST]`],
    genPrompt: '[/INST]',
    toolTail: '[/TOOL_RESULTS]',
    stop: '</s>',
    nativeTools: true,
  },
};

function llama3() {
  return {
    vocab: { bos: '<|begin_of_text|>', eos: '<|eot_id|>', extra: ['<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eom_id|>'] },
    order: ['<|begin_of_text|>', '<|start_header_id|>system<|end_header_id|>\n\n', SYS, '<|eot_id|>',
      `<|start_header_id|>user<|end_header_id|>\n\n${U1}<|eot_id|>`,
      `<|start_header_id|>assistant<|end_header_id|>\n\n${A1}<|eot_id|>`,
      `<|start_header_id|>user<|end_header_id|>\n\n${U2}<|eot_id|>`],
    genPrompt: '<|start_header_id|>assistant<|end_header_id|>\n\n',
    stop: '<|eot_id|>',
    nativeTools: true,
  };
}

function qwen() {
  return {
    vocab: { bos: null, eos: '<|im_end|>', extra: ['<|endoftext|>', '<|im_start|>'] },
    order: [`<|im_start|>system\n${SYS}<|im_end|>\n`, `<|im_start|>user\n${U1}<|im_end|>\n`,
      `<|im_start|>assistant\n${A1}<|im_end|>\n`, `<|im_start|>user\n${U2}<|im_end|>\n`],
    genPrompt: '<|im_start|>assistant\n',
    stop: '<|im_end|>',
    nativeTools: true,
  };
}

/**
 * GGUF metadata as parseGGUF returns it: a few normal tokens, then the
 * family's special tokens as control tokens (type 3).
 * @param {string|null} template
 * @param {{ bos: string|null, eos: string, extra: string[] }} vocab
 */
function metadataFor(template, vocab = { bos: '<s>', eos: '</s>', extra: [] }) {
  const tokens = ['<unk>', 'a', 'b', 'c'];
  const special = [...new Set([vocab.bos, vocab.eos, ...vocab.extra].filter(Boolean))];
  tokens.push(...special);
  const types = new Int32Array(tokens.length).fill(1);
  for (let i = 4; i < tokens.length; i++) types[i] = 3;
  const md = new Map([
    ['general.architecture', 'llama'],
    ['tokenizer.ggml.model', vocab.bos ? 'llama' : 'gpt2'],
    ['tokenizer.ggml.tokens', tokens],
    ['tokenizer.ggml.token_type', types],
    ['tokenizer.ggml.eos_token_id', tokens.indexOf(vocab.eos)],
  ]);
  if (vocab.bos) md.set('tokenizer.ggml.bos_token_id', tokens.indexOf(vocab.bos));
  if (template != null) md.set('tokenizer.chat_template', template);
  return md;
}

/** Asserts that every piece occurs in `text`, each after the previous one. */
function assertInOrder(text, pieces, label) {
  let from = 0;
  for (const piece of pieces) {
    const at = text.indexOf(piece, from);
    assert.ok(at >= 0, `${label}: ${JSON.stringify(piece)} not found after offset ${from} in\n${text}`);
    from = at + piece.length;
  }
}

const templateFiles = fs.readdirSync(TEMPLATE_DIR).filter((f) => f.endsWith('.jinja')).sort();
const load = (file) => fs.readFileSync(path.join(TEMPLATE_DIR, file), 'utf8');

test('every shared template has an expectation here', () => {
  assert.ok(templateFiles.length >= 10);
  for (const f of templateFiles) assert.ok(FAMILIES[f], `no expected markers for ${f}`);
});

for (const file of templateFiles) {
  const family = FAMILIES[file];
  if (!family) continue;

  test(`${file}: three turns with a system prompt, markers in order`, () => {
    const md = metadataFor(load(file), family.vocab);
    const r = renderChat(md, THREE_TURNS);
    assert.equal(r.usedFallback, false);
    assertInOrder(r.prompt, family.order, file);
    assert.ok(r.prompt.endsWith(family.genPrompt), `${file}: prompt should end with the generation prompt, got ${JSON.stringify(r.prompt.slice(-60))}`);
    assert.ok(r.stopStrings.includes(family.stop), `${file}: stop strings ${JSON.stringify(r.stopStrings)} lack ${family.stop}`);
    const stopId = md.get('tokenizer.ggml.tokens').indexOf(family.stop);
    assert.ok(r.stopTokenIds.includes(stopId), `${file}: stop ids ${r.stopTokenIds} lack ${stopId}`);
    // Every message text made it in exactly once.
    for (const text of [SYS, U1, A1, U2]) assert.equal(r.prompt.split(text).length - 1, 1, `${file}: ${text} count`);
  });

  test(`${file}: without add_generation_prompt the prompt ends after the last user turn`, () => {
    const md = metadataFor(load(file), family.vocab);
    const r = renderChat(md, THREE_TURNS, { addGenerationPrompt: false });
    assert.ok(!r.prompt.endsWith(family.genPrompt) || file.startsWith('mistralai'), `${file}: generation prompt still there`);
    assert.ok(r.prompt.includes(U2));
  });

  test(`${file}: a tools list reaches the prompt`, () => {
    const md = metadataFor(load(file), family.vocab);
    const r = renderChat(md, THREE_TURNS, { tools: TOOLS });
    assert.ok(r.prompt.includes('get_weather'), `${file}: tool name missing`);
    assert.ok(r.prompt.includes('Current weather in a city'), `${file}: tool description missing`);
    assertInOrder(r.prompt, [U2, family.genPrompt], file);
    if (family.nativeTools) assert.deepEqual(r.polyfills, [], `${file} renders tools itself`);
    else assert.ok(r.polyfills.includes('tools-in-system'), `${file}: expected the system-prompt polyfill`);
  });

  test(`${file}: assistant tool calls and tool results render`, () => {
    const md = metadataFor(load(file), family.vocab);
    const r = renderChat(md, TOOL_CONVERSATION, { tools: TOOLS });
    const call = r.prompt.lastIndexOf('Paris');
    const result = r.prompt.indexOf('temperature_c');
    assert.ok(call >= 0 && result > call, `${file}: tool call then tool result expected in\n${r.prompt}`);
    // DeepSeek and Mistral let the model go on right after the tool output.
    const tail = family.toolTail ?? family.genPrompt;
    assert.ok(r.prompt.endsWith(tail), `${file}: should end with ${JSON.stringify(tail)}: ${JSON.stringify(r.prompt.slice(-60))}`);
  });
}

test('tool messages use each family\'s own tool syntax where it has one', () => {
  const expect = {
    'meta-llama-Llama-3.1-8B-Instruct.jinja': ['{"name": "get_weather", "parameters": {"city": "Paris"}}<|eot_id|>', '<|start_header_id|>ipython<|end_header_id|>\n\n"{\\"temperature_c\\": 21}"<|eot_id|>'],
    'Qwen-Qwen2.5-7B-Instruct.jinja': ['<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>', '<|im_start|>user\n<tool_response>\n{"temperature_c": 21}\n</tool_response><|im_end|>'],
    'Qwen-Qwen3-0.6B.jinja': ['<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>', '<tool_response>\n{"temperature_c": 21}\n</tool_response>'],
    'mistralai-Mistral-Nemo-Instruct-2407.jinja': ['[AVAILABLE_TOOLS]', '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call12345"}]</s>', '[TOOL_RESULTS]{"content": {"temperature_c": 21}, "call_id": "call12345"}[/TOOL_RESULTS]'],
    'ibm-granite-granite-3.3-2B-Instruct.jinja': ['<|start_of_role|>available_tools<|end_of_role|>', '<|start_of_role|>tool<|end_of_role|>{"temperature_c": 21}<|end_of_text|>'],
    'deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja': ['<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather', '<｜tool▁calls▁end｜><｜end▁of▁sentence｜><｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{"temperature_c": 21}<｜tool▁output▁end｜>'],
  };
  for (const [file, pieces] of Object.entries(expect)) {
    const r = renderChat(metadataFor(load(file), FAMILIES[file].vocab), TOOL_CONVERSATION, { tools: TOOLS });
    assertInOrder(r.prompt, pieces, file);
  }
});

test('templates without tool messages get them as text (Gemma 2 keeps strict alternation)', () => {
  const file = 'google-gemma-2-2b-it.jinja';
  const r = renderChat(metadataFor(load(file), FAMILIES[file].vocab), TOOL_CONVERSATION);
  assert.deepEqual(r.polyfills, ['tool-calls-as-text', 'tool-responses-as-user']);
  assertInOrder(r.prompt, [
    '<start_of_turn>user\nWeather in Paris?<end_of_turn>\n',
    '<start_of_turn>model\n{"tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"},"id":"call12345"}]}<end_of_turn>\n',
    '<start_of_turn>user\n{"tool_response":{"tool":"get_weather","tool_call_id":"call12345","content":{"temperature_c":21}}}<end_of_turn>\n',
    '<start_of_turn>model\n',
  ], file);
});

test('tool-call arguments given as a JSON string are rendered as an object', () => {
  const file = 'Qwen-Qwen2.5-7B-Instruct.jinja';
  const conv = structuredClone(TOOL_CONVERSATION);
  conv[1].tool_calls[0].function.arguments = '{"city": "Paris"}';
  const r = renderChat(metadataFor(load(file), FAMILIES[file].vocab), conv);
  assert.ok(r.prompt.includes('"arguments": {"city": "Paris"}'), r.prompt);
});

test('Qwen3: reasoning of earlier turns is dropped, enable_thinking=false closes an empty think block', () => {
  const file = 'Qwen-Qwen3-0.6B.jinja';
  const md = metadataFor(load(file), FAMILIES[file].vocab);
  const conv = [
    { role: 'user', content: U1 },
    { role: 'assistant', content: '<think>\nThe user wants a capital.\n</think>\n\nParis.' },
    { role: 'user', content: U2 },
  ];
  const thinking = renderChat(md, conv);
  assert.ok(!thinking.prompt.includes('The user wants a capital.'), 'old reasoning must not be replayed');
  assert.ok(thinking.prompt.includes('<|im_start|>assistant\nParis.<|im_end|>'), thinking.prompt);
  assert.ok(thinking.prompt.endsWith('<|im_start|>assistant\n'));

  const direct = renderChat(md, conv, { extra: { enable_thinking: false } });
  assert.ok(direct.prompt.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n'), JSON.stringify(direct.prompt.slice(-50)));

  // reasoning_content of the turn after the last user query is kept (tool loops).
  const loop = renderChat(md, [
    { role: 'user', content: U1 },
    { role: 'assistant', content: 'Let me check.', reasoning_content: 'Need the weather tool.' },
  ], { addGenerationPrompt: false });
  assert.ok(loop.prompt.includes('<think>\nNeed the weather tool.\n</think>\n\nLet me check.'), loop.prompt);
});

test('SmolLM3 and DeepSeek-R1 follow enable_thinking', () => {
  const smol = 'HuggingFaceTB-SmolLM3-3B.jinja';
  const mdSmol = metadataFor(load(smol), FAMILIES[smol].vocab);
  assert.ok(renderChat(mdSmol, THREE_TURNS).prompt.includes('Reasoning Mode: /think'));
  const noThink = renderChat(mdSmol, THREE_TURNS, { extra: { enable_thinking: false } }).prompt;
  assert.ok(noThink.includes('Reasoning Mode: /no_think'));
  assert.ok(noThink.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n'));

  const ds = 'deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja';
  const mdDs = metadataFor(load(ds), FAMILIES[ds].vocab);
  assert.ok(renderChat(mdDs, THREE_TURNS).prompt.endsWith('<｜Assistant｜><think>\n'));
  assert.ok(renderChat(mdDs, THREE_TURNS, { extra: { enable_thinking: false } }).prompt.endsWith('<｜Assistant｜><think>\n</think>'));
  // An earlier answer's reasoning is cut from the history.
  const hist = renderChat(mdDs, [
    { role: 'user', content: U1 }, { role: 'assistant', content: '<think>secret</think>Paris.' }, { role: 'user', content: U2 },
  ]).prompt;
  assert.ok(!hist.includes('secret') && hist.includes('<｜Assistant｜>Paris.<｜end▁of▁sentence｜>'), hist);
});

test('Llama 3.2 dates its system prompt with strftime_now in English', () => {
  const file = 'meta-llama-Llama-3.2-3B-Instruct.jinja';
  const r = renderChat(metadataFor(load(file), FAMILIES[file].vocab), THREE_TURNS);
  assert.match(r.prompt, /Today Date: \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}\n/);
  assert.equal(strftime(new Date(2024, 6, 26, 15, 4, 5), '%d %b %Y'), '26 Jul 2024');
  assert.equal(strftime(new Date(2024, 3, 5, 15, 4, 5), '%B %d, %Y %H:%M:%S %a %%'), 'April 05, 2024 15:04:05 Fri %');
});

test('a GGUF without a template falls back to ChatML, warning once per model', () => {
  const md = metadataFor(null, { bos: '<s>', eos: '</s>', extra: [] });
  const warnings = [];
  const warn = (m) => warnings.push(m);
  const r = renderChat(md, [{ role: 'system', content: SYS }, { role: 'user', content: U1 }], { warn });
  assert.equal(r.usedFallback, true);
  assert.equal(r.prompt, `<|im_start|>system\n${SYS}<|im_end|>\n<|im_start|>user\n${U1}<|im_end|>\n<|im_start|>assistant\n`);
  assert.ok(r.stopStrings.includes('<|im_end|>'));
  assert.ok(r.stopStrings.includes('</s>'), 'the vocabulary EOS also ends a turn');
  renderChat(md, [{ role: 'user', content: U2 }], { warn });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /ChatML/);
  // A template given by the caller is no fallback.
  assert.equal(renderChat(md, [{ role: 'user', content: U1 }], { template: CHATML_TEMPLATE, warn }).usedFallback, false);
});

test('named templates (tokenizer.chat_template.<name>) can be chosen', () => {
  const md = metadataFor('{{ "default:" + messages[0].content }}');
  md.set('tokenizer.chat_template.tool_use', '{{ "tools:" + messages[0].content }}');
  assert.deepEqual(listChatTemplates(md), ['', 'tool_use']);
  assert.equal(renderChat(md, [{ role: 'user', content: 'x' }]).prompt, 'default:x');
  assert.equal(renderChat(md, [{ role: 'user', content: 'x' }], { templateName: 'tool_use' }).prompt, 'tools:x');
  assert.throws(() => renderChat(md, [{ role: 'user', content: 'x' }], { templateName: 'rag' }),
    (e) => e.code === 'ERR_TEMPLATE' && /rag/.test(e.message) && /tool_use/.test(e.message));
});

test('broken templates give ERR_TEMPLATE naming the line', async (t) => {
  const cases = [
    ['mismatched block', '{% for m in messages %}\n{{ m.content }}\n{% endif %}', 3, /endif/],
    ['unclosed block', 'hello\n{% if messages %}\n{{ messages[0].content }}\n', 2, /never closed/],
    ['unclosed expression', 'a\nb\n{{ messages[0].content \nc', 3, /never closed/],
    ['bad expression', 'line1\n{% for m in messages %}\n{{ m.content + }}\n{% endfor %}', 3, /m\.content \+/],
    ['unterminated string', '{{ "ok" }}\n{{ "abc }}', 2, /not terminated/],
    ['raise_exception', 'x\n{% for m in messages %}\n{% if m.role == "user" %}\n{{ raise_exception("no users allowed") }}\n{% endif %}\n{% endfor %}', 4, /raised an exception.*no users allowed/],
    ['calling a missing method', 'x\n\n{% for m in messages %}{{ m.content.shout() }}{% endfor %}', 3, /failed to render/],
  ];
  for (const [name, template, line, pattern] of cases) {
    await t.test(name, () => {
      assert.throws(() => renderChat(new Map(), [{ role: 'user', content: 'hi' }], { template }), (e) => {
        assert.equal(e.code, 'ERR_TEMPLATE', e.message);
        assert.match(e.message, new RegExp(`line ${line}\\b`), e.message);
        assert.match(e.message, pattern);
        return true;
      });
    });
  }
});

test('a real template rejecting a conversation names its own line (Gemma 2 alternation)', () => {
  const file = 'google-gemma-2-2b-it.jinja';
  assert.throws(() => renderChat(metadataFor(load(file), FAMILIES[file].vocab), [
    { role: 'user', content: 'a' }, { role: 'user', content: 'b' },
  ]), (e) => e.code === 'ERR_TEMPLATE' && /line 1: Conversation roles must alternate/.test(e.message));
});

test('malformed messages are ERR_BAD_ARG', () => {
  const md = metadataFor(CHATML_TEMPLATE);
  for (const bad of ['hi', [{ content: 'no role' }], [null], [{ role: 'user', content: 42 }],
    [{ role: 'assistant', tool_calls: [{ function: {} }] }]]) {
    assert.throws(() => renderChat(md, bad), (e) => e.code === 'ERR_BAD_ARG', JSON.stringify(bad));
  }
  assert.throws(() => renderChat(md, [{ role: 'user', content: 'x' }], { tools: 'nope' }), (e) => e.code === 'ERR_BAD_ARG');
  // Text parts are joined; null content is empty.
  const r = renderChat(md, [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }, { role: 'assistant', content: null }], { addGenerationPrompt: false });
  assert.equal(r.prompt, '<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n<|im_end|>\n');
});

test('BOS: added only when the model wants it and the template did not write it', () => {
  const llama = metadataFor(null, { bos: '<s>', eos: '</s>', extra: [] });
  assert.equal(needsBos('<s>[INST]hi[/INST]', llama), false);
  assert.equal(needsBos('[INST]hi[/INST]', llama), true);
  llama.set('tokenizer.ggml.add_bos_token', false);
  assert.equal(needsBos('[INST]hi[/INST]', llama), false);
  const qwenMd = metadataFor(null, { bos: null, eos: '<|im_end|>', extra: [] });
  assert.equal(needsBos('<|im_start|>user\nhi', qwenMd), false);

  const calls = [];
  const fakeTokenizer = {
    bos: 4,
    encode(text, opts) { calls.push(opts); return text.startsWith('<s>') ? [4, 9] : [9]; },
  };
  const md = metadataFor(null, { bos: '<s>', eos: '</s>', extra: [] });
  assert.deepEqual(encodeChatPrompt(fakeTokenizer, '<s>hi', md), [4, 9]);
  assert.deepEqual(encodeChatPrompt(fakeTokenizer, 'hi', md), [4, 9]);
  assert.deepEqual(calls, [{ addSpecial: false, parseSpecial: true }, { addSpecial: false, parseSpecial: true }]);
});

test('Llama 3 stops include <|eom_id|> from the vocabulary even if the template omits it', () => {
  const file = 'meta-llama-Llama-3.2-3B-Instruct.jinja';
  const md = metadataFor(load(file), FAMILIES[file].vocab);
  const r = renderChat(md, THREE_TURNS);
  const tokens = md.get('tokenizer.ggml.tokens');
  assert.ok(r.stopStrings.includes('<|eom_id|>'));
  assert.ok(r.stopTokenIds.includes(tokens.indexOf('<|eom_id|>')));
  assert.ok(!r.stopStrings.includes('<|start_header_id|>'));
  assert.ok(!r.stopStrings.includes('<|end_of_text|>'), 'not written by this template and not the EOS');
});
