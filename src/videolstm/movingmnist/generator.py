"""Moving MNIST, generated on the fly (paper section 3.2; the authors' released generator).

Each sequence holds `num_digits` MNIST digits (28x28) bouncing inside a 64x64 frame. Following
the authors' code: the start position is uniform over the valid canvas (64 - 28 = 36 px of
travel per axis, kept as a fraction in [0, 1]), the direction uniform on [0, 2 pi), and the speed
fixed at `step_length` = 0.1 of the travel range per frame (about 3.6 px). A step is taken before
each frame is recorded. At a wall the position is clamped and that velocity component negated;
positions are truncated to integer pixels; overlapping digits combine by pixel-wise max.
The paper's text instead draws the speed uniformly from a fixed range: `speed: random` with
`speed_range`. The authors' behaviour is the default.

Arrays are uint8 and TIME FIRST, (T, N, 64, 64), like the standard mnist_test_seq.npy.
Everything is vectorised over the batch: trajectories with numpy (T small steps), frames by
28x28 block copies through one strided view of the output (see `render`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from videolstm.errors import UserError
from videolstm.io import load_npy


@dataclass
class GeneratorConfig:
    image_size: int = 64
    digit_size: int = 28
    seq_len: int = 20
    num_digits: int = 2
    speed: str = "fixed"  # fixed (authors' code) | random (paper text)
    step_length: float = 0.1
    speed_range: tuple[float, float] = (0.05, 0.15)

    @classmethod
    def from_dict(cls, d: dict) -> GeneratorConfig:
        d = dict(d)
        if "speed_range" in d:
            d["speed_range"] = tuple(d["speed_range"])
        return cls(**d)


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="moving-mnist")


class MovingMNIST:
    """Seeded Moving MNIST generator over a fixed set of digit images."""

    def __init__(self, digits: np.ndarray, cfg: GeneratorConfig | None = None) -> None:
        self.cfg = cfg or GeneratorConfig()
        c = self.cfg
        if digits.ndim != 3 or digits.shape[1:] != (c.digit_size, c.digit_size):
            raise ValueError(f"digits must be (N, {c.digit_size}, {c.digit_size}), got {digits.shape}")
        if c.digit_size > c.image_size:
            raise ValueError("digit_size must not exceed image_size")
        self._digits_np = np.ascontiguousarray(digits, dtype=np.uint8)
        self.num_digit_images = len(digits)

    @property
    def digits(self) -> np.ndarray:
        """The uint8 digit images (N, S, S) the generator draws from."""
        return self._digits_np

    def trajectories(self, rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-left corners (T, batch, num_digits) as integer pixels (y, x)."""
        c = self.cfg
        shape = (batch, c.num_digits)
        y, x = rng.random(shape), rng.random(shape)
        theta = rng.random(shape) * 2 * np.pi
        if c.speed == "fixed":
            speed = np.full(shape, c.step_length)
        elif c.speed == "random":
            speed = rng.uniform(c.speed_range[0], c.speed_range[1], size=shape)
        else:
            raise ValueError(f"speed must be 'fixed' or 'random', got {c.speed!r}")
        vy, vx = np.sin(theta) * speed, np.cos(theta) * speed
        ys = np.empty((c.seq_len, *shape))
        xs = np.empty((c.seq_len, *shape))
        for t in range(c.seq_len):
            y, x = y + vy, x + vx
            # bounce: clamp to the wall and reverse that component
            for pos, vel in ((y, vy), (x, vx)):
                low, high = pos <= 0, pos >= 1
                pos[low], pos[high] = 0.0, 1.0
                vel[low | high] *= -1
            ys[t], xs[t] = y, x
        travel = c.image_size - c.digit_size
        return (ys * travel).astype(np.int64), (xs * travel).astype(np.int64)

    def batch(
        self, batch: int, rng: np.random.Generator, device: str | torch.device = "cpu"
    ) -> torch.Tensor:
        """A batch of sequences, uint8 (T, batch, S, S) on `device`."""
        c = self.cfg
        ys, xs = self.trajectories(rng, batch)
        which = rng.integers(0, self.num_digit_images, size=(batch, c.num_digits))
        return torch.from_numpy(self.render(ys, xs, which)).to(device)

    def render(self, ys: np.ndarray, xs: np.ndarray, which: np.ndarray, chunk: int = 64) -> np.ndarray:
        """Frames (T, B, S, S) for corners ys, xs (T, B, D) and digit indices which (B, D).

        Every possible digit position of every frame is one strided view of the output
        (frame, y, x, 28, 28), so pasting a digit is a 28x28 block copy into a zeroed frame and
        overlapping digits take the pixel-wise max of that block (no per-pixel index arithmetic,
        no copies of empty pixels). Chunks of the batch run on a small thread pool (numpy
        releases the GIL for these copies).
        """
        T, B, _ = ys.shape
        out = np.zeros((T, B, self.cfg.image_size, self.cfg.image_size), np.uint8)
        if B <= chunk:
            self._render_into(out, ys, xs, which)
        else:
            def job(s: int) -> None:
                e = min(B, s + chunk)
                self._render_into(out[:, s:e], ys[:, s:e], xs[:, s:e], which[s:e])
            list(_pool().map(job, range(0, B, chunk)))
        return out

    def _render_into(self, out: np.ndarray, ys: np.ndarray, xs: np.ndarray, which: np.ndarray) -> None:
        """Paste digits into `out` (T, B, S, S), zeroed, rows and columns contiguous."""
        T, B, D = ys.shape
        s, ds = self.cfg.image_size, self.cfg.digit_size
        travel = s - ds
        step_t, step_b, step_y, step_x = out.strides
        windows = np.lib.stride_tricks.as_strided(
            out, (T, B, travel + 1, travel + 1, ds, ds), (step_t, step_b, step_y, step_x, step_y, step_x)
        )
        t = np.arange(T)[:, None]
        b = np.arange(B)[None, :]
        for d in range(D):
            digit = self._digits_np[which[:, d]][None]  # (1, B, 28, 28), broadcast over time
            y, x = ys[..., d], xs[..., d]
            if d == 0:
                windows[t, b, y, x] = digit
            else:
                windows[t, b, y, x] = np.maximum(windows[t, b, y, x], digit)

    def dataset(self, n: int, seed: int, chunk: int = 1024) -> np.ndarray:
        """A fixed set of n sequences, uint8 (T, n, S, S), deterministic given the seed."""
        rng = np.random.default_rng(seed)
        parts = [self.batch(min(chunk, n - i), rng).numpy() for i in range(0, n, chunk)]
        return np.concatenate(parts, axis=1)


