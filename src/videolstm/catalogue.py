"""The jobs of a configuration, listed once: the pretraining runs and the model jobs (percept
extraction, temporal CNNs, fine-tuning, controls), each with its rule, wildcards, inputs known
without running anything, outputs and settings file. The workflow (workflow/rules/common.smk),
`videolstm plan`, the scheduler's job sizes (videolstm.job_resources) and `videolstm check` read
this list, so they cannot disagree on which jobs a configuration runs.

Without torch: the workflow reads it on every `snakemake` call. The configuration is the merged
one (config/config.yaml under any overlays); the results folder is an argument, never assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from videolstm.config import configured_parts
from videolstm.domains import labreport_domain
from videolstm.finetune import controls
from videolstm.pretrain_settings import resolve_run
from videolstm.video.scope import SPLIT_SCOPED_KINDS, is_split_scoped, percept_kind, scoped_name
from videolstm.video.workflow import consumed_percepts, flow_consumers, used_percept_domains

# the halves of the paper; config key `parts`, all of them when it is not set
VIDEO_DOMAINS = ("patches", "percepts_rgb", "percepts_flow", "percepts_flowstack")
PRETRAIN_DOMAINS = ("mnist", "labreport", *VIDEO_DOMAINS)
PART_OF = {"mnist": "mnist", "labreport": "labreport", **{d: "video" for d in VIDEO_DOMAINS}}
MODEL_RULES = ("pretrain", "finetune", "finetune_controls", "video_percepts_rgb",
               "video_temporal_cnn", "video_percepts_flow")

# Phases: one DVC stage each (dvc.yaml), running one target rule (phases.smk); a phase's targets
# are the final targets under its folders. tests/test_dvc_remote.py holds dvc.yaml to these.
PHASE_DIRS = {
    "data": ["data"],
    "percepts": ["percepts"],
    "pretrain": ["pretrain"],
    "finetune": ["finetune"],
    "paper": ["eval", "tables", "figures", "metrics"],
}


@dataclass(frozen=True)
class Job:
    rule: str
    wildcards: dict[str, str]
    outputs: dict[str, str]
    inputs: dict[str, list[str]] = field(default_factory=dict)
    settings: str | None = None  # its settings file: <results>/configs/<settings>.json


def parts(cfg: dict) -> set[str]:
    return configured_parts(cfg)


def domain_runs(cfg: dict, domain: str) -> list[str]:
    """Names of the runs configured for a pretraining domain, in the configuration's order."""
    pre = cfg["pretrain"]
    if domain == "labreport":
        return list(labreport_domain(pre)["runs"])
    return list((pre.get(domain) or {}).get("runs") or {})


def domain_instances(cfg: dict, domain: str) -> list[str]:
    """The domain's trained instances: itself, or one per finetune split when per split."""
    if domain != "labreport" and is_split_scoped(cfg["pretrain"].get(domain) or {}):
        return [scoped_name(domain, s) for s in (cfg.get("finetune") or {}).get("splits", [1])]
    return [domain]


def runs_domain(cfg: dict, domain: str) -> bool:
    """Whether the configuration trains the domain: its part is run, and a percept domain only
    when some classifier starts from it."""
    if PART_OF[domain] not in parts(cfg):
        return False
    if domain != "labreport" and domain not in (cfg.get("pretrain") or {}):
        return False
    return not domain.startswith("percepts_") or domain in used_percept_domains(cfg)


def pretrain_job(cfg: dict, results: str, domain: str, run: str) -> Job:
    """One pretraining run: its checkpoint, summary and metrics, the arrays it reads."""
    out = f"{results}/pretrain/{domain}/{run}"
    inputs: dict[str, list[str]] = {}
    if domain not in ("mnist", "labreport"):  # Moving MNIST is generated on the fly
        _, _, settings = resolve_run(cfg["pretrain"], domain, run)
        data = settings.get("data", {})
        stems = data.get("arrays", [])
        inputs = {"arrays": [f"{results}/{s}.npy" for s in stems],
                  "offsets": [f"{results}/{s}.offsets.npy" for s in stems]}
        if data.get("videos") == "train":  # which videos a split trains on: the dataset's index
            inputs["meta"] = [f"{results}/{s}.json" for s in stems]
            inputs["index"] = sorted({f"{results}/data/index/{s.split('/')[1]}.csv" for s in stems})
    return Job("pretrain", {"domain": domain, "run": run},
               {"final": f"{out}/final.pt", "summary": f"{out}/summary.json",
                "metrics": f"{out}/metrics.csv"},
               inputs, f"pretrain/{domain}/{run}")


def pretrain_jobs(cfg: dict, results: str, configured: bool = False) -> list[Job]:
    """Every pretraining run the configuration trains, per domain, split and run in the
    configuration's order; `configured`: every configured one, whatever the parts (each has a
    settings file, so that turning a part on does not rewrite the others')."""
    jobs = []
    for domain in PRETRAIN_DOMAINS:
        if domain != "labreport" and domain not in cfg["pretrain"]:
            continue
        if not configured and not runs_domain(cfg, domain):
            continue
        jobs += [pretrain_job(cfg, results, instance, run)
                 for instance in domain_instances(cfg, domain) for run in domain_runs(cfg, domain)]
    return jobs


def video_model_jobs(cfg: dict, results: str) -> list[Job]:
    """Percept extraction, the temporal CNNs and the fine-tuning jobs (the video part)."""
    if "video" not in parts(cfg):
        return []
    jobs = []
    for stem in consumed_percepts(cfg):
        _, dataset, name = stem.split("/")
        outs = {"npy": f"{results}/{stem}.npy", "offsets": f"{results}/{stem}.offsets.npy",
                "meta": f"{results}/{stem}.json"}
        kind = percept_kind(name)
        if kind == "rgb":
            jobs.append(Job("video_percepts_rgb", {"dataset": dataset}, outs, settings="percepts"))
        elif kind in SPLIT_SCOPED_KINDS:
            split = name.rpartition("_split")[2]
            jobs.append(Job("video_percepts_flow", {"flowkind": kind, "split": split,
                                                    "dataset": dataset}, outs, settings="flow"))
    for name in flow_consumers(cfg)[1]:
        kind, _, split = name.rpartition("_split")
        stem = f"{results}/data/temporal_cnn/{name}"
        jobs.append(Job("video_temporal_cnn", {"flowkind": kind, "split": split},
                        {"model": f"{stem}.pt", "metrics": f"{stem}.json"}, settings="flow"))
    ft = cfg.get("finetune") or {}
    ctl = controls.settings(ft) if ft.get("controls") else {}
    for rule, folder, datasets, splits in (
        ("finetune", "finetune", ft.get("datasets", []), ft.get("splits", [1])),
        ("finetune_controls", "finetune/controls", ctl.get("datasets", []), ctl.get("splits", [])),
    ):
        for dataset in datasets:
            for split in splits:
                stem = f"{results}/{folder}/{dataset}/split{split}"
                jobs.append(Job(rule, {"dataset": dataset, "split": str(split)},
                                {"runs": f"{stem}.csv", "summary": f"{stem}.json"},
                                settings="finetune"))
    return jobs


def model_jobs(cfg: dict, results: str) -> list[Job]:
    """Every job of a model rule (MODEL_RULES) the configuration runs."""
    return pretrain_jobs(cfg, results) + video_model_jobs(cfg, results)
