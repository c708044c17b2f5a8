// The reference side of bench/bench_o200k.cpp: times the npm package `tiktoken` (WASM build
// of openai/tiktoken) encoding one text with o200k_base encode_ordinary, single-threaded.
//
//   node bench/tiktoken_bench.mjs TEXT_FILE [REPEATS]
//
// Prints one JSON line: {"tokens", "bytes", "best_s", "median_s", "ids_fnv1a"}. Timing covers
// encode_ordinary only (not loading the ranks, reading the file or the UTF-8 -> UTF-16
// conversion); ids_fnv1a (FNV-1a over the ids as little-endian u32) lets the caller check that
// both sides produced the same ids. Exit status 3 when the package is missing.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../tools/node/package.json", import.meta.url));
let tiktoken;
try {
  tiktoken = require("tiktoken");
} catch (e) {
  process.stderr.write("tiktoken_bench: cannot load the npm package 'tiktoken' (run " +
    "scripts/setup.sh, or `npm install` in tools/node): " + e.message + "\n");
  process.exit(3);
}

const [path, repeatsArg] = process.argv.slice(2);
if (!path) {
  process.stderr.write("usage: node tiktoken_bench.mjs TEXT_FILE [REPEATS]\n");
  process.exit(2);
}
const repeats = Math.max(1, Number(repeatsArg ?? 5));
const bytes = readFileSync(path);
const text = bytes.toString("utf8");
const enc = tiktoken.get_encoding("o200k_base");

let ids = enc.encode_ordinary(text);  // warm-up (JIT, WASM memory growth)
const seconds = [];
for (let i = 0; i < repeats; ++i) {
  const t0 = process.hrtime.bigint();
  ids = enc.encode_ordinary(text);
  seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
enc.free();

let h = 0x811c9dc5;
for (const id of ids) {
  for (let k = 0; k < 4; ++k) {
    h ^= (id >>> (8 * k)) & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
}
seconds.sort((a, b) => a - b);
console.log(JSON.stringify({
  tokens: ids.length,
  bytes: bytes.length,
  best_s: seconds[0],
  median_s: seconds[Math.floor(seconds.length / 2)],
  ids_fnv1a: h.toString(16).padStart(8, "0"),
}));
