"""Figures 7 and 8 as numbers, so the claims table (claims.py) can check what the figures show.

- Figure 8, out of domain: the Figure 7/8 model (trained on 2-digit sequences) predicts the
  1-digit and 3-digit test sequences; each sequence's future cross entropy per frame is paired
  with that of the trivial mean-frame predictor (the mean frame of 2-digit TRAINING sequences,
  `baselines.mean_frame`: what the model could predict without looking at its input).
- Figure 7, long rollout: the future decoder runs `n_steps` (100) from the encoding of each of
  the first test sequences, with the trained weights and with freshly initialised decoder weights
  (Figure 7's bottom row). A sequence's ACTIVITY is the mean over the top layer's output units of
  each unit's standard deviation over the second half of the rollout: 0 means the dynamics have
  settled to a constant. The outputs are bounded by construction (|h| < 1), so the rollout is
  "bounded" whenever it is finite; the largest |cell state| is reported beside it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

# how many test sequences are rolled out (the rollouts are cheap; the evaluation sets are not)
ROLLOUT_SEQUENCES = 64
# activity below this (output units in (-1, 1)) counts as collapsed to a constant; fixed before
# looking at any result: a unit moving by less than 1% of its range is standing still
ACTIVITY_THRESHOLD = 0.01


def ood_losses(model: torch.nn.Module, frames: np.ndarray, mean: np.ndarray) -> dict[str, Any]:
    """Per-sequence future cross entropy of the model and of the mean frame on one set."""
    from videolstm.baselines import image_baselines
    from videolstm.evaluate import evaluate_model

    ours = evaluate_model(model, frames, image_metrics=False)
    base = image_baselines(frames, mean, model.cfg.n_in, model.cfg.n_future)
    return {
        "n_sequences": int(frames.shape[1]),
        "model_future_loss": ours["per_sequence"]["future_loss"],
        "mean_frame_future_loss": base["per_sequence"]["mean_frame"]["future_loss"],
    }


def activity(outputs: np.ndarray) -> np.ndarray:
    """outputs (n_steps, B, hidden) -> (B,): mean over units of the std over the second half."""
    half = outputs[outputs.shape[0] // 2:]
    return half.std(axis=0).mean(axis=-1)


def rollout_checks(model: torch.nn.Module, frames: np.ndarray, n_steps: int, seed: int,
                   n_sequences: int = ROLLOUT_SEQUENCES) -> dict[str, Any]:
    """Activity per sequence of the trained and of a randomly initialised future decoder."""
    from videolstm.movingmnist.figures import randomised_future, rollout_batch

    n = min(n_sequences, frames.shape[1])
    seq = torch.from_numpy(np.array(frames[: model.cfg.n_in, :n])).flatten(2).float() / 255
    trained = rollout_batch(model, seq, n_steps)
    # the same random decoder Figure 7 shows (seed + 1, as figures.figure7)
    untrained = rollout_batch(randomised_future(model, seed + 1), seq, n_steps)
    cells = trained["cell state"]
    return {
        "n_sequences": int(n), "n_steps": int(n_steps),
        "window": f"steps {n_steps // 2 + 1}-{n_steps}",
        "threshold": ACTIVITY_THRESHOLD,
        "finite": bool(np.isfinite(cells).all() and np.isfinite(trained["output"]).all()),
        "max_abs_cell": float(np.abs(cells).max()) if np.isfinite(cells).all() else math.inf,
        "trained_activity": [float(v) for v in activity(trained["output"])],
        "random_activity": [float(v) for v in activity(untrained["output"])],
    }


def figure_check_report(cfg: dict, checkpoint: str, test: str, test_1digit: str,
                        test_3digits: str) -> dict:
    """The figure-checks JSON of the Figure 7/8 model at `checkpoint` (cfg: mnist, seed)."""
    from videolstm.baselines import mean_frame
    from videolstm.checkpoint import load_model
    from videolstm.data_sources import BASELINE_SEED_OFFSET, generator_from_config
    from videolstm.evaluate import load_set

    model, ckpt = load_model(checkpoint)
    seed = int(cfg["seed"])
    # the same mean training frame as the 'no learning' row of Table 2 (no_learning.mnist_baselines)
    train = generator_from_config(cfg, "train").dataset(1000, seed + BASELINE_SEED_OFFSET)
    mean = mean_frame(train)
    steps = int(cfg["mnist"].get("eval", {}).get("rollout_steps", 100))
    return {
        "checkpoint": str(checkpoint), "run": ckpt.get("run"), "variant": ckpt["variant"],
        "model_config": ckpt["model_config"], "step": ckpt.get("step"),
        "config_name": cfg.get("config_name"), "data_source": cfg.get("data_source"),
        "mean_frame_from": "1,000 generated 2-digit training sequences",
        "out_of_domain": {
            "1 digit": {"test_set": str(test_1digit),
                        **ood_losses(model, load_set(test_1digit), mean)},
            "3 digits": {"test_set": str(test_3digits),
                         **ood_losses(model, load_set(test_3digits), mean)},
        },
        "rollout": {"test_set": str(test),
                    **rollout_checks(model, load_set(test), steps, seed)},
    }
