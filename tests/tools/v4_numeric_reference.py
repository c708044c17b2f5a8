#!/usr/bin/env python3
"""Independent reference values for tests/unit/test_kernels_numeric.cpp (plain Python, no numpy).

Prints the E8M0 scale bytes of the A8 (1/448) and Q4 (1/6) quantisers for a few amax values,
computed as v4-model.md §3.0 states: t = fl32(a * fl32(1/c)), scale = smallest power of two >= t,
byte = log2(scale) + 127. Also the E4M3 and E2M1 value tables from the format definitions.
"""
import math
import struct


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def ceil_pow2_byte(t):
    m, e = math.frexp(t)  # t = m * 2^e, m in [0.5, 1)
    k = e - 1 if m == 0.5 else e  # smallest k with 2^k >= t
    return k + 127


def scale_byte(amax, c, floor):
    a = max(f32(amax), floor)
    t = f32(a * f32(1.0 / c))
    return ceil_pow2_byte(t)


def e4m3(code):
    s, e, m = code >> 7, (code >> 3) & 15, code & 7
    if e == 15 and m == 7:
        return float("nan")
    v = m * 2.0 ** -9 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7)
    return -v if s else v


def e2m1(code):
    e, m = (code >> 1) & 3, code & 1
    v = m * 0.5 if e == 0 else (1 + m / 2) * 2.0 ** (e - 1)
    return -v if code & 8 else v


if __name__ == "__main__":
    amaxes = [448.0, 1.0, 0.0, 1e-5, 3.5, 896.0, 447.9, 448.1, 6.0, 0.75, 1e30]
    print("A8", [(a, scale_byte(a, 448.0, f32(1e-4))) for a in amaxes])
    print("Q4", [(a, scale_byte(a, 6.0, f32(6 * 2.0 ** -126))) for a in amaxes])
    print("E4M3 finite max", max(e4m3(c) for c in range(128) if not math.isnan(e4m3(c))))
    print("E4M3", [e4m3(c) for c in (0x01, 0x08, 0x38, 0x39, 0x7e, 0xb8)])
    print("E2M1", [e2m1(c) for c in range(16)])


def yarn_freqs(rope_dim=64, base=160000.0, factor=16.0, orig=65536, beta_fast=32, beta_slow=1):
    """v4-model.md §3.5 in double precision (the C++ computes FP32 as the reference does)."""
    corr = lambda n: rope_dim * math.log(orig / (n * 2 * math.pi)) / (2 * math.log(base))
    lo = max(math.floor(corr(beta_fast)), 0)
    hi = min(math.ceil(corr(beta_slow)), rope_dim - 1)
    out = []
    for i in range(rope_dim // 2):
        w = base ** (-2 * i / rope_dim)
        rho = min(max((i - lo) / (hi - lo), 0.0), 1.0)
        out.append(w * (1 - rho) + w / factor * rho)
    return lo, hi, out


if __name__ == "__main__":
    lo, hi, f = yarn_freqs()
    print("YaRN lo hi", lo, hi)
    print("YaRN", [(i, repr(f[i])) for i in (0, 1, 10, 15, 16, 20, 24, 25, 31)])
    print("main", [(i, repr(10000.0 ** (-2 * i / 64))) for i in (0, 1, 31)])
