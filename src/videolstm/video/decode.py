"""Decoding with PyAV: probe a file's health, stream RGB frames, resize and crop.

Frames come out as uint8 (H, W, 3) RGB arrays, one at a time (streaming). Videos whose frames are
not 240x320 (the size UCF-101 and HMDB-51 percepts assume) are resized to 240x320 when asked to;
`central_crop` takes the central square the convnets see (224x224 in the paper).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FRAME_HEIGHT = 240
FRAME_WIDTH = 320

# status codes of a video in an index (column `status`); "ok" means usable
STATUS_OK = "ok"
STATUS_MISSING = "missing"  # listed in a split file, no file on disk
STATUS_EMPTY = "empty"  # file of 0 bytes
STATUS_UNREADABLE = "unreadable"  # the container or codec cannot be opened, or no video stream
STATUS_TRUNCATED = "truncated"  # fewer frames than the header declares, or a decode error midway
STATUS_NO_FRAMES = "no_frames"  # opens, but no frame decodes
STATUS_CODES = (
    STATUS_OK,
    STATUS_MISSING,
    STATUS_EMPTY,
    STATUS_UNREADABLE,
    STATUS_TRUNCATED,
    STATUS_NO_FRAMES,
)


@dataclass
class Probe:
    """What the index records about one file."""

    status: str
    reason: str = ""
    n_frames: int = 0
    fps: float = 0.0
    width: int = 0
    height: int = 0


def _open(path: str | os.PathLike):
    import av

    return av.open(str(path), metadata_errors="ignore")


def probe(path: str | os.PathLike, verify: str = "decode") -> Probe:
    """Check one video file and count its frames.

    verify="decode" decodes every frame (exact frame count, catches corrupt data);
    verify="packets" only demuxes (fast, counts packets); verify="header" trusts the header.
    A file is `truncated` when it yields fewer frames than its header declares or fails midway.
    """
    import av

    path = Path(path)
    if not path.exists():
        return Probe(STATUS_MISSING, f"file not found: {path}")
    if path.stat().st_size == 0:
        return Probe(STATUS_EMPTY, f"file is empty (0 bytes): {path}")
    try:
        container = _open(path)
    except (av.FFmpegError, OSError, ValueError) as exc:
        return Probe(STATUS_UNREADABLE, f"cannot open {path}: {exc}")
    try:
        if not container.streams.video:
            return Probe(STATUS_UNREADABLE, f"no video stream in {path}")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        width, height = int(stream.width or 0), int(stream.height or 0)
        declared = int(stream.frames or 0)
        count = 0
        error = ""
        try:
            if verify == "header":
                count = declared
            elif verify == "packets":
                for packet in container.demux(stream):
                    if packet.size > 0:
                        count += 1
            else:
                for _ in container.decode(stream):
                    count += 1
        except (av.FFmpegError, OSError, ValueError) as exc:
            error = str(exc)
        result = Probe(STATUS_OK, "", count, fps, width, height)
        if error:
            result.status = STATUS_TRUNCATED
            result.reason = f"decoding stopped after {count} frames: {error}"
        elif count == 0:
            result.status = STATUS_NO_FRAMES
            result.reason = f"no frames could be read from {path}"
        elif declared > 0 and count < declared:
            result.status = STATUS_TRUNCATED
            result.reason = f"header declares {declared} frames but only {count} could be read"
        return result
    finally:
        container.close()


def resize_frame(frame: np.ndarray, height: int = FRAME_HEIGHT, width: int = FRAME_WIDTH):
    if frame.shape[0] == height and frame.shape[1] == width:
        return frame
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def central_crop(frame: np.ndarray, size: int) -> np.ndarray:
    """Central size x size crop of an (H, W, ...) frame (or (N, H, W, ...) batch if given)."""
    h, w = frame.shape[-3], frame.shape[-2]
    if size > h or size > w:
        raise ValueError(f"crop {size} is larger than the frame {h}x{w}")
    top, left = (h - size) // 2, (w - size) // 2
    return frame[..., top : top + size, left : left + size, :]


def iter_frames(
    path: str | os.PathLike,
    start: int = 0,
    count: int | None = None,
    resize: bool = True,
) -> Iterator[np.ndarray]:
    """Yield uint8 RGB frames (H, W, 3) of a video, streaming, resized to 240x320 if `resize`.

    `start` and `count` select a frame range (used for clips); decoding starts at the beginning
    and skips frames before `start`, which is exact for any codec.
    """
    container = _open(path)
    try:
        stream = container.streams.video[0]
        # no frame threading: on few cores it is slower than one thread per process and workers
        # already decode videos in parallel (benchmarks/bench_percepts.py measures both)
        index = 0
        stop = None if count is None else start + count
        for frame in container.decode(stream):
            if stop is not None and index >= stop:
                break
            if index >= start:
                array = frame.to_ndarray(format="rgb24")
                yield resize_frame(array) if resize else array
            index += 1
    finally:
        container.close()


def read_frames(path: str | os.PathLike, **kwargs) -> np.ndarray:
    """All frames of one video as (T, H, W, 3) uint8 (one video fits in memory; a dataset not)."""
    frames = list(iter_frames(path, **kwargs))
    if not frames:
        return np.zeros((0, FRAME_HEIGHT, FRAME_WIDTH, 3), np.uint8)
    return np.stack(frames)
