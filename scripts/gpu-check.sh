#!/usr/bin/env bash
# The CUDA check on a GPU machine: builds the CUDA kernels, their tests and benchmark with the
# stand-alone CMake project tests/gpu/standalone (needs only CMake, ninja, nvcc and a C++20
# compiler: no apt, no network), runs the tests and the benchmarks, and writes logs plus
# gpu-check.json to $OUT. Every step is time-limited and the script carries on past failures;
# the whole run fits in about 8 minutes on an H200 machine with 16 cores.
#
#   scripts/gpu-check.sh --prepare   (here, on the dev machine) copy Catch2's single header
#                                    into build-gpu-deps/ (ignored by git) to carry along
#   scripts/gpu-check.sh             (there) build, test, bench; results in $OUT
#
# With the device tool: run(command="bash scripts/gpu-check.sh", carry=["build-gpu-deps"],
# timeout_s=540). Environment: OUT (default ./build-gpu-out), GPU_CHECK_JOBS (default: nproc),
# GPU_CHECK_QUICK=1 (benchmarks without prefill sizes), GPU_CHECK_SANITIZER=1 (also run a
# memcheck pass over the bit-exact tests), GPU_CHECK_BUDGET_S (default 470: every step's
# timeout is cut to what is left of it).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [[ "${1:-}" == --prepare ]]; then
  mkdir -p build-gpu-deps/catch2
  for c in /usr/include/catch2/catch.hpp /usr/local/include/catch2/catch.hpp; do
    if [[ -f $c ]]; then
      cp "$c" build-gpu-deps/catch2/catch.hpp
      echo "gpu-check: copied $c into build-gpu-deps/catch2 (carry build-gpu-deps)"
      exit 0
    fi
  done
  echo "gpu-check: Catch2 v2 single header not found here" >&2
  exit 1
fi

OUT=${OUT:-$ROOT/build-gpu-out}  # build*: ignored by git
mkdir -p "$OUT"
LOG=$OUT/gpu-check.log
exec > >(tee "$LOG") 2>&1
set -x
START=$(date +%s)
JOBS=${GPU_CHECK_JOBS:-$(nproc 2>/dev/null || echo 4)}
BUILD=${GPU_CHECK_BUILD_DIR:-$ROOT/build-gpu}
declare -A RC

DEADLINE=$(( START + ${GPU_CHECK_BUDGET_S:-470} ))  # the whole run stays inside ~8 minutes

step() {  # step NAME SECONDS CMD...: runs CMD under a timeout (capped by the deadline)
  local name=$1 secs=$2
  shift 2
  local t0=$(date +%s)
  local left=$(( DEADLINE - t0 - 5 ))
  (( secs > left )) && secs=$left
  if (( secs < 5 )); then
    RC[$name]=124
    echo "gpu-check: step $name skipped: out of time"
    return
  fi
  timeout --kill-after=5 "$secs" "$@"
  RC[$name]=$?
  echo "gpu-check: step $name rc=${RC[$name]} in $(( $(date +%s) - t0 )) s"
}

# 1. The machine.
step nvidia_smi 30 bash -c "nvidia-smi > '$OUT/nvidia-smi.txt' 2>&1; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv >> '$OUT/nvidia-smi.txt' 2>&1"
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
"$NVCC" --version || true
cmake --version | head -1 || true

# 2. Configure and build (stand-alone project: kernels, tests, bench).
CATCH_DIR=""
[[ -f $ROOT/build-gpu-deps/catch2/catch.hpp ]] && CATCH_DIR=$ROOT/build-gpu-deps
GEN=(-G Ninja)
command -v ninja >/dev/null || GEN=()
step configure 90 cmake -S "$ROOT/tests/gpu/standalone" -B "$BUILD" "${GEN[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CUDA_COMPILER="$NVCC" \
  ${CATCH_DIR:+-DV4EVAL_CATCH2_DIR=$CATCH_DIR}
BUILD_T0=$(date +%s)
step build 240 bash -c "cmake --build '$BUILD' -j '$JOBS' > '$OUT/build.log' 2>&1"
BUILD_S=$(( $(date +%s) - BUILD_T0 ))
tail -40 "$OUT/build.log"
grep -E "ptxas info|spill|stack frame" "$OUT/build.log" | grep -E "spill stores|bytes stack" | \
  sort | uniq -c | sort -rn | head -20 || true

