"""Configuration: one YAML file (plus optional overlays), validated against one JSON schema.

The schema (resources/config.schema.yaml) forbids unknown keys everywhere, so a typo stops the
run with the key's dotted path and the closest allowed name instead of being silently ignored.
Snakemake validates the same schema in the Snakefile; pipeline commands receive the sections they
need as JSON (`--cfg`) and read them through the dataclasses next to the code that uses them.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from videolstm.errors import UserError

SCHEMA_PATH = Path(str(resources.files("videolstm") / "resources" / "config.schema.yaml"))


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def deep_merge(base: dict, overlay: dict) -> dict:
    """Merge `overlay` into a copy of `base` (dicts recursively, everything else replaced)."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UserError(f"config file {path} is not valid YAML: {exc}") from exc
    if data is not None and not isinstance(data, dict):
        raise UserError(f"config file {path} must hold a mapping of keys at the top level")
    if not data:  # an empty overlay overrides nothing: almost surely not what was meant
        raise UserError(f"config file {path} is empty (no settings, or only comments): it sets "
                        "nothing; write the settings to override in it, or leave it out of "
                        "--configfile")
    return data


def load_config(*paths: str | Path) -> dict:
    """Read, merge (later files override earlier ones) and validate config files."""
    config: dict = {}
    for path in paths:
        config = deep_merge(config, read_yaml(path))
    validate_config(config, source=", ".join(str(p) for p in paths))
    return config


def _describe(error: jsonschema.ValidationError, schema: dict) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        parts = []
        for key in extra:
            full = f"{where}.{key}" if error.absolute_path else key
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            parts.append(f"unknown config key '{full}'{hint}")
        return "; ".join(parts) + f" (allowed keys here: {', '.join(allowed)})"
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return f"config key '{where}' is {error.instance!r}; allowed values: {allowed}"
    if error.validator == "pattern" and error.schema.get("description"):
        return f"config key '{where}': {error.instance!r} does not match {error.validator_value} " \
               f"({error.schema['description']})"
    if error.validator == "required":
        return f"config section '{where}' is missing a required key: {error.message}"
    return f"config key '{where}': {error.message}"


def validate_config(config: dict, source: str = "config", partial: bool = False) -> None:
    """Raise UserError naming every invalid key (dotted path), its value and what is allowed.

    `partial`: `config` holds only some sections (a command's `--cfg`): missing required keys
    are not errors, but every key present is checked (a typo such as `hiden` is refused).
    """
    if isinstance(config.get("results_dir"), str):  # first: it is pasted into shell commands
        check_results_dir(config["results_dir"], source, folder=not partial)
    schema = load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted((e for e in validator.iter_errors(config)
                     if not (partial and e.validator == "required")),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = "\n  ".join(_describe(e, schema) for e in errors)
        raise UserError(f"invalid configuration in {source}:\n  {lines}")


# `results_dir` is the prefix of every path the workflow's shell commands receive: only
# characters that need no shell quoting, so a value can neither run a command nor split an argument
RESULTS_DIR_CHARS = re.compile(r"[A-Za-z0-9_./-]+")
# what the workflow writes at the top of its results folder (workflow/rules/*.smk,
# `videolstm run-record`): a folder holding one of them is a results folder of this project
RESULTS_MARKERS = ("tables", "figures", "metrics", "configs", "logs", "benchmarks", "data",
                   "percepts", "pretrain", "finetune", "eval", "run.json", "report.html")


def results_dir_problem(value: str, folder: bool = True) -> str | None:
    """Why `value` cannot be the results folder (None when it can). `folder`: also look at what
    is on disk there (relative paths are taken from the current folder, as Snakemake does)."""
    if not value:
        return "it is empty"
    if not RESULTS_DIR_CHARS.fullmatch(value):
        bad = "".join(sorted({c for c in value if not RESULTS_DIR_CHARS.fullmatch(c)}))
        return (f"it contains {bad!r}, but only letters, digits and _ - . / are allowed (no "
                "spaces, quotes or shell characters)")
    if value.startswith("-"):
        return "it starts with '-' (a command would read it as an option)"
    if ".." in value.split("/"):
        return "it has a '..' part (it must not climb out of the folder it names)"
    if os.path.normpath(value) in ("/", "//"):
        return "it is the file system root"
    if os.path.normpath(value) == ".":
        return "it is the current folder itself, not a folder of its own"
    if not folder:
        return None
    path = Path(value)
    if path.exists() and not path.is_dir():
        return "it exists and is not a folder"
    if path.is_dir():
        try:
            entries = {e.name for e in os.scandir(path)}
        except OSError as exc:
            return f"that folder cannot be read ({exc.strerror})"
        if entries and not entries & set(RESULTS_MARKERS):
            return ("that folder exists, is not empty and is not a results folder of this "
                    "workflow (it holds none of " + ", ".join(RESULTS_MARKERS) + ")")
    return None


def check_results_dir(value: str, source: str = "config", folder: bool = True) -> None:
    """One-line UserError when `value` cannot be the config key `results_dir` (see above)."""
    problem = results_dir_problem(value, folder)
    if problem:
        raise UserError(f"invalid configuration in {source}: config key 'results_dir' is "
                        f"{value!r}: {problem}; set results_dir to a new or empty folder, or one "
                        "an earlier run of this workflow wrote, named with letters, digits and "
                        "_ - . / only (e.g. results-mine)")


def section(config: dict, dotted: str) -> Any:
    """Return config[a][b]... for 'a.b'; a missing key is a UserError naming it."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise UserError(f"config key '{dotted}' is missing")
        node = node[part]
    return node


def require(cfg: dict, *keys: str) -> None:
    """Stop with a clear message when --cfg lacks a section the command needs."""
    missing = [k for k in keys if k not in cfg]
    if missing:
        raise UserError(
            f"--cfg lacks the config section(s) {', '.join(missing)}; pass the JSON of those "
            "sections of config/config.yaml (the Snakemake rules do this for you)"
        )


def known_fields(cls, values: dict | None, section: str, consumed: tuple[str, ...] = ()) -> dict:
    """`values` for the dataclass `cls`; a key that is neither a field nor `consumed` elsewhere
    (e.g. a dataset root the workflow reads) is a UserError naming it, never silently dropped."""
    values = dict(values or {})
    names = set(cls.__dataclass_fields__)
    unknown = sorted(set(values) - names - set(consumed))
    if unknown:
        raise UserError(f"unknown key(s) {', '.join(unknown)} in {section}; allowed: "
                        f"{', '.join(sorted(names | set(consumed)))}")
    return {k: v for k, v in values.items() if k in names}
