#!/usr/bin/env python3
"""Prints the pickle fixtures tests/unit/test_livecodebench.cpp decodes, from this CPython:
pickle.dumps of a str under each protocol that LiveCodeBench's encoder could use, the framing
of a string above the 64 KB frame target, and the real 1873_A blob's stages (base64 -> zlib ->
pickle -> JSON). Run it to re-derive the constants after a CPython upgrade:
    python3 tests/tools/lcb_pickle_fixtures.py [shared/data/livecodebench]"""
import base64, json, pickle, pickletools, sys, zlib

for proto in (2, 3, 4, 5):
    print(f"protocol {proto}: {pickle.dumps('héllo' + chr(10), protocol=proto).hex()}")
print("empty str, protocol 4:", pickle.dumps("", protocol=4).hex())
big = pickle.dumps("x" * 70000, protocol=4)
print(f"70000-char str, protocol 4: {len(big)} bytes, head {big[:8].hex()}, tail {big[-2:].hex()} (unframed BINUNICODE)")

data_dir = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/livecodebench"
row = json.loads(open(f"{data_dir}/lcb_row_1873_A_with_encoded_private_tests.jsonl").readline())
raw = zlib.decompress(base64.b64decode(row["private_test_cases"]))
print("1873_A pickle opcodes:")
pickletools.dis(raw)
tests = json.loads(pickle.loads(raw))
print(f"1873_A private tests: {len(tests)}; first {tests[0]}")
