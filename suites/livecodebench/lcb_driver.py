# v4eval's LiveCodeBench grading driver: runs one generation against one problem's tests in
# one interpreter, reproducing lcb_runner/evaluation/testing_util.py (LiveCodeBench @ 28fef95;
# restated in shared/design/suites.md §1.4) step by step, because its quirks decide verdicts:
#   - the import prelude, `if __name__ == '__main__'` inlining and the `wrapped_function`
#     transformation of stdin programs (ast.unparse of the model's code);
#   - stdin mocked per test with unittest.mock in the reference's patch order (readline keeps
#     the newline; read()/readlines() always return the whole input; `sys.stdin.buffer`;
#     the prelude's `from sys import *` binds the *real* stdin, whose read/readline/readlines
#     are patched: readline then returns lines without their newline);
#   - stdout captured in a StringIO whose close() takes one argument; SystemExit swallowed;
#   - the same Solution instance / module for every test, tests in order, first failure stops;
#   - an integer per-test alarm (SIGALRM wall clock; `clock=cpu` uses ITIMER_PROF instead);
#   - reliability_guard(): os/shutil/subprocess functions set to None, a few imports blocked;
#   - sys.set_int_max_str_digits(50000), as compute_code_generation_metrics.py does;
#   - Python `==` for functional tests (top-level tuple -> list), exact Decimal compare for
#     stdin tests; result codes True / -2 / -3 / -4 and the reference's metadata dict
#     (truncated to 300 characters as truncatefn does).
# A BaseException that escapes (SystemExit from a functional test, a crash, os._exit) ends the
# process without a result, as in the reference; the harness then records its -5 outcome.
#
# Protocol with the harness (suites/livecodebench/lcb_grader.cpp): stdin holds one JSON object
# {"code", "fn_name" (null for stdin problems), "inputs", "outputs", "timeout", "clock",
# "report_bytes"}. Once it is read, fds 0, 1 and 2 point at /dev/null (the reference's worker
# has /dev/null as stdin and nobody reads its stdout/stderr), and the report, one line
# "V4LCB <json>", goes to a private copy of the original stderr, at most `report_bytes` long.

import ast
import faulthandler
import json
import os
import signal
import sys
import time
from decimal import Decimal
from io import StringIO
from types import ModuleType
from unittest.mock import mock_open, patch

import resource  # imported before reliability_guard blocks it: per-test peak memory

IMPORT_PRELUDE = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\n"
    "from random import *\nfrom statistics import *\nfrom itertools import *\n"
    "from functools import *\nfrom operator import *\nfrom io import *\nfrom sys import *\n"
    "from json import *\nfrom builtins import *\nfrom typing import *\nimport string\nimport re\n"
    "import datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\nimport math\n"
    "import random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n"
)

_os_write = os.write
_os_exit = os._exit
_perf_counter = time.perf_counter
_getrusage = resource.getrusage
_RUSAGE_SELF = resource.RUSAGE_SELF


class Records:
    """Per-test wall time and peak RSS, kept beside the reference's own result list."""

    def __init__(self):
        self.items = []
        self.start = 0.0
        self.running = False

    def begin(self):
        self.start = _perf_counter()
        self.running = True

    def end(self):  # once per begin(): the failure paths may call it again
        if self.running:
            self.running = False
            ms = int(round((_perf_counter() - self.start) * 1000))
            self.items.append((ms, _getrusage(_RUSAGE_SELF).ru_maxrss))


RECORDS = Records()


