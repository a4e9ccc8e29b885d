"""data_path: how fast classifier batches come out of a percept table too large to keep resident.

Rows (measured in the same run, on a memory-mapped float16 table of 4096-d percepts written to a
temporary file, 2 runs x batch 64 x 16-frame blocks = 2,048 rows a batch, 16 MiB as float16):
- gather: the streamed source's host work for one batch (rows read in sorted order into a
  float16 buffer; videolstm.finetune.frames) vs. the earlier path that built the batch as float32
  on the host (twice the bytes to write and to copy to a device).
- training: steps per second of a group of classifiers trained on the streamed table with the
  batches prepared a few ahead by the background thread vs. prepared in line (depth 0), on this
  CPU (2 cores: the thread overlaps reading with the matmuls of the other core).
Nothing here runs on a GPU; none is estimated.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compare, device_name, out_dir_arg, row, write_results  # noqa: E402

from videolstm.finetune.data import Percepts  # noqa: E402
from videolstm.finetune.engine import TrainConfig, _train_batch, train_lstm_group  # noqa: E402
from videolstm.finetune.frames import FrameSource  # noqa: E402
from videolstm.lstm import StackedLSTM  # noqa: E402

NAME = "data_path"
DIM, VIDEOS, FRAMES = 4096, 400, 150  # 60,000 frames: 469 MiB of float16


def fp32_gather(frames: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    """The earlier streamed path: float32 rows on the host."""
    flat = idx.reshape(-1)
    order = np.argsort(flat, kind="stable")
    rows = np.empty((flat.size, frames.shape[1]), dtype=np.float32)
    rows[order] = frames[flat[order]]
    return torch.from_numpy(rows)


def main() -> None:
    out = out_dir_arg()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rgb.npy"
        table = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(VIDEOS * FRAMES, DIM))
        rng = np.random.default_rng(0)
        for s in range(0, VIDEOS * FRAMES, 5000):
            table[s:s + 5000] = rng.normal(size=(min(5000, VIDEOS * FRAMES - s), DIM)).astype(np.float16)
        table.flush()
        frames = np.load(path, mmap_mode="r")
        p = Percepts(frames, np.arange(VIDEOS + 1, dtype=np.int64) * FRAMES, {}, "rgb")
        labels = np.arange(VIDEOS) % 10
        source = FrameSource(p, "cpu", budget_bytes=0)  # streamed
        sets = [np.arange(VIDEOS)] * 2
        idx, _ = _train_batch([np.random.default_rng(s) for s in (1, 2)], sets, labels, p, 16, 64)
        t = compare({"fp16": lambda: source.host(idx), "fp32": lambda: fp32_gather(frames, idx)},
                    repeats=7)
        shape = f"R=2 B=64 T=16 D={DIM}; table {VIDEOS * FRAMES} frames float16 (memory map)"
        rows.append(row(NAME, variant="gather", device=device_name("cpu"), shape=shape,
                        value=t["fp16"] * 1e3, unit="ms/batch", better="lower",
                        baseline="float32 host batch (the earlier path)",
                        baseline_value=t["fp32"] * 1e3,
                        note="host work of one streamed batch; half the bytes cross to a device"))

        cfg = TrainConfig(steps=12, batch_size=64, block=16, dropout=0.0)

        def train(depth):
            src = FrameSource(p, "cpu", budget_bytes=0, depth=depth)
            encs = [StackedLSTM(DIM, 64, 1) for _ in range(2)]
            train_lstm_group(p, labels, 10, sets, encs, [1, 2], cfg, "cpu", src)

        t = compare({"ahead": lambda: train(2), "inline": lambda: train(0)}, repeats=3)
        rows.append(row(NAME, variant="training", device=device_name("cpu") + ", 1 torch thread",
                        shape=f"2 classifiers 1x64, {shape}, 12 steps",
                        value=cfg.steps / t["ahead"], unit="steps/s", better="higher",
                        baseline="batches prepared in line (depth 0)",
                        baseline_value=cfg.steps / t["inline"],
                        note="background thread prepares streamed batches 2 ahead"))
    write_results(NAME, rows, out)


if __name__ == "__main__":
    main()
