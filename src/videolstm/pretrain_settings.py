"""The settings of one configured pretraining run (`pretrain.defaults` < `<domain>.train` < the
run's `train`), without torch: the workflow's job settings and `videolstm plan` resolve runs
without loading the training code."""

from __future__ import annotations

from dataclasses import dataclass

from videolstm.config import known_fields
from videolstm.domains import DOMAIN_DEFAULTS, labreport_domain
from videolstm.errors import UserError
from videolstm.video.scope import parse_domain, split_arrays


@dataclass
class TrainConfig:
    hidden: int = 128
    layers: int = 2
    cell: str = "peephole"
    init: str = "paper"
    optimizer: str = "rmsprop"  # sgd (authors: momentum 0.9, lr 1e-4, wd 1e-4) | rmsprop | adam
    # mean: loss per frame (averaged over frames and sequences); sum: summed over the batch and
    # frames, as the authors' code (output derivative pred - target per element, no division)
    loss_reduction: str = "mean"
    # conditional decoders in training: fed the previous ground-truth frame (true; the authors'
    # code) or their own previous output, as they are at test time (false; the paper's text
    # "conditioned on the last generated frame"). Unconditioned decoders are unaffected.
    teacher_forcing: bool = True
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    clip: float | None = 1.0
    batch_size: int = 16
    steps: int = 150
    checkpoint_every: int = 50
    log_every: int = 10
    eval_every: int = 150
    amp: bool = True  # bf16 autocast on CUDA and on CPUs with native bf16 (cell state stays fp32)
    seed: int = 0



def resolve_run(pretrain: dict, domain: str, run: str) -> tuple[str, TrainConfig, dict]:
    """(variant, train settings, domain settings) of a configured run.

    `domain` may be a per-split domain `<domain>_split<N>` (videolstm.video.scope): the settings of
    pretrain.<domain> with `{split}` of its arrays filled in and `split` set.
    """
    base, split = parse_domain(domain)
    dom = labreport_domain(pretrain) if base == "labreport" else pretrain.get(base)
    if dom is None:
        raise UserError(f"config has no section pretrain.{base}")
    if "data" in dom or split is not None:
        data = dict(dom.get("data") or {})
        data["arrays"] = split_arrays(list(data.get("arrays") or []), split, base)
        if split is not None:  # which split's training videos `data.videos: train` keeps
            data["split"] = split
        dom = {**dom, "data": data}
    domain = base
    runs = dom.get("runs", {})
    if run not in runs:
        raise UserError(f"pretrain.{domain}.runs has no run {run!r}; configured: {sorted(runs)}")
    merged: dict = {}
    for layer in (pretrain.get("defaults", {}), dom.get("train", {}), runs[run].get("train", {})):
        merged.update(layer)
    tc = TrainConfig(**known_fields(TrainConfig, merged, f"pretrain (defaults, {domain}.train, "
                                                         f"{domain}.runs.{run}.train)"))
    settings = {**DOMAIN_DEFAULTS.get(domain, {}), **{k: v for k, v in dom.items() if k not in ("runs", "train")}}
    return runs[run]["variant"], tc, settings
