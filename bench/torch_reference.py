#!/usr/bin/env python3
"""PyTorch baselines for bench_cuda_kernels at the same V4-Flash shapes.

FP8 GEMM through torch._scaled_mm (per-tensor scales: cuBLASLt's FP8 tensor-core path, not the
1x128 block-scaled numerics), BF16 matmul for the expert shapes, SDPA for attention. Prints
achieved TB/s and TFLOP/s next to the H200 roofline. Without torch or a CUDA device it says so
and exits 0.

    python3 bench/torch_reference.py [--quick]
"""

import sys

HBM_TBS, FP8_TFLOPS, BF16_TFLOPS = 4.8, 1979.0, 989.0


def main() -> int:
    quick = "--quick" in sys.argv
    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:  # noqa: BLE001 - any import failure means "no torch here"
        print(f"torch_reference: torch is not importable ({e.__class__.__name__}); skipped.")
        return 0
    if not torch.cuda.is_available():
        print("torch_reference: no CUDA device visible to torch; skipped.")
        return 0
    dev = torch.device("cuda")
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}")

    def median_ms(fn, reps=5 if quick else 20):
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(reps):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            b.synchronize()
            times.append(a.elapsed_time(b))
        times.sort()
        return times[len(times) // 2]

    def row(name, ms, nbytes, flops, peak, peak_name):
        tbs = nbytes / (ms * 1e-3) / 1e12
        tf = flops / (ms * 1e-3) / 1e12
        print(f"{name:<44} {ms:9.3f} ms {tbs:7.2f} TB/s ({100 * tbs / HBM_TBS:5.1f}% of {HBM_TBS})"
              f" {tf:8.1f} TFLOP/s ({100 * tf / peak:5.1f}% of {peak_name} {peak:.0f})")

    fp8 = getattr(torch, "float8_e4m3fn", None)
    shapes = [("wq_b", 1024, 32768), ("wo_b", 8192, 4096)]
    ms_list = [1, 64] + ([] if quick else [4096])
    for label, k, n in shapes:
        w = torch.randn(n, k, device=dev).to(fp8) if fp8 is not None else None
        for m in ms_list:
            mp = max(m, 16)  # _scaled_mm wants M a multiple of 16
            x = torch.randn(mp, k, device=dev).to(fp8) if fp8 is not None else None
            one = torch.tensor(1.0, device=dev)
            try:
                ms = median_ms(lambda: torch._scaled_mm(x, w.t(), scale_a=one, scale_b=one,
                                                        out_dtype=torch.bfloat16))
                row(f"_scaled_mm fp8 {label} M={m} K={k} N={n}", ms, n * k + m * k + 2 * m * n,
                    2.0 * m * n * k, FP8_TFLOPS, "FP8")
            except Exception as e:  # noqa: BLE001 - older torch / unsupported layout
                print(f"_scaled_mm fp8 {label} M={m}: unavailable ({e})")
            xb = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
            wb = torch.randn(n, k, device=dev, dtype=torch.bfloat16)
            ms = median_ms(lambda: xb @ wb.t())
            row(f"bf16 matmul {label} M={m} K={k} N={n}", ms, 2 * (n * k + m * k + m * n),
                2.0 * m * n * k, BF16_TFLOPS, "BF16")
            del xb, wb

    # Routed experts W1 (4096 -> 2048), as a BF16 matmul over the gathered tokens.
    for tokens in [1, 64] + ([] if quick else [4096]):
        rows = tokens * 6
        xb = torch.randn(rows, 4096, device=dev, dtype=torch.bfloat16)
        wb = torch.randn(2048, 4096, device=dev, dtype=torch.bfloat16)
        ms = median_ms(lambda: xb @ wb.t())
        row(f"bf16 expert W1 rows={rows} (one expert's weight)", ms,
            2 * (2048 * 4096 + rows * 4096 + rows * 2048), 2.0 * rows * 2048 * 4096,
            BF16_TFLOPS, "BF16")

    # Attention: 64 heads x 512 over `keys` shared keys (MQA, K = V), SDPA in BF16.
    for t, keys in [(1, 640), (1, 8320)] + ([] if quick else [(4096, 640)]):
        q = torch.randn(1, 64, t, 512, device=dev, dtype=torch.bfloat16)
        kv = torch.randn(1, 1, keys, 512, device=dev, dtype=torch.bfloat16).expand(1, 64, keys, 512)
        ms = median_ms(lambda: F.scaled_dot_product_attention(q, kv, kv))
        row(f"SDPA bf16 T={t} keys={keys}", ms, keys * 512 * 2 + 2 * 2 * t * 64 * 512,
            4.0 * t * 64 * keys * 512, BF16_TFLOPS, "BF16")
    return 0


if __name__ == "__main__":
    sys.exit(main())
