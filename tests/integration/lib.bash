# Shared helpers for the integration tests (sourced, not a test itself).
set -euo pipefail
: "${V4EVAL_BIN:?set by ctest}"
: "${V4EVAL_SOURCE_DIR:?set by ctest}"
: "${V4EVAL_SHARED_DIR:=$V4EVAL_SOURCE_DIR/../shared}"
WORK=$(mktemp -d /tmp/v4eval-it-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_exit CODE cmd...: runs cmd, requires its exit code, keeps stderr in $WORK/stderr.
expect_exit() {
  local want=$1; shift
  local got=0
  "$@" >"$WORK/stdout" 2>"$WORK/stderr" || got=$?
  if [[ $got != "$want" ]]; then
    echo "--- stderr:" >&2; cat "$WORK/stderr" >&2
    fail "expected exit $want, got $got: $*"
  fi
}
expect_stderr() { grep -qF -- "$1" "$WORK/stderr" || { cat "$WORK/stderr" >&2; fail "stderr lacks: $1"; }; }
# json_get FILE PYTHON-EXPR: evaluates EXPR with the parsed JSON bound to `j`.
json_get() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
