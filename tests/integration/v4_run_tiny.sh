#!/usr/bin/env bash
# The built-in engine end to end on the tiny random checkpoint: `v4 make-tiny --tokenizer`,
# `v4 forward` (chunked = one-shot), `v4 generate`, and `v4eval run` with the `v4:` backend on
# short MRCR samples: every attempt stored, no infrastructure errors.
source "$(dirname "$0")/lib.bash"

expect_exit 0 "$V4EVAL_BIN" v4 make-tiny --out tiny --seed 1 --tokenizer
[[ -s tiny/tokenizer.json ]] || fail "make-tiny --tokenizer wrote no tokenizer.json"
[[ $(json_get tiny/config.json 'j["vocab_size"]') == 263 ]] || fail "vocab_size not raised"
expect_exit 0 "$V4EVAL_BIN" v4 make-tiny --out plain --seed 1
[[ ! -e plain/tokenizer.json && $(json_get plain/config.json 'j["vocab_size"]') == 256 ]] ||
  fail "make-tiny without --tokenizer must write §6 exactly"

# forward: cli.md JSON; chunked prefill + decode gives the one-shot logits.
IDS=0,259,72,101,108,108,111,260,262,5,6,7,8,9,10,11,12,13,14,15
expect_exit 0 "$V4EVAL_BIN" v4 forward --checkpoint tiny --tokens $IDS --json --all-logits
cp "$WORK/stdout" one.json
expect_exit 0 "$V4EVAL_BIN" v4 forward --checkpoint tiny --tokens $IDS --chunks 7,5 --json --all-logits
cp "$WORK/stdout" chunked.json
python3 - one.json chunked.json <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a["vocab_size"] == 263 and len(a["argmax"]) == 20 and len(a["last_logits"]) == 263, a.keys()
assert len(a["logits"]) == 20 and all(len(r) == 263 for r in a["logits"])
d = max(abs(x - y) for ra, rb in zip(a["logits"], b["logits"]) for x, y in zip(ra, rb))
assert d <= 0.5, d
print("forward: chunked vs one-shot max diff", d)
PY
expect_exit 0 "$V4EVAL_BIN" v4 forward --checkpoint tiny --text "hello"
grep -q "top 5" "$WORK/stdout" || fail "forward table"
expect_exit 2 "$V4EVAL_BIN" v4 forward --checkpoint tiny --tokens 0,999
expect_stderr "vocab_size"

# generate: an answer, and think-max refused on a 4096-token model.
expect_exit 0 "$V4EVAL_BIN" v4 generate --checkpoint tiny --prompt "hi" --max-tokens 5 --json
python3 -c "import json; g = json.load(open('$WORK/stdout')); assert g['prompt_tokens'] == 6 and 1 <= g['completion_tokens'] <= 5, g"
expect_exit 1 "$V4EVAL_BIN" v4 generate --checkpoint tiny --prompt "hi" --mode think-max
expect_stderr "384K"

# run: short MRCR-format samples through the v4: backend. gen-mrcr's smallest rows (~4K
# bytes = byte tokens) do not fit the tiny model's 4096-token window, so two small rows in the
# openai/mrcr schema are written here (a few hundred tokens each).
python3 - <<'PY'
import json
rows = []
for i, (topic, poems) in enumerate([("tapirs", ["Tapirs wade at dusk.", "A tapir naps."]),
                                    ("kites", ["Red kites climb.", "The kite string sings."])]):
    msgs = []
    for p in poems:
        msgs += [{"role": "user", "content": f"write a poem about {topic}"},
                 {"role": "assistant", "content": p}]
    prefix = f"x{i}Q7"
    msgs.append({"role": "user", "content": f"Prepend {prefix} to the 2nd (1 indexed) poem about "
                 f"{topic}. Do not include any other text in your response."})
    rows.append({"prompt": json.dumps(msgs), "answer": prefix + poems[1],
                 "random_string_to_prepend": prefix, "n_needles": 2, "desired_msg_index": 3,
                 "total_messages": len(msgs), "n_chars": sum(len(m["content"]) for m in msgs),
                 "date_added": "11-30-2026"})
with open("data.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
PY
expect_exit 0 "$V4EVAL_BIN" run --suite mrcr:file=data.jsonl --backend v4:checkpoint=tiny,device=cpu \
  --mode non-think,think-high --max-tokens 8 --db db.sqlite --run-name tiny --concurrency 2 \
  --progress lines
expect_stderr "4/4 attempts graded"
expect_exit 0 "$V4EVAL_BIN" report --db db.sqlite --json report.json --samples
python3 - report.json <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))["runs"][0]
assert run["backend"].startswith("v4"), run["backend"]
for suite in run["suites"]:
    assert suite["n_attempts"] == 2 and suite["n_errors"] == 0, suite
for s in run["samples"]:
    assert not s["error"], s
print("v4 run:", len(run["samples"]), "attempts stored, no errors")
PY

# think-max: the backend does not list it below 384K of context, so run refuses up front.
expect_exit 2 "$V4EVAL_BIN" run --suite mrcr:file=data.jsonl --backend v4:checkpoint=tiny \
  --mode think-max --max-tokens 4 --db db.sqlite --run-name tiny-max --progress none
expect_stderr "think-max"
echo OK
