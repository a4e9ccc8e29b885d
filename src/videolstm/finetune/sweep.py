"""The sweep of one dataset and split: which runs, their labelled sets, training them in groups.

Runs (dataset, split, stream, init, size, sample):
- main stream (rgb): every configured unsupervised variant and the baseline at the "small" size and
  at "all" (Table 3); single frame, baseline and the chosen pretrained variant (composite) at
  every configured size (Figure 12, Table 1).
- other streams (flow = single-frame flow, flowstack = stacks of flows): single frame, baseline and
  the pretrained variant with all labels (Table 1's flow column, Table 4).
- late fusion: video probabilities of the two `fusion` streams averaged, per init and size.
A size below "all" has `samples` different class-balanced samples; "all" has `seeds_all` runs
(one labelled set, different training seeds), so that its cells get a spread too.
Every run of a stream shares the percepts and architecture, so they train together in chunks of at
most `max_runs_together` (finetune.engine); results do not depend on the chunking.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from videolstm.config import configured_device
from videolstm.devices import pick_device
from videolstm.errors import UserError
from videolstm.finetune import engine
from videolstm.finetune.data import (
    LabelledVideos,
    Percepts,
    _seed,
    balanced_sample,
    block_starts,
    read_labelled_videos,
    read_percepts,
    split_test_videos,
    validation_exclusion,
    validation_videos,
)
from videolstm.finetune.frames import FrameSource
from videolstm.finetune.runs import (
    BASELINE,
    SHUFFLED,
    SINGLE_FRAME,
    Run,
    checkpoint_path,
    plan_runs,
    stream_domain,
)
from videolstm.finetune.sizing import bank_bytes, group_sizes
from videolstm.lstm import StackedLSTM
from videolstm.video.scope import SPLIT_SCOPED_KINDS, percept_kind, percept_name


def check_held_out(percepts: Percepts, data: LabelledVideos, split: int, test: np.ndarray) -> None:
    """Refuse percepts made by a network that saw (with labels) a test video of this split."""
    if percept_kind(percepts.kind) not in SPLIT_SCOPED_KINDS:
        return
    trained = percepts.meta.get("cnn_trained_on") or {}
    seen = set(trained.get("videos") or [])
    leaked = sorted(seen & {data.videos[i] for i in test})
    if trained.get("split") != split or "videos" not in trained or leaked:
        raise UserError(
            f"percepts {percepts.kind} for split {split} come from a temporal CNN trained on split "
            f"{trained.get('split')} ({len(leaked)} of this split's test videos among its training "
            f"videos{', e.g. ' + leaked[0] if leaked else ''}): each split needs its own CNN's "
            "percepts (videolstm.video.scope); rerun the flow percepts of this split")


def load_encoder_lstm(path: Path) -> tuple[StackedLSTM, str]:
    """The pretrained encoder's StackedLSTM and its init scheme, from a checkpoint."""
    from videolstm.checkpoint import load, load_encoder

    encoder = load_encoder(path)
    init = (load(path).get("model_config") or {}).get("init", "paper")
    return encoder.lstm, init


def fresh_lstm(shape: tuple[int, int, int], cell: str, init: str, seed: int) -> StackedLSTM:
    """The baseline: the same architecture, randomly initialised (seeded, global RNG untouched)."""
    with torch.random.fork_rng(devices=[]), torch.device("cpu"):  # the CPU RNG: any device
        torch.manual_seed(seed % 2**63)
        return StackedLSTM(shape[0], shape[1], shape[2], cell, init)


