"""`videolstm metrics`: every table's values in one JSON file, for `dvc metrics show/diff`."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from videolstm.errors import UserError
from videolstm.io import atomic_write_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("metrics", help="collect table CSVs into one JSON of metrics for DVC")
    p.add_argument("tables", nargs="+", help="table CSVs written by the table commands")
    p.add_argument("--out", required=True)
    p.set_defaults(func=run)


def collect(paths: list[str]) -> dict:
    """{table: {row: {column: {"ours": x, "paper": y}}}}, numbers only, sorted keys."""
    out: dict = {}
    for path in sorted(paths):
        p = Path(path)
        if not p.is_file():
            raise UserError(f"table {p} does not exist; run the rule that writes it first")
        df = pd.read_csv(p)
        missing = {"row", "column", "ours", "paper"} - set(df.columns)
        if missing:
            raise UserError(f"{p} lacks the columns {sorted(missing)} of a rendered table")
        table: dict = {}
        for rec in df.to_dict("records"):
            cell = {}
            for key in ("ours", "paper"):
                value = pd.to_numeric(pd.Series([rec[key]]), errors="coerce").iloc[0]
                if pd.notna(value):
                    cell[key] = round(float(value), 6)
            if cell:
                table.setdefault(str(rec["row"]), {})[str(rec["column"])] = cell
        out[p.stem] = table
    return out


def run(args: argparse.Namespace) -> int:
    atomic_write_json(args.out, collect(args.tables))
    return 0
