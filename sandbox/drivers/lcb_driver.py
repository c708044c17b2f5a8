# LiveCodeBench-compatible test driver (shared/design/suites.md §1.4, sandbox.md §5.6).
#
# Runs every test of one generation in one interpreter, as LiveCodeBench's reference grader
# does, with its semantics: the import prelude, `if __name__ == '__main__'` inlined and the
# program wrapped in `wrapped_function` (stdin problems) or `Solution().<fn>` called with
# JSON arguments (call-based problems), the mocked stdin and open(), SystemExit swallowed,
# the reliability guard. It never sees expected outputs: it reports what the program printed
# or returned, and the judge outside the sandbox decides.
#
# Protocol: frames "<byte length>\n<bytes>" both ways. From the judge: a JSON header
# {"mode": "stdin"|"call", "fn_name": ...}, then one frame per test input; EOF (or a length of
# -1 in zygote mode) ends the generation.
# Replies (on the stdout we had at start; the program's own writes to fd 1 go to /dev/null),
# each "<byte length>\n<JSON>": first {"ready": true} once the program is loaded (or
# {"compile_error": str} and the end), then per test {"status": "ok"|"error"|"unserializable",
# "output": str, "error": str, "cpu_ms": float, "wall_ms": float}.
#
# Zygote mode (--zygote): answers {"zygote_ready": true}, then serves generations: header
# frames that also carry {"program": source, "cwd": dir}, each run in a forked child, each
# answered at the end with {"generation_done": true, "status": wait status}.
#
#   python3 -B lcb_driver.py PROGRAM.py | --zygote

import ast
import io
import json
import os
import sys
import time

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


def inline_main_guard(code):
    """A last top-level `if __name__ == '__main__':` is replaced by its body."""
    try:
        tree = ast.parse(code)
        last = tree.body[-1]
        if isinstance(last, ast.If) and ast.unparse(last.test).strip() == "__name__ == '__main__'":
            return ast.unparse(tree.body[:-1]) + "\n" + ast.unparse(last.body)
    except Exception:
        pass
    return code


def wrap_in_function(code):
    """Imports stay at module level after the prelude; everything else becomes the body of
    `wrapped_function()`. Unparsable code is returned as is (it fails when executed)."""
    try:
        tree = ast.parse(code)
        imports = [s for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))]
        others = [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))]
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


def reliability_guard():
    """The reference's guard: not a sandbox (we are inside one), but its effects on programs
    (os.fork is None, quit is None, ...) are part of the semantics being reproduced. exit()
    keeps working, as in the reference runs whose results we reproduce (suites.md §1.4:
    SystemExit is swallowed and the output so far graded)."""
    import builtins
    import shutil
    import subprocess

    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid",
                 "fork", "forkpty", "killpg", "rename", "renames", "truncate", "replace",
                 "unlink", "fchmod", "fchown", "chmod", "chown", "chroot", "lchflags",
                 "lchmod", "lchown", "getcwd", "chdir"):
        setattr(os, name, None)
    shutil.rmtree = None
    shutil.move = None
    shutil.chown = None
    subprocess.Popen = None
    builtins.help = None
    for mod in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[mod] = None


class _MockStdin(io.StringIO):
    """sys.stdin as the reference mocks it: readline() walks input.split("\\n") (no newline,
    '' then StopIteration past the end), read() and readlines() always see the whole input."""

    def __init__(self, text):
        super().__init__(text)
        lines = iter(text.split("\n"))
        self.readline = lambda *a: next(lines)
        self.readlines = lambda *a: text.split("\n")
        self.read = lambda *a: text
        first = text.split("\n")[0]
        self.buffer = _MockBuffer(text.encode(), (first + "\n").encode())


class _MockBuffer:
    def __init__(self, data, first_line):
        self._data, self._first = data, first_line

    def read(self, *a):
        return self._data

    def readline(self, *a):
        return self._first


def run_stdin_test(method, text):
    import builtins

    saved = (sys.stdin, sys.stdout, builtins.open)
    captured = io.StringIO()
    captured.close = lambda *a: None
    sys.stdin = _MockStdin(text)
    builtins.open = lambda *a, **k: io.StringIO(text)
    sys.stdout = captured
    try:
        try:
            method()
        except SystemExit:
            pass
    finally:
        sys.stdin, sys.stdout, builtins.open = saved
    return captured.getvalue()


