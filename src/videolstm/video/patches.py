"""Sequences of 32x32 colour image patches cut from videos (the paper's natural image patches).

The paper trained on "sequences of 32x32 natural image patches extracted from the UCF-101
dataset", 16 frames in and 13 future. Here a sequence is `seq_len` consecutive frames (every
`frame_step`-th frame) of a fixed 32x32 window of a video whose frames were first resized by
`frame_scale` (the paper does not state a scale). Locations and start frames are drawn with a
seed; windows with less mean absolute temporal change than `min_motion` are redrawn up to
`tries` times (0 = no filter; the count of windows kept despite the filter is recorded).

Training sequences come from the training videos of `split` and validation sequences from its
test videos, so no video is in both. Stored as float16 (n_seq * seq_len, 3072) in [0, 1] (each
row a 32x32x3 patch flattened in HWC order) with offsets (n_seq + 1,), like the percepts.
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
from videolstm.video.decode import read_frames
from videolstm.video.index import read_index, usable

PARTS = {"train": "train", "valid": "test"}


@dataclass
class PatchConfig:
    """Config section patches (defaults: config/config.yaml's)."""

    size: int = 32
    seq_len: int = 29  # 16 in + 13 future
    frame_step: int = 1
    frame_scale: float = 0.5
    split: int = 1
    train_sequences: int = 300
    valid_sequences: int = 60
    min_motion: float = 0.005
    tries: int = 10
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict, seed: int = 0) -> PatchConfig:
        known = known_fields(cls, values, "patches", consumed=("dataset",))
        return cls(**{**known, "seed": values.get("seed", seed)})


def cut_patches(index_path: str | Path, root: str | Path, part: str, cfg: PatchConfig,
                out: str | Path, meta: dict, log: Callable[[str], None] = print) -> dict:
    if part not in PARTS:
        raise UserError(f"patch part {part!r}; choose train or valid")
    t0 = time.perf_counter()
    frame = read_index(index_path)
    videos = usable(frame)
    videos = videos[videos[f"split{cfg.split}"] == PARTS[part]].reset_index(drop=True)
    span = (cfg.seq_len - 1) * cfg.frame_step + 1
    videos = videos[videos["n_frames"] >= span].reset_index(drop=True)
    if videos.empty:
        raise UserError(f"no usable {PARTS[part]} videos of split {cfg.split} in {index_path} "
                        f"with at least {span} frames for patch sequences")
    n_seq = cfg.train_sequences if part == "train" else cfg.valid_sequences
    rng = np.random.default_rng([cfg.seed, 0 if part == "train" else 1])
    # how many sequences each video gives, proportional to its usable start positions
    weights = (videos["n_frames"] - span + 1).to_numpy(np.float64)
    per_video = rng.multinomial(n_seq, weights / weights.sum())
    d = cfg.size * cfg.size * 3
    kept_static = 0
    info = {**meta, "part": part, "split": cfg.split, "size": cfg.size, "seq_len": cfg.seq_len,
            "frame_step": cfg.frame_step, "frame_scale": cfg.frame_scale, "layout": "HWC",
            "range": [0, 1], "min_motion": cfg.min_motion, "videos_used": int(len(videos)),
            "listing": str(index_path),
            "skipped": int((frame["status"] != "ok").sum())}
    with write_frames(out, (d,), np.float16, info) as writer:
        for row, k in zip(videos.itertuples(), per_video, strict=True):
            if k == 0:
                continue
            frames = read_frames(Path(root) / row.path)
            if cfg.frame_scale != 1.0:
                h = int(round(frames.shape[1] * cfg.frame_scale))
                w = int(round(frames.shape[2] * cfg.frame_scale))
                frames = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)
                                   for f in frames])
            n, h, w = frames.shape[:3]
            if n < span or h < cfg.size or w < cfg.size:
                raise UserError(f"{row.path}: {n} frames of {h}x{w} after scaling; too small "
                                f"for {cfg.size}x{cfg.size} patches of {span} frames")
            for _ in range(k):
                for attempt in range(max(1, cfg.tries)):
                    t = int(rng.integers(0, n - span + 1))
                    y = int(rng.integers(0, h - cfg.size + 1))
                    x = int(rng.integers(0, w - cfg.size + 1))
                    seq = frames[t : t + span : cfg.frame_step, y : y + cfg.size, x : x + cfg.size]
                    seq = seq.astype(np.float32) / 255.0
                    motion = float(np.abs(np.diff(seq, axis=0)).mean())
                    if cfg.min_motion <= 0 or motion >= cfg.min_motion:
                        break
                    if attempt == max(1, cfg.tries) - 1:
                        kept_static += 1
                writer.append(seq.reshape(cfg.seq_len, d))
                writer.end_sequence()
        info["kept_below_min_motion"] = kept_static
    seconds = time.perf_counter() - t0
    log(f"{out}: {len(writer.lengths)} sequences of {cfg.seq_len} {cfg.size}x{cfg.size} patches "
        f"from {int((per_video > 0).sum())} videos in {seconds:.1f} s "
        f"({kept_static} below min_motion after {cfg.tries} tries)")
    return {"sequences": len(writer.lengths), "seconds": seconds}
