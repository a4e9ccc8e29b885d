"""RGB percepts: one float16 row per frame, written streaming with per-video offsets.

Extractors (config percepts.rgb.extractor):
- `vgg16_fc6`: the paper's percepts. Central 224x224 crop of the 240x320 frame, ImageNet mean/std
  normalisation, VGG16 (Simonyan & Zisserman 2014b) up to fc6 after its ReLU: 4096-d. The network
  is built here in plain torch with torchvision's parameter names, so torchvision's ImageNet
  checkpoint `vgg16-397923af.pth` loads as is, from `percepts.weights` or the torch hub cache
  (<hub dir>/checkpoints/vgg16-397923af.pth). On a GPU it runs in bf16 with channels_last.
- `digit_cnn`: the embedded default's extractor (no VGG16 weights offline): a small CNN trained by
  the workflow on MNIST digits that no video shows (videolstm.video.digit_cnn), frozen; the central
  crop downsampled to `size` x `size` grey, its last feature map pooled to a coarse grid plus a
  global max. It plays VGG16's role (a network pretrained on a separate labelled image task);
  every output names it.
- `pixels`: the central crop downsampled to `size` x `size` (colour or grey), values in [0, 1]
  (no network at all).

Frames are decoded (and prepared: crop, resize) in worker processes video by video while the
main process runs the network on batches that may span videos; only one batch and a few decoded
videos are in memory at any time.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from videolstm.config import known_fields
from videolstm.errors import UserError
from videolstm.video.arrays import write_frames
from videolstm.video.clips import Item, Items
from videolstm.video.decode import central_crop, iter_frames

VGG16_FILE = "vgg16-397923af.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EXTRACTORS = ("pixels", "digit_cnn", "vgg16_fc6")


def _digit_cnn_defaults() -> dict:
    """percepts.rgb.cnn's settings as DigitCNNConfig defines them (one place for their values)."""
    from dataclasses import asdict

    from videolstm.video.digit_cnn import DigitCNNConfig

    return {k: v for k, v in asdict(DigitCNNConfig()).items() if k not in ("seed", "threads")}


@dataclass
class PerceptConfig:
    """Config section percepts.<kind> (rgb)."""

    extractor: str = "digit_cnn"
    size: int = 112  # pixels, digit_cnn: side of the downsampled crop
    grey: bool = False  # pixels: one channel instead of three
    crop: int = 224  # central crop side (paper: 224 of 240x320)
    weights: str | None = None  # vgg16_fc6: path of vgg16-397923af.pth; None = torch hub cache
    # digit_cnn: its training settings (used by the video_digit_cnn rule, not here)
    cnn: dict = field(default_factory=lambda: _digit_cnn_defaults())
    batch_size: int = 64
    workers: int = 1  # decoding processes
    device: str = "auto"

    @classmethod
    def from_dict(cls, values: dict, workers: int = 1, device: str = "auto") -> PerceptConfig:
        known = known_fields(cls, values, "percepts.rgb")
        cfg = cls(**{**known, "workers": workers, "device": device})
        if cfg.extractor not in EXTRACTORS:
            raise UserError(f"percepts extractor {cfg.extractor!r} unknown; choose one of "
                            f"{', '.join(EXTRACTORS)}")
        return cfg


# ---------------------------------------------------------------------------------------------
# VGG16 in plain torch, torchvision's parameter names

VGG16_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M"]


def build_vgg16(num_classes: int = 1000):
    """VGG16 (configuration D) with torchvision's module names (features.N, classifier.N)."""
    import torch
    from torch import nn

    layers: list[nn.Module] = []
    channels = 3
    for v in VGG16_LAYOUT:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = int(v)

    class VGG16(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(0.5),
                nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(0.5),
                nn.Linear(4096, num_classes),
            )

        def fc6(self, x: torch.Tensor) -> torch.Tensor:
            """Activations of fc6 after its ReLU (4096-d), the paper's percepts."""
            x = self.avgpool(self.features(x))
            return self.classifier[1](self.classifier[0](torch.flatten(x, 1)))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.avgpool(self.features(x))
            return self.classifier(torch.flatten(x, 1))

    return VGG16()


def vgg16_weights_path(configured: str | None) -> Path:
    """The weights file to load, or a UserError saying exactly what to get and where to put it."""
    import torch

    hub = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE
    if configured:
        path = Path(configured)
        if path.is_file():
            return path
        raise UserError(
            f"VGG16 weights file {path} (config percepts.rgb.weights) does not exist. Get "
            f"torchvision's ImageNet VGG16 checkpoint {VGG16_FILE} (on a connected machine: "
            "python -c \"import torchvision; torchvision.models.vgg16(weights='IMAGENET1K_V1')\" "
            f"puts it in the torch hub cache, {hub}) and copy it to {path}")
    if hub.is_file():
        return hub
    raise UserError(
        f"VGG16 weights not found: no file {hub} (torch hub cache) and percepts.rgb.weights is "
        f"not set. Get torchvision's ImageNet VGG16 checkpoint {VGG16_FILE} (e.g. on a connected "
        "machine: python -c \"import torchvision; "
        "torchvision.models.vgg16(weights='IMAGENET1K_V1')\") and put it at "
        f"{hub}, or at resources/weights/{VGG16_FILE} with percepts.rgb.weights set to that "
        "path. The embedded default uses percepts.rgb.extractor: pixels instead.")


def load_vgg16(path: str | Path):
    import torch

    with torch.device("cpu"):
        model = build_vgg16()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or foreign file: say which
        raise UserError(f"cannot read VGG16 weights from {path}: {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise UserError(f"{path} is not torchvision's VGG16 checkpoint ({VGG16_FILE}): "
                        f"{str(exc).splitlines()[0]}") from exc
    return model.eval()


