"""Train and evaluate a group of classifiers together (one architecture, one percept kind).

Training: each run draws its own minibatch (its own numpy Generator) of `batch_size` random
`block`-frame windows from its own labelled videos; the loss is the cross entropy of the softmax at
EVERY step with the video's label as the target, averaged per run and summed over runs.
Evaluation (the paper's protocol): softmax at every step, averaged over the steps of a block, then
averaged over all blocks of the video (stride `stride`): video-level accuracy. Clip-level accuracy
(each block on its own) is reported separately. The single-frame baseline is a logistic regression
on single frames whose probabilities are averaged over all frames of the video.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from videolstm.config import known_fields
from videolstm.finetune.bank import LinearBank, LSTMBank
from videolstm.finetune.data import Percepts, eval_blocks, frame_indices
from videolstm.finetune.frames import FrameSource
from videolstm.lstm import StackedLSTM


@dataclass
class TrainConfig:
    steps: int = 600
    batch_size: int = 16
    optimizer: str = "adam"  # adam | sgd
    # mean: each run's cross entropy averaged over its batch and steps; sum: summed over them, as
    # the authors' classifier (lstm_classifier.py: gradients accumulate with no division)
    loss_reduction: str = "mean"
    lr: float = 3e-3
    # learning rates to choose from, per run, by validation accuracy (finetune.validation); None:
    # just `lr`
    lrs: list[float] | None = None
    momentum: float = 0.9
    weight_decay: float = 0.0
    clip: float | None = 1.0  # element-wise gradient clipping of the LSTM classifiers (None: off)
    dropout: float = 0.5  # LSTM: between layers and before the softmax; single frame: its input
    # training windows: "video" draws a labelled video uniformly, then a window of it; "all" draws
    # uniformly over every window of the labelled set (the authors'), so long videos count more.
    # The same distribution when all videos are of one length (the embedded data).
    windows: str = "video"
    # the classifier's peephole weights kept as initialised (the authors' released config: lr 0)
    freeze_peepholes: bool = False
    block: int = 16
    stride: int = 8
    eval_chunk: int = 512  # blocks (or frames) per evaluation chunk
    # negative control: the frames of every block are put in a random order, at training and at
    # test, so that only what single frames carry is left (finetune.controls)
    shuffle_time: bool = False

    @classmethod
    def from_dict(cls, d: dict | None) -> TrainConfig:
        return cls(**known_fields(cls, d, "finetune.lstm / finetune.single_frame"))


@dataclass
class Validation:
    """Early stopping: every `every` steps each run is scored on the `videos` (training videos
    held out of every labelled set, never test videos); each run ends with its parameters of
    the best check (the earliest on ties)."""

    videos: np.ndarray
    every: int
    # training videos no labelled set may hold: every video of the validation videos' groups
    exclude: np.ndarray | None = None


class _Best:
    """Each run's parameters at its best validation check so far (bank parameters are stacked
    over a leading run dimension, so one mask selects the improved runs)."""

    def __init__(self, bank: torch.nn.Module) -> None:
        self.params = [p.detach().clone() for p in bank.parameters()]
        # per-run bookkeeping on the host (the parameters stay on the bank's device)
        self.acc = torch.full((bank.runs,), -1.0, dtype=torch.float64, device="cpu")
        self.step = torch.zeros(bank.runs, dtype=torch.long, device="cpu")

    @torch.no_grad()
    def update(self, bank: torch.nn.Module, acc: Tensor, step: int) -> None:
        better = acc.cpu() > self.acc
        if bool(better.any()):
            for kept, p in zip(self.params, bank.parameters(), strict=True):
                mask = better.to(p.device)
                kept[mask] = p[mask]
            self.acc = torch.where(better, acc.cpu().double(), self.acc)
            self.step[better] = step

    @torch.no_grad()
    def restore(self, bank: torch.nn.Module) -> None:
        for kept, p in zip(self.params, bank.parameters(), strict=True):
            p.copy_(kept)
        bank.best_step, bank.valid_acc = self.step.clone(), self.acc.clone()


def _checks(steps: int, validation: Validation | None) -> set[int]:
    """The steps after which the runs are validated (always the last one)."""
    if validation is None:
        return set()
    return set(range(validation.every, steps + 1, validation.every)) | {steps}


def step_average(step_probs: Tensor) -> Tensor:
    """(..., T, N, C) per-step probabilities -> (..., N, C) block probabilities."""
    return step_probs.mean(dim=-3)


def video_average(block_probs: Tensor, owner: Tensor, n_videos: int) -> Tensor:
    """(R, N, C) block (or frame) probabilities -> (R, V, C) mean over each video's blocks."""
    R, _, C = block_probs.shape
    sums = block_probs.new_zeros(R, n_videos, C).index_add_(1, owner, block_probs)
    counts = torch.bincount(owner, minlength=n_videos).clamp(min=1).to(block_probs.dtype)
    return sums / counts[None, :, None]


