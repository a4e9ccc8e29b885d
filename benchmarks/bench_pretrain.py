"""pretrain_throughput: training sequences/s of one Composite-model step (fwd, bwd, update).

First, the Moving MNIST models at the shapes the embedded and CPU-scale configs train (1 thread):
fp32, bf16 autocast (CPUs with native bf16) and the torch.nn.LSTM cell, each also as matmul
GFLOP/s against the machine's measured matmul peak (bench_gemm.peaks, same run).

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
from bench_gemm import peaks  # noqa: E402
from common import compare, device_name, out_dir_arg, row, write_results  # noqa: E402

from videolstm.lstm import PeepholeLSTM, naive_peephole_forward  # noqa: E402
from videolstm.models import ModelConfig, build_model  # noqa: E402
from videolstm.plan import pretrain_step  # noqa: E402

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
        input_dim=workload["dim"], hidden=workload["hidden"], layers=workload.get("layers", 2),
        cell=cell, output=workload["output"], n_in=workload["n_in"], n_recon=workload["n_recon"],
        n_future=workload["n_future"],
    )
    torch.manual_seed(0)
    model = build_model(workload.get("variant", "composite"), cfg).to(device)
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


def config_rows(peak: dict[str, float], threads: int, repeats: int = 5) -> list[dict]:
    """The Moving MNIST models at the shapes config.yaml (embedded) and cpu.yaml train: fp32,
    bf16 autocast and the torch.nn.LSTM cell, in sequences/s and as a fraction of gemm_peak."""
    torch.set_num_threads(threads)
    dev = device_name("cpu")  # after set_num_threads: names the thread count
    rows = []
    for label, variant, hidden, batch in (("embedded future", "future", 256, 16),
                                          ("embedded composite", "composite", 256, 16),
                                          ("cpu.yaml future", "future", 512, 16),
                                          ("cpu.yaml composite", "composite", 512, 16),
                                          ("cpu.yaml composite", "composite", 512, 64)):
        cfg = ModelConfig(input_dim=4096, hidden=hidden, layers=1, output="sigmoid")
        shape = f"{variant} D=4096 H={hidden} L=1 B={batch} 10/10/10"
        step = {}
        for name, cell, amp in (("fp32", "peephole", False), ("bf16", "peephole", True),
                                ("torch bf16", "torch", True)):
            if amp and "bf16" not in peak:
                continue
            step[name] = make_step(cell, dict(MNIST, hidden=hidden, batch=batch, layers=1,
                                              variant=variant), "cpu", amp)
        t = compare(step, repeats=repeats, warmup=2)
        rate = {k: batch / v for k, v in t.items()}
        flops = pretrain_step(variant, cfg, batch)[0]  # counted on the meta device
        if "bf16" in rate:
            rows.append(row(NAME, variant=f"{label} bf16 vs fp32", device=dev, shape=shape,
                            value=rate["bf16"], unit="sequences/s", better="higher",
                            baseline="same step in fp32", baseline_value=rate["fp32"]))
            rows.append(row(NAME, variant=f"{label} bf16 vs torch.nn.LSTM bf16", device=dev,
                            shape=shape, value=rate["bf16"], unit="sequences/s", better="higher",
                            baseline="torch.nn.LSTM cell path, bf16 (no peepholes)",
                            baseline_value=rate["torch bf16"]))
            rows.append(row(NAME, variant=f"{label} bf16 matmul rate vs gemm_peak", device=dev,
                            shape=shape, value=flops / t["bf16"] / 1e9, unit="GFLOP/s",
                            better="higher", baseline="gemm_peak bf16 (same threads)",
                            baseline_value=peak["bf16"],
                            note="ratio = fraction of the measured bf16 matmul peak"))
        rows.append(row(NAME, variant=f"{label} fp32 matmul rate vs gemm_peak", device=dev,
                        shape=shape, value=flops / t["fp32"] / 1e9, unit="GFLOP/s",
                        better="higher", baseline="gemm_peak fp32 (same threads)",
                        baseline_value=peak["fp32"],
                        note="ratio = fraction of the measured fp32 matmul peak"))
    return rows


def main(argv: list[str] | None = None) -> None:
    out = out_dir_arg(argv)
    rows = []
    threads = torch.get_num_threads()
    rows += config_rows(peaks(1), threads=1)
    torch.set_num_threads(threads)  # the rows below use every core, as before
    rows += measure("cpu", dict(MNIST, hidden=128, batch=16), repeats=7)
    rows += measure("cpu", dict(PERCEPTS, hidden=256, batch=16), repeats=5)
    rows += measure("cpu", dict(PERCEPTS, hidden=256, batch=16), repeats=5, amp=True)
    if torch.cuda.is_available():
        paper = dict(hidden=2048, batch=256, note="target on an H100: >= 20,000 sequences/s")
        rows += measure("cuda", dict(PERCEPTS, **paper), repeats=10, amp=True)
        rows += measure("cuda", dict(MNIST, hidden=2048, batch=256), repeats=10, amp=True)
    write_results(NAME, rows, out)


if __name__ == "__main__":
    main()
