"""Configuration: one YAML file (plus optional overlays), validated against one JSON schema.

The schema (resources/config.schema.yaml) forbids unknown keys everywhere, so a typo stops the
run with the key's dotted path and the closest allowed name instead of being silently ignored.
Snakemake validates the same schema in the Snakefile; pipeline commands receive the sections they
need as JSON (`--cfg`) and read them through the dataclasses next to the code that uses them.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from videolstm.domains import DOMAIN_DEFAULTS, labreport_domain
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
    problems = [_describe(e, schema) for e in errors] + non_finite_problems(config)
    if not problems:  # the settings that are each valid must also fit together
        problems = consistency_problems(config)
    if problems:
        raise UserError(f"invalid configuration in {source}:" + join_problems(problems))


def join_problems(problems: list[str]) -> str:
    """One problem on the same line (a one-line message), several one per line."""
    return f" {problems[0]}" if len(problems) == 1 else "\n  " + "\n  ".join(problems)


def non_finite_problems(node: Any, where: str = "") -> list[str]:
    """Every NaN or infinite number in the configuration (YAML's .nan and .inf pass the schema's
    minimum checks: a learning rate of .nan trains nothing and writes NaN losses)."""
    if isinstance(node, dict):
        return [p for k, v in node.items()
                for p in non_finite_problems(v, f"{where}.{k}" if where else str(k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in non_finite_problems(v, f"{where}[{i}]")]
    if isinstance(node, float) and not math.isfinite(node):
        return [f"config key '{where}' is {node}: not a finite number; set a finite value"]
    return []


def consistency_problems(config: dict) -> list[str]:
    """Settings that are each valid but contradict one another (one line each, naming the keys).

    - Moving MNIST sequences (mnist.generator.seq_len) must hold the frames a pretraining run of
      pretrain.mnist or the lab report reads (n_in, plus n_future when it predicts the future),
      and image-patch sequences (patches.seq_len) those of pretrain.patches: shorter sequences
      made all-NaN or empty evaluations;
    - mnist.generator.speed_range and video.<dataset>.speed are [slowest, fastest].
    Sections a command's `--cfg` leaves out are not checked.
    """
    problems = []
    gen = (config.get("mnist") or {}).get("generator") or {}
    speeds = gen.get("speed_range")
    if isinstance(speeds, list) and len(speeds) == 2 and speeds[0] > speeds[1]:
        problems.append(f"config key 'mnist.generator.speed_range' is {speeds}: it is [slowest, "
                        f"fastest]; write [{speeds[1]}, {speeds[0]}]")
    for dataset, synth in (config.get("video") or {}).items():
        speeds = (synth or {}).get("speed") if isinstance(synth, dict) else None
        if isinstance(speeds, list) and len(speeds) == 2 and speeds[0] > speeds[1]:
            problems.append(f"config key 'video.{dataset}.speed' is {speeds}: it is [slowest, "
                            f"fastest]; write [{speeds[1]}, {speeds[0]}]")
    pretrain = config.get("pretrain") or {}
    parts = configured_parts(config)
    lengths = {"mnist": ("mnist.generator.seq_len", gen.get("seq_len")),
               "labreport": ("mnist.generator.seq_len", gen.get("seq_len")),
               "patches": ("patches.seq_len", (config.get("patches") or {}).get("seq_len"))}
    part = {"mnist": "mnist", "labreport": "labreport", "patches": "video"}
    for domain, (key, seq_len) in lengths.items():
        if seq_len is None or domain not in pretrain or part[domain] not in parts:
            continue
        need, what = _frames_needed(pretrain, domain)
        if need > seq_len:
            problems.append(
                f"config key '{key}' is {seq_len}, but {what} reads {need} frames per sequence: "
                f"set {key} to at least {need}, or lower pretrain.{'mnist' if domain == 'labreport' else domain}"
                ".n_in / n_future")
    return problems


def _frames_needed(pretrain: dict, domain: str) -> tuple[int, str]:
    """(frames, which run needs them) the longest-reading configured run of a domain reads."""
    from videolstm.models import VARIANT_DECODERS

    dom = labreport_domain(pretrain) if domain == "labreport" else pretrain[domain]
    n_in = int(dom.get("n_in", DOMAIN_DEFAULTS[domain]["n_in"]))
    n_future = int(dom.get("n_future", DOMAIN_DEFAULTS[domain]["n_future"]))
    runs = dom.get("runs")
    if not runs:  # a section without runs (the baselines' --cfg): in + future frames
        return n_in + n_future, f"pretrain.{domain} (n_in {n_in} + n_future {n_future})"
    best = (0, "")
    for name, run in sorted(runs.items()):
        future = VARIANT_DECODERS.get((run or {}).get("variant"), (None, None))[1] is not None
        need = n_in + (n_future if future else 0)
        detail = f"n_in {n_in} + n_future {n_future}" if future else f"n_in {n_in}"
        if need > best[0]:
            best = (need, f"pretrain.{domain}.runs.{name} ({detail})")
    return best


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


def results_dir_unwritable(value: str) -> str | None:
    """One line saying why the workflow cannot write the results folder `value` (None when it
    can): the folder, or for a new one the nearest existing folder above it, is on a read-only
    file system or not writable by this user. Snakemake reads this before it plans any job, so
    a dry run says it too."""
    path = Path(value).absolute()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if os.access(probe, os.W_OK | os.X_OK):
        return None
    try:
        read_only = bool(os.statvfs(probe).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    why = "is on a read-only file system" if read_only else "is not writable by you"
    where = f"{probe}" if probe == path else f"{probe} (where it would be made)"
    return (f"the results folder cannot be written: config key 'results_dir' is {value!r} and "
            f"{where} {why}; make it writable (remount it read-write, fix its permissions) or set "
            "results_dir to a folder you can write. Nothing was run")


def check_results_dir(value: str, source: str = "config", folder: bool = True) -> None:
    """One-line UserError when `value` cannot be the config key `results_dir` (see above)."""
    problem = results_dir_problem(value, folder)
    if problem:
        raise UserError(f"invalid configuration in {source}: config key 'results_dir' is "
                        f"{value!r}: {problem}; set results_dir to a new or empty folder, or one "
                        "an earlier run of this workflow wrote, named with letters, digits and "
                        "_ - . / only (e.g. results-mine)")


# What a configuration means when it leaves `device` or `parts` out (config/config.yaml's device
# and a run of every part; only a hand-written `--cfg` can leave them out): one place for both
ALL_PARTS = ("mnist", "labreport", "video")


def configured_device(cfg: dict) -> str:
    """The configured device name (auto, cpu, cuda, cuda:N)."""
    return cfg.get("device", "auto")


def configured_parts(cfg: dict) -> set[str]:
    """The parts of the paper a configuration runs."""
    return set(cfg.get("parts", ALL_PARTS))


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
