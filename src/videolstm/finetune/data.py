"""Labelled percepts: the video index, per-video frame ranges, class-balanced samples, blocks.

Percepts of a dataset and kind are `{kind}.npy` (float16 (total_frames, D)), `{kind}.offsets.npy`
(int64 (n_videos+1,)) and `{kind}.json` (extractor, dim, dataset, videos, source); the video order
is the order of the index rows with status "ok". Values are used raw, as in pretraining.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from videolstm.errors import UserError
from videolstm.io import load_npy

INDEX_COLUMNS = ["video", "class_name", "label", "split1", "split2", "split3", "status"]


@dataclass
class Percepts:
    """Frames of every ok video of a dataset, for one kind (rgb, flow, flowstack)."""

    frames: np.ndarray  # (total_frames, D) float16 (memory-mapped)
    offsets: np.ndarray  # (n_videos + 1,) int64
    meta: dict
    kind: str

    @property
    def dim(self) -> int:
        return int(self.frames.shape[1])

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


@dataclass
class LabelledVideos:
    """The ok videos of a dataset, in percept order, with contiguous labels 0..C-1."""

    videos: list[str]
    labels: np.ndarray  # (V,) int64
    class_names: list[str]
    splits: dict[int, np.ndarray]  # split number -> (V,) array of "train"/"test"/"unused"
    skipped: int  # index rows whose status is not ok
    # (V,) UCF-101 group / HMDB-51 source of each video (validation is group-disjoint); None:
    # every video its own group
    groups: np.ndarray | None = None

    def group_of(self) -> np.ndarray:
        return (self.groups if self.groups is not None
                else np.asarray(self.videos, dtype=object))

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def read_labelled_videos(path: str | Path) -> LabelledVideos:
    """The ok videos of a video index CSV as labelled videos (the index itself, as a table:
    videolstm.video.index.read_index)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"video index {path} does not exist; build it first (the video phase)")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in INDEX_COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"video index {path} lacks columns {missing}")
    ok = df[df["status"] == "ok"]
    if ok.empty:
        raise UserError(f"video index {path} has no video with status ok")
    raw = ok["label"].astype(int).to_numpy()
    values = sorted(set(raw.tolist()))
    remap = {v: i for i, v in enumerate(values)}
    names = {}
    for lab, name in zip(raw, ok["class_name"], strict=True):
        names.setdefault(remap[lab], name)
    return LabelledVideos(
        videos=ok["video"].tolist(),
        labels=np.array([remap[v] for v in raw], dtype=np.int64),
        class_names=[names[i] for i in range(len(values))],
        splits={s: ok[f"split{s}"].to_numpy() for s in (1, 2, 3)},
        skipped=int(len(df) - len(ok)),
        groups=np.where(ok["group"].to_numpy() == "", ok["video"].to_numpy(),
                        ok["group"].to_numpy()).astype(object),
    )


def read_percepts(stem: str | Path, videos: list[str] | None = None) -> Percepts:
    """Load `{stem}.npy` (memory-mapped), `.offsets.npy` and `.json`; check the video order."""
    stem = Path(stem)
    paths = [Path(f"{stem}.npy"), Path(f"{stem}.offsets.npy"), Path(f"{stem}.json")]
    for p in paths:
        if not p.is_file():
            raise UserError(f"percept file {p} does not exist; run the percept extraction first")
    frames = load_npy(paths[0], mmap=True)
    offsets = load_npy(paths[1])
    meta = json.loads(paths[2].read_text())
    if frames.ndim != 2 or offsets.ndim != 1 or offsets[-1] != frames.shape[0]:
        raise UserError(
            f"percepts {stem}: offsets (last {offsets[-1] if offsets.size else None}) do not match "
            f"the frame array {frames.shape}; re-extract them"
        )
    if videos is not None:
        listed = meta.get("videos")
        if listed is not None and list(listed) != list(videos):
            raise UserError(
                f"percepts {stem}.json list {len(listed)} videos that differ from the index's "
                f"{len(videos)} ok videos (order included); re-extract the percepts"
            )
        if len(offsets) != len(videos) + 1:
            raise UserError(
                f"percepts {stem}: {len(offsets) - 1} videos but the index has {len(videos)} ok"
            )
    return Percepts(frames=frames, offsets=offsets.astype(np.int64), meta=meta, kind=stem.name)


