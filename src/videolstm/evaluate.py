"""Test-set evaluation of a pretrained encoder-decoder on Moving MNIST (Table 2 and later protocol).

Protocol: the first `n_in` frames of each sequence go in, the next `n_future` are predicted; every
decoder runs in TEST mode (no teacher forcing: a conditional decoder is fed its own previous
output, zeros at the first step).

Metrics (all "per frame": a sum over the frame's pixels, averaged over frames and sequences):

- `future_loss` / `recon_loss`: the model's own loss. Logistic outputs: Bernoulli cross entropy
  summed over the 64x64 = 4096 pixels (Table 2's MNIST column). Linear outputs: squared error
  summed over the frame's dimensions (Table 2's patches column).
- `future_mse_per_frame`: the later literature's protocol (e.g. PredRNN 2017): sum of squared
  error over the 64x64 frame with pixels in [0, 1], averaged over frames and sequences.
- `future_ssim`: SSIM per frame (Gaussian window 11x11, sigma 1.5, K1 0.01, K2 0.03, data range 1,
  mean over the valid region), averaged over frames and sequences.
- `recon_mse_per_frame` / `recon_mse_per_pixel`: reconstruction squared error (the lab report's
  MSE is the per-pixel mean). The reconstruction target is the input in REVERSE order.

`per_sequence` holds each metric per test sequence (its mean over frames, in test-set order), so
two models scored on the same sequences can be compared by paired differences.

Streaming: the uint8 set (T, N, 64, 64), time first, is memory-mapped and read batch by batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from videolstm.errors import UserError
from videolstm.io import load_npy
from videolstm.moving_mnist import check_set

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> Tensor:
    """Normalised 2-D Gaussian window (size x size), float64."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def _band(n: int, size: int, sigma: float) -> Tensor:
    """(n - size + 1, n) matrix whose rows are the 1-D Gaussian at each valid position."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = g / g.sum()
    m = torch.zeros(n - size + 1, n, dtype=torch.float64)
    for i in range(n - size + 1):
        m[i, i:i + size] = g
    return m


def ssim(x: Tensor, y: Tensor, data_range: float = 1.0, window: int = SSIM_WINDOW,
         sigma: float = SSIM_SIGMA) -> Tensor:
    """SSIM (Wang et al. 2004) of each pair of images: x, y (..., H, W) -> (...).

    Local statistics with a Gaussian window over the valid region (no padding), population
    (co)variances, C1 = (K1 L)^2, C2 = (K2 L)^2; the SSIM map is averaged over the valid region.
    Computed in float64.
    """
    if x.shape != y.shape:
        raise ValueError(f"ssim: shapes differ {tuple(x.shape)} vs {tuple(y.shape)}")
    lead = x.shape[:-2]
    h, w = x.shape[-2:]
    if h < window or w < window:
        raise ValueError(f"ssim: images {h}x{w} are smaller than the {window}x{window} window")
    xs = x.reshape(-1, h, w).double()
    ys = y.reshape(-1, h, w).double()
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    stack = torch.stack([xs, ys, xs * xs, ys * ys, xs * ys], dim=1)  # (B, 5, H, W)
    # the Gaussian is separable: filter rows then columns as matmuls with banded matrices
    gh = _band(h, window, sigma).to(xs.device)  # (H - window + 1, H)
    gw = _band(w, window, sigma).to(xs.device)  # (W - window + 1, W)
    b = stack.shape[0]
    cols = (stack.reshape(-1, w) @ gw.t()).reshape(b * 5, h, -1)  # (B*5, H, W')
    filt = (gh @ cols.transpose(0, 1).reshape(h, -1)).reshape(-1, b * 5, cols.shape[-1])
    filt = filt.permute(1, 0, 2).reshape(b, 5, h - window + 1, w - window + 1)
    mx, my, mxx, myy, mxy = filt.unbind(1)
    vx, vy, cxy = mxx - mx * mx, myy - my * my, mxy - mx * my
    smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return smap.mean((-2, -1)).reshape(lead)


def _frame_losses(logits: Tensor, target: Tensor, output: str) -> Tensor:
    """Per-frame loss (T, B): cross entropy or squared error summed over the frame."""
    if output == "sigmoid":
        per = F.binary_cross_entropy_with_logits(logits.double(), target.double(), reduction="none")
    else:
        per = (logits.double() - target.double()) ** 2
    return per.sum(-1)


def iter_batches(frames: np.ndarray, batch_size: int) -> Iterator[Tensor]:
    """uint8 (T, N, S, S) -> float (T, B, S*S) in [0, 1], B <= batch_size, in order."""
    for start in range(0, frames.shape[1], batch_size):
        chunk = np.array(frames[:, start:start + batch_size])
        yield torch.from_numpy(chunk).flatten(2).double().div_(255.0)


def load_set(path: str | Path) -> np.ndarray:
    """A Moving MNIST set: uint8 (T, N, S, S), time first, memory-mapped."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"test set {path} does not exist; run the mnist_sets step first")
    arr = load_npy(path, mmap=True)
    check_set(arr, f"test set {path}")
    return arr


