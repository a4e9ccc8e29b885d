"""Shared helpers of the benchmarks: device names, interleaved timing, result rows.

A result row is a dict with the fields

    name       benchmark name (one of the names the performance issue requires)
    variant    what exactly was measured within that benchmark ("" if only one thing)
    device     e.g. "cpu: AMD EPYC (family 25 model 17) x2 cores" or "cuda: NVIDIA H100 80GB HBM3"
    shape      the problem size, as text ("T=16 B=32 H=512 D=1024")
    value      our measurement, 3 significant digits
    unit       e.g. "ms", "sequences/s", "frames/s"
    better     "lower" or "higher": which direction of `value` is better
    baseline   what we compare against, measured in the SAME run on the same device
    baseline_value
    ratio      value / baseline_value (so with better=lower, ratio < 1 means we are faster)
    commit     `git rev-parse --short HEAD` ("+dirty" when the tree had local changes)
    load       the 1-minute load average when the row was written (other work on the machine
               slows both sides of a ratio, but not always equally: distrust rows with load > cores)
    note       free text (e.g. the issue's target)

Files are written without timestamps, rows sorted, so that they differ between runs only in the
measured values. Timing interleaves the candidates (A B A B ...) and keeps each one's best
repeat, which holds up on a shared, noisy machine far better than back-to-back averages.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"

FIELDS = (
    "name", "variant", "device", "shape", "value", "unit", "better",
    "baseline", "baseline_value", "ratio", "commit", "load", "note",
)


@functools.cache
def cpu_name() -> str:
    """'AMD EPYC (family 25 model 17) x2 cores' from /proc/cpuinfo, or platform data."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, val = line.partition(":")
            info.setdefault(key.strip(), val.strip())
    except OSError:
        pass
    model = info.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in info and "model" in info:
        model += f" (family {info['cpu family']} model {info['model']})"
    return f"{model} x{os.cpu_count()} cores"


def device_name(device: str | torch.device = "cpu") -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    n = torch.get_num_threads()
    return f"cpu: {cpu_name()}, {n} thread{'s' if n != 1 else ''}"


def cuda_available() -> bool:
    return torch.cuda.is_available()


@functools.cache
def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        rev = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")


def sync(device: str | torch.device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def compare(
    candidates: dict[str, Callable[[], object]],
    repeats: int = 5,
    warmup: int = 1,
    inner: int = 1,
    device: str | torch.device = "cpu",
    clock: str = "wall",
) -> dict[str, float]:
    """Seconds per call of each candidate: best of `repeats` interleaved rounds of `inner` calls.

    clock="cpu" counts this process's CPU time instead of wall time: with one thread that is less
    exposed to other work on the machine (used for the single-thread cross-check rows).
    """
    now = time.process_time if clock == "cpu" else time.perf_counter
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    sync(device)
    best = {k: float("inf") for k in candidates}
    for _ in range(repeats):
        for key, fn in candidates.items():
            sync(device)
            start = now()
            for _ in range(inner):
                fn()
            sync(device)
            best[key] = min(best[key], (now() - start) / inner)
    return best


def sig(x: float, digits: int = 3) -> float:
    return float(f"{x:.{digits}g}")


def row(
    name: str,
    *,
    device: str,
    shape: str,
    value: float,
    unit: str,
    better: str,
    baseline: str,
    baseline_value: float,
    variant: str = "",
    note: str = "",
) -> dict:
    if better not in ("lower", "higher"):
        raise ValueError("better must be 'lower' or 'higher'")
    return {
        "name": name,
        "variant": variant,
        "device": device,
        "shape": shape,
        "value": sig(value),
        "unit": unit,
        "better": better,
        "baseline": baseline,
        "baseline_value": sig(baseline_value),
        "ratio": sig(value / baseline_value) if baseline_value else None,
        "commit": git_commit(),
        "load": round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None,
        "note": note,
    }


def write_results(name: str, rows: list[dict], out_dir: str | os.PathLike | None = None) -> Path:
    """Write rows to <out_dir>/<name>.json (atomically; sorted; no timestamps) and print them."""
    out = Path(out_dir) if out_dir else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: (r["name"], r["device"], r["variant"], r["shape"]))
    for r in rows:
        missing = [f for f in FIELDS if f not in r]
        if missing:
            raise ValueError(f"row {r.get('name')!r} lacks fields {missing}")
    path = out / f"{name}.json"
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    for r in rows:
        print(
            f"{r['name']:28s} {r['variant']:28s} {r['value']:>10g} {r['unit']:12s} "
            f"ratio {r['ratio']} vs {r['baseline']} ({r['device']})",
            file=sys.stderr,
        )
    return path


def out_dir_arg(argv: list[str] | None = None) -> Path:
    """The common command line of every bench script: [--out DIR] (default: $BENCH_OUT, which
    run_all.py sets, else benchmarks/results)."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.environ.get("BENCH_OUT") or str(RESULTS),
                        help="results folder")
    return Path(parser.parse_args(argv).out)
