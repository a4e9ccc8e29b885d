"""Video indexes built from the official split files of UCF-101 and HMDB-51.

One row per listed video with the columns of INDEX_COLUMNS. `path` is relative to the dataset
root; `label` is 0-based (UCF-101: classInd number - 1; HMDB-51: position in the sorted class
list); split columns hold train, test or unused; `group` is UCF-101's gNN (HMDB-51: the source
prefix of the file name before `_<class>_`, empty when there is none).

The official files have quirks that are handled here, and tested:
- CRLF line endings (UCF-101 lists), a UTF-8 BOM, blank lines, trailing spaces (HMDB-51 lines
  read "name.avi 1 "), backslashes in paths;
- class names whose case differs between the lists, the folders and the file names (UCF-101's
  HandstandPushups folder holds v_HandStandPushups_*.avi): classes are matched case-insensitively
  and files are found on disk case-insensitively, the canonical name being classInd's.

Every listed video is probed (decode.probe). Unusable ones get a status and a reason; building
the index fails with a summary of them unless skipping is allowed, in which case they stay in the
index (status != ok) and every downstream stage reports how many were skipped.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from videolstm.errors import UserError
from videolstm.video import VIDEO_EXTENSIONS
from videolstm.video.decode import STATUS_OK, Probe, probe

INDEX_COLUMNS = [
    "video", "path", "class_name", "label", "group", "split1", "split2", "split3",
    "n_frames", "fps", "width", "height", "status", "reason",
]
SPLITS = (1, 2, 3)
UCF_SPLITS_DIR = "ucfTrainTestlist"
HMDB_SPLITS_DIR = "testTrainMulti_7030_splits"
DATASET_KINDS = ("ucf101", "hmdb51", "folder")


@dataclass
class IndexConfig:
    """Config section datasets.<name> (paths come from the command line)."""

    allow_skip: bool = False
    verify: str = "decode"  # decode | packets | header
    workers: int = 1

    @classmethod
    def from_dict(cls, values: dict, workers: int = 1) -> IndexConfig:
        return cls(allow_skip=bool(values.get("allow_skip", False)),
                   verify=values.get("verify", "decode"), workers=workers)


def read_list(path: Path) -> list[str]:
    """Lines of an official list file: BOM, CRLF/CR, trailing spaces and blank lines removed."""
    return [line for _, line in read_numbered(path)]


def read_numbered(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of read_list's lines, numbered as an editor shows the file."""
    if not path.is_file():
        raise UserError(f"split file {path} does not exist; unpack the official split archive "
                        "so that it is there (or set the dataset's splits_dir)")
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    return [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]


def in_class_folder(listed: str, where: Path, lineno: int) -> str:
    """`listed` (a split entry, '/' separated) normalised: '.' and '..' parts resolved. An entry
    whose '..' leaves its class folder (`MoveRight/../MoveLeft/v_X.avi`: a MoveLeft video
    listed under MoveRight) is refused, as it would index one video twice under two labels."""
    norm = posixpath.normpath(listed)
    first, norm_first = listed.split("/")[0], norm.split("/")[0]
    if ".." in listed.split("/") and ("/" not in norm or first.lower() != norm_first.lower()):
        raise UserError(f"{where}, line {lineno}: entry {listed!r} climbs out of its class folder "
                        f"{first!r} (it names {norm!r}); refused, as it would index that video "
                        "under a second class: list it as <Class>/<file> in its own class")
    return norm


class ListedOnce:
    """Each video (its normalised path, case-insensitive) listed in one form with one label: the
    first split-file line naming it, to name both lines of a conflict."""

    def __init__(self) -> None:
        self.first: dict[str, tuple[str, int, Path, int]] = {}

    def check(self, key: str, form: str, label: int, where: Path, lineno: int) -> None:
        seen = self.first.setdefault(key, (form, label, where, lineno))
        old_form, old_label, old_where, old_line = seen
        here, there = f"{where}, line {lineno}", f"{old_where}, line {old_line}"
        if old_label != label:
            raise UserError(f"{here}: {form!r} is the video {there} lists as {old_form!r}, with "
                            "another label; refused (one video, one class): remove one of the "
                            "two lines")
        if old_form.lower() != form.lower():
            raise UserError(f"{here}: {form!r} is the video {there} lists as {old_form!r}; "
                            "refused (one video listed in two forms): list it the same way in "
                            "every split file")


