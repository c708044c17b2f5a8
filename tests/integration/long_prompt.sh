#!/usr/bin/env bash
# A 1M-token MRCR prompt loads, tokenises and grades with bounded memory: the peak RSS of the
# whole run stays a small multiple of the prompt's size (no copies per attempt).
source "$(dirname "$0")/lib.bash"

"$V4EVAL_BIN" gen-mrcr --out long.jsonl --needles 8 --tokens 1000000 --per-cell 1 --seed 5 \
  --replay-out replay.jsonl --replay-modes non-think,think-high,think-max 2>/dev/null
bytes=$(stat -c %s long.jsonl)
python3 - "$V4EVAL_BIN" "$bytes" <<'PY'
import json, resource, subprocess, sys
binary, row_bytes = sys.argv[1], int(sys.argv[2])
# 3 modes x 4 repeats = 12 attempts over one 1M-token prompt.
cmd = [binary, "run", "--suite", "mrcr:file=long.jsonl", "--backend", "replay:file=replay.jsonl",
       "--mode", "non-think,think-high,think-max", "--db", "db.sqlite", "--quiet"]
replay = [json.loads(l) for l in open("replay.jsonl")]
with open("replay.jsonl", "w") as f:  # repeats 1..3 answer like repeat 0
    for r in replay:
        for k in range(4):
            f.write(json.dumps(dict(r, repeat=k)) + "\n")
cmd += ["--repeats", "4"]
p = subprocess.run(cmd, capture_output=True, text=True)
assert p.returncode == 0, p.stderr
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(f"row {row_bytes/1e6:.1f} MB, peak RSS {peak/1e6:.1f} MB")
# Reading the line, parsing the row and the prompt string transiently need a few copies; 12
# attempts must not add 12 more.
assert peak < 8 * row_bytes + 60e6, (peak, row_bytes)
p = subprocess.run([binary, "report", "--db", "db.sqlite", "--json", "-", "--samples"],
                   capture_output=True, text=True, check=True)
samples = json.loads(p.stdout)["runs"][0]["samples"]
assert len(samples) == 12
for s in samples:
    assert s["details"]["bin"] == "1m", s["details"]
    assert 524288 < s["details"]["tokens"] <= 1048576, s["details"]
PY
echo ok
