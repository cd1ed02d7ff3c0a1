// Tool-call and reasoning parsers on each family's real output syntax: the
// whole reply parsed at once, and streamed split at every offset, must give
// the same content, reasoning and calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ToolCallStream, parseToolCalls, detectToolFormat } from '../../web/structured/tool-calls.js';
import { ReasoningStream, templateThinks, promptOpensThinking } from '../../web/structured/reasoning.js';
import { sharedPath } from '../../tools/shared-data.js';

const NAMES = ['get_weather', 'get_time'];

/** Ids in order, so results from different splits compare equal. */
function counter() {
  let n = 0;
  return () => `call_${n++}`;
}

/** Streams `text` in pieces cut at `cuts`; returns content, calls rebuilt from the deltas, and the stream's own record. */
function streamed(text, format, cuts, options = {}) {
  const s = new ToolCallStream(format, { toolNames: NAMES, newId: counter(), ...options });
  let content = '';
  const calls = [];
  const take = (chunk) => {
    content += chunk.content;
    for (const d of chunk.toolCalls) {
      if (d.id) {
        assert.equal(d.index, calls.length, 'a new call gets the next index');
        assert.equal(d.type, 'function');
        calls.push({ id: d.id, type: 'function', function: { name: d.function.name, arguments: d.function.arguments } });
      } else {
        assert.ok(calls[d.index], 'argument deltas follow their header');
        assert.equal(d.function.name, undefined);
        calls[d.index].function.arguments += d.function.arguments;
      }
    }
  };
  let at = 0;
  for (const c of [...cuts, text.length]) {
    take(s.push(text.slice(at, c)));
    at = c;
  }
  take(s.finish());
  assert.equal(content, s.content);
  assert.deepEqual(calls, s.calls);
  return { content, toolCalls: calls };
}

/** Every single cut, and every piece of 1..3 characters. */
function assertSplitInvariant(text, format, options) {
  const whole = parseToolCalls(text, format, { toolNames: NAMES, newId: counter(), ...options });
  for (let i = 0; i <= text.length; i++) {
    assert.deepEqual(streamed(text, format, [i], options), whole, `cut at ${i}`);
  }
  for (const step of [1, 2, 3]) {
    const cuts = [];
    for (let i = step; i < text.length; i += step) cuts.push(i);
    assert.deepEqual(streamed(text, format, cuts, options), whole, `pieces of ${step}`);
  }
  return whole;
}

const call = (id, name, args) => ({ id, type: 'function', function: { name, arguments: args } });

