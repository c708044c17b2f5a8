#!/usr/bin/env python3
"""Independent reference values for reports/stats and harness/stats (standard library only).

Reads one JSON object per line on stdin, writes one JSON result per line:
  {"f": "wilson", "k": K, "n": N}            -> {"low": .., "high": ..}
  {"f": "pass_at_k", "n": N, "c": C, "k": K}  -> {"value": ..}   1 - C(n-c,k)/C(n,k), exact
  {"f": "binom_cdf", "k": K, "n": N, "p": P}  -> {"value": ..}
  {"f": "mcnemar", "won": W, "lost": L}       -> {"two_sided": .., "b_worse": .., "b_better": ..}
  {"f": "holm", "p": [..]}                    -> {"adjusted": [..]}
  {"f": "tango_z", "n": N, "won": W, "lost": L, "theta": T} -> {"z": ..}
  {"f": "normal", "x": X, "q": Q}             -> {"cdf": Phi(x), "quantile": Phi^-1(q)}
Exact rationals (fractions) where the quantity is a finite sum, so the C++ floating-point
results are checked against values computed another way.
"""
import json
import math
import sys
from fractions import Fraction
from statistics import NormalDist

N01 = NormalDist()


def wilson(k, n, conf=0.95):
    z = N01.inv_cdf(1 - (1 - conf) / 2)
    p = k / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return {"low": max(0.0, center - half), "high": min(1.0, center + half)}


def pass_at_k(n, c, k):
    if n - c < k:
        return 1.0
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


def binom_cdf(k, n, p):
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    p = Fraction(p).limit_denominator(10**12)
    return float(sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1)))


def mcnemar(won, lost):
    n = won + lost
    if n == 0:
        return {"two_sided": 1.0, "b_worse": 1.0, "b_better": 1.0}
    cdf = lambda k: Fraction(sum(math.comb(n, i) for i in range(k + 1)), 2**n)
    return {"two_sided": float(min(Fraction(1), 2 * cdf(min(won, lost)))),
            "b_worse": float(cdf(won)), "b_better": float(cdf(lost))}


def holm(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def tango_z(n, won, lost, theta):
    # Score test for theta = P(B pass) - P(A pass) in matched pairs (Tango 1998): the restricted
    # MLE of q21 = P(lost) maximises the multinomial likelihood under q12 = q21 + theta. Found
    # here by solving the score equation numerically (bisection), not by the closed form.
    n12, n21, m = won, lost, n - won - lost
    if n12 - n21 - n * theta == 0:
        return 0.0
    lo, hi = max(0.0, -theta) + 1e-15, (1 - theta) / 2 - 1e-15
    def score(q):
        return (n12 / (q + theta) if n12 else 0) + (n21 / q if n21 else 0) - 2 * m / (1 - 2 * q - theta)
    for _ in range(300):  # the score decreases in q: bisection
        mid = (lo + hi) / 2
        if score(mid) > 0:
            lo = mid
        else:
            hi = mid
    q = (lo + hi) / 2
    var = n * (2 * q + theta * (1 - theta))
    return (n12 - n21 - n * theta) / math.sqrt(var)


for line in sys.stdin:
    if not line.strip():
        continue
    c = json.loads(line)
    f = c["f"]
    if f == "wilson":
        r = wilson(c["k"], c["n"])
    elif f == "pass_at_k":
        r = {"value": pass_at_k(c["n"], c["c"], c["k"])}
    elif f == "binom_cdf":
        r = {"value": binom_cdf(c["k"], c["n"], c["p"])}
    elif f == "mcnemar":
        r = mcnemar(c["won"], c["lost"])
    elif f == "holm":
        r = {"adjusted": holm(c["p"])}
    elif f == "tango_z":
        r = {"z": tango_z(c["n"], c["won"], c["lost"], c["theta"])}
    elif f == "normal":
        r = {"cdf": N01.cdf(c["x"]), "quantile": N01.inv_cdf(c["q"])}
    else:
        raise SystemExit("unknown function " + f)
    print(json.dumps(r))
