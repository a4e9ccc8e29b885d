"""Atomic writers: a reader never sees a half-written output.

Each writer writes a temporary file in the destination folder, flushes it to disk and renames it
over the target (rename is atomic on POSIX within one file system). On any failure the temporary
file is removed and the previous output, if any, is left untouched.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from videolstm.errors import UserError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success rename it onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if isinstance(exc, OSError) and exc.errno and not exc.filename:  # a write's error (e.g.
            raise OSError(exc.errno, exc.strerror, str(path)) from exc  # EFBIG) names no file
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def atomic_save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


NPY_MAGIC = b"\x93NUMPY"


def load_npy(path: str | os.PathLike, mmap: bool = False) -> np.ndarray:
    """np.load of a plain .npy array, never unpickling; a file that is not one (text, truncated,
    pickled objects) gets one line naming it, instead of numpy's advice to allow pickles."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"array file {path} does not exist; run the step that writes it first")
    with open(path, "rb") as f:
        if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise UserError(f"{path} is not a .npy array file (no NPY header); rewrite it with "
                            "numpy.save or rerun the step that writes it")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise UserError(f"{path} cannot be read as a .npy array ({exc}); it may be truncated or "
                        "hold Python objects: rerun the step that writes it") from exc


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> None:
    import torch

    # serialise in memory first: torch's zip writer turns a full disk into an opaque RuntimeError,
    # a plain write gives OSError(ENOSPC) that the CLI reports as such
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
