"""Frame arrays: `{stem}.npy` (total_frames, ...) + `{stem}.offsets.npy` int64 (n_seq + 1,).

Arrays are written streaming (rows appended as they are computed, the final shape patched into a
fixed-size .npy header at the end) and atomically (temporary file + rename), so a dataset's
frames are never all in memory and a reader never sees a half-written file. Readers memory-map.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from videolstm.io import atomic_path, atomic_save_npy, atomic_write_json, load_npy

HEADER_BYTES = 128  # magic (6) + version (2) + length (2) + dict padded with spaces + "\n"


def stem_of(path: str | Path) -> Path:
    """results/percepts/x/rgb.npy -> results/percepts/x/rgb"""
    path = Path(path)
    return path.with_suffix("") if path.suffix == ".npy" else path


def offsets_path(path: str | Path) -> Path:
    return stem_of(path).with_name(stem_of(path).name + ".offsets.npy")


def json_path(path: str | Path) -> Path:
    return stem_of(path).with_name(stem_of(path).name + ".json")


def _header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    text = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                 "shape": tuple(int(s) for s in shape)})
    body_len = HEADER_BYTES - 10
    if len(text) + 1 > body_len:
        raise ValueError(f"shape {shape} does not fit the fixed npy header")
    body = text.ljust(body_len - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", body_len) + body.encode("latin1")


class ArrayWriter:
    """Append rows of shape `row_shape` and dtype `dtype`; count rows per sequence."""

    def __init__(self, fh, row_shape: tuple[int, ...], dtype):
        self.fh = fh
        self.row_shape = tuple(row_shape)
        self.dtype = np.dtype(dtype)
        self.rows = 0
        self.lengths: list[int] = []
        fh.write(_header(self.dtype, (0, *self.row_shape)))

    def append(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape[1:] != self.row_shape:
            raise ValueError(f"rows of shape {rows.shape[1:]} given, {self.row_shape} expected")
        self.fh.write(rows.tobytes())
        self.rows += rows.shape[0]

    def end_sequence(self) -> None:
        """Close the current sequence (video, clip): its length is rows since the last call."""
        self.lengths.append(self.rows - sum(self.lengths))

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.lengths, dtype=np.int64)]).astype(np.int64)


@contextlib.contextmanager
def write_frames(path: str | Path, row_shape: tuple[int, ...], dtype=np.float16,
                 meta: dict | None = None) -> Iterator[ArrayWriter]:
    """Stream rows into `path` (.npy), then write `.offsets.npy` and, if given, `.json` (meta)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            writer = ArrayWriter(fh, row_shape, dtype)
            yield writer
            if sum(writer.lengths) != writer.rows:
                writer.end_sequence()
            fh.seek(0)
            fh.write(_header(writer.dtype, (writer.rows, *writer.row_shape)))
    atomic_save_npy(offsets_path(path), writer.offsets)
    if meta is not None:
        atomic_write_json(json_path(path), {**meta, "n_frames": writer.rows,
                                            "n_sequences": len(writer.lengths)})


def load_frames(path: str | Path, mmap: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(frames, offsets); frames memory-mapped by default."""
    from videolstm.errors import UserError

    path = Path(path)
    if not path.is_file() or not offsets_path(path).is_file():
        raise UserError(f"frame array {path} (with {offsets_path(path).name}) does not exist; "
                        "run the stage that writes it first")
    frames = load_npy(path, mmap=mmap)
    offsets = load_npy(offsets_path(path))
    return frames, offsets


def load_meta(path: str | Path) -> dict:
    import json

    p = json_path(path)
    return json.loads(p.read_text()) if p.is_file() else {}
