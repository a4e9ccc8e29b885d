"""`videolstm run-record`: what a whole workflow run took and where it ran, for committed results.

    videolstm run-record --results results-cpu --config config/cpu.yaml --start EPOCH_SECONDS

Writes {results}/run.json: wall time from --start to now, the machine (CPU model, cores, native
bf16, torch), the commit, and each job's own wall time from Snakemake's benchmark files
({results}/benchmarks/**.tsv), so a reader sees what the committed tables cost to make.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import time
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run-record", help="write {results}/run.json: wall time, machine, job times")
    p.add_argument("--results", required=True, help="the run's results folder")
    p.add_argument("--config", required=True, help="the config file the run used")
    p.add_argument("--start", required=True, type=float, help="start time, seconds since the epoch")
    p.add_argument("--commit", default=None, help="what code ran, when not this checkout's HEAD")
    p.set_defaults(func=run)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit() -> str:
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def job_seconds(bench_dir: Path, since: float = 0.0) -> dict[str, float]:
    """{job: wall seconds} from Snakemake's benchmark TSVs (column s) written since `since`."""
    out = {}
    for tsv in sorted(bench_dir.rglob("*.tsv")):
        if tsv.stat().st_mtime < since:  # a job of an earlier run
            continue
        with tsv.open() as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if rows and "s" in rows[0]:
            out[str(tsv.relative_to(bench_dir).with_suffix(""))] = round(float(rows[0]["s"]), 1)
    return out


def run(args: argparse.Namespace) -> int:
    import torch

    from videolstm.io import atomic_write_json
    from videolstm.train import cpu_has_native_bf16

    results = Path(args.results)
    wall = time.time() - args.start
    jobs = job_seconds(results / "benchmarks", since=args.start)
    record = {
        "config": args.config, "commit": args.commit or _commit(), "wall_seconds": round(wall, 1),
        "wall": f"{int(wall // 60)} min {int(wall % 60)} s",
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "native_bf16": cpu_has_native_bf16(),
                    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                    "torch": torch.__version__, "python": platform.python_version()},
        "job_seconds": jobs, "job_seconds_total": round(sum(jobs.values()), 1),
    }
    atomic_write_json(results / "run.json", record)
    print(f"{results}/run.json: {record['wall']} wall on {record['machine']['cpu']} "
          f"x{record['machine']['cores']}")
    return 0
