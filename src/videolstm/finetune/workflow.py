"""Helpers of workflow/rules/finetune.smk (kept in the package: rule files hold only rules)."""

from __future__ import annotations

from videolstm.finetune import controls
from videolstm.finetune.runs import MAIN_STREAM, needed_checkpoints
from videolstm.video.scope import percept_name, scoped_name


def split_csvs(config: dict, results: str) -> list[str]:
    ft = config.get("finetune", {})
    return [
        f"{results}/finetune/{d}/split{s}.csv"
        for d in ft.get("datasets", [])
        for s in ft.get("splits", [1])
    ]


def control_csvs(config: dict, results: str) -> list[str]:
    """The runs behind the controls table (none when finetune.controls is not configured)."""
    ft = config.get("finetune", {})
    if not ft.get("controls"):
        return []
    ctl = controls.settings(ft)
    return [f"{results}/finetune/controls/{d}/split{s}.csv" for d in ctl["datasets"]
            for s in ctl["splits"]]


def control_encoder_summaries(config: dict, results: str) -> list[str]:
    """summary.json of the pretrained encoders the controls' runs start from (every split)."""
    ft = config.get("finetune", {})
    if not ft.get("controls"):
        return []
    ctl = controls.settings(ft)
    ckpts = {str(p) for d in ctl["datasets"] for s in ctl["splits"]
             for p in needed_checkpoints(ft, d, f"{results}/pretrain", s,
                                         controls.control_runs(ft))}
    return sorted(c[: -len("final.pt")] + "summary.json" for c in ckpts)


def inputs(config: dict, results: str, wildcards, controls_runs: bool = False) -> dict:
    """Index, percepts of the dataset's streams, and the pretrained checkpoints its runs use
    (with `controls_runs`: those of the controls' runs, on the main stream only)."""
    dataset, split = wildcards.dataset, int(wildcards.split)
    ft = config["finetune"]
    kinds = sorted({s["kind"] for s in ft["streams"].values() if dataset in s.get("datasets", [])})
    runs = None
    if controls_runs:
        kinds, runs = [ft["streams"][MAIN_STREAM]["kind"]], controls.control_runs(ft)
    stem = f"{results}/percepts/{dataset}"
    return {
        "index": f"{results}/data/index/{dataset}.csv",
        "percepts": [f"{stem}/{percept_name(k, split)}{e}" for k in kinds
                     for e in (".npy", ".offsets.npy", ".json")],
        "checkpoints": [str(p) for p in needed_checkpoints(ft, dataset, f"{results}/pretrain",
                                                           split, runs)],
    }


def targets(config: dict, results: str) -> list[str]:
    if not config.get("finetune", {}).get("datasets"):
        return []
    tables = [f"{results}/tables/table{n}.{e}" for n in (1, 3, 4) for e in ("csv", "md", "tex")]
    figures = [f"{results}/figures/figure12.{e}" for e in ("png", "pdf", "csv")]
    ctl = control_csvs(config, results)
    ctl_tables = [f"{results}/tables/controls.{e}" for e in ("csv", "md")] if ctl else []
    return split_csvs(config, results) + tables + figures + ctl + ctl_tables


def probe_inputs(config: dict, results: str) -> dict:
    """Index, RGB percepts and pretrained encoders the probes table reads (none when `probes` is
    not configured or nothing is fine-tuned)."""
    from videolstm.finetune import probes

    return probes.inputs(config, results) if config.get("finetune", {}).get("datasets") else {}


def probe_targets(config: dict, results: str) -> list[str]:
    return ([f"{results}/tables/probes.{e}" for e in ("csv", "md")]
            if probe_inputs(config, results) else [])


def temporal_cnn_metrics(config: dict, results: str) -> list[str]:
    """Table 1's flow 'Single Frame' cell: each split's single-field temporal CNN's own test
    accuracy."""
    from videolstm.video.workflow import percept_kinds

    ft = config.get("finetune") or {}
    streams = ft.get("streams") or {}
    if "flow" in percept_kinds(config) and any(s.get("kind") == "flow" for s in streams.values()):
        return [f"{results}/data/temporal_cnn/{scoped_name('flow', s)}.json" for s in ft.get("splits", [1])]
    return []
