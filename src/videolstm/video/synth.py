"""Embedded action videos: seeded synthetic clips written as real AVI files in the official layouts.

Every video shows two textured shapes over a background. The class is a *motion over time*
(direction of translation, sense of rotation, expanding or shrinking, oscillation axis, two shapes
approaching or separating); start positions, angles, sizes and the distractor shape are drawn so
that any single frame is compatible with every class: only the sequence tells them apart.

Appearance (background colours and texture, shape, colour) is a property of the *group*, shared by
all classes of that group, and the official-format split files keep every group on one side of each
split (like UCF-101's g01-g25). Test groups therefore look unlike anything seen in training, which
checks that a model learned the motion and not the look of a group.

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
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from videolstm.config import known_fields
from videolstm.errors import UserError

WIDTH, HEIGHT, FPS = 320, 240, 25

# the catalogue of motions: (ucf-style name, hmdb-style name)
MOTIONS = [
    ("MoveRight", "move_right"),
    ("MoveLeft", "move_left"),
    ("MoveUp", "move_up"),
    ("MoveDown", "move_down"),
    ("RotateCw", "rotate_cw"),
    ("RotateCcw", "rotate_ccw"),
    ("Expand", "expand"),
    ("Shrink", "shrink"),
    ("SwingSideways", "swing_sideways"),
    ("SwingUpDown", "swing_up_down"),
    ("Approach", "approach"),
    ("Separate", "separate"),
]
# like UCF-101's HandstandPushups whose files are named v_HandStandPushups_...
UCF_FILE_CASE_QUIRK = {"RotateCw": "RotateCW"}

DATASET_IDS = {"ucf101": 1, "hmdb51": 2, "unlabelled": 3}


@dataclass
class SynthConfig:
    """Sizes of one embedded dataset (config section video.<dataset>)."""

    classes: int = 8
    groups: int = 6
    clips_per_group: int = 2
    seconds: float = 2.4
    test_groups: int = 2  # groups in each split's test side (rotating over the 3 splits)
    unused_groups: int = 0  # hmdb51 layout only: groups marked 0 (unused) in each split
    videos: int = 0  # unlabelled pool only: number of videos
    bit_rate: int = 800_000
    workers: int = 1
    segment_seconds: float = 2.0  # unlabelled pool only: length of each motion segment
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict, seed: int = 0, workers: int = 1) -> SynthConfig:
        known = known_fields(cls, values, "video.<dataset>")
        return cls(**{**known, "seed": values.get("seed", seed), "workers": workers})


# ---------------------------------------------------------------------------------------------
# appearance


def _shape_vertices(kind: int) -> np.ndarray:
    """Unit-size polygon of a shape, orientation visible (no rotational symmetry)."""
    if kind == 0:  # arrow head
        pts = [(1.0, 0.0), (-0.7, 0.6), (-0.3, 0.0), (-0.7, -0.6)]
    elif kind == 1:  # L shape
        pts = [(-0.8, -0.8), (0.8, -0.8), (0.8, -0.3), (-0.3, -0.3), (-0.3, 0.8), (-0.8, 0.8)]
    elif kind == 2:  # flag
        pts = [(-0.9, -0.9), (0.9, -0.5), (-0.4, -0.1), (-0.4, 0.9), (-0.9, 0.9)]
    elif kind == 3:  # T shape
        pts = [(-0.9, -0.9), (0.9, -0.9), (0.9, -0.4), (0.25, -0.4), (0.25, 0.9), (-0.25, 0.9),
               (-0.25, -0.4), (-0.9, -0.4)]
    else:  # irregular star
        n = 5
        pts = []
        for i in range(2 * n):
            r = 1.0 if i % 2 == 0 else 0.45
            if i == 0:
                r = 1.25
            a = math.pi * i / n
            pts.append((r * math.cos(a), r * math.sin(a)))
    return np.asarray(pts, np.float64)


N_SHAPES = 5


@dataclass
class Look:
    """The appearance of a group: background image, shape kinds, colours."""

    background: np.ndarray
    shapes: tuple[int, int]
    colours: tuple[tuple[int, int, int], tuple[int, int, int]]


def make_look(rng: np.random.Generator) -> Look:
    c1, c2 = rng.integers(0, 256, size=(2, 3))
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (np.cos(angle) * xx / WIDTH + np.sin(angle) * yy / HEIGHT)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    bg = c1[None, None, :] * (1 - ramp[..., None]) + c2[None, None, :] * ramp[..., None]
    # low-frequency texture: blurred noise, or stripes
    noise = rng.standard_normal((HEIGHT // 8, WIDTH // 8)).astype(np.float32)
    noise = cv2.resize(noise, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.5:
        freq = rng.uniform(0.03, 0.12)
        noise = noise * 0.5 + np.sin(freq * (xx * np.cos(angle * 2) + yy * np.sin(angle * 2)))
    bg = bg + 25.0 * noise[..., None]
    background = np.clip(bg, 0, 255).astype(np.uint8)
    shapes = tuple(int(s) for s in rng.integers(0, N_SHAPES, size=2))
    colours = []
    for _ in range(2):
        colour = rng.integers(0, 256, size=3)
        # keep the shape visible against the background mean
        if np.abs(colour.astype(int) - background.reshape(-1, 3).mean(0)).sum() < 150:
            colour = 255 - colour
        colours.append(tuple(int(v) for v in colour))
    return Look(background, shapes, (colours[0], colours[1]))  # type: ignore[arg-type]


def _draw(frame: np.ndarray, kind: int, centre, size: float, angle: float, colour) -> None:
    verts = _shape_vertices(kind)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    pts = (verts @ rot.T) * size + np.asarray(centre)[None, :]
    pts = np.round(pts * 4).astype(np.int32)  # 2 bits of sub-pixel precision
    dark = tuple(int(c * 0.4) for c in colour)
    cv2.fillPoly(frame, [pts], colour, lineType=cv2.LINE_AA, shift=2)
    cv2.polylines(frame, [pts], True, dark, thickness=2, lineType=cv2.LINE_AA, shift=2)
    # an off-centre marker makes the orientation (and rotation) visible for every shape
    marker = (np.array([0.45, 0.0]) @ rot.T) * size + np.asarray(centre)
    cv2.circle(frame, tuple(int(v) for v in np.round(marker * 4)), int(max(size * 0.18, 2) * 4),
               dark, -1, lineType=cv2.LINE_AA, shift=2)


# ---------------------------------------------------------------------------------------------
# motions: each returns per-frame states of the two objects: list of (cx, cy, size, angle)

State = list[tuple[float, float, float, float]]


def _free_object(rng: np.random.Generator, n: int, size: float) -> State:
    """The distractor: drifts slowly in a random direction, turns slowly, keeps its size."""
    x = rng.uniform(size + 10, WIDTH - size - 10)
    y = rng.uniform(size + 10, HEIGHT - size - 10)
    a = rng.uniform(0, 2 * math.pi)
    d = rng.uniform(0, 2 * math.pi)
    v = rng.uniform(0.0, 0.4)
    w = rng.uniform(-0.01, 0.01)
    return [(x + v * t * math.cos(d), y + v * t * math.sin(d), size, a + w * t) for t in range(n)]


def _motion(name: str, rng: np.random.Generator, n: int, size: float) -> tuple[State, State]:
    margin = size * 1.3 + 4
    angle0 = rng.uniform(0, 2 * math.pi)
    if name in ("move_right", "move_left", "move_up", "move_down"):
        horizontal = name in ("move_right", "move_left")
        span = (WIDTH if horizontal else HEIGHT) - 2 * margin
        travel = rng.uniform(0.5, 0.9) * span
        start = rng.uniform(margin, margin + span - travel)
        sign = 1.0 if name in ("move_right", "move_down") else -1.0
        across = rng.uniform(margin, (HEIGHT if horizontal else WIDTH) - margin)
        states = []
        for t in range(n):
            along = start + travel * t / max(n - 1, 1)
            if sign < 0:
                along = start + travel - travel * t / max(n - 1, 1)
            x, y = (along, across) if horizontal else (across, along)
            states.append((x, y, size, angle0))
        return states, _free_object(rng, n, size * rng.uniform(0.6, 0.9))
    if name in ("rotate_cw", "rotate_ccw"):
        x = rng.uniform(margin, WIDTH - margin)
        y = rng.uniform(margin, HEIGHT - margin)
        speed = rng.uniform(0.06, 0.12) * (1 if name == "rotate_cw" else -1)  # image y points down
        return [(x, y, size, angle0 + speed * t) for t in range(n)], _free_object(
            rng, n, size * rng.uniform(0.6, 0.9))
    if name in ("expand", "shrink"):
        small = size * rng.uniform(0.45, 0.7)
        large = small * rng.uniform(1.8, 2.4)
        x = rng.uniform(large * 1.3 + 4, WIDTH - large * 1.3 - 4)
        y = rng.uniform(large * 1.3 + 4, HEIGHT - large * 1.3 - 4)
        s0, s1 = (small, large) if name == "expand" else (large, small)
        sizes = [s0 * (s1 / s0) ** (t / max(n - 1, 1)) for t in range(n)]
        other = _free_object(rng, n, size * rng.uniform(0.6, 0.9))
        return [(x, y, s, angle0) for s in sizes], other
    if name in ("swing_sideways", "swing_up_down"):
        horizontal = name == "swing_sideways"
        amp = rng.uniform(25, 50)
        period = rng.uniform(12, 24)
        phase = rng.uniform(0, 2 * math.pi)
        ax, ay = (amp, 0.0) if horizontal else (0.0, amp)
        x = rng.uniform(margin + ax, WIDTH - margin - ax)
        y = rng.uniform(margin + ay, HEIGHT - margin - ay)
        states = []
        for t in range(n):
            off = amp * math.sin(2 * math.pi * t / period + phase)
            states.append((x + off, y, size, angle0) if horizontal else (x, y + off, size, angle0))
        return states, _free_object(rng, n, size * rng.uniform(0.6, 0.9))
    if name in ("approach", "separate"):
        cx = rng.uniform(WIDTH * 0.35, WIDTH * 0.65)
        cy = rng.uniform(HEIGHT * 0.35, HEIGHT * 0.65)
        direction = rng.uniform(0, math.pi)
        near, far = size * 1.6, size * 1.6 + rng.uniform(60, 90)
        d0, d1 = (far, near) if name == "approach" else (near, far)
        size2 = size * rng.uniform(0.6, 0.9)
        a, b = [], []
        for t in range(n):
            d = d0 + (d1 - d0) * t / max(n - 1, 1)
            dx, dy = 0.5 * d * math.cos(direction), 0.5 * d * math.sin(direction)
            a.append((cx - dx, cy - dy, size, angle0))
            b.append((cx + dx, cy + dy, size2, angle0 + 1.0))
        return a, b
    raise ValueError(f"unknown motion {name!r}")


def render(look: Look, segments: list[tuple[str, int]], rng: np.random.Generator):
    """Yield uint8 RGB frames for consecutive motion segments [(motion, n_frames), ...]."""
    for name, n in segments:
        size = rng.uniform(20, 30)
        first, second = _motion(name, rng, n, size)
        jitter = rng.uniform(0.9, 1.1, size=3)
        colours = [tuple(int(min(255, c * j)) for c, j in zip(col, jitter, strict=True))
                   for col in look.colours]
        for t in range(n):
            frame = look.background.copy()
            for obj, kind, colour in ((second, look.shapes[1], colours[1]),
                                      (first, look.shapes[0], colours[0])):
                x, y, s, a = obj[t]
                _draw(frame, kind, (x, y), s, a, colour)
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
    segments: list[tuple[str, int]]
    seed: tuple[int, ...]
    look_seed: tuple[int, ...]


def _run_job(args: tuple[str, Job, int]) -> str:
    root, job, bit_rate = args
    look = make_look(np.random.default_rng(list(job.look_seed)))
    rng = np.random.default_rng(list(job.seed))
    write_avi(Path(root) / job.rel_path, render(look, job.segments, rng), bit_rate)
    return job.rel_path


def class_names(dataset: str, n_classes: int) -> list[str]:
    if not 1 <= n_classes <= len(MOTIONS):
        raise UserError(f"video.{dataset}.classes must be between 1 and {len(MOTIONS)}")
    if dataset == "ucf101":
        return [m[0] for m in MOTIONS[:n_classes]]
    return [m[1] for m in MOTIONS[-n_classes:]]


def motion_of(dataset: str, class_name: str) -> str:
    for ucf, hmdb in MOTIONS:
        if class_name in (ucf, hmdb):
            return hmdb
    raise ValueError(class_name)


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
                segments.append((MOTIONS[int(rng.integers(len(MOTIONS)))][1], take))
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
                    jobs.append(Job(rel, [(motion_of(dataset, cls), n)],
                                    (cfg.seed, ds_id, ci, g, c), (cfg.seed, ds_id, 0, g)))
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
                    jobs.append(Job(f"{cls}/{name}", [(motion_of(dataset, cls), n)],
                                    (cfg.seed, ds_id, ci, g, c), (cfg.seed, ds_id, 0, g)))
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
    args = [(str(root), job, cfg.bit_rate) for job in jobs]
    if cfg.workers > 1:
        with ProcessPoolExecutor(cfg.workers) as pool:
            done = list(pool.map(_run_job, args, chunksize=4))
    else:
        done = [_run_job(a) for a in args]
    if progress:
        progress(f"{dataset}: wrote {len(done)} videos under {root}")
    return [job.rel_path for job in jobs]
