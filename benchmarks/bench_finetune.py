"""Runs per hour of the batched fine-tuning (R classifiers together) against one run at a time,
measured in the same process. Writes benchmarks/results/finetune_sweep.json."""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from videolstm.finetune.data import Percepts
from videolstm.finetune.engine import TrainConfig, train_lstm_group
from videolstm.lstm import StackedLSTM


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=32)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/finetune_sweep.json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    n, frames = 64, 40
    p = Percepts(rng.normal(size=(n * frames, a.dim)).astype(np.float16),
                 np.arange(n + 1) * frames, {}, "rgb")
    labels = np.arange(n) % 8
    cfg = TrainConfig(steps=a.steps, batch_size=16)
    encs = [StackedLSTM(a.dim, a.hidden, 2) for _ in range(a.runs)]
    sets = [np.arange(n)] * a.runs
    batched = _time(lambda: train_lstm_group(p, labels, 8, sets, encs, list(range(a.runs)), cfg))
    single = _time(lambda: [train_lstm_group(p, labels, 8, [sets[0]], [e], [i], cfg)
                            for i, e in enumerate(encs[:4])]) / 4
    per_hour = 3600 / (batched / a.runs)
    base = 3600 / single
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    row = {"name": "finetune_sweep", "device": f"cpu ({a.threads} thread(s))",
           "shape": f"R={a.runs} D={a.dim} H={a.hidden} L=2 T=16 B=16 steps={a.steps}",
           "value": round(per_hour, 1), "unit": "runs per hour",
           "baseline": round(base, 1), "baseline_desc": "one run at a time, same process",
           "ratio": round(per_hour / base, 2), "commit": commit}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps([row], indent=2) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
