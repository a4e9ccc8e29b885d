"""Catch configuration mistakes before any job starts: every input the configuration names exists
(dataset roots and split files, VGG16 weights, MNIST IDX files) and every array a pretraining
domain reads is one the workflow makes. The Snakefile runs `check_inputs` when a run starts (not
on a dry run, so `snakemake -n` still plans a configuration whose data are not there yet), and
`videolstm check --configfile ...` runs it by hand. All problems are reported at once.
"""

from __future__ import annotations

import re
from pathlib import Path

from videolstm import catalogue
from videolstm.errors import UserError

LABELLED = ("ucf101", "hmdb51")


def _array_pattern(kinds: list[str]) -> re.Pattern:
    """Stems the workflow makes: the patches and the percepts (flow kinds per split)."""
    from videolstm.video.scope import SPLIT_FIELD, percept_name

    names = [re.escape(percept_name(k, SPLIT_FIELD)) for k in kinds]
    return re.compile(r"data/patches/(train|valid)|percepts/(ucf101|hmdb51|unlabelled)/("
                      + "|".join(names) + ")")


def _problem(problems: list[str], check) -> None:
    try:
        check()
    except UserError as exc:
        problems.append(str(exc))


def check_inputs(config: dict, device: bool = True) -> list[str]:
    """What is checked, one line each; raises UserError listing every problem found.

    `device`: also whether the configured device is here (`device: cuda` needs a visible GPU);
    False where the jobs run elsewhere (a cluster's login node has no GPU)."""
    from videolstm.movingmnist.digits import IDX_FILES, _open_idx

    parts = catalogue.parts(config)
    problems: list[str] = []
    checked: list[str] = []
    if device and config.get("device") == "cuda":
        import torch

        if torch.cuda.is_available():
            checked.append("device cuda: a CUDA GPU is visible")
        else:
            problems.append("config key 'device' is 'cuda', but no CUDA GPU is visible here "
                            "(torch.cuda.is_available() is False), so every model job would stop: "
                            "set device: auto (the GPU when there is one, else the CPU) or cpu, or "
                            "run on a machine with a GPU")
    digits = (config.get("mnist") or {}).get("digits") or {}
    if parts & {"mnist", "labreport"} and digits.get("source") == "idx":
        folder = Path(digits.get("idx_dir") or "")
        if not digits.get("idx_dir") or not folder.is_dir():
            problems.append(f"mnist.digits.idx_dir {digits.get('idx_dir')!r} is not a folder: put "
                            "the four MNIST IDX files in one and name it there")
        else:
            for part in IDX_FILES.values():
                for stem in part.values():
                    _problem(problems, lambda s=stem: _open_idx(folder, s))
            checked.append(f"MNIST IDX files in {folder}")
    if "video" in parts:
        _check_datasets(config, problems, checked)
        rgb = (config.get("percepts") or {}).get("rgb") or {}
        if rgb.get("extractor") == "vgg16_fc6":
            from videolstm.video.percepts import vgg16_weights_path

            _problem(problems, lambda: vgg16_weights_path(rgb.get("weights")))
            checked.append("VGG16 weights")
        pattern = _array_pattern(list((config.get("percepts") or {}).get("kinds", [])))
        pretrain = config.get("pretrain") or {}
        trained = sorted(d for d in catalogue.VIDEO_DOMAINS if catalogue.runs_domain(config, d))
        for name in trained:  # the array domains the workflow trains (videolstm.catalogue)
            dom = pretrain.get(name) or {}
            arrays = (dom.get("data") or {}).get("arrays") or []
            for stem in arrays:
                if not pattern.fullmatch(stem):
                    problems.append(
                        f"pretrain.{name}.data.arrays names {stem!r}, which no step of the workflow "
                        "makes: use data/patches/train, percepts/<ucf101|hmdb51|unlabelled>/rgb or a "
                        "flow kind of percepts.kinds per split (percepts/<dataset>/flow_split{split})")
            if arrays:
                checked.append(f"pretrain.{name}.data.arrays")
    if (config.get("resources") or {}).get("from_plan"):
        from videolstm.job_resources import fit_problems

        problems += fit_problems(config)  # a job that cannot fit its GPU, said before any job
        checked.append("model jobs fit resources.gpu_mem_gb")
    if problems:
        from videolstm.config import join_problems

        raise UserError("the configuration cannot run as it is (nothing was run):"
                        + join_problems(problems))
    return checked


def _check_datasets(config: dict, problems: list[str], checked: list[str]) -> None:
    from videolstm.video.index import parse_hmdb51, parse_ucf101

    datasets = config.get("datasets") or {}
    parsers = {"ucf101": parse_ucf101, "hmdb51": parse_hmdb51}
    for name in (*LABELLED, "unlabelled"):
        ds = datasets.get(name) or {}
        if not ds.get("root"):
            continue  # the embedded videos: generated by the workflow
        root = Path(ds["root"])
        if not root.is_dir():
            problems.append(f"datasets.{name}.root {root} does not exist: unpack the dataset there "
                            "(docs/real_data.md) or set the root to null "
                            "for the embedded videos")
            continue
        if name in parsers:
            splits = Path(ds["splits_dir"]) if ds.get("splits_dir") else None
            _problem(problems, lambda p=parsers[name], r=root, s=splits: p(r, s))
        checked.append(f"datasets.{name} ({root})")


def onstart_check(config: dict, configfiles=(), local: bool = True) -> None:
    """For the Snakefile's `onstart`: one clear message and exit before any job runs. Also
    refuses an empty `--configfile` overlay (Snakemake itself merges it silently). `local`:
    the jobs run on this machine (the device is checked here)."""
    from videolstm.config import read_yaml

    try:
        for path in configfiles:
            read_yaml(path)
        check_inputs(config, device=local)
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None
