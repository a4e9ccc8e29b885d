"""peephole_lstm_vs_torch_lstm: one LSTM layer, forward + backward, T=16.

Ours (videolstm.lstm.PeepholeLSTM: one input-projection matmul, one fused autograd node for the
recurrence with a hand-written backward) against torch.nn.LSTM (no peepholes; cuDNN on GPU) and
against the naive per-step autograd implementation of the same peephole cell, all measured in this
run on this device. Peepholes are nonzero so that their arithmetic is part of the cost.

CPU: B=32, H=512, input 1024 (the issue's shape would take minutes here), fp32 and bf16 autocast
(this CPU has avx512_bf16; both ours and torch.nn.LSTM under the same autocast), plus an fp32
cross-check on one thread timed by CPU time (less affected by other work on a shared machine
than wall time, though shared caches still move it by about +-10%). GPU (when present): the
issue's T=16, B=256, H=2048, input 4096, fp32 and bf16 autocast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compare, device_name, out_dir_arg, row, write_results  # noqa: E402

from videolstm.lstm import PeepholeLSTM, naive_peephole_forward  # noqa: E402

NAME = "peephole_lstm_vs_torch_lstm"


def measure(
    device: str, T: int, B: int, H: int, D: int, repeats: int, autocast: bool, threads: int = 0
) -> list:
    torch.manual_seed(0)
    x = torch.randn(T, B, D, device=device)
    ours = PeepholeLSTM(D, H).to(device)
    with torch.no_grad():
        ours.peephole.uniform_(-0.1, 0.1)
    ref = torch.nn.LSTM(D, H).to(device)
    dtype = torch.bfloat16

    def fb(run):
        def go():
            with torch.autocast(torch.device(device).type, dtype=dtype, enabled=autocast):
                out = run(x)[0]
            out.float().sum().backward()

        return go

    saved_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    times = compare(
        {
            "ours": fb(ours),
            "torch": fb(ref),
            "naive": fb(lambda v: naive_peephole_forward(ours, v)),
        },
        repeats=repeats,
        warmup=2,
        device=device,
        clock="cpu" if threads == 1 else "wall",
    )
    dev = device_name(device)
    torch.set_num_threads(saved_threads)
    shape = f"T={T} B={B} H={H} D={D}"
    prec = "bf16 autocast" if autocast else "fp32"
    if threads == 1:
        prec += ", 1 thread CPU time"
    rows = [
        row(NAME, variant=f"fwd+bwd {prec} vs torch.nn.LSTM", device=dev, shape=shape,
            value=times["ours"] * 1e3, unit="ms", better="lower",
            baseline=f"torch.nn.LSTM {prec}, no peepholes", baseline_value=times["torch"] * 1e3,
            note="target: ratio <= 1.0 on CPU, <= 1.3 vs cuDNN on GPU"),
        row(NAME, variant=f"fwd+bwd {prec} vs naive per-step", device=dev, shape=shape,
            value=times["ours"] * 1e3, unit="ms", better="lower",
            baseline=f"naive per-step autograd peephole LSTM {prec}",
            baseline_value=times["naive"] * 1e3),
    ]
    return rows


def main(argv: list[str] | None = None) -> None:
    out = out_dir_arg(argv)
    rows = measure("cpu", T=16, B=32, H=512, D=1024, repeats=10, autocast=False)
    rows += measure("cpu", T=16, B=32, H=512, D=1024, repeats=5, autocast=True)
    # cross-check less exposed to other work on a shared machine: one thread, CPU time
    rows += measure("cpu", T=16, B=32, H=512, D=1024, repeats=5, autocast=False, threads=1)
    if torch.cuda.is_available():
        rows += measure("cuda", T=16, B=256, H=2048, D=4096, repeats=20, autocast=False)
        rows += measure("cuda", T=16, B=256, H=2048, D=4096, repeats=20, autocast=True)
    write_results(NAME, rows, out)


if __name__ == "__main__":
    main()
