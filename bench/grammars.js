/**
 * The grammar the benchmark constrains decoding with: what a JSON Schema
 * converter makes of an object with free-text, number, enum and array
 * fields (llama.cpp's json-schema-to-grammar shape). Free strings are the
 * hard case for a mask: almost every token may continue them.
 */
export const BENCH_JSON_GRAMMAR = String.raw`root ::= "{" space name-kv "," space age-kv "," space city-kv "," space tags-kv "," space score-kv "}" space
name-kv ::= "\"name\"" space ":" space string
age-kv ::= "\"age\"" space ":" space integer
city-kv ::= "\"city\"" space ":" space ("\"Paris\"" | "\"Berlin\"" | "\"Rome\"") space
tags-kv ::= "\"tags\"" space ":" space "[" space (string ("," space string)*)? "]" space
score-kv ::= "\"score\"" space ":" space number
string ::= "\"" char* "\"" space
char ::= [^"\\\x7F\x00-\x1F] | [\\] (["\\bfnrt] | "u" [0-9a-fA-F]{4})
integer ::= ("-"? integral-part) space
integral-part ::= [0] | [1-9] [0-9]{0,15}
number ::= ("-"? integral-part) ("." [0-9]+)? ([eE] [-+]? integral-part)? space
space ::= | " " | "\n" [ \t]{0,20}
`;
