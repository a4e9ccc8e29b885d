"""moving_mnist_generation: sequences/s of the on-the-fly Moving MNIST generator (20 x 64 x 64).

Ours: videolstm.movingmnist.generator.MovingMNIST.batch (vectorised over the batch). Baselines measured
in the same run: a naive per-sequence Python generator written like the authors' original code
(loops over sequences, frames and digits), and the rate at which a training step of the
embedded default's Composite model consumes sequences (the data must never be the bottleneck:
target at least 10x). Digit images are random uint8 (the cost does not depend on their content).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compare, device_name, out_dir_arg, row, write_results  # noqa: E402

from videolstm.movingmnist.generator import GeneratorConfig, MovingMNIST, to_float  # noqa: E402

NAME = "moving_mnist_generation"


def naive_batch(digits: np.ndarray, cfg: GeneratorConfig, batch: int, rng) -> np.ndarray:
    """Per-sequence Python loop, the shape of the authors' original generator."""
    s, ds, T = cfg.image_size, cfg.digit_size, cfg.seq_len
    travel = s - ds
    out = np.zeros((T, batch, s, s), np.uint8)
    for b in range(batch):
        for _ in range(cfg.num_digits):
            y, x = rng.random(), rng.random()
            theta = rng.random() * 2 * np.pi
            vy, vx = np.sin(theta) * cfg.step_length, np.cos(theta) * cfg.step_length
            digit = digits[rng.integers(len(digits))]
            for t in range(T):
                y, x = y + vy, x + vx
                if y <= 0 or y >= 1:
                    y, vy = min(max(y, 0.0), 1.0), -vy
                if x <= 0 or x >= 1:
                    x, vx = min(max(x, 0.0), 1.0), -vx
                top, left = int(y * travel), int(x * travel)
                win = out[t, b, top : top + ds, left : left + ds]
                np.maximum(win, digit, out=win)
    return out


def training_rate(repeats: int = 3) -> tuple[float, str]:
    """Sequences/s that one training step of the embedded Composite model consumes (CPU)."""
    from videolstm.models import ModelConfig, build_model

    cfg = ModelConfig(input_dim=4096, hidden=128, layers=2, output="sigmoid")
    torch.manual_seed(0)
    model = build_model("composite", cfg)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    batch = 16
    x = torch.rand(20, batch, 4096).round()

    def step():
        opt.zero_grad(set_to_none=True)
        model.losses(x[:10], x[10:])["total"].backward()
        opt.step()

    t = compare({"step": step}, repeats=repeats, warmup=1)["step"]
    return batch / t, f"composite H=128 L=2 B={batch}, 10 in/10 recon/10 future"


def main(argv: list[str] | None = None) -> None:
    out = out_dir_arg(argv)
    cfg = GeneratorConfig()
    digits = np.random.default_rng(0).integers(0, 256, (5000, 28, 28), dtype=np.uint8)
    gen = MovingMNIST(digits, cfg)
    shape = f"{cfg.seq_len}x{cfg.image_size}x{cfg.image_size}, {cfg.num_digits} digits"
    dev = device_name("cpu")
    big, naive_n, train_b = 512, 64, 16
    rng = np.random.default_rng(1)
    times = compare(
        {
            "ours": lambda: gen.batch(big, rng),
            "ours_float": lambda: to_float(gen.batch(big, rng)),
            "ours_small": lambda: gen.batch(train_b, rng),
            "naive": lambda: naive_batch(digits, cfg, naive_n, rng),
        },
        repeats=5,
    )
    ours = big / times["ours"]
    naive = naive_n / times["naive"]
    small = train_b / times["ours_small"]
    train, train_shape = training_rate()
    rows = [
        row(NAME, variant=f"uint8 batch {big} vs naive loop", device=dev, shape=shape,
            value=ours, unit="sequences/s", better="higher",
            baseline="naive per-sequence Python generator", baseline_value=naive,
            note="target: >= 20,000 sequences/s on a 2-core CPU"),
        row(NAME, variant=f"float batch {big} (model input)", device=dev, shape=shape,
            value=big / times["ours_float"], unit="sequences/s", better="higher",
            baseline="uint8 batch (same generator)", baseline_value=ours,
            note="includes the uint8 -> float [0, 1] conversion the model needs"),
        row(NAME, variant=f"batch {train_b} vs training step", device=dev, shape=shape,
            value=small, unit="sequences/s", better="higher",
            baseline=f"training consumption ({train_shape})", baseline_value=train,
            note="target: ratio >= 10 (data never the bottleneck)"),
    ]
    write_results(NAME, rows, out)


if __name__ == "__main__":
    main()