class DiskFiles:
    """Case-insensitive lookup of files below a root (one walk)."""

    def __init__(self, root: Path):
        self.root = root
        self.by_lower: dict[str, str] = {}
        self.dirs_lower: dict[str, str] = {}
        if root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                rel_dir = Path(dirpath).relative_to(root).as_posix()
                for d in dirnames:
                    rel = d if rel_dir == "." else f"{rel_dir}/{d}"
                    self.dirs_lower.setdefault(rel.lower(), rel)
                for f in filenames:
                    rel = f if rel_dir == "." else f"{rel_dir}/{f}"
                    self.by_lower.setdefault(rel.lower(), rel)

    def find(self, rel: str) -> str | None:
        return self.by_lower.get(rel.replace("\\", "/").lower())


def inside_root(root: Path, listed: str) -> None:
    """Refuse a split-file entry that points outside the dataset root (absolute, or '..' up)."""
    rel = Path(listed.replace("\\", "/"))
    resolved = os.path.normpath(os.path.join(str(root), str(rel)))
    up = os.path.relpath(resolved, os.path.normpath(str(root)))
    if rel.is_absolute() or up == ".." or up.startswith(".." + os.sep):
        raise UserError(f"split-file entry {listed!r} points outside the dataset root {root}; "
                        "refused (fix or remove that line of the split file)")


def _norm_class(name: str) -> str:
    return name.strip().lower()


# ---------------------------------------------------------------------------------------------
# UCF-101


def parse_ucf101(root: Path, splits_dir: Path | None = None) -> pd.DataFrame:
    """Rows (without probe columns) from ucfTrainTestlist/{classInd,trainlist0N,testlist0N}.txt."""
    splits_dir = splits_dir or root / UCF_SPLITS_DIR
    classes: dict[int, str] = {}
    for line in read_list(splits_dir / "classInd.txt"):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise UserError(f"{splits_dir / 'classInd.txt'}: cannot parse line {line!r} "
                            "(expected '<number> <ClassName>')")
        classes[int(parts[0])] = parts[1]
    by_lower = {_norm_class(n): (i, n) for i, n in classes.items()}
    rows: dict[str, dict] = {}

    def class_of(listed: str, where: Path) -> tuple[int, str]:
        folder = listed.split("/")[0] if "/" in listed else ""
        if folder and _norm_class(folder) in by_lower:
            return by_lower[_norm_class(folder)]
        m = re.match(r"v_(.+?)_g\d+_c\d+", Path(listed).stem, flags=re.IGNORECASE)
        if m and _norm_class(m.group(1)) in by_lower:
            return by_lower[_norm_class(m.group(1))]
        raise UserError(f"{where}: the class of {listed!r} is not in classInd.txt")

    once = ListedOnce()
    for s in SPLITS:
        for kind in ("train", "test"):
            where = splits_dir / f"{kind}list0{s}.txt"
            for lineno, line in read_numbered(where):
                parts = line.split()
                form = parts[0].replace("\\", "/")
                listed = in_class_folder(form, where, lineno)
                number, cls = class_of(listed, where)
                once.check(listed.lower(), form, number, where, lineno)
                if kind == "train" and len(parts) > 1:
                    if not parts[1].isdigit() or int(parts[1]) not in classes:
                        raise UserError(f"{where}: bad label in line {line!r}")
                    if int(parts[1]) != number:
                        raise UserError(f"{where}: {listed} is labelled {parts[1]} but its class "
                                        f"{cls} is number {number} in classInd.txt")
                key = listed.lower()
                row = rows.setdefault(key, {
                    "video": Path(listed).stem, "listed": listed, "class_name": cls,
                    "label": number - 1, "group": _ucf_group(listed),
                    **{f"split{k}": "unused" for k in SPLITS},
                })
                if row[f"split{s}"] != "unused" and row[f"split{s}"] != kind:
                    raise UserError(f"{listed} is both in trainlist0{s}.txt and testlist0{s}.txt")
                row[f"split{s}"] = kind
    return _with_paths(root, list(rows.values()))


