"""Helpers of workflow/rules/finetune.smk (kept in the package: rule files hold only rules)."""

from __future__ import annotations

from videolstm.finetune.sweep import needed_checkpoints
from videolstm.video.scope import percept_name


def split_csvs(config: dict, results: str) -> list[str]:
    ft = config.get("finetune", {})
    return [
        f"{results}/finetune/{d}/split{s}.csv"
        for d in ft.get("datasets", [])
        for s in ft.get("splits", [1])
    ]


def inputs(config: dict, results: str, wildcards) -> dict:
    """Index, percepts of the dataset's streams, and the pretrained checkpoints its runs use."""
    dataset, split = wildcards.dataset, int(wildcards.split)
    ft = config["finetune"]
    kinds = sorted({s["kind"] for s in ft["streams"].values() if dataset in s.get("datasets", [])})
    stem = f"{results}/percepts/{dataset}"
    return {
        "index": f"{results}/data/index/{dataset}.csv",
        "percepts": [f"{stem}/{percept_name(k, split)}{e}" for k in kinds
                     for e in (".npy", ".offsets.npy", ".json")],
        "checkpoints": [str(p) for p in needed_checkpoints(ft, dataset, f"{results}/pretrain", split)],
    }


def targets(config: dict, results: str) -> list[str]:
    if not config.get("finetune", {}).get("datasets"):
        return []
    tables = [f"{results}/tables/table{n}.{e}" for n in (1, 3, 4) for e in ("csv", "md", "tex")]
    figures = [f"{results}/figures/figure12.{e}" for e in ("png", "pdf", "csv")]
    return split_csvs(config, results) + tables + figures


def out_dir(wildcards, output) -> str:
    """The folder of a rule's first output (a params function)."""
    import os

    return os.path.dirname(output[0])


def temporal_cnn_metrics(config: dict, results: str) -> list[str]:
    """Table 1's flow 'Single Frame' cell: each split's single-field temporal CNN's own test
    accuracy."""
    from videolstm.video.workflow import percept_kinds

    ft = config.get("finetune") or {}
    streams = ft.get("streams") or {}
    if "flow" in percept_kinds(config) and any(s.get("kind") == "flow" for s in streams.values()):
        return [f"{results}/data/temporal_cnn/flow_split{s}.json" for s in ft.get("splits", [1])]
    return []
