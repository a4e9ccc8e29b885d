"""Unlabelled clips (the paper's 10-second Sports-1M clips) and the list of items a stage reads.

`sample_clips` takes any folder of videos (the Sports-1M role), optionally adds the training
videos of labelled indexes (UCF-101/HMDB-51 split 1 train, as the paper tried), and picks clips of
a configured length at seeded random, non-overlapping positions. Nothing is re-encoded: the
manifest (CSV) records for each clip its file, first frame and frame count, and the percept
stages decode exactly that range. Videos that cannot be used (unreadable, too short) are listed
in the manifest with a status and a reason, never dropped silently.

`load_items` turns an index (+ root) or a manifest into the ordered list of sequences a percept
stage processes (status ok rows, in row order) plus what was skipped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from videolstm.config import known_fields
from videolstm.errors import UserError
from videolstm.video.decode import STATUS_OK
from videolstm.video.index import IndexConfig, build_index, read_index

MANIFEST_COLUMNS = ["clip", "video", "path", "source", "start_frame", "n_frames", "fps",
                    "status", "reason"]
STATUS_TOO_SHORT = "too_short"


@dataclass
class ClipsConfig:
    """Config section clips (defaults: config/config.yaml's)."""

    seconds: float = 2.0  # clip length (paper: 10 s)
    per_video: int = 3  # clips taken from each source video (non-overlapping)
    min_seconds: float = 0.0  # shorter videos are taken whole when at least this long; 0 = skip
    max_clips: int | None = None  # cap on the number of clips (seeded choice); None = all
    train_split: int = 1  # which split's training videos an added labelled index contributes
    verify: str = "packets"
    seed: int = 0
    workers: int = 1

    @classmethod
    def from_dict(cls, values: dict, seed: int = 0, workers: int = 1) -> ClipsConfig:
        known = known_fields(cls, values, "clips", consumed=("add_labelled",))
        return cls(**{**known, "seed": values.get("seed", seed), "workers": workers})


def _video_seed(seed: int, key: str) -> list[int]:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return [seed, int.from_bytes(digest[:8], "little")]


def sample_clips(sources: list[tuple[str, Path, pd.DataFrame]], cfg: ClipsConfig) -> pd.DataFrame:
    """sources: (name, root, index rows) triples; returns the manifest."""
    rows = []
    for name, root, frame in sources:
        for _, video in frame.iterrows():
            path = (Path(root) / video["path"]).as_posix()
            base = {"video": video["video"], "path": path, "source": name,
                    "fps": float(video["fps"])}
            if video["status"] != STATUS_OK:
                rows.append({**base, "clip": f"{name}/{video['video']}", "start_frame": 0,
                             "n_frames": 0, "status": video["status"], "reason": video["reason"]})
                continue
            n, fps = int(video["n_frames"]), float(video["fps"]) or 25.0
            length = max(1, int(round(cfg.seconds * fps)))
            if n < length:
                if cfg.min_seconds > 0 and n >= cfg.min_seconds * fps:
                    rows.append({**base, "clip": f"{name}/{video['video']}/0", "start_frame": 0,
                                 "n_frames": n, "status": STATUS_OK, "reason": "whole video"})
                else:
                    rows.append({**base, "clip": f"{name}/{video['video']}", "start_frame": 0,
                                 "n_frames": 0, "status": STATUS_TOO_SHORT,
                                 "reason": f"{n} frames, a clip needs {length}"})
                continue
            k = min(cfg.per_video, n // length)
            rng = np.random.default_rng(_video_seed(cfg.seed, f"{name}/{video['path']}"))
            # k non-overlapping clips: distribute the slack n - k*length at random between them
            slack = n - k * length
            cuts = np.sort(rng.integers(0, slack + 1, size=k))
            for j in range(k):
                start = int(cuts[j]) + j * length
                rows.append({**base, "clip": f"{name}/{video['video']}/{j}", "start_frame": start,
                             "n_frames": length, "status": STATUS_OK, "reason": ""})
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    if cfg.max_clips is not None:
        ok = manifest.index[manifest["status"] == STATUS_OK].to_numpy()
        if len(ok) > cfg.max_clips:
            rng = np.random.default_rng([cfg.seed, 7])
            drop = set(rng.choice(ok, size=len(ok) - cfg.max_clips, replace=False).tolist())
            manifest = manifest.drop(index=sorted(drop)).reset_index(drop=True)
    return manifest


def folder_source(root: Path, cfg: ClipsConfig) -> pd.DataFrame:
    return build_index("folder", root, IndexConfig(allow_skip=True, verify=cfg.verify,
                                                   workers=cfg.workers))


def labelled_source(index_path: Path, split: int) -> pd.DataFrame:
    frame = read_index(index_path)
    return frame[frame[f"split{split}"] == "train"].reset_index(drop=True)


def read_manifest(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"clip manifest {path} does not exist; build it with `videolstm clips`")
    frame = pd.read_csv(path, keep_default_na=False)
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(f"{path} is not a clip manifest (missing columns {missing})")
    return frame


# ---------------------------------------------------------------------------------------------
# items a percept stage processes


@dataclass
class Item:
    video: str  # id written to the percept json (index: video; manifest: clip)
    path: str  # file to decode
    start: int = 0
    count: int | None = None  # None = to the end
    label: int = -1


@dataclass
class Items:
    items: list[Item]
    skipped: list[str]  # ids of listed videos/clips not processed (status != ok)
    source_file: str

    def meta(self) -> dict:
        return {"videos": [i.video for i in self.items], "skipped": len(self.skipped),
                "skipped_videos": self.skipped, "listing": self.source_file}


def load_items(index: str | Path | None = None, root: str | Path | None = None,
               clips: str | Path | None = None) -> Items:
    if (index is None) == (clips is None):
        raise UserError("give either an index (with its dataset root) or a clip manifest")
    if clips is not None:
        frame = read_manifest(clips)
        ok = frame["status"] == STATUS_OK
        items = [Item(r.clip, r.path, int(r.start_frame), int(r.n_frames))
                 for r in frame[ok].itertuples()]
        return Items(items, frame.loc[~ok, "clip"].tolist(), str(clips))
    if root is None:
        raise UserError("an index needs the dataset root its paths are relative to (--root)")
    frame = read_index(index)
    ok = frame["status"] == STATUS_OK
    items = [Item(r.video, (Path(root) / r.path).as_posix(), 0, None, int(r.label))
             for r in frame[ok].itertuples()]
    return Items(items, frame.loc[~ok, "video"].tolist(), str(index))