def _ucf_group(listed: str) -> str:
    m = re.search(r"_g(\d+)_c\d+", Path(listed).stem, flags=re.IGNORECASE)
    return f"g{int(m.group(1)):02d}" if m else ""


# ---------------------------------------------------------------------------------------------
# HMDB-51


def parse_hmdb51(root: Path, splits_dir: Path | None = None) -> pd.DataFrame:
    """Rows from testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt.

    Ids: 1 train, 2 test, 0 unused.
    """
    splits_dir = splits_dir or root / HMDB_SPLITS_DIR
    if not splits_dir.is_dir():
        raise UserError(f"HMDB-51 split folder {splits_dir} does not exist; unpack "
                        "test_train_splits.rar there (or set datasets.hmdb51.splits_dir)")
    found: dict[str, dict[int, Path]] = {}
    names: dict[str, str] = {}
    for f in sorted(splits_dir.iterdir()):
        m = re.match(r"^(.+)_test_split([123])\.txt$", f.name.strip(), flags=re.IGNORECASE)
        if m:
            names.setdefault(_norm_class(m.group(1)), m.group(1))
            found.setdefault(_norm_class(m.group(1)), {})[int(m.group(2))] = f
    if not found:
        raise UserError(f"no <class>_test_split<N>.txt files in {splits_dir}")
    disk = DiskFiles(root)
    labels = {c: i for i, c in enumerate(sorted(found))}
    role = {"1": "train", "2": "test", "0": "unused"}
    rows: dict[str, dict] = {}
    once, given = ListedOnce(), {}
    for lower, per_split in sorted(found.items()):
        missing = [s for s in SPLITS if s not in per_split]
        if missing:
            raise UserError(f"{splits_dir}: class {names[lower]} has no split file for split(s) "
                            f"{missing}")
        # canonical class name: the folder on disk if there is one (matched ignoring case)
        cls = disk.dirs_lower.get(lower, names[lower])
        for s in SPLITS:
            for lineno, line in read_numbered(per_split[s]):
                parts = line.split()
                if len(parts) != 2 or parts[1] not in role:
                    raise UserError(f"{per_split[s]}: cannot parse line {line!r} "
                                    "(expected '<video>.avi <0|1|2>')")
                form = f"{cls}/{parts[0].replace(chr(92), '/')}"
                listed = in_class_folder(form, per_split[s], lineno)
                key = listed.lower()
                once.check(key, form, labels[lower], per_split[s], lineno)
                said = given.setdefault((key, s), (parts[1], lineno))
                if said[0] != parts[1]:
                    raise UserError(f"{per_split[s]}, line {lineno}: {parts[0]} is listed again "
                                    f"with id {parts[1]}; line {said[1]} gives it id {said[0]}: "
                                    "keep one line per video")
                row = rows.setdefault(key, {
                    "video": Path(listed).stem, "listed": listed,
                    "class_name": cls, "label": labels[lower],
                    "group": _hmdb_group(parts[0], cls),
                    **{f"split{k}": "unused" for k in SPLITS},
                })
                row[f"split{s}"] = role[parts[1]]
    return _with_paths(root, list(rows.values()), disk)


def _hmdb_group(name: str, cls: str) -> str:
    """The source clip of an HMDB-51 video: <source>_<class>_<6 attribute fields>.avi.

    The source may itself contain the class word (`Parkour_Dive_dive_f_cm_np1_ri_bad_0`,
    `How_To_Pour_Ice_Tea_pour_u_nm_np1_fr_goo_0`), so the class is matched just before the six
    trailing attribute fields (body, camera, people, view, quality, index), not at its first
    occurrence.
    """
    fields = Path(name).stem.split("_")
    suffix = f"_{cls.lower()}"
    if len(fields) > 6:
        prefix = "_".join(fields[:-6])
        if prefix.lower().endswith(suffix) and len(prefix) > len(suffix):
            return prefix[: -len(suffix)]
    pos = name.lower().rfind(suffix + "_")
    return name[:pos] if pos > 0 else ""


# ---------------------------------------------------------------------------------------------
# any folder of videos (unlabelled sources)


