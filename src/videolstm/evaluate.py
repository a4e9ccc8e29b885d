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
- `future_mae_per_frame`: sum of absolute error over the frame, averaged over frames and
  sequences (OpenSTL's MAE: mean over sequences and frames, summed over the pixels).
- `future_ssim`: SSIM per frame with the defaults of scikit-image's `structural_similarity` (the
  function PredRNN and OpenSTL call): 7x7 uniform window, sample (co)variances (x 49/48), K1 0.01,
  K2 0.03, the SSIM map averaged over the pixels whose window lies inside the frame (a 3-pixel
  border cropped); data range 1 for frames in [0, 1] (PredRNN scores uint8 frames with range 255,
  the same up to rounding down; OpenSTL passes float frames without a data range to scikit-image
  <= 0.19.3, which then takes 2); prediction clipped to [0, 1]; averaged over frames and sequences.
  `ssim` with its defaults is the Gaussian SSIM of Wang et al. (2004), kept as an option.
- `future_psnr`: PSNR per frame, 10 log10(1 / MSE) with MSE the mean squared error over the frame's
  pixels (data range 1, prediction clipped to [0, 1]), averaged over frames and sequences
  (OpenSTL's PSNR); a frame predicted exactly scores +inf, as there.
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
from torch import Tensor

from videolstm.errors import UserError
from videolstm.io import load_npy
from videolstm.models import frame_losses
from videolstm.movingmnist.generator import check_set

SSIM_K1, SSIM_K2 = 0.01, 0.03
# Wang et al. (2004): Gaussian window 11x11, sigma 1.5, population statistics (`ssim` defaults;
# scikit-image's gaussian_weights=True, use_sample_covariance=False)
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
# scikit-image's structural_similarity defaults (gaussian_weights=False): the metric reported
SKIMAGE_WINDOW = 7
SSIM_CHUNK = 128  # images filtered at a time
SSIM_CONVENTION = (
    f"scikit-image structural_similarity defaults (the function PredRNN and OpenSTL call): "
    f"{SKIMAGE_WINDOW}x{SKIMAGE_WINDOW} uniform window, sample covariance "
    f"(x {SKIMAGE_WINDOW**2}/{SKIMAGE_WINDOW**2 - 1}), K1 {SSIM_K1}, K2 {SSIM_K2}, data range 1, "
    f"mean over the valid region ({(SKIMAGE_WINDOW - 1) // 2}-pixel border cropped); prediction "
    "clipped to [0, 1]; per frame, averaged over frames and sequences"
)
PSNR_CONVENTION = (
    "per frame: 10 log10(1 / mean squared error over the frame's pixels), data range 1, "
    "prediction clipped to [0, 1]; averaged over frames and sequences (OpenSTL's PSNR); a frame "
    "predicted exactly scores +inf"
)
MAE_CONVENTION = ("per frame: absolute error summed over the frame's pixels in [0, 1], averaged "
                  "over frames and sequences (OpenSTL's MAE)")


def _taps(size: int, sigma: float | None) -> Tensor:
    """1-D window of `size` taps summing to 1: Gaussian of `sigma`, or uniform if sigma is None."""
    if sigma is None:
        return torch.full((size,), 1.0 / size, dtype=torch.float64)
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return g / g.sum()


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> Tensor:
    """Normalised 2-D Gaussian window (size x size), float64."""
    g = _taps(size, sigma)
    return g[:, None] * g[None, :]


def _band(n: int, taps: Tensor) -> Tensor:
    """(n - size + 1, n) matrix whose rows are the 1-D window at each valid position."""
    size = len(taps)
    m = torch.zeros(n - size + 1, n, dtype=torch.float64)
    for i in range(n - size + 1):
        m[i, i:i + size] = taps
    return m


def ssim(x: Tensor, y: Tensor, data_range: float = 1.0, window: int = SSIM_WINDOW,
         sigma: float | None = SSIM_SIGMA, sample_covariance: bool = False) -> Tensor:
    """SSIM (Wang et al. 2004) of each pair of images: x, y (..., H, W) -> (...).

    Local statistics over a `window` x `window` window at every position where it lies inside the
    image (the valid region, no padding): Gaussian weights of `sigma`, or uniform weights if sigma
    is None; (co)variances scaled by N / (N - 1), N = window^2, if `sample_covariance`;
    C1 = (K1 L)^2, C2 = (K2 L)^2 with L = data_range; the SSIM map is averaged over the valid
    region. Computed in float64. The defaults are Wang et al.'s Gaussian SSIM; `ssim_skimage` is
    scikit-image's default convention (the reported metric).
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
    norm = window * window / (window * window - 1) if sample_covariance else 1.0
    # the window is separable: filter rows then columns as matmuls with banded matrices
    taps = _taps(window, sigma)
    gh = _band(h, taps).to(xs.device)  # (H - window + 1, H)
    gw = _band(w, taps).to(xs.device)  # (W - window + 1, W)
    out = []
    for i in range(0, xs.shape[0], SSIM_CHUNK):  # chunks stay in cache: faster than one batch
        xc, yc = xs[i:i + SSIM_CHUNK], ys[i:i + SSIM_CHUNK]
        stack = torch.stack([xc, yc, xc * xc, yc * yc, xc * yc], dim=1)  # (B, 5, H, W)
        b = stack.shape[0]
        cols = (stack.reshape(-1, w) @ gw.t()).reshape(b * 5, h, -1)  # (B*5, H, W')
        filt = (gh @ cols.transpose(0, 1).reshape(h, -1)).reshape(-1, b * 5, cols.shape[-1])
        filt = filt.permute(1, 0, 2).reshape(b, 5, h - window + 1, w - window + 1)
        mx, my, mxx, myy, mxy = filt.unbind(1)
        vx, vy, cxy = norm * (mxx - mx * mx), norm * (myy - my * my), norm * (mxy - mx * my)
        smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        out.append(smap.mean((-2, -1)))
    return torch.cat(out).reshape(lead) if out else xs.new_zeros(lead)


def ssim_skimage(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """SSIM of each pair of images (..., H, W) -> (...) as scikit-image's
    `structural_similarity(x, y, data_range=data_range)` computes it with its defaults: 7x7 uniform
    window, sample covariance, K1 0.01, K2 0.03, mean over the region whose windows lie inside the
    image (scikit-image crops (7 - 1) // 2 = 3 pixels from each border)."""
    return ssim(x, y, data_range, window=SKIMAGE_WINDOW, sigma=None, sample_covariance=True)


def psnr(pred: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """PSNR of each frame, (..., D) -> (...): 10 log10(data_range^2 / mean squared error over the
    D pixels), +inf where the frame is exact. float64."""
    mse = ((pred.double() - target.double()) ** 2).mean(-1)
    return 10 * torch.log10(data_range**2 / mse)


def protocol_metrics(pred: Tensor, target: Tensor, size: int) -> dict[str, Tensor]:
    """Per-frame (T, B) later-protocol metrics of predicted frames (T, B, size*size) against the
    truth in [0, 1]: MSE and MAE (summed over the pixels, of the prediction as it is), SSIM
    (`ssim_skimage`) and PSNR of the prediction clipped to [0, 1] (as OpenSTL clips it)."""
    err = pred.double() - target.double()
    clipped = pred.double().clamp(0, 1)
    shape = (*pred.shape[:2], size, size)
    return {
        "future_mse_per_frame": (err**2).sum(-1),
        "future_ssim": ssim_skimage(clipped.reshape(shape), target.reshape(shape)),
        "future_mae_per_frame": err.abs().sum(-1),
        "future_psnr": psnr(clipped, target),
    }


def _frame_losses(logits: Tensor, target: Tensor, output: str) -> Tensor:
    """Per-frame loss (T, B) in float64 (models.frame_losses)."""
    return frame_losses(logits, target, output, torch.float64)


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
                for name, per_frame in protocol_metrics(pred, tgt, size).items():
                    acc.add(name, per_frame)
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
        "ssim": SSIM_CONVENTION,
        "mae": MAE_CONVENTION,
        "psnr": PSNR_CONVENTION,
    }


def evaluate_checkpoint(checkpoint: str | Path, test_set: str | Path, batch_size: int = 64,
                        device: str = "cpu") -> dict[str, Any]:
    """Load a checkpoint and a set; evaluate; add the identity of both to the result."""
    from videolstm.checkpoint import load_model

    model, ckpt = load_model(checkpoint)
    frames = load_set(test_set)
    result = evaluate_model(model, frames, batch_size=batch_size, device=device)
    for key, value in result["metrics"].items():
        if key == "future_psnr" and value == math.inf:
            continue  # some frame predicted exactly (OpenSTL's PSNR is +inf then too)
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"evaluation of {checkpoint} gave a non-finite metric; retrain it")
    result.update({
        "checkpoint": str(checkpoint), "test_set": str(test_set), "variant": ckpt["variant"],
        "domain": ckpt.get("domain"), "run": ckpt.get("run"), "step": ckpt.get("step"),
        "model_config": ckpt["model_config"],
        "teacher_forcing": (ckpt.get("train_config") or {}).get("teacher_forcing", True),
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
        "teacher_forcing": (ckpt.get("train_config") or {}).get("teacher_forcing", True),
        "loss": "squared_error" if cfg.output == "linear" else "bernoulli_cross_entropy",
        "loss_normalisation": f"per frame: summed over the {cfg.input_dim} values of a frame, "
                              "averaged over frames and sequences",
    }
