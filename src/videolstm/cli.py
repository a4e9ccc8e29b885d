"""Command line: `videolstm <command> ...` (also `python -m videolstm`).

Each command group lives in its own module under videolstm.commands that exposes
`add_parser(subparsers)`; the parser it adds
sets `func`, called with the parsed arguments. User errors print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import sys
from pathlib import Path

from videolstm.errors import UserError

# module path of every command group, in the order `--help` lists them
COMMAND_MODULES = [
    "videolstm.commands.mnist",
    "videolstm.commands.pretrain",
    "videolstm.commands.mnist_results",
    "videolstm.commands.finetune",
    "videolstm.commands.metrics",
    "videolstm.commands.video",
    "videolstm.commands.record",
    "videolstm.commands.plan",
    "videolstm.commands.workspace",
    "videolstm.commands.claims",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videolstm",
        description="Unsupervised learning of video representations using LSTMs (reproduction).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def parse_cfg(text: str | None) -> dict:
    """Parse the `--cfg` argument every pipeline command takes: a JSON object, or the path of a
    JSON file holding one (the workflow writes each job's resolved settings to results/configs/)."""
    if not text:
        return {}
    where = "--cfg"
    if not text.lstrip().startswith(("{", "[")):
        path = Path(text)
        if not path.is_file():
            raise UserError(f"--cfg {text}: no such settings file (pass a JSON object or the path "
                            "of a JSON file; the workflow writes them under results/configs/)")
        where, text = f"--cfg file {path}", path.read_text()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where} is not valid JSON ({exc}); pass a JSON object") from exc
    if not isinstance(value, dict):
        raise UserError(f"{where} must hold a JSON object")
    from videolstm.config import validate_config

    validate_config(value, source=where, partial=True)  # the workflow's schema, same messages
    return value


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in _STORAGE_ERRORS:
            raise
        # full disk, quota, read-only or unwritable folder: writers are atomic, nothing was replaced
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}; outputs are written atomically, so earlier "
              "outputs are intact. Free disk space or fix the folder's permissions, then rerun "
              "the same command", file=sys.stderr)
        return 2
    return int(result or 0)


_STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}