def parse_folder(root: Path) -> pd.DataFrame:
    if not root.is_dir():
        raise UserError(f"video folder {root} does not exist")
    disk = DiskFiles(root)
    rows = []
    for rel in sorted(disk.by_lower.values()):
        if rel.lower().endswith(VIDEO_EXTENSIONS):
            rows.append({"video": Path(rel).stem, "listed": rel, "class_name": "", "label": -1,
                         "group": "", **{f"split{k}": "unused" for k in SPLITS}})
    if not rows:
        raise UserError(f"no video files ({', '.join(VIDEO_EXTENSIONS)}) under {root}")
    return _with_paths(root, rows, disk)


def _with_paths(root: Path, rows: list[dict], disk: DiskFiles | None = None) -> pd.DataFrame:
    disk = disk or DiskFiles(root)
    for row in rows:
        inside_root(root, row["listed"])
        row["path"] = disk.find(row["listed"]) or row["listed"]
        del row["listed"]
    frame = pd.DataFrame(rows)
    return frame.sort_values(["label", "path"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# probing and the whole index


def _probe(args: tuple[str, str]) -> Probe:
    return probe(args[0], verify=args[1])


def probe_all(paths: list[Path], verify: str = "decode", workers: int = 1) -> list[Probe]:
    args = [(str(p), verify) for p in paths]
    if workers > 1 and len(args) > 1:
        with ProcessPoolExecutor(workers) as pool:
            return list(pool.map(_probe, args, chunksize=8))
    return [_probe(a) for a in args]


def build_index(dataset: str, root: str | Path, cfg: IndexConfig,
                splits_dir: str | Path | None = None) -> pd.DataFrame:
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"dataset root {root} does not exist; unpack the dataset there or set "
                        f"datasets.{dataset}.root")
    sd = Path(splits_dir) if splits_dir else None
    if dataset == "ucf101":
        frame = parse_ucf101(root, sd)
    elif dataset == "hmdb51":
        frame = parse_hmdb51(root, sd)
    elif dataset == "folder":
        frame = parse_folder(root)
    else:
        raise UserError(f"unknown dataset kind {dataset!r}; choose one of {DATASET_KINDS}")
    probes = probe_all([root / p for p in frame["path"]], cfg.verify, cfg.workers)
    for col in ("n_frames", "fps", "width", "height", "status", "reason"):
        frame[col] = [getattr(p, col) for p in probes]
    frame["fps"] = frame["fps"].round(4)
    return frame[INDEX_COLUMNS]


def problems_summary(frame: pd.DataFrame, limit: int = 20) -> str:
    bad = frame[frame["status"] != STATUS_OK]
    counts = Counter(bad["status"])
    head = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    lines = [f"{len(bad)} of {len(frame)} listed videos are not usable ({head})"]
    for _, row in bad.head(limit).iterrows():
        lines.append(f"  {row['path']}: {row['status']} ({row['reason']})")
    if len(bad) > limit:
        lines.append(f"  ... and {len(bad) - limit} more")
    return "\n".join(lines)


def write_index(frame: pd.DataFrame, out: str | Path) -> None:
    from videolstm.io import atomic_path, atomic_write_text

    out = Path(out)
    if out.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise UserError(f"writing {out} needs pyarrow (pip install pyarrow), which this "
                            "environment does not pin; use a .csv index instead") from exc
        with atomic_path(out) as tmp:
            frame.to_parquet(tmp, index=False)
    else:
        atomic_write_text(out, frame.to_csv(index=False, lineterminator="\n"))


def read_index(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"video index {path} does not exist; build it with `videolstm index`")
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, keep_default_na=False, dtype={"group": str, "reason": str,
                                                                 "class_name": str})
    missing = [c for c in INDEX_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(f"{path} is not a video index (missing columns {missing})")
    return frame


def usable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] == STATUS_OK].reset_index(drop=True)


def check_groups_disjoint(frame: pd.DataFrame) -> list[str]:
    """(class, group) pairs that straddle train and test in some split (should be empty)."""
    bad = []
    with_group = frame[frame["group"].astype(str) != ""]
    for s in SPLITS:
        roles = with_group.groupby(["class_name", "group"])[f"split{s}"].agg(
            lambda v: {"train", "test"} <= set(v))
        bad += [f"split{s}: {c}/{g}" for (c, g), straddles in roles.items() if straddles]
    return bad
