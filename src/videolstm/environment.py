"""The workflow's jobs run `videolstm`: find it beside the Python that runs Snakemake."""

from __future__ import annotations

import os
import sys


def put_python_bin_first() -> None:
    """Prepend the running interpreter's bin folder to PATH, so `.venv/bin/snakemake` works
    without activating the environment (jobs inherit the variable)."""
    here = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != here:
        os.environ["PATH"] = here + os.pathsep + path


def remove_stale_lock(workdir: str | os.PathLike = ".") -> bool:
    """Remove Snakemake's lock files in `workdir` when no Snakemake process runs there (a run
    killed with -9 leaves them, and the next run stops at "Directory cannot be locked").
    Returns whether a lock was removed. Linux only (/proc); elsewhere it never removes anything."""
    from pathlib import Path

    workdir = Path(workdir).resolve()
    locks = workdir / ".snakemake" / "locks"
    files = [p for p in locks.iterdir() if p.is_file()] if locks.is_dir() else []
    proc = Path("/proc")
    if not files or not proc.is_dir():
        return False
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")[:3]  # python -m snakemake
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:  # gone, or not ours to read
            continue
        if cwd == workdir and any(b"snakemake" in os.path.basename(a) for a in argv):
            return False  # a live run holds the lock
    for path in files:
        path.unlink(missing_ok=True)
    return True
