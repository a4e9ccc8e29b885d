"""`videolstm plan`: expected disk and compute of every stage of a configuration (videolstm.plan).

    videolstm plan --configfile config/paper.yaml      (overlaid on config/config.yaml)
"""

from __future__ import annotations

import argparse
from pathlib import Path

BASE = Path("config") / "config.yaml"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="expected disk and compute per stage, before anything runs")
    p.add_argument("--configfile", nargs="*", default=[],
                   help="overlays on config/config.yaml, as snakemake --configfile")
    p.add_argument("--results", default=None,
                   help="results folder where indexes are found (default: the config's results_dir)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videolstm.config import load_config
    from videolstm.plan import make_plan, render

    files = [BASE, *[Path(f) for f in args.configfile if Path(f) != BASE]]
    cfg = load_config(*files)
    print(render(make_plan(cfg, args.results)), end="")
    return 0