def run_split(
    cfg: dict, dataset: str, split: int, index_csv: str | Path, percept_dir: str | Path,
    pretrain_dir: str | Path, log=print, runs: list[Run] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Train and evaluate every run of one dataset and split (or the given `runs`).
    Returns (rows, summary)."""
    ft = cfg["finetune"]
    seed = int(cfg.get("seed", 0))
    device = pick_device(configured_device(cfg))
    data = read_labelled_videos(index_csv)
    test = split_test_videos(data, split)
    if len(test) == 0:
        raise UserError(f"{index_csv}: split {split} has no test videos with status ok")
    lstm_cfg = engine.TrainConfig.from_dict(ft.get("lstm"))
    frame_cfg = engine.TrainConfig.from_dict(ft.get("single_frame"))
    chunk = int(ft.get("max_runs_together", 64))
    runs = plan_runs(ft, dataset) if runs is None else runs
    ctx = SplitContext(dataset, split, data, test, seed, Path(pretrain_dir), lstm_cfg, frame_cfg,
                       device, validation_for(ft.get("validation"), data, split, seed, dataset))
    rows, probs, timings, extractors = [], {}, {}, {}
    for stream in sorted({r.stream for r in runs}):
        scfg = ft["streams"][stream]
        percepts = read_percepts(Path(percept_dir) / percept_name(scfg["kind"], split), data.videos)
        check_held_out(percepts, data, split, test)
        extractors[stream] = percepts.meta.get("extractor", "unknown")
        mine = [r for r in runs if r.stream == stream]
        source = FrameSource(percepts, device, reserve_bytes=_bank_reserve(ft, mine, ctx, scfg, percepts))
        t0 = time.perf_counter()
        for group in (  # one training setup per group
            [r for r in mine if r.init == SINGLE_FRAME],
            [r for r in mine if r.init == SHUFFLED],
            [r for r in mine if r.init not in (SINGLE_FRAME, SHUFFLED)],
        ):
            for s in range(0, len(group), chunk):
                part = group[s:s + chunk]
                out = _run_group(part, ctx, scfg, percepts, source)
                for run, res in zip(part, out, strict=True):
                    probs[run] = res.pop("video_probs")
                    rows.append({"run": run, **res})
        timings[stream] = time.perf_counter() - t0
        source = None  # the next stream's residency is decided without this table on the device
        log(f"{dataset} split {split} {stream}: {len(mine)} runs in {timings[stream]:.1f} s")
    rows = [_row(r["run"], r, dataset, split, extractors, data.n_classes) for r in rows]
    rows += _fusion_rows(ft, probs, data, test, dataset, split, extractors)
    df = pd.DataFrame(rows)
    summary = {
        "dataset": dataset, "split": split, "runs": len(runs), "test_videos": int(len(test)),
        "classes": data.n_classes, "skipped_videos": data.skipped, "seconds": timings,
        "extractors": extractors, "device": str(device), "torch_threads": torch.get_num_threads(),
    }
    return df, summary


def _bank_reserve(ft: dict, runs: list[Run], ctx: SplitContext, scfg: dict, percepts: Percepts) -> int:
    """On a GPU: the device bytes of the stream's largest group of LSTM classifiers, kept free
    when deciding whether its percept table can be resident (finetune.sizing, as the job's declared memory)."""
    from dataclasses import asdict

    lstm_runs = [r for r in runs if r.init != SINGLE_FRAME]
    if ctx.device.type != "cuda" or not lstm_runs:
        return 0
    enc = _encoder_for(lstm_runs[0], scfg, percepts.dim, ctx.pretrain_dir, 0, ctx.split)
    together = group_sizes(ft, lstm_runs)[lstm_runs[0].stream]
    blocks = sum(len(block_starts(int(n), ctx.lstm_cfg.block, ctx.lstm_cfg.stride))
                 for n in percepts.lengths()[ctx.test])
    return bank_bytes(percepts.dim, enc.hidden, enc.num_layers, ctx.data.n_classes,
                      asdict(ctx.lstm_cfg), together, ctx.validation is not None, blocks)


@dataclass(frozen=True)
class SplitContext:
    """What every group of runs of one dataset and split shares."""

    dataset: str
    split: int
    data: LabelledVideos
    test: np.ndarray
    seed: int
    pretrain_dir: Path
    lstm_cfg: engine.TrainConfig
    frame_cfg: engine.TrainConfig
    device: torch.device
    validation: engine.Validation | None = None


def validation_for(vcfg: dict | None, data: LabelledVideos, split: int, seed: int,
                   dataset: str) -> engine.Validation | None:
    """finetune.validation: the split's held-out training videos and the check interval."""
    if not vcfg:
        return None
    videos = validation_videos(data, split, int(vcfg["per_class"]), seed, dataset)
    if len(videos) == 0:
        raise UserError(f"{dataset} split {split}: no training video can be held out for "
                        "validation (finetune.validation); every class has one at most")
    return engine.Validation(videos, int(vcfg["every"]),
                             validation_exclusion(data, split, videos))


def _train_eval(part: list[Run], ctx: SplitContext, scfg: dict, percepts: Percepts,
                source: FrameSource, sets, seeds, cfg: engine.TrainConfig) -> dict:
    """Train the group once with cfg; test accuracy and probabilities, and validation scores."""
    data, val = ctx.data, ctx.validation
    if part[0].init == SINGLE_FRAME:
        bank = engine.train_frame_group(percepts, data.labels, data.n_classes, sets, seeds, cfg,
                                        ctx.device, source, val)
        res = engine.evaluate_frame_group(bank, percepts, ctx.test, data.labels, cfg, source)
    else:
        encoders = (_encoder_for(r, scfg, percepts.dim, ctx.pretrain_dir, s, ctx.split)
                    for r, s in zip(part, seeds, strict=True))  # one fresh baseline at a time
        bank = engine.train_lstm_group(percepts, data.labels, data.n_classes, sets, encoders,
                                       seeds, cfg, ctx.device, source, val)
        res = engine.evaluate_lstm_group(bank, percepts, ctx.test, data.labels, cfg, source)
    # per-run results live on the host (res is moved there by the evaluation)
    steps = bank.best_step if val else torch.full((len(part),), cfg.steps, device="cpu")
    valid = bank.valid_acc if val else torch.zeros(len(part), dtype=torch.float64, device="cpu")
    return {**res, "steps": steps, "valid_acc": valid}


def _run_group(part: list[Run], ctx: SplitContext, scfg: dict, percepts: Percepts,
               source: FrameSource) -> list[dict]:
    data, split, seed = ctx.data, ctx.split, ctx.seed
    held = ctx.validation.exclude if ctx.validation else None
    sets = [balanced_sample(data, split, r.size or None, r.sample, seed, ctx.dataset, held)
            for r in part]
    seeds = [_seed(seed, ctx.dataset, split, r.stream, r.init, r.size, r.sample) % 2**31
             for r in part]
    n_train = [len(s) for s in sets]
    cfg = ctx.frame_cfg if part[0].init == SINGLE_FRAME else ctx.lstm_cfg
    if part[0].init == SHUFFLED:
        cfg = replace(cfg, shuffle_time=True)
    # one training per learning rate; each run keeps the one its validation videos score best
    # (the first on ties); the test videos play no part in the choice
    lrs = (cfg.lrs or [cfg.lr]) if ctx.validation else [cfg.lr]
    chosen = best = None
    for lr in lrs:
        res = _train_eval(part, ctx, scfg, percepts, source, sets, seeds, replace(cfg, lr=lr))
        res["lr"] = torch.full((len(part),), lr, dtype=torch.float64, device="cpu")
        if chosen is None:
            chosen, best = res, res["valid_acc"].clone()
            continue
        better = res["valid_acc"] > best
        best = torch.where(better, res["valid_acc"], best)
        for key, value in res.items():
            mask = better.view(-1, *([1] * (value.dim() - 1)))
            chosen[key] = torch.where(mask.to(value.device), value, chosen[key])
    return [
        {"video_acc": float(chosen["video_acc"][i]), "clip_acc": float(chosen["clip_acc"][i]),
         "n_train": n_train[i], "video_probs": chosen["video_probs"][i],
         "lr": float(chosen["lr"][i]), "steps": int(chosen["steps"][i]),
         "valid_acc": float(chosen["valid_acc"][i]) if ctx.validation else np.nan}
        for i in range(len(part))
    ]


_ENCODER_CACHE: dict[Path, tuple[StackedLSTM, str]] = {}


def _encoder_for(run: Run, scfg: dict, dim: int, pretrain_dir, seed: int, split: int) -> StackedLSTM:
    domain = stream_domain(scfg, split)
    if domain:
        fresh = run.init in (BASELINE, SHUFFLED)
        ref_variant = scfg.get("reference", "composite") if fresh else run.init
        path = checkpoint_path(pretrain_dir, domain, ref_variant)
        if path not in _ENCODER_CACHE:
            _ENCODER_CACHE[path] = load_encoder_lstm(path)
        lstm, init = _ENCODER_CACHE[path]
        if lstm.input_dim != dim:
            raise UserError(
                f"{path} encodes {lstm.input_dim}-d inputs but the {scfg['kind']} percepts are "
                f"{dim}-d; pretrain domain '{domain}' on these percepts or set the stream's domain"
            )
        if not fresh:
            return lstm
        return fresh_lstm((dim, lstm.hidden, lstm.num_layers), lstm.cell, init, seed)
    return fresh_lstm(
        (dim, int(scfg.get("hidden", 128)), int(scfg.get("layers", 1))), "peephole", "paper", seed
    )


def _row(run: Run, res: dict, dataset: str, split: int, extractors: dict, classes: int) -> dict:
    return {
        "dataset": dataset, "split": split, "stream": run.stream, "init": run.init,
        "size": run.size_name, "sample": run.sample, "n_train": res["n_train"],
        "n_classes": classes,
        "video_acc": res["video_acc"], "clip_acc": res["clip_acc"],
        # what training used: chosen by validation accuracy when finetune.validation is set
        "lr": res["lr"], "steps": res["steps"], "valid_acc": res["valid_acc"],
        "extractor": extractors[run.stream],
    }


def _fusion_rows(ft, probs, data, test, dataset, split, extractors) -> list[dict]:
    fusion = ft.get("fusion") or []
    if len(fusion) != 2:
        return []
    a, b = fusion
    y = data.labels[test]
    rows = []
    for run in sorted(r for r in probs if r.stream == a):
        other = Run(b, run.init, run.size, run.sample)
        if other not in probs:
            continue
        fused = (probs[run] + probs[other]) / 2
        acc = float((fused.argmax(-1).numpy() == y).mean() * 100.0)
        rows.append({
            "dataset": dataset, "split": split, "stream": f"{a}+{b}", "init": run.init,
            "size": run.size_name, "sample": run.sample, "n_train": np.nan,
            "n_classes": data.n_classes,
            "video_acc": acc, "clip_acc": np.nan,
            "extractor": f"{extractors[a]} + {extractors[b]}",
        })
    return rows
