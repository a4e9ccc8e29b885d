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


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's one-line errors: a bad argument is named on one line (no usage
    block); `--help` still shows the usage."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """argparse type of counts (--threads, --max-steps, --batch-size): a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give a positive "
                                         "integer (1, 2, ...)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive; give a positive integer "
                                         "(1, 2, ...)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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
        # full disk, quota, file size limit, read-only or unwritable folder: writers are
        # atomic, nothing was replaced
        where = f" ({exc.filename})" if exc.filename else ""
        fix = _STORAGE_ERRORS[exc.errno]
        print(f"error: {exc.strerror or exc}{where}; outputs are written atomically, so earlier "
              f"outputs are intact. {fix}, then rerun the same command", file=sys.stderr)
        return 2
    return int(result or 0)


_SPACE = "Free disk space or fix the folder's permissions"
_STORAGE_ERRORS = {errno.ENOSPC: _SPACE, errno.EDQUOT: _SPACE, errno.EROFS: _SPACE,
                   errno.EACCES: _SPACE, errno.EPERM: _SPACE,
                   errno.EFBIG: "Raise the file size limit (ulimit -f) or write to a file "
                                "system that holds files this large"}
