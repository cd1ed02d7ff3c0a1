// tool_choice grammars: for each tool-call syntax, native llama.cpp's grammar
// engine (the judge) accepts the calls our parser reads back, and rejects
// undeclared functions, schema-invalid arguments and free text. Arguments are
// compact JSON, as OpenAI writes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toolChoiceGrammar, checkToolOptions, prefixRules } from '../../web/structured/tool-grammar.js';
import { parseToolCalls } from '../../web/structured/tool-calls.js';
import { loadLlama, refMissing } from './tokenizer-helpers.js';

const TOOLS = [
  { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1, maximum: 7 } }, required: ['city'], additionalProperties: false } } },
  { type: 'function', function: { name: 'get_time' } },
];
const NAMES = TOOLS.map((t) => t.function.name);

/** A template text that selects each syntax (detectToolFormat reads markers). */
const SYNTAXES = {
  hermes: { template: '<tool_call>', one: '<tool_call>\n{"name": "get_weather", "arguments": {"city":"Paris","days":3}}\n</tool_call>',
    two: '<tool_call>\n{"name": "get_weather", "arguments": {"city":"Paris"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>' },
  mistral: { template: '[TOOL_CALLS]', one: '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city":"Paris","days":3}}]',
    two: '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city":"Paris"}}, {"name": "get_time", "arguments": {}}]' },
  granite: { template: '<|tool_call|>', one: '<|tool_call|>[{"name": "get_weather", "arguments": {"city":"Paris","days":3}}]',
    two: '<|tool_call|>[{"name": "get_weather", "arguments": {"city":"Paris"}}, {"name": "get_time", "arguments": {}}]' },
  llama3: { template: '<|start_header_id|>', one: '{"name": "get_weather", "parameters": {"city":"Paris","days":3}}',
    two: '{"name": "get_weather", "parameters": {"city":"Paris"}}; {"name": "get_time", "parameters": {}}' },
  json: { template: '', one: '{"tool_calls": [{"name": "get_weather", "arguments": {"city":"Paris","days":3}}]}',
    two: '{"tool_calls": [{"name": "get_weather", "arguments": {"city":"Paris"}}, {"name": "get_time", "arguments": {}}]}' },
};

test('prefixRules renames rules, not literals, classes or counts', () => {
  const g = 'root ::= "root" [a-z]{2,3} space # root\nspace ::= " "?\n';
  assert.equal(prefixRules(g, 'f0-'), 'f0-root ::= "root" [a-z]{2,3} f0-space # root\nf0-space ::= " "?\n');
});

test('tool options are checked and named in errors', () => {
  assert.deepEqual(checkToolOptions({ tools: TOOLS }), { render: true });
  assert.deepEqual(checkToolOptions({ tools: TOOLS, toolChoice: 'none' }), { render: false });
  assert.deepEqual(checkToolOptions({}), { render: false });
  assert.throws(() => checkToolOptions({ toolChoice: 'required' }), { code: 'ERR_BAD_ARG', message: /needs tools/ });
  assert.throws(() => checkToolOptions({ tools: TOOLS, toolChoice: { type: 'function', function: { name: 'nope' } } }), { code: 'ERR_BAD_ARG', message: /nope/ });
  assert.throws(() => checkToolOptions({ tools: [{ type: 'function', function: { name: 'a b' } }] }), { code: 'ERR_BAD_ARG', message: /tools\[0\]/ });
  assert.throws(() => checkToolOptions({ tools: TOOLS, toolChoice: 'sometimes' }), { code: 'ERR_BAD_ARG', message: /toolChoice/ });
  assert.throws(() => checkToolOptions({ tools: TOOLS, parallelToolCalls: 'yes' }), { code: 'ERR_BAD_ARG', message: /parallelToolCalls/ });
  assert.equal(toolChoiceGrammar({ template: '<tool_call>', rendersTools: true }, { tools: TOOLS, toolChoice: 'auto' }), null);
  for (const extra of [{ grammar: 'root ::= "x"' }, { jsonSchema: { type: 'object' } }]) {
    assert.throws(() => toolChoiceGrammar({ template: '<tool_call>', rendersTools: true }, { tools: TOOLS, toolChoice: 'required', ...extra }),
      { code: 'ERR_BAD_ARG', message: /cannot be combined/ });
  }
});

for (const [format, s] of Object.entries(SYNTAXES)) {
  test(`${format}: the grammar accepts what the parser reads as calls and rejects the rest (native llama.cpp)`, { skip: refMissing && 'tests/ref not installed' }, async () => {
    const llama = await loadLlama();
    const { LlamaGrammar } = await import('../ref/node_modules/node-llama-cpp/dist/index.js');
    const rendered = { template: s.template, rendersTools: format !== 'json' };
    const required = new LlamaGrammar(llama, { grammar: toolChoiceGrammar(rendered, { tools: TOOLS, toolChoice: 'required' }) });
    const single = new LlamaGrammar(llama, { grammar: toolChoiceGrammar(rendered, { tools: TOOLS, toolChoice: 'required', parallelToolCalls: false }) });
    const named = new LlamaGrammar(llama, { grammar: toolChoiceGrammar(rendered, { tools: TOOLS, toolChoice: { type: 'function', function: { name: 'get_time' } } }) });
    assert.ok(required._testText(s.one), s.one);
    assert.ok(required._testText(s.two), s.two);
    assert.ok(single._testText(s.one));
    assert.ok(!single._testText(s.two), 'parallel calls off: one call only');
    assert.ok(!named._testText(s.one), 'the named function only');
    const timeOnly = parseToolCalls(s.two, format, { toolNames: NAMES }).toolCalls.length === 2 && s.two
      .replace(/\{"name": "get_weather", "(arguments|parameters)": \{"city":"Paris"\}\}(\n<\/tool_call>\n<tool_call>\n|, |; )/, '');
    assert.ok(!timeOnly.includes('get_weather'), timeOnly);
    assert.ok(named._testText(timeOnly), `named: ${timeOnly}`);
    for (const bad of [s.one.replace('get_weather', 'get_wether'), s.one.replace('3', '9'), s.one.replace('"Paris"', '42'), s.one.replace('"days"', '"weeks"'), 'Sure! ' + s.one, '']) {
      assert.ok(!required._testText(bad), `rejects ${bad}`);
    }
    const one = parseToolCalls(s.one, format, { toolNames: NAMES });
    assert.equal(one.toolCalls.length, 1);
    assert.deepEqual(JSON.parse(one.toolCalls[0].function.arguments), { city: 'Paris', days: 3 });
    const two = parseToolCalls(s.two, format, { toolNames: NAMES });
    assert.deepEqual(two.toolCalls.map((c) => c.function.name), ['get_weather', 'get_time']);
    assert.equal(two.content + one.content, '');
  });
}