def truncatefn(s, length=300):
    if not isinstance(s, str):
        s = str(s)
    if len(s) <= length:
        return s
    return s[: length // 2] + "...(truncated) ..." + s[-length // 2 :]


class TimeoutException(Exception):
    pass


def timeout_handler(signum, frame):
    print("timeout occured: alarm went off")
    raise TimeoutException


CLOCK = "wall"


def set_alarm(seconds):
    if CLOCK == "cpu":
        signal.setitimer(signal.ITIMER_PROF, seconds)
    else:
        signal.alarm(seconds)


class Capturing(list):
    def __enter__(self):
        self._stdout = sys.stdout
        sys.stdout = self._stringio = StringIO()
        self._stringio.close = lambda x: 1
        return self

    def __exit__(self, *args):
        self.append(self._stringio.getvalue())
        del self._stringio
        sys.stdout = self._stdout


class MockBuffer:
    def __init__(self, inputs):
        self.inputs = inputs.encode("utf-8")

    def read(self, *args):
        return self.inputs

    def readline(self, *args):
        return self.inputs.split(b"\n")[0] + b"\n"


class MockStdinWithBuffer:
    def __init__(self, inputs):
        self.inputs = inputs
        self._stringio = StringIO(inputs)
        self.buffer = MockBuffer(inputs)

    def read(self, *args):
        return self.inputs

    def readline(self, *args):
        return self._stringio.readline(*args)

    def readlines(self, *args):
        return self.inputs.split("\n")

    def __getattr__(self, name):
        return getattr(self._stringio, name)


def clean_if_name(code):
    try:
        tree = ast.parse(code)
        last = tree.body[-1]
        if isinstance(last, ast.If):
            if ast.unparse(last.test).strip() == "__name__ == '__main__'":
                code = ast.unparse(tree.body[:-1]) + "\n" + ast.unparse(last.body)
    except:  # noqa: E722 (the reference swallows everything here)
        pass
    return code


def make_function(code):
    try:
        imports = []
        others = []
        tree = ast.parse(code)
        for stmt in tree.body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                imports.append(stmt)
            else:
                others.append(stmt)
        fn = ast.FunctionDef(
            name="wrapped_function",
            args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=others,
            decorator_list=[],
            lineno=-1,
        )
        return IMPORT_PRELUDE + "\n" + ast.unparse(imports) + "\n" + ast.unparse(fn)
    except Exception:
        return code


def call_method(method, inputs):
    if isinstance(inputs, list):
        inputs = "\n".join(inputs)
    line_iterator = iter(inputs.split("\n"))
    mock_stdin = MockStdinWithBuffer(inputs)

    # Decorators apply bottom-up, so the reference patches the real stdin's read, readlines and
    # readline first, then replaces sys.stdin, then builtins.open.
    @patch("builtins.open", mock_open(read_data=inputs))
    @patch("sys.stdin", mock_stdin)
    @patch("sys.stdin.readline", lambda *args: next(line_iterator))
    @patch("sys.stdin.readlines", lambda *args: inputs.split("\n"))
    @patch("sys.stdin.read", lambda *args: inputs)
    def inner(_method):
        try:
            return _method()
        except SystemExit:
            pass
        finally:
            pass

    return inner(method)


def get_function(compiled, fn_name):
    try:
        assert hasattr(compiled, fn_name)
        return getattr(compiled, fn_name)
    except Exception:
        return


def compile_code(code, timeout):
    set_alarm(timeout)
    try:
        module = ModuleType("tmp_sol", "")
        exec(code, module.__dict__)
        if "class Solution" in code:
            compiled = module.Solution()
        else:
            compiled = module
        assert compiled is not None
    finally:
        set_alarm(0)
    return compiled


def convert_line_to_decimals(line):
    try:
        values = [Decimal(e) for e in line.split()]
    except:  # noqa: E722
        return False, []
    return True, values


def get_stripped_lines(val):
    val = val.strip()
    return [line.strip() for line in val.split("\n")]


def grade_call_based(code, all_inputs, all_outputs, fn_name, timeout):
    code = IMPORT_PRELUDE + "\n\n" + code
    compiled = compile_code(code, timeout)
    if compiled is None:
        return
    method = get_function(compiled, fn_name)
    if method is None:
        return
    all_inputs = [[json.loads(line) for line in inputs.split("\n")] for inputs in all_inputs]
    all_outputs = [json.loads(output) for output in all_outputs]

    total_execution = 0
    all_results = []
    for gt_inp, gt_out in zip(all_inputs, all_outputs):
        set_alarm(timeout)
        faulthandler.enable()
        RECORDS.begin()
        try:
            start = time.time()
            prediction = method(*gt_inp)
            total_execution += time.time() - start
            set_alarm(0)
            RECORDS.end()
            if isinstance(prediction, tuple):
                prediction = list(prediction)
            tmp_result = prediction == gt_out
            all_results.append(tmp_result)
            if not tmp_result:
                return all_results, {
                    "output": truncatefn(prediction),
                    "inputs": truncatefn(gt_inp),
                    "expected": truncatefn(gt_out),
                    "error_code": -2,
                    "error_message": "Wrong Answer",
                }
        except Exception as e:
            set_alarm(0)
            RECORDS.end()
            if "timeoutexception" in repr(e).lower():
                all_results.append(-3)
                return all_results, {
                    "error": repr(e),
                    "error_code": -3,
                    "error_message": "Time Limit Exceeded",
                    "inputs": truncatefn(gt_inp),
                    "expected": truncatefn(gt_out),
                }
            else:
                all_results.append(-4)
                return all_results, {
                    "error": repr(e),
                    "error_code": -4,
                    "error_message": "Runtime Error",
                    "inputs": truncatefn(gt_inp),
                    "expected": truncatefn(gt_out),
                }
        finally:
            set_alarm(0)
            faulthandler.disable()
    return all_results, {"execution time": total_execution}


def grade_stdio(code, all_inputs, all_outputs, timeout):
    code = clean_if_name(code)
    code = make_function(code)
    compiled = compile_code(code, timeout)
    if compiled is None:
        return
    method = get_function(compiled, "wrapped_function")
    if method is None:
        return

    all_results = []
    total_execution_time = 0
    for gt_inp, gt_out in zip(all_inputs, all_outputs):
        set_alarm(timeout)
        faulthandler.enable()
        set_alarm(timeout)
        RECORDS.begin()
        with Capturing() as captured_output:
            try:
                start = time.time()
                call_method(method, gt_inp)
                total_execution_time += time.time() - start
                set_alarm(0)
            except Exception as e:
                set_alarm(0)
                RECORDS.end()
                if "timeoutexception" in repr(e).lower():
                    all_results.append(-3)
                    return all_results, {
                        "error": repr(e),
                        "error_code": -3,
                        "error_message": "Time Limit Exceeded",
                        "inputs": truncatefn(gt_inp),
                        "expected": truncatefn(gt_out),
                    }
                else:
                    all_results.append(-4)
                    return all_results, {
                        "error": repr(e),
                        "error_code": -4,
                        "error_message": "Runtime Error",
                        "inputs": truncatefn(gt_inp),
                        "expected": truncatefn(gt_out),
                    }
            finally:
                set_alarm(0)
                faulthandler.disable()
        RECORDS.end()

        prediction = captured_output[0]
        prediction_lines = get_stripped_lines(prediction)
        expected_lines = get_stripped_lines(gt_out)
        wa = {
            "output": truncatefn(prediction),
            "inputs": truncatefn(gt_inp),
            "expected": truncatefn(gt_out),
            "error_code": -2,
        }
        if len(prediction_lines) != len(expected_lines):
            all_results.append(-2)
            wa["error_message"] = "Wrong answer: mismatched output length"
            return all_results, wa
        for output_line_idx, (got, want) in enumerate(zip(prediction_lines, expected_lines)):
            wa["error_message"] = (
                f"Wrong answer at {output_line_idx=}: {truncatefn(got)} != {truncatefn(want)}"
            )
            if got == want:
                continue
            ok, got_decimals = convert_line_to_decimals(got)
            if not ok:
                all_results.append(-2)
                return all_results, wa
            ok, want_decimals = convert_line_to_decimals(want)
            if not ok:
                all_results.append(-2)
                return all_results, wa
            if got_decimals == want_decimals:
                continue
            all_results.append(-2)
            return all_results, wa
        all_results.append(True)
    return all_results, {"execution time": total_execution_time}


def reliability_guard():
    faulthandler.disable()
    import builtins

    builtins.quit = None
    import os as _os

    _os.environ["OMP_NUM_THREADS"] = "1"
    for name in (
        "kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork",
        "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod",
        "fchown", "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir",
    ):
        setattr(_os, name, None)
    import shutil

    shutil.rmtree = None
    shutil.move = None
    shutil.chown = None
    import subprocess

    subprocess.Popen = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None


def run_test(job):
    timeout = job["timeout"]
    signal.signal(signal.SIGPROF if CLOCK == "cpu" else signal.SIGALRM, timeout_handler)
    reliability_guard()
    if job.get("fn_name") is not None:
        set_alarm(timeout)
        try:
            results, metadata = grade_call_based(
                code=job["code"], all_inputs=job["inputs"], all_outputs=job["outputs"],
                fn_name=job["fn_name"], timeout=timeout)
            return results, metadata
        except Exception as e:
            return [-4], {"error_code": -4, "error_message": f"Error during testing: {e}"}
        finally:
            set_alarm(0)
    else:
        set_alarm(timeout)
        try:
            results, metadata = grade_stdio(
                code=job["code"], all_inputs=job["inputs"], all_outputs=job["outputs"],
                timeout=timeout)
            return results, metadata
        except Exception as e:
            return [-4], {"error_code": -4, "error_message": f"Error during testing: {e}"}
        finally:
            set_alarm(0)


def encode_results(results):
    """The reference's result list, run-length coded: T True, F False, a -2, b -3, c -4 (a
    value the reference would test with `> 0` otherwise: T or F by that test)."""
    codes = []
    for value in results:
        if value is True:
            c = "T"
        elif value is False:
            c = "F"
        elif type(value) is int and value in (-2, -3, -4):
            c = "abc"[-2 - value]
        else:
            try:
                c = "T" if value > 0 else "F"
            except Exception:
                c = "F"
        if codes and codes[-1][0] == c:
            codes[-1][1] += 1
        else:
            codes.append([c, 1])
    return "".join(c + (str(n) if n > 1 else "") for c, n in codes)


def encode_records(items):
    parts = []
    last_kb = None
    for ms, kb in items:
        if kb != last_kb:
            parts.append(f"{ms}/{kb}")
            last_kb = kb
        else:
            parts.append(str(ms))
    return ",".join(parts)


def dump(report):
    return json.dumps(report, ensure_ascii=False, default=str).encode("utf-8", "replace")


def fit(report, budget):
    """Shrinks the report until it fits the harness's stderr window (details say what went)."""
    data = dump(report)
    if len(data) <= budget:
        return data
    dropped = []
    items = RECORDS.items
    meta = report.get("metadata")
    if isinstance(meta, dict):
        for key, cap in (("error", 300), ("output", 80), ("inputs", 80), ("expected", 80),
                         ("error_message", 200)):
            if key in meta and isinstance(meta[key], str) and len(meta[key]) > cap:
                meta[key] = meta[key][:cap] + "...(cut by v4eval: report size)"
                dropped.append(key)
                report["cut"] = dropped
                data = dump(report)
                if len(data) <= budget:
                    return data
    keep = len(items)
    while keep > 0:
        keep //= 2
        report["tests"] = encode_records(items[len(items) - keep:])
        report["tests_omitted"] = len(items) - keep
        data = dump(report)
        if len(data) <= budget:
            return data
    report.pop("metadata", None)
    report["cut"] = dropped + ["metadata"]
    return dump(report)


def main():
    global CLOCK
    job = json.loads(sys.stdin.buffer.read())
    report_fd = os.dup(2)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sys.stdin = open(os.devnull)
    sys.set_int_max_str_digits(50000)
    CLOCK = job.get("clock", "wall")
    budget = int(job.get("report_bytes", 4000)) - len("V4LCB \n")
    try:
        results, metadata = run_test(job)
        report = {"results": encode_results(results), "metadata": metadata}
    except BaseException as e:  # the reference's worker would die here: no result
        report = {"died": truncatefn(repr(e), 200)}
    report["tests"] = encode_records(RECORDS.items)
    report["maxrss_kb"] = _getrusage(_RUSAGE_SELF).ru_maxrss
    data = b"V4LCB " + fit(report, budget) + b"\n"
    _os_write(report_fd, data)
    _os_exit(0)


main()
