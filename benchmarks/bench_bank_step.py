"""finetune_bank_step: one training step of the classifier bank (R LSTM classifiers together:
forward, backward, clipping, Adam) at the shapes the controls jobs train (1 thread).

Ours (videolstm.finetune.bank.LSTMBank: weights stored input side first, the recurrence iterating
over `unbind`) against, in the same run, the formulation it replaced: weights stored as torch
stores them (output side first) and used through transposed views, whose gradients autograd then
copied to the parameters' layout, and the steps' gate inputs taken by indexing, whose backward
writes a zero tensor of all steps' size per step. The two compute the same products in the same
order (docs/performance.md: the embedded run's outputs did not change). Also the step's matmul
rate as a fraction of the measured fp32 matmul peak (bench_gemm.peaks, same run).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gemm import peaks  # noqa: E402
from common import compare, device_name, out_dir_arg, row, write_results  # noqa: E402

from videolstm.finetune.bank import LSTMBank, peephole_cell  # noqa: E402
from videolstm.finetune.engine import TrainConfig, _optimizer, _step  # noqa: E402

NAME = "finetune_bank_step"
# a controls job's group: 35 runs, digit-CNN percepts (4 x 4 cells x 32 channels), the encoders'
# 128 units, 8 classes, 16-frame windows, batch 16
R, D, H, C, T, N = 35, 512, 128, 8, 16, 16


class FormerBank(LSTMBank):
    """The bank as it was: weights in torch's layout (R, 4H, D), used through transposed views;
    gate inputs indexed per step."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for plist in (self.w_ih, self.w_hh):
            for k, p in enumerate(plist):
                plist[k] = nn.Parameter(p.detach().transpose(1, 2).contiguous())
        self.head_w = nn.Parameter(self.head_w.detach().transpose(1, 2).contiguous())

    def _layer(self, k: int, gx: Tensor) -> Tensor:
        R, T, N, _ = gx.shape
        w_hh_t = self.w_hh[k].transpose(1, 2)
        peep = self.peep[k]
        p_i, p_f, p_o = peep[:, 0, None, :], peep[:, 1, None, :], peep[:, 2, None, :]
        h = gx.new_zeros(R, N, self.hidden)
        c = gx.new_zeros(R, N, self.hidden)
        outs = []
        for t in range(T):
            h, c = peephole_cell(gx[:, t] + torch.bmm(h, w_hh_t), c, p_i, p_f, p_o)
            outs.append(h)
        return torch.stack(outs, dim=1)

    def _project(self, k: int, x: Tensor) -> Tensor:
        R, T, N, D = x.shape
        out = torch.bmm(x.reshape(R, T * N, D), self.w_ih[k].transpose(1, 2))
        return (out + self.bias[k][:, None, :]).view(self.runs, T, N, -1)

    def forward(self, x: Tensor, dropout: float = 0.0, generators=None) -> Tensor:
        h = self._dropout(self.features(x, dropout, generators), dropout, generators)
        R, T, N, H = h.shape
        logits = torch.bmm(h.reshape(R, T * N, H), self.head_w.transpose(1, 2))
        return logits.view(R, T, N, -1) + self.head_b[:, None, None, :]


def make_step(cls: type[LSTMBank]):
    torch.manual_seed(0)
    bank = cls(R, D, H, 1, C)
    with torch.no_grad():
        for p in bank.parameters():
            p.uniform_(-0.05, 0.05)
    bank.train()
    cfg = TrainConfig()
    opt = _optimizer(list(bank.parameters()), cfg)
    gens = [torch.Generator().manual_seed(r) for r in range(R)]
    x = torch.randn(R, T, N, D)
    target = torch.randint(0, C, (R, T, N))

    def step() -> None:
        _step(bank, opt, bank(x, cfg.dropout, gens), target, R, cfg.clip, cfg.loss_reduction)

    return step


def main(argv: list[str] | None = None) -> None:
    out = out_dir_arg(argv)
    torch.set_num_threads(1)
    peak = peaks(1)["fp32"]
    dev = device_name("cpu")
    t = compare({"ours": make_step(LSTMBank), "former": make_step(FormerBank)},
                repeats=5, warmup=2, inner=3)
    shape = f"R={R} D={D} H={H} L=1 C={C} T={T} B={N}, dropout 0.5, Adam"
    # matmul flops of forward + backward (3x the forward's): input projection, recurrence, softmax
    flops = 3 * 2 * R * T * N * (D * 4 * H + H * 4 * H + H * C)
    rows = [
        row(NAME, variant="bank training step vs the former formulation", device=dev,
            shape=shape, value=t["ours"] * 1e3, unit="ms", better="lower",
            baseline="same step, transposed-view weights and per-step indexing (same run)",
            baseline_value=t["former"] * 1e3),
        row(NAME, variant="bank training step fp32 matmul rate vs gemm_peak", device=dev,
            shape=shape, value=flops / t["ours"] / 1e9, unit="GFLOP/s", better="higher",
            baseline="gemm_peak fp32 (1 thread)", baseline_value=peak,
            note="ratio = fraction of the measured fp32 matmul peak"),
    ]
    write_results(NAME, rows, out)


if __name__ == "__main__":
    main()