def read_exact(fd, n):
    chunks = []
    while n > 0:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            raise EOFError
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


END = object()  # the end-of-generation marker: a frame of length -1


def read_frame(fd):
    """One "<length>\n<bytes>" frame; None at EOF, END for the end-of-generation marker."""
    digits = b""
    while True:
        c = os.read(fd, 1)
        if not c:
            return None
        if c == b"\n":
            break
        digits += c
    n = int(digits)
    return END if n < 0 else read_exact(fd, n)


def make_sender(fd):
    def send(obj):
        data = json.dumps(obj).encode()
        payload = b"%d\n" % len(data) + data
        while payload:
            payload = payload[os.write(fd, payload):]
    return send


def run_generation(mode, fn_name, program, send, requests):
    """Loads the program as the reference does and runs the tests it is sent."""
    if mode == "stdin":
        code = wrap_in_function(inline_main_guard(program))
        fn_name = "wrapped_function"
    else:
        code = IMPORT_PRELUDE + "\n\n" + program
    reliability_guard()
    import types

    try:
        module = types.ModuleType("tmp_sol", "")
        exec(code, module.__dict__)
        target = module.Solution() if "class Solution" in code else module
        method = getattr(target, fn_name)
    except BaseException as e:  # the reference reports this as one runtime error (-4)
        send({"compile_error": repr(e)})
        return
    send({"ready": True})
    while True:
        data = read_frame(requests)
        if data is None or data is END:
            return
        text = data.decode("utf-8", errors="replace")
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = {"status": "ok", "output": "", "error": ""}
        try:
            if mode == "stdin":
                result["output"] = run_stdin_test(method, text)
            else:
                args = [json.loads(a) for a in text.split("\n")]
                value = method(*args)
                if isinstance(value, tuple):  # the reference does not penalise tuples
                    value = list(value)
                try:
                    result["output"] = json.dumps(value)
                except (TypeError, ValueError):
                    result["status"] = "unserializable"
                    result["error"] = "return value is not JSON: %s" % type(value).__name__
        except BaseException as e:
            result["status"] = "error"
            result["error"] = repr(e)
        result["cpu_ms"] = (time.process_time() - cpu0) * 1000
        result["wall_ms"] = (time.perf_counter() - wall0) * 1000
        send(result)


def zygote(send, requests):
    """A warm interpreter: the prelude's modules loaded once; each generation runs in a forked
    child (as LiveCodeBench forks a worker per generation), and whatever the child leaves
    behind is killed before the next. The zygote itself never runs the programs' code."""
    import signal
    import types  # noqa: F401  (loaded for the children)

    # kill(-1) below is only safe as PID 2 of the sandbox's own PID namespace (our init is
    # PID 1): anywhere else it would kill every process the user may signal.
    if os.getpid() != 2 or os.getppid() != 1:
        sys.stderr.write("lcb_driver: --zygote runs only inside the v4eval sandbox\n")
        sys.exit(3)
    import shutil  # noqa: F401
    import subprocess  # noqa: F401

    exec(IMPORT_PRELUDE, {})
    box = os.getcwd()
    os.chdir("/")  # the judge replaces the scratch directory between generations
    send({"zygote_ready": True})
    while True:
        data = read_frame(requests)
        if data is None:
            return
        if data is END:  # a generation that ended early (a crash) left its marker unread
            continue
        header = json.loads(data)
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                os.chdir(header.get("cwd", box))
                run_generation(header["mode"], header.get("fn_name"), header["program"], send, requests)
            except BaseException:
                status = 1
            os._exit(status)
        _, status = os.waitpid(pid, 0)
        try:
            os.kill(-1, signal.SIGKILL)  # everything but PID 1 and us: the generation's leftovers
        except OSError:
            pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        send({"generation_done": True, "status": status})


def main():
    sys.set_int_max_str_digits(50000)
    # Our replies get a private descriptor; the program's raw writes to fd 1 are discarded.
    reply = os.dup(1)
    requests = os.dup(0)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 1)
    os.close(null)
    send = make_sender(reply)
    if sys.argv[1] == "--zygote":
        zygote(send, requests)
        return
    program = open(sys.argv[1], encoding="utf-8").read()
    header = json.loads(read_frame(requests))
    run_generation(header["mode"], header.get("fn_name"), program, send, requests)


main()