@torch.no_grad()
def predict(model: torch.nn.Module, x_in: Tensor, n_future: int | None = None) -> dict[str, Tensor]:
    """Test-mode outputs: logits of each decoder (no teacher forcing; ground truth never fed)."""
    model.eval()
    return model(x_in, None, teacher_forcing=False, n_future=n_future)


class _Acc:
    """Running sums of per-frame values, kept per time step (float64), and each sequence's mean
    over its frames (for standard errors of paired differences between models, see claims.py)."""

    def __init__(self) -> None:
        self.sums: dict[str, np.ndarray] = {}
        self.seqs: dict[str, list[float]] = {}
        self.count = 0

    def add(self, name: str, per_frame: Tensor) -> None:  # per_frame (T, B)
        s = per_frame.double().sum(1).cpu().numpy()
        self.sums[name] = self.sums.get(name, 0.0) + s
        self.seqs.setdefault(name, []).extend(per_frame.double().mean(0).cpu().tolist())

    def per_sequence(self) -> dict[str, list[float]]:
        """name -> one value per sequence, in test-set order (their mean is the metric)."""
        return {name: list(values) for name, values in self.seqs.items()}

    def result(self, n: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, s in self.sums.items():
            per_step = s / max(n, 1)
            out[name] = float(per_step.mean())
            out[f"{name}_by_step"] = [float(v) for v in per_step]
        return out


@torch.no_grad()
def evaluate_model(
    model: torch.nn.Module, frames: np.ndarray, batch_size: int = 64, image_metrics: bool = True,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Evaluate on a uint8 (T, N, S, S) set: the metrics (module docstring) and counts."""
    cfg = model.cfg
    n_in = cfg.n_in
    has_future = getattr(model, "future", None) is not None
    n_future = cfg.n_future if has_future else 0
    t_total, n_seq = frames.shape[0], frames.shape[1]
    if t_total < n_in + n_future:
        raise UserError(
            f"the test set has {t_total} frames per sequence; the model needs {n_in} in + "
            f"{n_future} future"
        )
    size = frames.shape[2]
    if size * size != cfg.input_dim:
        raise UserError(
            f"the test set's frames are {size}x{size} but the model takes {cfg.input_dim} inputs"
        )
    model = model.to(device).eval()
    acc = _Acc()
    for batch in iter_batches(frames, batch_size):
        batch = batch.to(device)
        x_in = batch[:n_in].float()
        out = predict(model, x_in, n_future or None)
        if "recon" in out:
            tgt = model.recon_target(batch[:n_in])
            acc.add("recon_loss", _frame_losses(out["recon"], tgt, cfg.output))
            if image_metrics:
                pred = model.emit(out["recon"].double())
                acc.add("recon_mse_per_frame", ((pred - tgt) ** 2).sum(-1))
        if "future" in out:
            tgt = batch[n_in:n_in + n_future]
            acc.add("future_loss", _frame_losses(out["future"], tgt, cfg.output))
            if image_metrics:
                pred = model.emit(out["future"].double())
                acc.add("future_mse_per_frame", ((pred - tgt) ** 2).sum(-1))
                shape = (*pred.shape[:2], size, size)
                acc.add("future_ssim", ssim(pred.clamp(0, 1).reshape(shape), tgt.reshape(shape)))
    metrics = acc.result(n_seq)
    if "recon_mse_per_frame" in metrics:
        metrics["recon_mse_per_pixel"] = metrics["recon_mse_per_frame"] / cfg.input_dim
    return {
        "metrics": metrics,
        "per_sequence": acc.per_sequence(),
        "n_sequences": int(n_seq),
        "n_in": int(n_in),
        "n_future": int(n_future),
        "n_recon": int(cfg.n_recon) if "recon_loss" in metrics else 0,
        "loss": "bernoulli_cross_entropy" if cfg.output == "sigmoid" else "squared_error",
        "loss_normalisation": f"per frame: summed over the {cfg.input_dim} pixels of a frame, "
                              "averaged over frames and sequences",
        "ssim": f"Gaussian window {SSIM_WINDOW}, sigma {SSIM_SIGMA}, K1 {SSIM_K1}, K2 {SSIM_K2}, "
                "data range 1, valid region",
    }


def evaluate_checkpoint(checkpoint: str | Path, test_set: str | Path, batch_size: int = 64,
                        device: str = "cpu") -> dict[str, Any]:
    """Load a checkpoint and a set; evaluate; add the identity of both to the result."""
    from videolstm.checkpoint import load_model

    model, ckpt = load_model(checkpoint)
    frames = load_set(test_set)
    result = evaluate_model(model, frames, batch_size=batch_size, device=device)
    for value in result["metrics"].values():
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"evaluation of {checkpoint} gave a non-finite metric; retrain it")
    result.update({
        "checkpoint": str(checkpoint), "test_set": str(test_set), "variant": ckpt["variant"],
        "domain": ckpt.get("domain"), "run": ckpt.get("run"), "step": ckpt.get("step"),
        "model_config": ckpt["model_config"],
    })
    return result


@torch.no_grad()
def evaluate_arrays(checkpoint: str | Path, stem: str | Path, batch_size: int = 64,
                    device: str = "cpu") -> dict[str, Any]:
    """Test-mode losses on stored frame sequences (patches, percepts): the first window of
    n_in + n_future frames of every sequence long enough; squared error per frame."""
    from videolstm.checkpoint import load_model
    from videolstm.data_sources import open_frames

    model, ckpt = load_model(checkpoint)
    cfg = model.cfg
    frames, offsets = open_frames(Path(stem))
    if frames.shape[1] != cfg.input_dim:
        raise UserError(f"{stem}.npy has {frames.shape[1]}-d frames; the model takes {cfg.input_dim}")
    length = cfg.n_in + cfg.n_future
    starts = [int(o) for o, e in zip(offsets[:-1], offsets[1:], strict=True) if e - o >= length]
    if not starts:
        raise UserError(f"{stem}.npy has no sequence of {length} frames to evaluate on")
    model = model.to(device).eval()
    acc = _Acc()
    for i in range(0, len(starts), batch_size):
        x = np.stack([frames[s : s + length] for s in starts[i : i + batch_size]], axis=1)
        x = torch.from_numpy(x.astype(np.float32)).to(device)
        out = predict(model, x[: cfg.n_in])
        if "recon" in out:
            acc.add("recon_loss", _frame_losses(out["recon"], model.recon_target(x[: cfg.n_in]), cfg.output))
        if "future" in out:
            acc.add("future_loss", _frame_losses(out["future"], x[cfg.n_in :], cfg.output))
    return {
        "metrics": acc.result(len(starts)), "per_sequence": acc.per_sequence(),
        "n_sequences": len(starts), "test_set": str(stem),
        "checkpoint": str(checkpoint), "variant": ckpt["variant"], "run": ckpt.get("run"),
        "model_config": ckpt["model_config"],
        "loss": "squared_error" if cfg.output == "linear" else "bernoulli_cross_entropy",
        "loss_normalisation": f"per frame: summed over the {cfg.input_dim} values of a frame, "
                              "averaged over frames and sequences",
    }
