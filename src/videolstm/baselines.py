"""What "no learning" scores: trivial predictors evaluated on the same test data as the models.

Every table of future prediction shows these rows beside the models (Table 2, the later
literature's protocol), so a reader sees at a glance whether training did anything:

- mean frame: predict the average training frame (patch) for every future frame. Its cross
  entropy is what a model that learned only the pixel marginals scores.
- last frame: copy the last input frame (patch) into every future frame. For the Bernoulli cross
  entropy its pixels are used as probabilities clipped to [LAST_FRAME_EPS, 1 - LAST_FRAME_EPS]
  (an exact 0 or 1 that is wrong costs infinity).

Metrics are computed exactly as `evaluate` computes the models' (per frame: summed over a frame's
pixels, averaged over frames and sequences; on Moving MNIST also MAE, SSIM and PSNR per frame by
`evaluate.protocol_metrics`), from the same windows; `per_sequence` holds each sequence's value, in
the same order as the models' evaluations.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from videolstm.errors import UserError

if TYPE_CHECKING:  # torch is imported where it is used: the table commands need only the names
    from torch import Tensor

LAST_FRAME_EPS = 0.01
BASELINES = {
    "mean_frame": "No learning: mean training frame",
    "last_frame": "No learning: last input frame copied",
}
# a model must score below this fraction of the best trivial baseline to count as learned
LEARNED_MARGIN = 0.95
BASELINE_NOTE = (
    "Rows 'No learning' are trivial predictors scored on the same test sequences: the mean "
    "training frame (patch), and the last input frame (patch) copied forward (for cross entropy "
    f"its pixels are probabilities clipped to [{LAST_FRAME_EPS}, {1 - LAST_FRAME_EPS}]). A model "
    f"cell marked 'not learned' is not below {LEARNED_MARGIN} x the best of them: training did "
    "not beat predicting without looking."
)


def mean_frame(frames: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Mean over all frames and sequences of a uint8 (T, N, S, S) set: float64 (S*S,) in [0, 1]."""
    from videolstm.evaluate import iter_batches

    total = np.zeros(frames.shape[2] * frames.shape[3])
    for batch in iter_batches(frames, batch_size):
        total += batch.sum((0, 1)).numpy()
    return total / (frames.shape[0] * frames.shape[1])


def _bernoulli_ce(p: Tensor, target: Tensor) -> Tensor:
    """Cross entropy (T, B) of probabilities p against targets in [0, 1], summed over pixels."""
    p = p.clamp(1e-12, 1 - 1e-12)
    return -(target * p.log() + (1 - target) * (1 - p).log()).sum(-1)


def _add_image_metrics(acc, name: str, pred: Tensor, target: Tensor, size: int,
                       sigmoid: bool) -> None:
    if sigmoid:
        eps = LAST_FRAME_EPS if name == "last_frame" else 0.0
        acc.add(f"{name}/future_loss", _bernoulli_ce(pred.clamp(eps, 1 - eps), target))
    else:
        acc.add(f"{name}/future_loss", ((pred - target) ** 2).sum(-1))
    if size:  # Moving MNIST frames: the later protocol's MSE, SSIM, MAE, PSNR as for the models
        from videolstm.evaluate import protocol_metrics

        for metric, per_frame in protocol_metrics(pred, target, size).items():
            acc.add(f"{name}/{metric}", per_frame)
    else:
        acc.add(f"{name}/future_mse_per_frame", ((pred - target) ** 2).sum(-1))


