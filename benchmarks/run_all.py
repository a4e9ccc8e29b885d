"""Run every benchmarks/bench_*.py (each in a fresh process), then render the results table.

    python benchmarks/run_all.py [--out DIR] [--only NAME ...]

Each script runs from the repository root with BENCH_OUT=<out> in its environment and writes
<out>/<benchmark name>.json (see common.write_results); the table goes to <out>/README.md. A
failing script is reported and the others still run; the exit status is nonzero if any failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--only", nargs="*", help="script stems to run, e.g. bench_lstm")
    args = parser.parse_args(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem in args.only or s.stem[6:] in args.only]
    failed = []
    for script in scripts:
        print(f">> {script.name}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        # scripts read the results folder from BENCH_OUT (common.out_dir_arg); run from the root
        env = dict(os.environ, BENCH_OUT=str(Path(args.out).resolve()))
        rc = subprocess.call([sys.executable, str(script)], cwd=HERE.parent, env=env)
        took = time.perf_counter() - start
        print(f"   {script.name}: {'ok' if rc == 0 else f'FAILED ({rc})'} in {took:.0f} s",
              file=sys.stderr, flush=True)
        if rc != 0:
            failed.append(script.name)
    subprocess.call([sys.executable, str(HERE / "report.py"), "--results", args.out])
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
