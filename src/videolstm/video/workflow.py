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


def clips_args(config: dict, results: str, wildcards) -> list[str]:
    """Arguments of `videolstm clips`, one item each (the rule quotes each: `{params.args:q}`)."""
    args = ["--source", video_root(config, results, "unlabelled")]
    for d in clips_added(config):
        args += ["--add-index", f"{results}/data/index/{d}.csv",
                 "--add-root", video_root(config, results, d)]
    return args


def items_input(config: dict, results: str, wildcards) -> list[str]:
    """What a per-dataset stage reads: the index (+ embedded videos) or the clip manifest."""
    d = wildcards.dataset
    if d == "unlabelled":
        return [f"{results}/data/clips/unlabelled.csv"] + synth_input(config, results, d)
    return [f"{results}/data/index/{d}.csv"] + synth_input(config, results, d)


def items_args(config: dict, results: str, wildcards) -> list[str]:
    """Arguments naming a dataset's videos, one item each (the rules quote each item)."""
    d = wildcards.dataset
    if d == "unlabelled":
        return ["--clips", f"{results}/data/clips/unlabelled.csv"]
    return ["--index", f"{results}/data/index/{d}.csv", "--root", video_root(config, results, d)]


def digit_cnn_file(results: str) -> str:
    return f"{results}/data/digit_cnn.pt"


def uses_digit_cnn(config: dict) -> bool:
    return ((config.get("percepts") or {}).get("rgb") or {}).get("extractor") == "digit_cnn"


def rgb_weights_input(config: dict, results: str) -> list[str]:
    """The digit CNN when it is the RGB extractor (the workflow trains it); else nothing."""
    return [digit_cnn_file(results)] if uses_digit_cnn(config) else []


def rgb_weights_args(config: dict, results: str) -> list[str]:
    return ["--weights", digit_cnn_file(results)] if uses_digit_cnn(config) else []


def cnn_dataset(config: dict) -> str:
    return ((config.get("flow") or {}).get("cnn") or {}).get("dataset", "ucf101")


def patches_dataset(config: dict) -> str:
    return (config.get("patches") or {}).get("dataset", "ucf101")


def patches_input(config: dict, results: str, wildcards) -> list[str]:
    d = patches_dataset(config)
    return [f"{results}/data/index/{d}.csv"] + synth_input(config, results, d)


def percept_kinds(config: dict) -> list[str]:
    return list((config.get("percepts") or {}).get("kinds", ["rgb", "flow", "flowstack"]))


def consumed_percepts(config: dict) -> list[str]:
    """Stems (`percepts/<dataset>/<name>`) of every percept array a classifier or a pretraining
    run reads: only these are extracted (flow of 300 h of unlabelled video that nothing reads
    would cost ~800 GB at paper scale)."""
    from videolstm.video.scope import SPLIT_FIELD, percept_name

    ft = config.get("finetune") or {}
    splits = ft.get("splits", [1])
    kinds = set(percept_kinds(config))
    out = set()
    for stream in (ft.get("streams") or {}).values():
        for d in stream.get("datasets", []):
            if d in ft.get("datasets", []) and stream["kind"] in kinds:
                out |= {f"percepts/{d}/{percept_name(stream['kind'], s)}" for s in splits}
    for name in used_percept_domains(config):
        dom = (config.get("pretrain") or {}).get(name) or {}
        for stem in (dom.get("data") or {}).get("arrays") or []:
            out |= {stem.replace(SPLIT_FIELD, str(s)) for s in splits}
    return sorted(out)


def used_percept_domains(config: dict) -> list[str]:
    """Pretraining domains on percepts that some classifier stream initialises from (the others
    would be trained for nothing)."""
    ft = config.get("finetune") or {}
    return sorted({s["domain"] for s in (ft.get("streams") or {}).values() if s.get("domain")
                   and set(s.get("datasets", [])) & set(ft.get("datasets", []))})


def flow_consumers(config: dict) -> tuple[list[str], list[str]]:
    """(datasets whose flow fields are needed, temporal CNNs `<kind>_split<N>` needed)."""
    from videolstm.video.scope import SPLIT_SCOPED_KINDS, percept_kind

    datasets, cnns = set(), set()
    for stem in consumed_percepts(config):
        _, dataset, name = stem.split("/")
        if percept_kind(name) in SPLIT_SCOPED_KINDS:
            datasets |= {dataset, cnn_dataset(config)}
            cnns.add(name)
    return sorted(datasets), sorted(cnns)


def targets(config: dict, results: str) -> list[str]:
    out = [f"{results}/data/index/{d}.csv" for d in LABELLED]
    out += [f"{results}/data/patches/{p}{e}" for p in ("train", "valid")
            for e in (".npy", ".offsets.npy", ".json")]
    out += [f"{results}/{stem}{e}" for stem in consumed_percepts(config)
            for e in (".npy", ".offsets.npy", ".json")]
    return out