const CASES = [
  {
    name: 'Qwen2.5 / Hermes: one call',
    format: 'hermes',
    text: '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call>',
    content: '',
    calls: [call('call_0', 'get_weather', '{"city": "Paris", "unit": "celsius"}')],
  },
  {
    name: 'Qwen3: text, then two calls',
    format: 'hermes',
    text: 'Let me check both.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n' +
      '<tool_call>\n{"name": "get_time", "arguments": {"tz": "Europe/Paris", "s": "a \\"}\\" b"}}\n</tool_call>',
    content: 'Let me check both.\n',
    calls: [call('call_0', 'get_weather', '{"city": "Paris"}'), call('call_1', 'get_time', '{"tz": "Europe/Paris", "s": "a \\"}\\" b"}')],
  },
  {
    name: 'Mistral Nemo: [TOOL_CALLS] with a list and ids',
    format: 'mistral',
    text: '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "a1b2c3d4e"}, {"name": "get_time", "arguments": {}}]',
    content: '',
    calls: [call('call_0', 'get_weather', '{"city": "Paris"}'), call('call_1', 'get_time', '{}')],
  },
  {
    name: 'Granite 3.3: <|tool_call|> with a list',
    format: 'granite',
    text: '<|tool_call|>[{"arguments": {"city": "Paris"}, "name": "get_weather"}]',
    content: '',
    calls: [call('call_0', 'get_weather', '{"city": "Paris"}')],
  },
  {
    name: 'Llama 3.2: bare JSON with parameters',
    format: 'llama3',
    text: '{"name": "get_weather", "parameters": {"city": "Paris", "days": 3}}',
    content: '',
    calls: [call('call_0', 'get_weather', '{"city": "Paris", "days": 3}')],
  },
  {
    name: 'Llama 3.1: <|python_tag|> and two calls separated by ;',
    format: 'llama3',
    text: '<|python_tag|>{"type": "function", "name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "get_time", "parameters": {"tz": "CET"}}',
    content: '',
    calls: [call('call_0', 'get_weather', '{"city": "Paris"}'), call('call_1', 'get_time', '{"tz": "CET"}')],
  },
  {
    name: 'JSON fallback: the tool_calls wrapper, OpenAI nesting, stringified arguments',
    format: 'json',
    text: ' {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"type": "function", "function": {"name": "get_time", "arguments": "{\\"tz\\": \\"CET\\"}"}}]}',
    content: '',
    calls: [call('call_0', 'get_weather', '{"city": "Paris"}'), call('call_1', 'get_time', '{"tz": "CET"}')],
  },
  {
    name: 'plain JSON that names no declared tool stays content',
    format: 'llama3',
    text: '{"name": "Bob", "age": 3} is the record.',
    content: '{"name": "Bob", "age": 3} is the record.',
    calls: [],
  },
  {
    name: 'a marker followed by something that is not JSON stays content',
    format: 'hermes',
    text: 'Use <tool_call> tags like <tool_call>get_weather(Paris)',
    content: 'Use <tool_call> tags like <tool_call>get_weather(Paris)',
    calls: [],
  },
  {
    name: 'text mentioning a marker prefix',
    format: 'mistral',
    text: 'Arrays look like [1, 2] and [TOOL',
    content: 'Arrays look like [1, 2] and [TOOL',
    calls: [],
  },
  {
    name: 'non-ASCII text and arguments (split inside surrogate pairs too)',
    format: 'hermes',
    text: 'Météo à Zürich 🌦️ :\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "東京 🗼", "note": "\\u00e9"}}\n</tool_call>',
    content: 'Météo à Zürich 🌦️ :\n',
    calls: [call('call_0', 'get_weather', '{"city": "東京 🗼", "note": "\\u00e9"}')],
  },
  {
    name: 'a call cut off by max_tokens keeps what arrived',
    format: 'hermes',
    text: '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par',
    content: '',
    calls: [call('call_0', 'get_weather', '{"city": "Par')],
  },
];

for (const c of CASES) {
  test(`tool calls: ${c.name}`, () => {
    const r = assertSplitInvariant(c.text, c.format);
    assert.equal(r.content, c.content);
    assert.deepEqual(r.toolCalls, c.calls);
    for (const tc of r.toolCalls) {
      if (c.name.includes('cut off')) continue;
      JSON.parse(tc.function.arguments); // complete calls carry JSON arguments
    }
  });
}

test('tool calls: parallel off keeps the first call and says generation may stop', () => {
  const text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>';
  const r = assertSplitInvariant(text, 'hermes', { parallel: false });
  assert.deepEqual(r.toolCalls, [call('call_0', 'get_weather', '{"city": "Paris"}')]);
  const s = new ToolCallStream('hermes', { toolNames: NAMES, parallel: false });
  s.push(text);
  assert.equal(s.done, true);
});

test('tool calls: arguments stream as they arrive, not at the end', () => {
  const s = new ToolCallStream('hermes', { toolNames: NAMES, newId: counter() });
  const a = s.push('<tool_call>\n{"name": "get_weather", "arguments": {"city": ');
  assert.deepEqual(a.toolCalls, [
    { index: 0, id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '' } },
    { index: 0, function: { arguments: '{"city": ' } },
  ]);
  const b = s.push('"Par');
  assert.deepEqual(b.toolCalls, [{ index: 0, function: { arguments: '"Par' } }]);
});

test('tool calls: Mistral ids are 9 alphanumerics, others OpenAI call_ ids', () => {
  const m = parseToolCalls('[TOOL_CALLS][{"name": "get_time", "arguments": {}}]', 'mistral', { toolNames: NAMES });
  assert.match(m.toolCalls[0].id, /^[A-Za-z0-9]{9}$/);
  const h = parseToolCalls('<tool_call>{"name": "get_time", "arguments": {}}</tool_call>', 'hermes', { toolNames: NAMES });
  assert.match(h.toolCalls[0].id, /^call_[A-Za-z0-9]{24}$/);
});

