"""Which classifiers a fine-tuning job trains (finetune.sweep's module docstring lists them), without
torch: the sweep, the controls, `videolstm plan` and the scheduler's job sizes all read this list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from videolstm.video.scope import SPLIT_SCOPED_KINDS, scoped_name

BASELINE = "baseline"
SINGLE_FRAME = "single_frame"
SHUFFLED = "baseline_shuffled"  # the baseline trained and tested on time-shuffled blocks (controls)
MAIN_STREAM = "rgb"
VARIANTS = ["autoencoder", "future", "cond_autoencoder", "cond_future", "composite",
            "composite_cond"]


@dataclass(frozen=True, order=True)
class Run:
    stream: str
    init: str  # baseline | single_frame | a pretraining variant
    size: int  # labelled videos per class; 0 = all
    sample: int

    @property
    def size_name(self) -> str:
        return "all" if self.size == 0 else str(self.size)


def _size(value) -> int:
    return 0 if value == "all" else int(value)


def plan_runs(cfg: dict, dataset: str) -> list[Run]:
    """Every run of one dataset (and split), sorted."""
    streams = [s for s, sc in cfg["streams"].items() if dataset in sc.get("datasets", [])]
    pretrained = cfg.get("pretrained", "composite")
    samples = int(cfg.get("samples", 1))
    seeds_all = int(cfg.get("seeds_all", 1))  # at 'all' the labelled set is fixed: training seeds
    runs: set[Run] = set()

    def add(stream, init, size):
        for s in range(seeds_all if size == 0 else samples):
            runs.add(Run(stream, init, size, s))

    for stream in streams:
        has_domain = bool(cfg["streams"][stream].get("domain"))
        lstm_inits = [BASELINE] + ([pretrained] if has_domain else [])
        if stream == MAIN_STREAM:
            small = _size(cfg["small"][dataset])
            table3 = [BASELINE] + (list(cfg.get("variants", VARIANTS)) if has_domain else [])
            for init in table3:
                add(stream, init, small)
                add(stream, init, 0)
            for size in cfg["sizes"][dataset]:
                for init in [SINGLE_FRAME, *lstm_inits]:
                    add(stream, init, _size(size))
        else:
            for init in [SINGLE_FRAME, *lstm_inits]:
                add(stream, init, 0)
    return sorted(runs)


def stream_domain(scfg: dict, split: int) -> str | None:
    """The pretraining domain a stream's encoders come from, for one split: a stream of flow
    percepts (made by that split's temporal CNN) uses its domain's per-split runs."""
    domain = scfg.get("domain")
    return scoped_name(domain, split) if domain and scfg["kind"] in SPLIT_SCOPED_KINDS else domain


def checkpoint_path(pretrain_dir: str | Path, domain: str, variant: str) -> Path:
    return Path(pretrain_dir) / domain / variant / "final.pt"


def needed_checkpoints(cfg: dict, dataset: str, pretrain_dir: str | Path, split: int,
                       runs: list[Run] | None = None) -> list[Path]:
    out = set()
    for run in plan_runs(cfg, dataset) if runs is None else runs:
        domain = stream_domain(cfg["streams"][run.stream], split)
        if domain and run.init not in (BASELINE, SINGLE_FRAME, SHUFFLED):
            out.add(checkpoint_path(pretrain_dir, domain, run.init))
    return sorted(out)