def _split(acc, n: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key, value in acc.result(n).items():
        name, metric = key.split("/", 1)
        if not metric.endswith("_by_step"):
            out.setdefault(name, {})[metric] = value
    return out


def _split_per_sequence(acc) -> dict[str, dict[str, list[float]]]:
    """baseline -> metric -> one value per test sequence (paired with the models' per_sequence)."""
    out: dict[str, dict[str, list[float]]] = {}
    for key, values in acc.per_sequence().items():
        name, metric = key.split("/", 1)
        out.setdefault(name, {})[metric] = values
    return out


def image_baselines(test: np.ndarray, mean: np.ndarray, n_in: int, n_future: int,
                    batch_size: int = 64) -> dict[str, Any]:
    """Trivial baselines on a uint8 Moving MNIST set (T, N, S, S): cross entropy, MSE, MAE, SSIM,
    PSNR."""
    import torch

    from videolstm.evaluate import _Acc, iter_batches

    size = test.shape[2]
    if test.shape[0] < n_in + n_future or np.size(mean) != size * size or not test.shape[1]:
        raise UserError(f"the baselines need sequences of {n_in} + {n_future} frames of "
                        f"{int(np.sqrt(np.size(mean)))} pixels square; the test set is shaped "
                        f"{tuple(test.shape)} (T, N, S, S)")
    m = torch.from_numpy(np.asarray(mean, dtype=np.float64))
    acc = _Acc()
    for batch in iter_batches(test, batch_size):
        target = batch[n_in:n_in + n_future]
        _add_image_metrics(acc, "mean_frame", m.expand_as(target), target, size, sigmoid=True)
        last = batch[n_in - 1:n_in].expand_as(target)
        _add_image_metrics(acc, "last_frame", last, target, size, sigmoid=True)
    return {"baselines": _split(acc, test.shape[1]), "per_sequence": _split_per_sequence(acc),
            "n_sequences": int(test.shape[1]), "n_in": n_in, "n_future": n_future,
            "last_frame_eps": LAST_FRAME_EPS}


def array_baselines(train_stem: str | Path, test_stem: str | Path, n_in: int, n_future: int,
                    batch_size: int = 64) -> dict[str, Any]:
    """Trivial baselines on stored sequences (patches): squared error per frame on the same
    windows as `evaluate.evaluate_arrays` (the first n_in + n_future frames of each sequence);
    the mean patch is the mean of every training frame."""
    import torch

    from videolstm.data_sources import open_frames
    from videolstm.evaluate import _Acc

    train, _ = open_frames(Path(train_stem))
    mean = np.zeros(train.shape[1])
    for i in range(0, len(train), 4096):
        mean += np.asarray(train[i:i + 4096], dtype=np.float64).sum(0)
    mean = torch.from_numpy(mean / len(train))
    frames, offsets = open_frames(Path(test_stem))
    if frames.shape[1] != train.shape[1]:
        raise UserError(f"{test_stem}.npy has {frames.shape[1]}-d frames but the training "
                        f"arrays {train_stem}.npy have {train.shape[1]}-d frames: pass arrays of "
                        "one kind")
    length = n_in + n_future
    starts = [int(o) for o, e in zip(offsets[:-1], offsets[1:], strict=True) if e - o >= length]
    if not starts:  # every baseline would be an empty mean
        raise UserError(f"{test_stem}.npy has no sequence of {n_in} + {n_future} = {length} "
                        "frames to score the baselines on: make longer sequences (patches.seq_len)"
                        " or lower the domain's n_in / n_future")
    acc = _Acc()
    for i in range(0, len(starts), batch_size):
        x = np.stack([frames[s:s + length] for s in starts[i:i + batch_size]], axis=1)
        x = torch.from_numpy(x.astype(np.float64))
        target = x[n_in:]
        _add_image_metrics(acc, "mean_frame", mean.expand_as(target), target, 0, sigmoid=False)
        _add_image_metrics(acc, "last_frame", x[n_in - 1:n_in].expand_as(target), target, 0,
                           sigmoid=False)
    return {"baselines": _split(acc, len(starts)), "per_sequence": _split_per_sequence(acc),
            "n_sequences": len(starts), "n_in": n_in, "n_future": n_future}


def not_learned(value: float, baselines: list[float]) -> bool:
    """True unless `value` (lower is better) is clearly below the best trivial baseline."""
    finite = [b for b in baselines if math.isfinite(b)]
    return bool(finite) and not value < LEARNED_MARGIN * min(finite)
