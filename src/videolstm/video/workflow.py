"""Snakemake helpers of workflow/rules/video.smk (inputs, params and targets from the config).

A dataset whose `datasets.<name>.root` is null uses the embedded videos generated under
results/data/videos/<name>; a real root is not a DAG input (Snakemake does not own it).
"""

from __future__ import annotations

LABELLED = ["ucf101", "hmdb51"]
PERCEPT_DATASETS = LABELLED + ["unlabelled"]


def _ds(config: dict, dataset: str) -> dict:
    return (config.get("datasets") or {}).get(dataset) or {}


def video_root(config: dict, results: str, dataset: str) -> str:
    return _ds(config, dataset).get("root") or f"{results}/data/videos/{dataset}"


def synth_input(config: dict, results: str, dataset: str) -> list[str]:
    return [] if _ds(config, dataset).get("root") else [f"{results}/data/videos/{dataset}"]


def index_input(config: dict, results: str, wildcards) -> list[str]:
    return synth_input(config, results, wildcards.labelled)


def index_root(config: dict, results: str, wildcards) -> str:
    return video_root(config, results, wildcards.labelled)


def clips_added(config: dict) -> list[str]:
    return list((config.get("clips") or {}).get("add_labelled", []))


def clips_input(config: dict, results: str, wildcards) -> list[str]:
    out = synth_input(config, results, "unlabelled")
    for d in clips_added(config):
        out += [f"{results}/data/index/{d}.csv"] + synth_input(config, results, d)
    return out


def clips_args(config: dict, results: str, wildcards) -> str:
    args = [f"--source {video_root(config, results, 'unlabelled')}"]
    for d in clips_added(config):
        args.append(f"--add-index {results}/data/index/{d}.csv "
                    f"--add-root {video_root(config, results, d)}")
    return " ".join(args)


def items_input(config: dict, results: str, wildcards) -> list[str]:
    """What a per-dataset stage reads: the index (+ embedded videos) or the clip manifest."""
    d = wildcards.dataset
    if d == "unlabelled":
        return [f"{results}/data/clips/unlabelled.csv"] + synth_input(config, results, d)
    return [f"{results}/data/index/{d}.csv"] + synth_input(config, results, d)


def items_args(config: dict, results: str, wildcards) -> str:
    d = wildcards.dataset
    if d == "unlabelled":
        return f"--clips {results}/data/clips/unlabelled.csv"
    return f"--index {results}/data/index/{d}.csv --root {video_root(config, results, d)}"


def cnn_dataset(config: dict) -> str:
    return ((config.get("flow") or {}).get("cnn") or {}).get("dataset", "ucf101")


def patches_dataset(config: dict) -> str:
    return (config.get("patches") or {}).get("dataset", "ucf101")


def patches_input(config: dict, results: str, wildcards) -> list[str]:
    d = patches_dataset(config)
    return [f"{results}/data/index/{d}.csv"] + synth_input(config, results, d)


def percept_kinds(config: dict) -> list[str]:
    return list((config.get("percepts") or {}).get("kinds", ["rgb", "flow", "flowstack"]))


def targets(config: dict, results: str) -> list[str]:
    out = [f"{results}/data/index/{d}.csv" for d in LABELLED]
    out += [f"{results}/data/patches/{p}{e}" for p in ("train", "valid")
            for e in (".npy", ".offsets.npy", ".json")]
    out += [f"{results}/percepts/{d}/{k}{e}" for d in PERCEPT_DATASETS
            for k in percept_kinds(config) for e in (".npy", ".offsets.npy", ".json")]
    return out
