#!/usr/bin/env python3
"""The reference point for bench_sandbox: LiveCodeBench-style judging with one Python
subprocess per test (no sandbox), as harnesses built on LiveCodeBench's runner do.

Each generation's tests run in order in fresh `python3` processes (the reference's import
prelude and program transformation, real stdin for stdin problems, a JSON call harness for
call-based ones), stopping at the first failure; generations are spread over a process pool
of --workers (LiveCodeBench's num_process_evaluate). Per-test timeout --timeout seconds (the
reference's default is 6). Output comparison is LiveCodeBench's (Decimal per line; == on
JSON values). Prints one JSON object: tests run, generations, wall seconds, and per-generation
pass/fail for the agreement check and the generations that timed out.

  lcb_subprocess_runner.py --rows ROWS.jsonl --generations EVAL_ALL.json [--workers N]
"""

import argparse
import ast
import concurrent.futures
import json
import subprocess
import sys
import time
from decimal import Decimal

PRELUDE = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\n"
    "from random import *\nfrom statistics import *\nfrom itertools import *\n"
    "from functools import *\nfrom operator import *\nfrom io import *\nfrom sys import *\n"
    "from json import *\nfrom builtins import *\nfrom typing import *\nimport string\nimport re\n"
    "import datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\nimport math\n"
    "import random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n"
)

CALL_HARNESS = """
import json as _json, sys as _sys
_args = [_json.loads(_l) for _l in _sys.stdin.read().split("\\n")]
_target = Solution() if "class Solution" in _SOURCE else None
_fn = getattr(_target, _FN) if _target is not None else globals()[_FN]
_r = _fn(*_args)
if isinstance(_r, tuple):
    _r = list(_r)
_sys.__stdout__.write(_json.dumps(_r))
"""


def stdin_program(code):
    """The reference's transformation: inline a final __main__ guard, keep imports at top."""
    try:
        tree = ast.parse(code)
        last = tree.body[-1]
        if isinstance(last, ast.If) and ast.unparse(last.test).strip() == "__name__ == '__main__'":
            code = ast.unparse(tree.body[:-1]) + "\n" + ast.unparse(last.body)
    except Exception:
        pass
    return PRELUDE + "\n" + code


def lines_equal(got, want):
    def stripped(v):
        return [l.strip() for l in v.strip().split("\n")]

    g, w = stripped(got), stripped(want)
    if len(g) != len(w):
        return False
    for a, b in zip(g, w):
        if a == b:
            continue
        try:
            if [Decimal(x) for x in a.split()] != [Decimal(x) for x in b.split()]:
                return False
        except Exception:
            return False
    return True


def judge_generation(job):
    code, tests, fn_name, timeout, python = job
    if fn_name:
        program = PRELUDE + "\n\n" + code + "\n_SOURCE = %r\n_FN = %r\n" % (code, fn_name) + CALL_HARNESS
    else:
        program = stdin_program(code)
    ran = 0
    for t in tests:
        ran += 1
        try:
            p = subprocess.run([python, "-c", program], input=t["input"].encode(),
                               capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False, ran, True
        out = p.stdout.decode(errors="replace")
        if p.returncode != 0:
            return False, ran, False
        if fn_name:
            try:
                ok = json.loads(out) == json.loads(t["output"])
            except Exception:
                ok = False
        else:
            ok = lines_equal(out, t["output"])
        if not ok:
            return False, ran, False
    return True, ran, False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", required=True)
    ap.add_argument("--generations", required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=6)
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--skip-ids", default="", help="file with question ids to leave out")
    a = ap.parse_args()
    rows = {}
    for line in open(a.rows):
        r = json.loads(line)
        rows[r["question_id"]] = r
    jobs, ids = [], []
    for g in json.load(open(a.generations)):
        r = rows.get(g["question_id"])
        if r is None or not g["code_list"]:
            continue
        tests = json.loads(r["public_test_cases"])
        fn = json.loads(r["metadata"]).get("func_name") if tests[0]["testtype"] == "functional" else None
        jobs.append((g["code_list"][0], tests, fn, a.timeout, a.python))
        ids.append(g["question_id"])
    if a.limit:
        jobs, ids = jobs[: a.limit], ids[: a.limit]
    if a.skip_ids:
        skip = set(open(a.skip_ids).read().split())
        keep = [i for i, q in enumerate(ids) if q not in skip]
        jobs, ids = [jobs[i] for i in keep], [ids[i] for i in keep]
    start = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(max_workers=a.workers) as pool:
        results = list(pool.map(judge_generation, jobs, chunksize=1))
    wall = time.perf_counter() - start
    print(json.dumps({
        "generations": len(jobs),
        "tests_run": sum(r[1] for r in results),
        "wall_s": wall,
        "passed": {qid: r[0] for qid, r in zip(ids, results)},
        "timed_out": [qid for qid, r in zip(ids, results) if r[2]],
    }))


if __name__ == "__main__":
    main()