MAX_SEQ_LEN = 200  # longer than any Moving MNIST sequence: a longer time axis is the batch axis


def check_set(arr: np.ndarray, path, seq_len: int | None = None, image_size: int | None = None) -> None:
    """The one layout check of every Moving MNIST set reader: uint8 (T, N, S, S), time first.

    With `seq_len`/`image_size` the axes must match exactly; without, a time axis longer than
    MAX_SEQ_LEN is taken for a batch-first array (the standard file is (20, 10000, 64, 64)).
    """
    t, s = seq_len or "T", image_size or "S"
    want = f"a uint8 array shaped ({t}, N, {s}, {s}) with time first"
    square = arr.ndim == 4 and arr.shape[2] == arr.shape[3]
    bad = (not square or (seq_len is not None and arr.shape[0] != seq_len)
           or (image_size is not None and arr.shape[2] != image_size)
           or (seq_len is None and arr.shape[0] > MAX_SEQ_LEN))
    if bad:
        hint = ""
        if arr.ndim == 4 and (arr.shape[1] == seq_len or (seq_len is None and arr.shape[1] <= MAX_SEQ_LEN)):
            hint = " (it looks batch-first: transpose axes 0 and 1, do not reshape)"
        raise UserError(f"{path}: expected {want}, got {arr.shape}{hint}")
    if arr.dtype != np.uint8:
        raise UserError(f"{path}: expected {want}, got dtype {arr.dtype}")
    if arr.shape[1] == 0:  # every metric would be an empty mean: NaN or no entries at all
        raise UserError(f"{path}: holds no sequences (shape {arr.shape}); write a set of at "
                        "least one sequence (mnist.eval sizes >= 1) and rerun")


def load_test_file(path: str, seq_len: int = 20, image_size: int = 64) -> np.ndarray:
    """The standard mnist_test_seq.npy: uint8, (20, 10000, 64, 64), time first."""
    arr = load_npy(path, mmap=True)
    check_set(arr, path, seq_len, image_size)
    return np.asarray(arr)


def to_float(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (T, B, S, S) -> float (T, B, S*S) in [0, 1], the models' input."""
    return frames.flatten(2).float().div_(255.0)
