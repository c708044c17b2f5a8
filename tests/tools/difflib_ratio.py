#!/usr/bin/env python3
"""Reference outputs of CPython's difflib for tests/unit/test_difflib.cpp.

Reads JSON lines from stdin and writes one JSON line per input line to stdout:
  {"a": str, "b": str, "autojunk": bool (optional, default true)}
      -> {"ratio": repr(SequenceMatcher(None, a, b, autojunk).ratio()),
          "blocks": [[a, b, size], ...]}   # get_matching_blocks(), sentinel included
  {"utf8_hex": "hex bytes"}
      -> {"code_points": [...]}            # bytes.decode("utf-8", errors="replace")
The ratio is the repr string (shortest round-trip form) so the C++ side compares exact doubles.
"""
import difflib
import json
import sys


def main() -> int:
    out = []
    for line in sys.stdin.buffer.read().decode("utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        if "utf8_hex" in item:
            text = bytes.fromhex(item["utf8_hex"]).decode("utf-8", errors="replace")
            out.append(json.dumps({"code_points": [ord(c) for c in text]}))
            continue
        matcher = difflib.SequenceMatcher(None, item["a"], item["b"],
                                          autojunk=item.get("autojunk", True))
        blocks = [list(m) for m in matcher.get_matching_blocks()]
        out.append(json.dumps({"ratio": repr(matcher.ratio()), "blocks": blocks}))
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
