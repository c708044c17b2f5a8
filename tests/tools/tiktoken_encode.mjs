// Reference o200k_base ids from the npm package `tiktoken` (the WASM build of openai/tiktoken),
// for tests/unit/test_o200k.cpp.
//
//   node tests/tools/tiktoken_encode.mjs IN.json OUT.json
//
// IN.json is a JSON array of strings; OUT.json receives a JSON array with, for each string,
// the array of ids of encode_ordinary(string). Exit status 3 when the package is missing.
//
// The package is resolved from <repo>/tools/node/node_modules (scripts/setup.sh installs it
// there), then the usual Node places, NODE_PATH included.

import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../../tools/node/package.json", import.meta.url));

function loadTiktoken() {
  try {
    return require("tiktoken");
  } catch (e) {
    process.stderr.write(
      "tiktoken_encode: cannot load the npm package 'tiktoken' (run scripts/setup.sh, or " +
        "`npm install` in tools/node): " + e.message + "\n");
    process.exit(3);
  }
}

const [inPath, outPath] = process.argv.slice(2);
if (!inPath || !outPath) {
  process.stderr.write("usage: node tiktoken_encode.mjs IN.json OUT.json\n");
  process.exit(2);
}
const texts = JSON.parse(readFileSync(inPath, "utf8"));
if (!Array.isArray(texts) || texts.some((t) => typeof t !== "string")) {
  process.stderr.write("tiktoken_encode: " + inPath + " is not a JSON array of strings\n");
  process.exit(2);
}
const enc = loadTiktoken().get_encoding("o200k_base");
const ids = texts.map((t) => Array.from(enc.encode_ordinary(t)));
enc.free();
writeFileSync(outPath, JSON.stringify(ids));