# 3. Tests (Catch2; JUnit XML for the summary, console log in gpu-check.log).
if [[ -x $BUILD/v4eval_gpu_tests ]]; then
  step tests 150 "$BUILD/v4eval_gpu_tests" --durations yes -r junit -o "$OUT/gpu-tests.xml"
  if [[ ${RC[tests]} != 0 ]]; then  # rerun the failures with the console reporter for detail
    step tests_detail 60 "$BUILD/v4eval_gpu_tests" --durations yes
  fi
  if [[ "${GPU_CHECK_SANITIZER:-0}" == 1 ]] && command -v compute-sanitizer >/dev/null; then
    step sanitizer 120 compute-sanitizer --tool memcheck --error-exitcode 9 \
      "$BUILD/v4eval_gpu_tests" "*bit for bit*"
  fi
else
  RC[tests]=127
  echo "gpu-check: v4eval_gpu_tests was not built"
fi

# 4. Benchmarks.
QUICK=()
[[ "${GPU_CHECK_QUICK:-0}" == 1 ]] && QUICK=(--quick)
if [[ -x $BUILD/bench_cuda_kernels ]]; then
  step bench 120 bash -c "'$BUILD/bench_cuda_kernels' ${QUICK[*]} > '$OUT/bench.txt' 2>&1"
  cat "$OUT/bench.txt"
else
  RC[bench]=127
fi
PY=$(command -v python3 || true)
if [[ -n $PY ]]; then
  step torch_reference 60 bash -c "PYTHONUNBUFFERED=1 '$PY' '$ROOT/bench/torch_reference.py' ${QUICK[*]} > '$OUT/torch-reference.txt' 2>&1"
  cat "$OUT/torch-reference.txt"
fi

# 5. Summary JSON.
set +x
{
  echo "{"
  echo "  \"total_seconds\": $(( $(date +%s) - START )),"
  echo "  \"build_seconds\": $BUILD_S,"
  echo "  \"steps\": {"
  first=1
  for k in "${!RC[@]}"; do
    [[ $first == 1 ]] || echo ","
    printf '    "%s": %s' "$k" "${RC[$k]}"
    first=0
  done
  echo ""
  echo "  }"
  echo "}"
} > "$OUT/steps.json"
if [[ -n $PY ]]; then
  "$PY" - "$OUT" <<'PYEOF' || cp "$OUT/steps.json" "$OUT/gpu-check.json"
import json, os, sys, xml.etree.ElementTree as ET
out = sys.argv[1]
res = json.load(open(os.path.join(out, "steps.json")))
tests = {"passed": 0, "failed": 0, "failures": [], "cases": []}
try:
    root = ET.parse(os.path.join(out, "gpu-tests.xml")).getroot()
    for case in root.iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        name = case.get("name")
        tests["cases"].append({"name": name, "seconds": float(case.get("time") or 0),
                               "ok": not failed})
        if failed:
            tests["failed"] += 1
            f = case.find("failure") if case.find("failure") is not None else case.find("error")
            tests["failures"].append({"name": name, "message": (f.get("message") or "")[:2000],
                                      "text": (f.text or "")[:4000]})
        else:
            tests["passed"] += 1
except Exception as e:  # no XML: the tests did not run
    tests["error"] = repr(e)
res["tests"] = tests
for key, fname in (("bench", "bench.txt"), ("torch_reference", "torch-reference.txt")):
    p = os.path.join(out, fname)
    if os.path.exists(p):
        res[key] = open(p).read().splitlines()
json.dump(res, open(os.path.join(out, "gpu-check.json"), "w"), indent=2)
print(f"gpu-check: tests passed {tests['passed']}, failed {tests['failed']}")
for f in tests["failures"]:
    print("  FAILED:", f["name"], f["message"][:200])
PYEOF
else
  cp "$OUT/steps.json" "$OUT/gpu-check.json"
fi
rm -f "$OUT/steps.json"
echo "gpu-check: done in $(( $(date +%s) - START )) s; results in $OUT"
exit 0