# ---------------------------------------------------------------------------------------------
# extractors: `prepare` runs in decoding workers on uint8 frames, `forward` in the main process


class PixelsExtractor:
    name = "pixels"

    def __init__(self, cfg: PerceptConfig):
        self.cfg = cfg
        self.dim = cfg.size * cfg.size * (1 if cfg.grey else 3)

    def prepare(self, frames: np.ndarray) -> np.ndarray:
        crops = central_crop(frames, self.cfg.crop)
        out = np.empty((len(crops), self.dim), np.float32)
        for i, crop in enumerate(crops):
            small = cv2.resize(crop, (self.cfg.size, self.cfg.size), interpolation=cv2.INTER_AREA)
            if self.cfg.grey:
                small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
            out[i] = small.reshape(-1) / np.float32(255.0)
        return out

    def forward(self, batch: np.ndarray) -> np.ndarray:
        return batch

    def describe(self) -> dict:
        return {"extractor": self.name, "size": self.cfg.size, "grey": self.cfg.grey,
                "crop": self.cfg.crop, "layout": "HWC" if not self.cfg.grey else "HW"}


class VGG16Fc6Extractor:
    name = "vgg16_fc6"
    dim = 4096

    def __init__(self, cfg: PerceptConfig, weights: str | Path | None = None):
        import torch

        self.cfg = cfg
        self.weights = Path(weights) if weights else vgg16_weights_path(cfg.weights)
        from videolstm.devices import pick_device

        self.device = pick_device(cfg.device)
        self.model = load_vgg16(self.weights).to(self.device)
        self.model.classifier = self.model.classifier[:2]  # fc7, fc8 unused
        if self.device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1) * 255

    def prepare(self, frames: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(central_crop(frames, self.cfg.crop))

    def forward(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device, non_blocking=True)
            x = x.permute(0, 3, 1, 2).float()
            x = (x - self.mean) / self.std
            if self.device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    y = self.model.fc6(x)
            else:
                y = self.model.fc6(x)
            return y.float().cpu().numpy()

    def describe(self) -> dict:
        return {"extractor": self.name, "crop": self.cfg.crop, "weights": self.weights.name,
                "normalisation": "imagenet", "layer": "fc6 after ReLU"}


def make_extractor(cfg: PerceptConfig, weights: str | Path | None = None):
    """The configured extractor; `weights`: the digit CNN's file (the workflow passes it)."""
    if cfg.extractor == "pixels":
        return PixelsExtractor(cfg)
    if cfg.extractor == "digit_cnn":
        from videolstm.video.digit_cnn import DigitCNNExtractor

        if weights is None:
            raise UserError("percepts extractor digit_cnn needs the digit CNN's weights "
                            "(--weights results/data/digit_cnn.pt, made by the video_digit_cnn "
                            "rule)")
        return DigitCNNExtractor(cfg.crop, cfg.size, weights)
    return VGG16Fc6Extractor(cfg)


# ---------------------------------------------------------------------------------------------
# streaming over items

_WORKER_PREPARE: Callable[[np.ndarray], np.ndarray] | None = None


def _init_worker(prepare) -> None:
    global _WORKER_PREPARE
    _WORKER_PREPARE = prepare
    cv2.setNumThreads(1)


def _decode_item(item: Item, prepare=None, chunk: int = 256) -> list[np.ndarray]:
    prepare = prepare or _WORKER_PREPARE
    out, buf = [], []
    for frame in iter_frames(item.path, item.start, item.count):
        buf.append(frame)
        if len(buf) == chunk:
            out.append(prepare(np.stack(buf)))
            buf = []
    if buf:
        out.append(prepare(np.stack(buf)))
    return out


def iter_prepared(items: list[Item], prepare, workers: int = 1) -> Iterator[list[np.ndarray]]:
    """Prepared frame chunks of each item in order; decoding in `workers` processes if > 1."""
    if workers <= 1:
        for item in items:
            yield _decode_item(item, prepare)
        return
    ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(prepare,)) as pool:
        yield from pool.imap(_decode_item, items, chunksize=1)


def extract(items: Items, extractor, out: str | Path, meta: dict, batch_size: int = 64,
            workers: int = 1, log: Callable[[str], None] = print) -> dict:
    """Run `extractor` over every item, streaming into `out` (float16, offsets, json)."""
    t0 = time.perf_counter()
    meta = {**meta, **extractor.describe(), "dim": int(extractor.dim), **items.meta()}
    with write_frames(out, (int(extractor.dim),), np.float16, meta) as writer:
        rest = np.zeros((0,), np.float32)
        for item, chunks in zip(items.items, iter_prepared(items.items, extractor.prepare,
                                                           workers), strict=True):
            n = sum(len(c) for c in chunks)
            if n == 0:
                raise UserError(f"{item.path}: no frames decoded (frames {item.start}.."
                                f"{'end' if item.count is None else item.start + item.count}); "
                                "re-run `videolstm index` to mark it")
            writer.lengths.append(n)  # rows are written in item order: offsets = cumsum
            block = np.concatenate(([rest] if len(rest) else []) + chunks)
            i = 0
            while len(block) - i >= batch_size:
                writer.append(extractor.forward(block[i : i + batch_size]))
                i += batch_size
            rest = block[i:]
        if len(rest):
            writer.append(extractor.forward(rest))
    seconds = time.perf_counter() - t0
    log(f"{out}: {writer.rows} frames of {len(items.items)} videos in {seconds:.1f} s "
        f"({writer.rows / max(seconds, 1e-9):.0f} frames/s), extractor {extractor.name}")
    return {"frames": writer.rows, "seconds": seconds}