def accuracy(probs: Tensor, labels: Tensor) -> Tensor:
    """(R, N, C), (N,) -> (R,) accuracy in percent."""
    return (probs.argmax(-1) == labels[None]).double().mean(-1) * 100.0


def _optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":  # fused: one kernel over all parameters (much faster on CPU)
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    raise ValueError(f"unknown optimizer {cfg.optimizer!r} (adam or sgd)")


def _train_batch(
    rngs: list[np.random.Generator], train_sets: list[np.ndarray], labels: np.ndarray,
    percepts: Percepts, block: int, batch: int, shuffle: bool = False, windows: str = "video",
) -> tuple[np.ndarray, np.ndarray]:
    """Frame indices (R, B, block) and labels (R, B): random windows of each run's videos (their
    frames in a random order when `shuffle`); `windows` as TrainConfig.windows."""
    lengths = percepts.lengths()
    idx = np.empty((len(rngs), batch, block), dtype=np.int64)
    lab = np.empty((len(rngs), batch), dtype=np.int64)
    for r, (rng, pool) in enumerate(zip(rngs, train_sets, strict=True)):
        if windows == "all":  # one draw over every window of the pool
            ends = np.cumsum(np.maximum(lengths[pool].astype(np.int64) - block, 0) + 1)
            w = rng.integers(0, int(ends[-1]), size=batch)
            k = np.searchsorted(ends, w, side="right")
            vids, starts = pool[k], w - np.concatenate([[0], ends[:-1]])[k]
        else:  # a video, then a window of it
            vids = pool[rng.integers(0, len(pool), size=batch)]
            starts = None
        for b, v in enumerate(vids):
            n = int(lengths[v])
            start = int(rng.integers(0, max(n - block, 0) + 1)) if starts is None else int(starts[b])
            idx[r, b] = frame_indices(int(percepts.offsets[v]), n, start, block)
        if shuffle:  # after the draws of the windows: the same windows as without shuffling
            idx[r] = rng.permuted(idx[r], axis=-1)
        lab[r] = labels[vids]
    return idx, lab


def train_lstm_group(
    percepts: Percepts,
    labels: np.ndarray,
    n_classes: int,
    train_sets: list[np.ndarray],
    encoders: Iterable[StackedLSTM],
    seeds: list[int],
    cfg: TrainConfig,
    device: torch.device | str = "cpu",
    source: FrameSource | None = None,
    validation: Validation | None = None,
) -> LSTMBank:
    """Train one LSTM classifier per (train set, initial encoder, seed), all together; with
    `validation`, each keeps its parameters of its best validation check. `encoders` may be a
    generator: each is copied into the bank (built on the device) and can be dropped, so a group
    of fresh baselines never holds all of them on the host at once."""
    device = torch.device(device)
    encoders = iter(encoders)
    ref = next(encoders)
    R = len(seeds)
    bank = LSTMBank(R, ref.input_dim, ref.hidden, ref.num_layers, n_classes,
                    peephole=ref.cell == "peephole", device=device)
    for r, (enc, seed) in enumerate(zip(itertools.chain([ref], encoders), seeds, strict=True)):
        bank.load_lstm(r, enc)
        bank.init_head(r, torch.Generator().manual_seed(seed))
    del ref, enc
    if cfg.freeze_peepholes:
        for p in bank.peep:
            p.requires_grad_(False)
    bank.train()
    source = source or FrameSource(percepts, device)
    rngs = [np.random.default_rng(seed) for seed in seeds]
    gens = [torch.Generator(device=device).manual_seed(seed + 1) for seed in seeds]
    opt = _optimizer([p for p in bank.parameters() if p.requires_grad], cfg)
    checks, best = _checks(cfg.steps, validation), _Best(bank) if validation else None
    # the draws of every step's windows, in order (run ahead in a thread when streamed)
    jobs = (_train_batch(rngs, train_sets, labels, percepts, cfg.block, cfg.batch_size,
                         cfg.shuffle_time, cfg.windows) for _ in range(cfg.steps))
    for step, (x, lab) in enumerate(source.batches(jobs), start=1):
        x = x.permute(0, 2, 1, 3)  # (R, T, B, D)
        target = torch.from_numpy(lab).to(device)[:, None, :].expand(R, cfg.block, -1)
        _step(bank, opt, bank(x, cfg.dropout, gens), target, R, cfg.clip, cfg.loss_reduction)
        if step in checks:  # evaluation draws no random numbers: training is unchanged by it
            res = evaluate_lstm_group(bank.eval(), percepts, validation.videos, labels, cfg, source)
            best.update(bank, res["video_acc"], step)
            bank.train()
    if best is not None:
        best.restore(bank)
    return bank.eval()