def _seed(*parts: object) -> int:
    """A stable 64-bit seed from any printable parts (independent of PYTHONHASHSEED)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def balanced_sample(
    data: LabelledVideos, split: int, per_class: int | None, sample: int, seed: int, tag: str = "",
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of `per_class` training videos of every class (None = all), sorted.

    Deterministic in (seed, tag, split, per_class, sample); drawn only from the split's training
    videos, so it never overlaps the test split, and never from `exclude` (the validation
    videos). A class with fewer videos gives all it has.
    """
    if split not in data.splits:
        raise UserError(f"split {split} is not one of 1, 2, 3")
    train = np.flatnonzero(data.splits[split] == "train")
    if exclude is not None and len(exclude):
        train = np.setdiff1d(train, exclude)
    if per_class is None:
        return train
    rng = np.random.default_rng(_seed(seed, tag, split, per_class, sample))
    picked = []
    for c in range(data.n_classes):
        pool = train[data.labels[train] == c]
        picked.append(rng.permutation(pool)[:per_class])
    return np.sort(np.concatenate(picked))


def validation_videos(data: LabelledVideos, split: int, per_class: int, seed: int,
                      tag: str = "") -> np.ndarray:
    """`per_class` training videos of every class, held out of every labelled set of the split to
    choose learning rates and step counts (never test videos). They come from whole groups
    (UCF-101 groups, HMDB-51 sources) held out of training (`validation_exclusion`), as the test
    split is group-disjoint from its training videos. Groups are taken in a seeded order until
    every class has `per_class` videos in them, skipping a group that would leave a class without
    a training video; a class short of videos then gives fewer."""
    train = np.flatnonzero(data.splits[split] == "train")
    groups = data.group_of()
    rng = np.random.default_rng(_seed(seed, tag, split, "validation", per_class))
    held: list = []
    for g in rng.permutation(np.array(sorted(set(groups[train].tolist())), dtype=object)):
        cand = train[np.isin(groups[train], held)]
        if all((data.labels[cand] == c).sum() >= per_class for c in range(data.n_classes)):
            break
        rest = train[~np.isin(groups[train], [*held, g])]
        if any((data.labels[rest] == c).sum() == 0 for c in range(data.n_classes)):
            continue
        held.append(g)
    cand = train[np.isin(groups[train], held)]
    picked = [rng.permutation(cand[data.labels[cand] == c])[:per_class]
              for c in range(data.n_classes)]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def validation_exclusion(data: LabelledVideos, split: int, videos: np.ndarray) -> np.ndarray:
    """Every training video of the groups the validation `videos` come from: none of them may be
    in a labelled set (group-disjoint validation)."""
    train = np.flatnonzero(data.splits[split] == "train")
    groups = data.group_of()
    return train[np.isin(groups[train], groups[videos])].astype(np.int64)


def split_test_videos(data: LabelledVideos, split: int) -> np.ndarray:
    return np.flatnonzero(data.splits[split] == "test")


def block_starts(n_frames: int, block: int, stride: int) -> list[int]:
    """Starts of all `block`-frame windows with the given stride (one window if shorter)."""
    if n_frames <= block:
        return [0]
    return list(range(0, n_frames - block + 1, stride))


def frame_indices(offset: int, n_frames: int, start: int, block: int) -> np.ndarray:
    """Global frame indices of a block; a video shorter than a block repeats its last frame."""
    local = np.minimum(np.arange(start, start + block), n_frames - 1)
    return offset + local


def eval_blocks(
    percepts: Percepts, videos: np.ndarray, block: int, stride: int
) -> tuple[np.ndarray, np.ndarray]:
    """All test blocks: frame indices (N, block) and the position of each block's video (N,)."""
    lengths = percepts.lengths()
    idx, owner = [], []
    for pos, v in enumerate(videos):
        for s in block_starts(int(lengths[v]), block, stride):
            idx.append(frame_indices(int(percepts.offsets[v]), int(lengths[v]), s, block))
            owner.append(pos)
    return np.stack(idx), np.array(owner, dtype=np.int64)
