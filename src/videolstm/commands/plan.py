"""`videolstm plan`: expected disk and compute of every stage of a configuration (videolstm.plan);
`videolstm check`: whether every input it names is there (videolstm.check).

    videolstm plan --configfile config/paper.yaml      (overlaid on config/config.yaml)
    videolstm check --configfile config/paper.yaml
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

    c = sub.add_parser("check", help="whether every input the configuration names is there "
                                     "(the workflow runs this check before any job)")
    c.add_argument("--configfile", nargs="*", default=[],
                   help="overlays on config/config.yaml, as snakemake --configfile")
    c.set_defaults(func=run_check)


def _config(args: argparse.Namespace) -> dict:
    from videolstm.config import load_config

    return load_config(*[BASE, *[Path(f) for f in args.configfile if Path(f) != BASE]])


def run_check(args: argparse.Namespace) -> int:
    from videolstm.check import check_inputs

    for line in check_inputs(_config(args)):
        print(f"ok: {line}")
    return 0


def run(args: argparse.Namespace) -> int:
    from videolstm import job_resources
    from videolstm.plan import make_plan, render

    cfg = _config(args)
    if args.results:
        cfg = {**cfg, "results_dir": args.results}
    print(render(make_plan(cfg, args.results)), end="")
    res = cfg.get("resources") or {}
    where = (f"a {res['gpu_mem_gb']} GB GPU (resources.gpu_mem_gb)" if job_resources.on_gpu(cfg)
             else "the CPU (no resources.gpu_mem_gb, or device cpu)")
    declared = ("declared to the scheduler" if res.get("from_plan")
                else "resources.from_plan is false: the rules declare fixed values")
    print(f"\nper model job (one of each shape; sized for {where}; {declared}):")
    print(job_resources.render_jobs(cfg), end="")
    for problem in job_resources.fit_problems(cfg):
        print(f"does not fit: {problem}")
    return 0