def _step(bank: torch.nn.Module, opt: torch.optim.Optimizer, logits: Tensor, target: Tensor,
          runs: int, clip: float | None = None, reduction: str = "mean") -> None:
    """One optimiser step of every run: each run's cross entropy (mean or sum over its batch and
    steps), summed over runs (so the runs' gradients stay independent)."""
    n_classes = logits.shape[-1]
    per_run = F.cross_entropy(
        logits.reshape(-1, n_classes), target.reshape(-1), reduction="none"
    ).view(runs, -1)
    if reduction not in ("mean", "sum"):
        raise ValueError(f"unknown loss_reduction {reduction!r} (mean or sum)")
    loss = (per_run.mean(1) if reduction == "mean" else per_run.sum(1)).sum()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip:
        torch.nn.utils.clip_grad_value_(bank.parameters(), clip)
    opt.step()


@torch.no_grad()
def evaluate_lstm_group(
    bank: LSTMBank, percepts: Percepts, videos: np.ndarray, labels: np.ndarray,
    cfg: TrainConfig, source: FrameSource | None = None,
) -> dict[str, Tensor]:
    """Video-level probabilities (R, V, C) and accuracies (video and clip level) of every run."""
    device = bank.head_w.device
    source = source or FrameSource(percepts, device)
    idx, owner = eval_blocks(percepts, videos, cfg.block, cfg.stride)
    if cfg.shuffle_time:  # the same order for every run (a fixed seed): runs stay comparable
        idx = np.random.default_rng(0).permuted(idx, axis=1)
    block_probs = []
    chunks = ((idx[s:s + cfg.eval_chunk], None) for s in range(0, len(idx), cfg.eval_chunk))
    for x, _ in source.batches(chunks):
        block_probs.append(step_average(torch.softmax(bank(x.transpose(0, 1)), dim=-1)))  # (T, n, D)
    probs = torch.cat(block_probs, dim=1)
    owner_t = torch.from_numpy(owner).to(device)
    y = torch.from_numpy(labels[videos]).to(device)
    video_probs = video_average(probs, owner_t, len(videos))
    return {
        "video_probs": video_probs.cpu(),
        "video_acc": accuracy(video_probs, y).cpu(),
        "clip_acc": accuracy(probs, y[owner_t]).cpu(),
    }


def train_frame_group(
    percepts: Percepts, labels: np.ndarray, n_classes: int, train_sets: list[np.ndarray],
    seeds: list[int], cfg: TrainConfig, device: torch.device | str = "cpu",
    source: FrameSource | None = None, validation: Validation | None = None,
) -> LinearBank:
    """Single-frame logistic regressions (one per run), trained together on random frames; with
    `validation`, each keeps its parameters of its best validation check."""
    device = torch.device(device)
    bank = LinearBank(len(seeds), percepts.dim, n_classes, device=device)
    for r, seed in enumerate(seeds):
        bank.init_run(r, torch.Generator().manual_seed(seed))
    bank.train()
    source = source or FrameSource(percepts, device)
    rngs = [np.random.default_rng(seed) for seed in seeds]
    gens = [torch.Generator(device=device).manual_seed(seed + 1) for seed in seeds]
    opt = _optimizer(list(bank.parameters()), cfg)
    R = len(seeds)
    checks, best = _checks(cfg.steps, validation), _Best(bank) if validation else None
    jobs = ((idx[..., 0], lab) for idx, lab in (  # (R, B) frames
        _train_batch(rngs, train_sets, labels, percepts, 1, cfg.batch_size, windows=cfg.windows)
        for _ in range(cfg.steps)))
    for step, (x, lab) in enumerate(source.batches(jobs), start=1):
        _step(bank, opt, bank(x, cfg.dropout, gens), torch.from_numpy(lab).to(device), R, None,
              cfg.loss_reduction)
        if step in checks:
            res = evaluate_frame_group(bank.eval(), percepts, validation.videos, labels, cfg, source)
            best.update(bank, res["video_acc"], step)
            bank.train()
    if best is not None:
        best.restore(bank)
    return bank.eval()


@torch.no_grad()
def evaluate_frame_group(
    bank: LinearBank, percepts: Percepts, videos: np.ndarray, labels: np.ndarray,
    cfg: TrainConfig, source: FrameSource | None = None,
) -> dict[str, Tensor]:
    """Probabilities of every frame averaged over the video; 'clip' = a single frame here."""
    device = bank.weight.device
    source = source or FrameSource(percepts, device)
    lengths = percepts.lengths()
    frames = np.concatenate(
        [np.arange(percepts.offsets[v], percepts.offsets[v] + lengths[v]) for v in videos]
    )
    owner = np.repeat(np.arange(len(videos)), lengths[videos])
    step = cfg.eval_chunk * cfg.block
    jobs = ((frames[s:s + step], None) for s in range(0, len(frames), step))
    probs = torch.cat([torch.softmax(bank(x), dim=-1) for x, _ in source.batches(jobs)], dim=1)
    owner_t = torch.from_numpy(owner).to(device)
    y = torch.from_numpy(labels[videos]).to(device)
    video_probs = video_average(probs, owner_t, len(videos))
    return {
        "video_probs": video_probs.cpu(),
        "video_acc": accuracy(video_probs, y).cpu(),
        "clip_acc": accuracy(probs, y[owner_t]).cpu(),
    }
