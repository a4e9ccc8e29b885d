"""Dense optical flow, clipped and quantised as two-stream practice does.

The paper used Brox flow; Simonyan & Zisserman's two-stream nets commonly use TV-L1. Both need
OpenCV's contrib modules (cv2.optflow), which the opencv-python-headless wheel of this project does
not ship, so this module uses OpenCV's DIS optical flow (Kroeger et al. 2016,
cv2.DISOpticalFlow), which the main wheel has. The method is recorded in every output.

Per video of T frames we store T flow fields so that flow percepts align with RGB percepts frame
by frame: field t is the flow from frame t to frame t+1, the last field repeats the one before
(a 1-frame video gets a zero field). Flow is computed on grey frames of 240x320 downscaled by
`scale`, expressed in pixels of the 240x320 frame, clipped to [-bound, bound] and linearly
quantised to uint8 (0 -> -bound, 255 -> +bound), then the central `crop` (in 240x320 pixels) is
resized to `size` x `size`. Stored as uint8 (total_frames, size, size, 2) (u = x, v = y) with
per-video offsets, like the percepts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from videolstm.config import known_fields
from videolstm.errors import UserError
from videolstm.video.arrays import write_frames
from videolstm.video.clips import Item, Items
from videolstm.video.decode import FRAME_HEIGHT, FRAME_WIDTH, iter_frames

PRESETS = {"ultrafast": 0, "fast": 1, "medium": 2}  # cv2.DISOPTICAL_FLOW_PRESET_*
METHOD = "opencv_dis"


@dataclass
class FlowConfig:
    """Config section flow (defaults: config/config.yaml's)."""

    method: str = "dis"
    preset: str = "fast"
    scale: float = 0.5  # compute flow on frames resized by this factor (speed vs detail)
    bound: float = 20.0  # clip to [-bound, bound] pixels before quantising (two-stream: 20)
    crop: int = 224  # central crop (pixels of the 240x320 frame)
    size: int = 32  # stored side of each flow field
    workers: int = 1

    @classmethod
    def from_dict(cls, values: dict, workers: int = 1) -> FlowConfig:
        known = known_fields(cls, values, "flow", consumed=("cnn",))
        cfg = cls(**{**known, "workers": workers})
        if cfg.method != "dis":
            raise UserError(f"flow.method {cfg.method!r} is not available: opencv-python-headless "
                            "has no TV-L1/Brox (contrib) flow; use 'dis'")
        if cfg.preset not in PRESETS:
            raise UserError(f"flow.preset {cfg.preset!r}; choose one of {', '.join(PRESETS)}")
        return cfg


def quantise(flow: np.ndarray, bound: float) -> np.ndarray:
    clipped = np.clip(flow, -bound, bound)
    return np.round((clipped + bound) * (255.0 / (2 * bound))).astype(np.uint8)


def dequantise(q: np.ndarray, bound: float) -> np.ndarray:
    return q.astype(np.float32) * np.float32(2 * bound / 255.0) - np.float32(bound)


class FlowComputer:
    def __init__(self, cfg: FlowConfig):
        self.cfg = cfg
        cv2.setNumThreads(1)
        self.dis = cv2.DISOpticalFlow_create(PRESETS[cfg.preset])
        self.h = max(8, int(round(FRAME_HEIGHT * cfg.scale)))
        self.w = max(8, int(round(FRAME_WIDTH * cfg.scale)))

    def grey(self, frame: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if g.shape != (self.h, self.w):
            g = cv2.resize(g, (self.w, self.h), interpolation=cv2.INTER_AREA)
        return g

    def raw(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """Flow (h, w, 2) in pixels of the 240x320 frame between two grey (scaled) frames."""
        flow = self.dis.calc(prev, nxt, None)
        flow[..., 0] *= FRAME_WIDTH / self.w
        flow[..., 1] *= FRAME_HEIGHT / self.h
        return flow

    def store(self, flow: np.ndarray) -> np.ndarray:
        """Quantise, central crop, resize to the stored size: (size, size, 2) uint8."""
        q = quantise(flow, self.cfg.bound)
        sy, sx = self.h / FRAME_HEIGHT, self.w / FRAME_WIDTH
        ch, cw = int(round(self.cfg.crop * sy)), int(round(self.cfg.crop * sx))
        top, left = (self.h - ch) // 2, (self.w - cw) // 2
        q = q[top : top + ch, left : left + cw]
        if q.shape[:2] != (self.cfg.size, self.cfg.size):
            q = cv2.resize(q, (self.cfg.size, self.cfg.size), interpolation=cv2.INTER_AREA)
        return q

    def video(self, frames) -> np.ndarray:
        """Stored flow fields of a frame iterator: (T, size, size, 2) uint8."""
        out = []
        prev = None
        for frame in frames:
            g = self.grey(frame)
            if prev is not None:
                out.append(self.store(self.raw(prev, g)))
            prev = g
        if prev is None:
            return np.zeros((0, self.cfg.size, self.cfg.size, 2), np.uint8)
        if not out:  # one frame: zero flow
            out.append(self.store(np.zeros((self.h, self.w, 2), np.float32)))
        out.append(out[-1])
        return np.stack(out)


_COMPUTER: FlowComputer | None = None


def _init(cfg: FlowConfig) -> None:
    global _COMPUTER
    _COMPUTER = FlowComputer(cfg)


def _flow_item(item: Item) -> np.ndarray:
    assert _COMPUTER is not None
    return _COMPUTER.video(iter_frames(item.path, item.start, item.count))


def compute(items: Items, cfg: FlowConfig, out: str | Path, meta: dict,
            log: Callable[[str], None] = print) -> dict:
    import multiprocessing as mp

    t0 = time.perf_counter()
    meta = {**meta, "method": METHOD, "preset": cfg.preset, "scale": cfg.scale,
            "bound": cfg.bound, "crop": cfg.crop, "size": cfg.size, "dtype": "uint8",
            "quantisation": "q = round((clip(f, -bound, bound) + bound) * 255 / (2 bound))",
            "units": "pixels of the 240x320 frame; channels (u=x, v=y)", **items.meta()}
    with write_frames(out, (cfg.size, cfg.size, 2), np.uint8, meta) as writer:
        if cfg.workers > 1:
            pool = mp.get_context("fork").Pool(cfg.workers, initializer=_init, initargs=(cfg,))
            results = pool.imap(_flow_item, items.items, chunksize=1)
        else:
            _init(cfg)
            pool, results = None, map(_flow_item, items.items)
        try:
            for item, fields in zip(items.items, results, strict=True):
                if len(fields) == 0:
                    raise UserError(f"{item.path}: no frames decoded; re-run `videolstm index`")
                writer.append(fields)
                writer.end_sequence()
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    seconds = time.perf_counter() - t0
    log(f"{out}: flow of {writer.rows} frames, {len(items.items)} videos in {seconds:.1f} s "
        f"({writer.rows / max(seconds, 1e-9):.0f} frames/s), {METHOD} preset {cfg.preset}")
    return {"frames": writer.rows, "seconds": seconds}
