"""pretrain_throughput: training sequences/s of one Composite-model step (fwd, bwd, update).

Two workloads, both the paper's Composite model (encoder + reconstruction + future decoder,
unconditioned decoders, 2 layers), at CPU-sized hidden units:
  * Moving MNIST: 4096-d frames (64x64), 10 in / 10 reconstructed / 10 predicted, sigmoid + BCE;
  * percepts: 4096-d VGG fc6-like vectors, 16 in / 16 reconstructed / 13 predicted, linear + MSE.
Ours (peephole cell, fused recurrence) against, in the same run: the same model with the naive
per-step autograd peephole cell, and the `torch.nn.LSTM` cell path (no peepholes; oneDNN on CPU,
cuDNN on GPU) as the speed reference. With a GPU present, the paper-size rows (2 layers, 2048
units, batch 256, bf16 autocast) are added; on CPU they are absent, never estimated.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compare, device_name, out_dir_arg, row, write_results  # noqa: E402

from videolstm.lstm import PeepholeLSTM, naive_peephole_forward  # noqa: E402
from videolstm.models import ModelConfig, build_model  # noqa: E402

NAME = "pretrain_throughput"


@contextlib.contextmanager
def naive_cell():
    fused = PeepholeLSTM.forward
    PeepholeLSTM.forward = lambda self, x, state=None: naive_peephole_forward(self, x, state)
    try:
        yield
    finally:
        PeepholeLSTM.forward = fused


def make_step(cell: str, workload: dict, device: str, amp: bool):
    cfg = ModelConfig(
        input_dim=workload["dim"], hidden=workload["hidden"], layers=2, cell=cell,
        output=workload["output"], n_in=workload["n_in"], n_recon=workload["n_recon"],
        n_future=workload["n_future"],
    )
    torch.manual_seed(0)
    model = build_model("composite", cfg).to(device)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-4)
    n_in, b = workload["n_in"], workload["batch"]
    x = torch.rand(n_in + workload["n_future"], b, workload["dim"], device=device)
    if workload["output"] == "sigmoid":
        x = x.round()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=amp):
            loss = model.losses(x[:n_in], x[n_in:])["total"]
        loss.backward()
        opt.step()

    return step


def measure(device: str, workload: dict, repeats: int, amp: bool = False) -> list[dict]:
    ours = make_step("peephole", workload, device, amp)
    ref = make_step("torch", workload, device, amp)
    naive = make_step("peephole", workload, device, amp)

    def naive_step():
        with naive_cell():
            naive()

    t = compare({"ours": ours, "torch": ref, "naive": naive_step}, repeats=repeats,
                warmup=1, device=device)
    b = workload["batch"]
    rate = {k: b / v for k, v in t.items()}
    dev = device_name(device)
    prec = "bf16 autocast" if amp else "fp32"
    shape = (f"D={workload['dim']} H={workload['hidden']} L=2 B={b} "
             f"{workload['n_in']}/{workload['n_recon']}/{workload['n_future']}")
    label = f"{workload['label']} {prec}"
    return [
        row(NAME, variant=f"{label} vs naive cell", device=dev, shape=shape, value=rate["ours"],
            unit="sequences/s", better="higher", baseline=f"naive per-step peephole cell {prec}",
            baseline_value=rate["naive"]),
        row(NAME, variant=f"{label} vs torch cell", device=dev, shape=shape, value=rate["ours"],
            unit="sequences/s", better="higher",
            baseline=f"torch.nn.LSTM cell path {prec} (no peepholes)",
            baseline_value=rate["torch"], note=workload.get("note", "")),
    ]


MNIST = dict(label="moving mnist composite", dim=4096, output="sigmoid", n_in=10, n_recon=10,
             n_future=10)
PERCEPTS = dict(label="4096-d percepts composite", dim=4096, output="linear", n_in=16,
                n_recon=16, n_future=13)


def main(argv: list[str] | None = None) -> None:
    out = out_dir_arg(argv)
    rows = []
    rows += measure("cpu", dict(MNIST, hidden=128, batch=16), repeats=7)
    rows += measure("cpu", dict(PERCEPTS, hidden=256, batch=16), repeats=5)
    # what bf16 autocast would give on a CPU with avx512_bf16 (training uses it on CUDA only)
    rows += measure("cpu", dict(PERCEPTS, hidden=256, batch=16), repeats=5, amp=True)
    if torch.cuda.is_available():
        paper = dict(hidden=2048, batch=256, note="target on an H100: >= 20,000 sequences/s")
        rows += measure("cuda", dict(PERCEPTS, **paper), repeats=10, amp=True)
        rows += measure("cuda", dict(MNIST, hidden=2048, batch=256), repeats=10, amp=True)
    write_results(NAME, rows, out)


if __name__ == "__main__":
    main()
