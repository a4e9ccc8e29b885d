"""`videolstm unlock-stale`: the workspace chores `make reproduce` does before Snakemake starts."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    u = sub.add_parser("unlock-stale", help="remove Snakemake's lock here when no run holds it "
                                            "(left by a killed run); make reproduce calls it")
    u.set_defaults(func=run_unlock)


def run_unlock(args: argparse.Namespace) -> int:
    from videolstm.environment import remove_stale_lock

    if remove_stale_lock("."):
        print(">> removed a stale Snakemake lock (a killed run left it; no run holds it now)")
    return 0
