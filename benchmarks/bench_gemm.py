"""gemm_peak: the machine's measured matrix-multiply peak, the yardstick of the training rows.

Square-ish matmuls at the shapes where oneDNN runs best here, fp32 and bf16, on 1 thread and on
every core; GFLOP/s = 2 M N K / seconds (best of several repeats). `pretrain_throughput` reports
its training steps as a fraction of the bf16 row. bf16 is only measured where it is native
(avx512_bf16 / amx_bf16, or a CUDA GPU); elsewhere it would be emulated and is left out.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compare, device_name, out_dir_arg, row, write_results  # noqa: E402

from videolstm.train import cpu_has_native_bf16  # noqa: E402

NAME = "gemm_peak"
SHAPE = (256, 4096, 2048)  # M, K, N: a batch of 256 rows through a 4096 -> 2048 projection


def gflops(dtype: torch.dtype, threads: int, shape=SHAPE, repeats: int = 7) -> float:
    torch.set_num_threads(threads)
    m, k, n = shape
    a = torch.randn(m, k).to(dtype)
    b = torch.randn(k, n).to(dtype)
    out = torch.empty(m, n, dtype=dtype)
    t = compare({"mm": lambda: torch.mm(a, b, out=out)}, repeats=repeats, warmup=2, inner=5)
    return 2 * m * k * n / t["mm"] / 1e9


def peaks(threads: int) -> dict[str, float]:
    """{'fp32': GFLOP/s, 'bf16': GFLOP/s or absent} on `threads` threads (used by bench_pretrain)."""
    out = {"fp32": gflops(torch.float32, threads)}
    if cpu_has_native_bf16():
        out["bf16"] = gflops(torch.bfloat16, threads)
    return out


def main(argv: list[str] | None = None) -> None:
    out = out_dir_arg(argv)
    rows = []
    shape = "x".join(str(s) for s in SHAPE) + " (M x K x N)"
    for threads in sorted({1, torch.get_num_threads()}):
        p = peaks(threads)
        dev = device_name("cpu")  # after set_num_threads: names the thread count
        if "bf16" in p:
            rows.append(row(NAME, variant="bf16 matmul vs fp32", device=dev, shape=shape,
                            value=p["bf16"], unit="GFLOP/s", better="higher",
                            baseline="fp32 matmul", baseline_value=p["fp32"]))
        else:
            rows.append(row(NAME, variant="fp32 matmul (no native bf16)", device=dev, shape=shape,
                            value=p["fp32"], unit="GFLOP/s", better="higher",
                            baseline="fp32 matmul", baseline_value=p["fp32"]))
    write_results(NAME, rows, out)


if __name__ == "__main__":
    main()