test('tool formats are detected from the real templates', () => {
  const expect = {
    'Qwen-Qwen2.5-7B-Instruct.jinja': 'hermes',
    'Qwen-Qwen3-0.6B.jinja': 'hermes',
    'HuggingFaceTB-SmolLM3-3B.jinja': 'hermes',
    'mistralai-Mistral-Nemo-Instruct-2407.jinja': 'mistral',
    'ibm-granite-granite-3.3-2B-Instruct.jinja': 'granite',
    'meta-llama-Llama-3.1-8B-Instruct.jinja': 'llama3',
    'meta-llama-Llama-3.2-3B-Instruct.jinja': 'llama3',
    'google-gemma-2-2b-it.jinja': 'json',
    'microsoft-Phi-3.5-mini-instruct.jinja': 'json',
  };
  for (const [file, format] of Object.entries(expect)) {
    const source = fs.readFileSync(sharedPath(`data/templates/${file}`), 'utf8');
    const rendersTools = format !== 'json' && !file.includes('SmolLM3');
    assert.equal(detectToolFormat(source, rendersTools), format, file);
  }
  const r1 = fs.readFileSync(sharedPath('data/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja'), 'utf8');
  assert.equal(templateThinks(r1), true);
});

// ---------------------------------------------------------------------------

function reasoningSplit(text, cuts, options) {
  const s = new ReasoningStream(options);
  let reasoning = '', content = '';
  let at = 0;
  for (const c of [...cuts, text.length]) {
    const o = s.push(text.slice(at, c));
    reasoning += o.reasoning; content += o.content;
    at = c;
  }
  const o = s.finish();
  reasoning += o.reasoning; content += o.content;
  return { reasoning, content };
}

const REASONING = [
  { name: 'Qwen3 thinking then answer', text: '<think>\nThe user greets me.\n</think>\n\nHello!', reasoning: 'The user greets me.', content: 'Hello!' },
  { name: 'Qwen3 with thinking off (empty block)', text: '<think>\n\n</think>\n\nHello!', reasoning: '', content: 'Hello!' },
  { name: 'DeepSeek-R1: the prompt opened the block', text: 'Okay, 2+2 is 4.\n</think>\n\n4', reasoning: 'Okay, 2+2 is 4.', content: '4', startInside: true },
  { name: 'no thinking: all content, whitespace kept', text: '  Hello <think> there', reasoning: '', content: '  Hello <think> there' },
  { name: 'cut off while thinking: all reasoning', text: '<think>Step one. Step', reasoning: 'Step one. Step', content: '' },
  { name: 'a later block is content', text: '<think>a</think>b<think>c</think>', reasoning: 'a', content: 'b<think>c</think>' },
];

for (const c of REASONING) {
  test(`reasoning: ${c.name}`, () => {
    const opts = { startInside: c.startInside };
    for (let i = 0; i <= c.text.length; i++) {
      assert.deepEqual(reasoningSplit(c.text, [i], opts), { reasoning: c.reasoning, content: c.content }, `cut at ${i}`);
    }
    const ones = [];
    for (let i = 1; i < c.text.length; i++) ones.push(i);
    assert.deepEqual(reasoningSplit(c.text, ones, opts), { reasoning: c.reasoning, content: c.content });
  });
}

test('reasoning: a prompt that ends inside <think> is recognised', () => {
  assert.equal(promptOpensThinking('<｜Assistant｜><think>\n'), true);
  assert.equal(promptOpensThinking('<|im_start|>assistant\n<think>\n\n</think>\n\n'), false);
});

test('tool calls: a reply cut off at the start of its next marker has no content', () => {
  const text = '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>\n<tool_ca';
  const r = assertSplitInvariant(text, 'hermes');
  assert.equal(r.content, '');
  assert.equal(r.toolCalls.length, 1);
});
