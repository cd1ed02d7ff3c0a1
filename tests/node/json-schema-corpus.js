/**
 * Schemas for the JSON Schema -> grammar tests, each with documents its
 * grammar must accept (`accept`: valid, and in the order/shape the grammar
 * writes) and texts it must reject (`reject`: invalid JSON or invalid under
 * the schema). Strings, arrays and recursion are bounded where a random
 * model could otherwise write forever; `open` marks schemas with an
 * unbounded string, key or list.
 *
 * @typedef {{ name: string, schema: any, accept: string[], reject: string[], open?: boolean }} CorpusEntry
 */

/** @type {CorpusEntry[]} */
export const CORPUS = [
  {
    name: 'flat object, required and optional',
    schema: {
      type: 'object',
      properties: { name: { type: 'string', maxLength: 8 }, age: { type: 'integer', minimum: 0, maximum: 150 }, ok: { type: 'boolean' } },
      required: ['name', 'age'],
    },
    accept: ['{"name":"Al","age":30}', '{"name": "", "age": 150, "ok": true}', '{\n  "name": "x",\n  "age": 0\n}'],
    reject: ['{"age":30,"name":"Al"}', '{"name":"Al"}', '{"name":"Al","age":151}', '{"name":"Al","age":-1}', '{"name":"Al","age":30,"x":1}', '{"name":"123456789","age":1}'],
  },
  {
    name: 'only optional properties',
    schema: { type: 'object', properties: { a: { type: 'integer', maximum: 9, minimum: 0 }, b: { type: 'null' }, c: { const: 'c' } } },
    accept: ['{}', '{"a":1}', '{"b":null}', '{"c":"c"}', '{"a":2,"c":"c"}', '{"a":3,"b":null,"c":"c"}'],
    reject: ['{,}', '{"a":1,}', '{"b":null,"a":1}', '{"c":"d"}'],
  },
  {
    name: 'nested objects',
    schema: {
      type: 'object',
      properties: {
        user: { type: 'object', properties: { id: { type: 'integer', minimum: 1, maximum: 99999 }, email: { type: 'string', maxLength: 12 } }, required: ['id', 'email'] },
        meta: { type: 'object', properties: { tags: { type: 'array', items: { type: 'string', maxLength: 4 }, maxItems: 3 } }, required: ['tags'] },
      },
      required: ['user', 'meta'],
    },
    accept: ['{"user":{"id":5,"email":"a@b"},"meta":{"tags":[]}}', '{"user":{"id":99999,"email":""},"meta":{"tags":["x","yy"]}}'],
    reject: ['{"user":{"id":0,"email":"a"},"meta":{"tags":[]}}', '{"user":{"id":5,"email":"a"},"meta":{"tags":["a","b","c","d"]}}'],
  },
  {
    name: 'array with minItems and maxItems',
    schema: { type: 'array', items: { type: 'integer', minimum: -5, maximum: 5 }, minItems: 2, maxItems: 4 },
    accept: ['[1,2]', '[-5, 5, 0]', '[0,0,0,0]'],
    reject: ['[]', '[1]', '[1,2,3,4,5]', '[6,1]', '[-6,1]', '[1,2,]'],
  },
  {
    name: 'array of exactly three',
    schema: { type: 'array', items: { type: 'boolean' }, minItems: 3, maxItems: 3 },
    accept: ['[true,false,true]'],
    reject: ['[true,false]', '[true,false,true,true]'],
  },
  {
    name: 'string enum',
    schema: { enum: ['red', 'green', 'blue'] },
    accept: ['"red"', '"blue"'],
    reject: ['"Red"', '"yellow"', 'red'],
  },
  {
    name: 'mixed enum',
    schema: { enum: [1, 'one', null, true, [1, 2], { a: 1 }] },
    accept: ['1', '"one"', 'null', 'true', '[1,2]', '{"a":1}'],
    reject: ['2', 'false', '[1]'],
  },
  {
    name: 'enum filtered by type',
    schema: { type: 'string', enum: ['a', 1, 'b'] },
    accept: ['"a"', '"b"'],
    reject: ['1'],
  },
  {
    name: 'const object',
    schema: { type: 'object', properties: { kind: { const: 'point' }, x: { const: 0 } }, required: ['kind', 'x'] },
    accept: ['{"kind":"point","x":0}'],
    reject: ['{"kind":"line","x":0}', '{"kind":"point","x":1}'],
  },
  {
    name: 'anyOf of types',
    schema: { anyOf: [{ type: 'integer', minimum: 0, maximum: 100 }, { type: 'string', maxLength: 3 }, { type: 'null' }] },
    accept: ['42', '"abc"', 'null'],
    reject: ['101', '"abcd"', 'true'],
  },
  {
    name: 'oneOf with a discriminator',
    schema: {
      oneOf: [
        { type: 'object', properties: { type: { const: 'circle' }, r: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['type', 'r'] },
        { type: 'object', properties: { type: { const: 'square' }, side: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['type', 'side'] },
      ],
    },
    accept: ['{"type":"circle","r":3}', '{"type":"square","side":9}'],
    reject: ['{"type":"circle","side":3}', '{"type":"square","r":3}'],
  },
  {
    name: 'list of types (nullable string)',
    schema: { type: ['string', 'null'], maxLength: 5 },
    accept: ['"hey"', 'null'],
    reject: ['"toolong"', '1'],
  },
  {
    name: '$ref to $defs',
    schema: {
      $defs: { point: { type: 'object', properties: { x: { type: 'integer', minimum: -9, maximum: 9 }, y: { type: 'integer', minimum: -9, maximum: 9 } }, required: ['x', 'y'] } },
      type: 'object',
      properties: { from: { $ref: '#/$defs/point' }, to: { $ref: '#/$defs/point' } },
      required: ['from', 'to'],
    },
    accept: ['{"from":{"x":1,"y":2},"to":{"x":-9,"y":9}}'],
    reject: ['{"from":{"x":1},"to":{"x":1,"y":2}}'],
  },
  {
    name: 'recursive tree ($ref recursion)',
    schema: {
      $ref: '#/definitions/node',
      definitions: {
        node: {
          type: 'object',
          properties: { v: { type: 'integer', minimum: 0, maximum: 9 }, kids: { type: 'array', items: { $ref: '#/definitions/node' }, maxItems: 2 } },
          required: ['v'],
        },
      },
    },
    accept: ['{"v":1}', '{"v":1,"kids":[]}', '{"v":1,"kids":[{"v":2,"kids":[{"v":3}]},{"v":4}]}'],
    reject: ['{"v":1,"kids":[{"v":2},{"v":3},{"v":4}]}', '{"v":1,"kids":[{}]}'],
  },
  {
    name: 'recursive linked list through the root',
    schema: { type: 'object', properties: { value: { type: 'boolean' }, next: { anyOf: [{ $ref: '#' }, { type: 'null' }] } }, required: ['value', 'next'] },
    accept: ['{"value":true,"next":null}', '{"value":true,"next":{"value":false,"next":null}}'],
    reject: ['{"value":true}', '{"value":true,"next":{"value":false}}'],
    open: true,
  },
  {
    name: 'string lengths',
    schema: { type: 'object', properties: { code: { type: 'string', minLength: 2, maxLength: 4 }, word: { type: 'string', minLength: 1, maxLength: 6 } }, required: ['code', 'word'] },
    accept: ['{"code":"ab","word":"x"}', '{"code":"\\u00e9\\n\\"\\\\","word":"héllo"}'],
    reject: ['{"code":"a","word":"x"}', '{"code":"abcde","word":"x"}', '{"code":"ab","word":""}', '{"code":"\\ud83d\\ude00","word":"x"}'],
  },
  {
    name: 'integer ranges',
    schema: {
      type: 'object',
      properties: {
        small: { type: 'integer', minimum: -3, maximum: 3 },
        big: { type: 'integer', minimum: 1000, maximum: 123456 },
        neg: { type: 'integer', maximum: -10, minimum: -999 },
        excl: { type: 'integer', exclusiveMinimum: 0, exclusiveMaximum: 10 },
        atLeast: { type: 'integer', minimum: 42 },
        atMost: { type: 'integer', maximum: 7 },
      },
      required: ['small', 'big', 'neg', 'excl', 'atLeast', 'atMost'],
    },
    accept: ['{"small":-3,"big":1000,"neg":-999,"excl":1,"atLeast":42,"atMost":-123456}', '{"small":0,"big":123456,"neg":-10,"excl":9,"atLeast":9999999,"atMost":7}'],
    reject: [
      '{"small":4,"big":1000,"neg":-999,"excl":1,"atLeast":42,"atMost":0}',
      '{"small":0,"big":999,"neg":-999,"excl":1,"atLeast":42,"atMost":0}',
      '{"small":0,"big":1000,"neg":-9,"excl":1,"atLeast":42,"atMost":0}',
      '{"small":0,"big":1000,"neg":-999,"excl":10,"atLeast":42,"atMost":0}',
      '{"small":0,"big":1000,"neg":-999,"excl":1,"atLeast":41,"atMost":0}',
      '{"small":0,"big":1000,"neg":-999,"excl":1,"atLeast":42,"atMost":8}',
      '{"small":-0,"big":1000,"neg":-999,"excl":1,"atLeast":42,"atMost":0}',
      '{"small":01,"big":1000,"neg":-999,"excl":1,"atLeast":42,"atMost":0}',
    ],
  },
  {
    name: 'pattern: anchored code',
    schema: { type: 'string', pattern: '^[A-Z]{3}-\\d{2,4}$' },
    accept: ['"ABC-12"', '"XYZ-1234"'],
    reject: ['"AB-12"', '"ABC-1"', '"abc-12"', '"ABC-12345"'],
  },
  {
    name: 'pattern: alternation and groups',
    schema: { type: 'string', pattern: '^(cat|dog)s?( (and|or) (cat|dog)s?){0,2}$' },
    accept: ['"cat"', '"dogs and cat"', '"cats or dogs and dog"'],
    reject: ['"cow"', '"cat and"', '"cat and dog or cat and dog"'],
  },
  {
    name: 'pattern: quotes, backslashes and classes',
    schema: { type: 'string', pattern: '^"[^"\\\\]{0,3}"\\\\[\\w.]{1,3}$' },
    accept: ['"\\"ab\\"\\\\x.y"', '"\\"\\"\\\\_"'],
    reject: ['"\\"a\\"b\\"\\\\x"', '"ab\\\\x"'],
  },
  {
    name: 'pattern: unanchored (contains)',
    schema: { type: 'object', properties: { s: { type: 'string', pattern: 'ok[0-9]' } }, required: ['s'] },
    accept: ['{"s":"ok1"}', '{"s":"xx ok7 yy"}'],
    reject: ['{"s":"ok"}', '{"s":"o k1"}'],
    open: true,
  },
  {
    name: 'formats',
    schema: {
      type: 'object',
      properties: { d: { type: 'string', format: 'date' }, t: { type: 'string', format: 'time' }, dt: { type: 'string', format: 'date-time' }, id: { type: 'string', format: 'uuid' } },
      required: ['d', 't', 'dt', 'id'],
    },
    accept: ['{"d":"2024-02-28","t":"23:59:59Z","dt":"1999-12-31T00:00:00.5+05:30","id":"123e4567-e89b-12d3-a456-426614174000"}'],
    reject: [
      '{"d":"2024-02-30","t":"23:59:59Z","dt":"1999-12-31T00:00:00Z","id":"123e4567-e89b-12d3-a456-426614174000"}',
      '{"d":"2024-04-31","t":"23:59:59Z","dt":"1999-12-31T00:00:00Z","id":"123e4567-e89b-12d3-a456-426614174000"}',
      '{"d":"2024-02-28","t":"24:00:00Z","dt":"1999-12-31T00:00:00Z","id":"123e4567-e89b-12d3-a456-426614174000"}',
      '{"d":"2024-02-28","t":"23:59:59Z","dt":"1999-12-31 00:00:00Z","id":"123e4567-e89b-12d3-a456-426614174000"}',
      '{"d":"2024-02-28","t":"23:59:59Z","dt":"1999-12-31T00:00:00Z","id":"123e4567e89b12d3a456426614174000"}',
    ],
  },
  {
    name: 'tuple with prefixItems and no extra items',
    schema: { type: 'array', prefixItems: [{ type: 'string', maxLength: 3 }, { type: 'integer', minimum: 0, maximum: 9 }, { type: 'boolean' }], items: false, minItems: 2 },
    accept: ['["a",1]', '["abc",9,true]'],
    reject: ['["a"]', '["a",1,true,1]', '[1,"a"]'],
  },
  {
    name: 'tuple then rest items',
    schema: { type: 'array', prefixItems: [{ const: 'head' }], items: { type: 'integer', minimum: 0, maximum: 99 }, maxItems: 4 },
    accept: ['[]', '["head"]', '["head",1,2,3]'],
    reject: ['[1]', '["head",1,2,3,4]', '["head","x"]'],
  },
  {
    name: 'draft-04 items array',
    schema: { type: 'array', items: [{ type: 'null' }, { type: 'boolean' }], additionalItems: false },
    accept: ['[]', '[null]', '[null,true]'],
    reject: ['[true]', '[null,true,null]'],
  },
  {
    name: 'additionalProperties schema',
    schema: { type: 'object', properties: { id: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['id'], additionalProperties: { type: 'boolean' } },
    accept: ['{"id":1}', '{"id":1,"x":true,"yz":false}'],
    reject: ['{"id":1,"x":1}', '{"id":1,"id":true}', '{"x":true}'],
    open: true,
  },
  {
    name: 'any JSON object (json_object)',
    schema: { type: 'json_object' },
    accept: ['{}', '{"a":[1,{"b":null}],"c":"d"}'],
    reject: ['[]', '1', '"x"'],
    open: true,
  },
  {
    name: 'allOf merging objects',
    schema: {
      $defs: { base: { type: 'object', properties: { id: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['id'] } },
      allOf: [{ $ref: '#/$defs/base' }, { properties: { label: { type: 'string', maxLength: 5 } }, required: ['label'] }],
    },
    accept: ['{"id":1,"label":"x"}'],
    reject: ['{"id":1}', '{"label":"x"}', '{"id":0,"label":"x"}'],
  },
  {
    name: 'allOf narrowing a string and an integer',
    schema: {
      type: 'object',
      properties: {
        s: { allOf: [{ type: 'string', maxLength: 6 }, { minLength: 2 }] },
        n: { allOf: [{ type: 'integer', minimum: 0 }, { maximum: 50 }, { minimum: 10 }] },
      },
      required: ['s', 'n'],
    },
    accept: ['{"s":"ab","n":10}', '{"s":"abcdef","n":50}'],
    reject: ['{"s":"a","n":10}', '{"s":"ab","n":9}', '{"s":"ab","n":51}'],
  },
  {
    name: 'anyOf with shared keywords distributed',
    schema: { type: 'object', properties: { k: { type: 'integer', minimum: 0, maximum: 3 } }, required: ['k'], anyOf: [{ properties: { a: { type: 'boolean' } }, required: ['a'] }, { properties: { b: { type: 'null' } }, required: ['b'] }] },
    accept: ['{"k":1,"a":true}', '{"k":3,"b":null}'],
    reject: ['{"k":1}', '{"k":1,"a":null}'],
  },
  {
    name: 'OpenAI strict style',
    schema: {
      type: 'object',
      properties: {
        steps: { type: 'array', items: { type: 'object', properties: { explanation: { type: 'string', maxLength: 10 }, output: { type: 'string', maxLength: 10 } }, required: ['explanation', 'output'], additionalProperties: false }, maxItems: 3 },
        final_answer: { type: 'string', maxLength: 10 },
      },
      required: ['steps', 'final_answer'],
      additionalProperties: false,
    },
    accept: ['{"steps":[{"explanation":"e","output":"o"}],"final_answer":"42"}'],
    reject: ['{"steps":[{"output":"o","explanation":"e"}],"final_answer":"42"}', '{"final_answer":"42"}'],
  },
  {
    name: 'numbers and booleans',
    schema: { type: 'object', properties: { x: { type: 'number' }, flag: { type: 'boolean' }, nothing: { type: 'null' } }, required: ['x', 'flag', 'nothing'] },
    accept: ['{"x":-1.5e3,"flag":false,"nothing":null}', '{"x":0,"flag":true,"nothing":null}', '{"x":12.25,"flag":true,"nothing":null}'],
    reject: ['{"x":01,"flag":false,"nothing":null}', '{"x":1.,"flag":false,"nothing":null}', '{"x":NaN,"flag":false,"nothing":null}', '{"x":.5,"flag":false,"nothing":null}'],
  },
  {
    name: 'property names that need escaping',
    schema: { type: 'object', properties: { 'a"b': { type: 'integer', minimum: 0, maximum: 1 }, 'c\\d': { type: 'boolean' }, 'é ü': { type: 'null' } }, required: ['a"b', 'c\\d', 'é ü'] },
    accept: ['{"a\\"b":0,"c\\\\d":true,"é ü":null}'],
    reject: ['{"ab":0,"c\\\\d":true,"é ü":null}'],
  },
  {
    name: 'boolean schema true inside object',
    schema: { type: 'object', properties: { anything: true, label: { type: 'string', maxLength: 3 } }, required: ['label'] },
    accept: ['{"label":"a"}', '{"label":"a","anything":[1,"x",{"y":null}]}'],
    reject: ['{"label":"abcd"}'],
    open: true,
  },
  {
    name: 'array of objects with enums',
    schema: {
      type: 'array',
      items: { type: 'object', properties: { size: { enum: ['S', 'M', 'L'] }, qty: { type: 'integer', minimum: 1, maximum: 12 } }, required: ['size', 'qty'], additionalProperties: false },
      minItems: 1,
      maxItems: 3,
    },
    accept: ['[{"size":"M","qty":2}]', '[{"size":"S","qty":1},{"size":"L","qty":12}]'],
    reject: ['[]', '[{"size":"XL","qty":2}]', '[{"size":"M","qty":13}]'],
  },
  {
    name: 'nullable $ref through anyOf',
    schema: {
      $defs: { money: { type: 'object', properties: { amount: { type: 'integer', minimum: 0, maximum: 1000000 }, currency: { enum: ['EUR', 'USD'] } }, required: ['amount', 'currency'] } },
      type: 'object',
      properties: { price: { anyOf: [{ $ref: '#/$defs/money' }, { type: 'null' }] } },
      required: ['price'],
    },
    accept: ['{"price":null}', '{"price":{"amount":5,"currency":"EUR"}}'],
    reject: ['{"price":{"amount":5}}', '{"price":5}'],
  },
  {
    name: 'integer or boolean',
    schema: { type: ['integer', 'boolean'], minimum: 10, maximum: 20 },
    accept: ['10', '20', 'true'],
    reject: ['9', '21', 'null'],
  },
  {
    name: 'pattern: phone-like with optional parts',
    schema: { type: 'string', pattern: '^\\+?[0-9]{1,3}( [0-9]{2,4}){1,3}$' },
    accept: ['"+33 12 3456"', '"1 22"'],
    reject: ['"+33"', '"33  12"', '"+33 1"'],
  },
  {
    name: 'nested arrays (matrix)',
    schema: { type: 'array', items: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 9 }, minItems: 2, maxItems: 3 }, minItems: 2, maxItems: 3 },
    accept: ['[[1,2],[3,4]]', '[[1,2,3],[4,5],[6,7,8]]'],
    reject: ['[[1],[2,3]]', '[[1,2]]', '[[1,2],[3,10]]'],
  },
  {
    name: 'number ranges',
    schema: {
      type: 'object',
      properties: { price: { type: 'number', minimum: 0 }, ratio: { type: 'number', exclusiveMinimum: 0, maximum: 1 }, temp: { type: 'number', minimum: -40.5, maximum: 60 } },
      required: ['price', 'ratio', 'temp'],
    },
    accept: ['{"price":0,"ratio":1,"temp":-40}', '{"price":12.5,"ratio":1,"temp":59.99}'],
    reject: ['{"price":-1,"ratio":1,"temp":0}', '{"price":1,"ratio":0,"temp":0}', '{"price":1,"ratio":1.5,"temp":0}', '{"price":1,"ratio":1,"temp":60.5}', '{"price":1e3,"ratio":1,"temp":0}'],
  },
];
