"""Temporal-stream CNN (Simonyan & Zisserman 2014a) on stored flow; its fc6 gives flow percepts.

Input: a stack of L flow fields (L = 1 for kind `flow`, 10 for `flowstack`) starting at frame t
(clamped at the end of the video), 2L channels, dequantised to pixels in [-bound, bound], optionally
minus its mean displacement per channel (the two-stream paper's camera-motion compensation).
Network: configured conv blocks [channels, kernel, stride, pool] -> fc6 (+ReLU, dropout) -> fc7
(+ReLU, dropout) -> classes; the paper-scale default mirrors the two-stream CNN-M-2048 (conv
96-256-512-512-512, fc6 4096, fc7 2048). Trained on the training videos of one split of one
labelled dataset (config flow.cnn.dataset; the paper: UCF-101); the workflow trains one per split
(videolstm.video.scope). Its fc6 activations after ReLU for every frame of every video are that
split's flow percepts; they record the split and the ids of the videos the CNN was trained on, so
the classifiers can check that none of their test videos is among them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from videolstm.config import known_fields
from videolstm.devices import pick_device
from videolstm.errors import UserError
from videolstm.prefetch import depth_for, prefetch, staged
from videolstm.video.arrays import load_frames, load_meta, write_frames
from videolstm.video.index import read_index

KINDS = {"flow": 1, "flowstack": 10}


@dataclass
class CNNConfig:
    """Config section flow.cnn (defaults: config/config.yaml's; paper scale: config/paper.yaml)."""

    dataset: str = "ucf101"
    split: int = 1
    convs: list = field(default_factory=lambda: [[16, 5, 2, False], [32, 3, 1, True],
                                                 [32, 3, 1, True]])
    fc6: int = 128
    fc7: int = 128
    dropout: float = 0.2
    subtract_mean: bool = False
    flip: bool = False  # horizontal flips (negating u); off when left/right are different classes
    steps: int = 300
    batch_size: int = 32
    lr: float = 0.002
    weight_decay: float = 0.0
    batch_size_features: int = 256
    seed: int = 0
    threads: int = 1
    device: str = "auto"

    @classmethod
    def from_dict(cls, values: dict, seed: int = 0, threads: int = 1,
                  device: str = "auto") -> CNNConfig:
        known = known_fields(cls, values, "flow.cnn")
        return cls(**{**known, "seed": values.get("seed", seed), "threads": threads,
                      "device": device})


class TemporalCNN(nn.Module):
    def __init__(self, in_channels: int, size: int, n_classes: int, convs: list, fc6: int,
                 fc7: int, dropout: float):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for out, kernel, stride, pool in convs:
            layers += [nn.Conv2d(c, int(out), int(kernel), int(stride), int(kernel) // 2),
                       nn.ReLU(inplace=True)]
            if pool:
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            c = int(out)
        self.features = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.features(torch.zeros(1, in_channels, size, size)).numel()
        self.fc6 = nn.Sequential(nn.Flatten(), nn.Linear(flat, fc6), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(fc6, fc7), nn.ReLU(inplace=True),
                                  nn.Dropout(dropout), nn.Linear(fc7, n_classes))

    def features6(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc6(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features6(x))


def stack_indices(offsets: np.ndarray, video: np.ndarray, t: np.ndarray, length: int):
    """Row indices (N, length) of flow fields t..t+length-1 of each video, clamped at its end."""
    start, end = offsets[video], offsets[video + 1]
    rows = start[:, None] + t[:, None] + np.arange(length)[None, :]
    return np.minimum(rows, (end - 1)[:, None])


def make_input(flow: np.ndarray, rows: np.ndarray, bound: float, subtract_mean: bool,
               flip: np.ndarray | None = None) -> torch.Tensor:
    """(N, length) rows of a uint8 (F, S, S, 2) store -> float tensor (N, 2*length, S, S)."""
    q = flow[rows.reshape(-1)]  # (N*L, S, S, 2)
    x = q.astype(np.float32) * np.float32(2.0 * bound / 255.0) - np.float32(bound)  # pixels
    n, length = rows.shape
    s = x.shape[1]
    x = x.reshape(n, length, s, s, 2).transpose(0, 1, 4, 2, 3).reshape(n, 2 * length, s, s)
    if flip is not None and flip.any():
        x[flip] = x[flip][..., ::-1]
        x[flip, 0::2] *= -1.0  # u changes sign under a horizontal flip
    if subtract_mean:
        x = x - x.mean(axis=(2, 3), keepdims=True)
    return torch.from_numpy(np.ascontiguousarray(x))


def _video_table(flow_path: Path, index_path: Path, split: int):
    """Per video in the flow store: label and split role (matched by id through the json)."""
    meta = load_meta(flow_path)
    ids = meta.get("videos")
    if ids is None:
        raise UserError(f"{flow_path}: its json with the video list is missing; "
                        "rerun `videolstm flow`")
    index = read_index(index_path)
    by_id = index.set_index("video")
    missing = [v for v in ids if v not in by_id.index]
    if missing:
        raise UserError(f"{len(missing)} videos of {flow_path} are not in {index_path} "
                        f"(e.g. {missing[0]}); index and flow come from different datasets")
    labels = by_id.loc[ids, "label"].to_numpy(np.int64)
    roles = by_id.loc[ids, f"split{split}"].to_numpy()
    return labels, roles, meta


def _recent(losses) -> float:
    """Mean of the last 20 training losses (as Python floats, averaged in float64)."""
    return float(np.mean([float(v) for v in list(losses)[-20:]]))


def train(flow_path: str | Path, index_path: str | Path, kind: str, cfg: CNNConfig,
          out: str | Path, log: Callable[[str], None] = print,
          prefetch_depth: int | None = None) -> dict:
    """Train one temporal CNN. Batches (numpy work: about 0.3 s for a paper-scale flow-stack
    batch) are built in a background thread a few ahead when training on a GPU
    (`prefetch_depth`; None: 2 on CUDA, 0 on the CPU, where the job's other core is another
    job's); the batches and so the model are the same either way (tested)."""
    from videolstm.io import atomic_torch_save, atomic_write_json

    if kind not in KINDS:
        raise UserError(f"unknown flow percept kind {kind!r}; choose one of {', '.join(KINDS)}")
    length = KINDS[kind]
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, cfg.threads))
    rng = np.random.default_rng([cfg.seed, length])
    flow, offsets = load_frames(flow_path)
    labels, roles, meta = _video_table(Path(flow_path), Path(index_path), cfg.split)
    n_classes = int(labels.max()) + 1
    train_v = np.flatnonzero(roles == "train")
    test_v = np.flatnonzero(roles == "test")
    if len(train_v) == 0:
        raise UserError(f"no training videos in split {cfg.split} of {index_path}")
    size = flow.shape[1]
    bound = float(meta.get("bound", 20.0))
    device = pick_device(cfg.device)
    with torch.device("cpu"):  # initialised by the CPU RNG: the same weights on any device
        model = TemporalCNN(2 * length, size, n_classes, cfg.convs, cfg.fc6, cfg.fc7, cfg.dropout)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    lengths = offsets[1:] - offsets[:-1]
    # frames sampled uniformly over all training frames
    weights = lengths[train_v] / lengths[train_v].sum()
    t0 = time.perf_counter()
    model.train()
    losses: deque = deque(maxlen=20)  # the last 20 are all that is reported

    def batches():  # drawn in order; on a GPU built a few ahead by a background thread
        for _ in range(cfg.steps):
            v = rng.choice(train_v, size=cfg.batch_size, p=weights)
            t = (rng.random(cfg.batch_size) * lengths[v]).astype(np.int64)
            flips = rng.random(cfg.batch_size) < 0.5 if cfg.flip else None
            x = make_input(flow, stack_indices(offsets, v, t, length), bound, cfg.subtract_mean, flips)
            yield staged(x, device), labels[v]

    for step, (x, y) in enumerate(prefetch(batches(), depth_for(device, prefetch_depth))):
        x = x.to(device, non_blocking=True)
        y = torch.from_numpy(y).to(device)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())  # read at log steps only: no device sync every step
        if (step + 1) % max(1, cfg.steps // 10) == 0:
            log(f"step {step + 1}/{cfg.steps} loss {_recent(losses):.4f}")
    log(f"trained {cfg.steps} steps in {time.perf_counter() - t0:.1f} s")
    metrics = {"kind": kind, "stack": length, "dataset": cfg.dataset, "split": cfg.split,
               "train_videos": int(len(train_v)),
               "test_videos": int(len(test_v)), "steps": cfg.steps,
               "final_loss": _recent(losses)}
    model.eval()
    for name, vids in (("train", train_v), ("test", test_v)):
        if len(vids):
            frame_acc, video_acc = _accuracy(model, flow, offsets, labels, vids, length, bound,
                                             cfg, device)
            metrics[f"{name}_frame_accuracy"] = round(frame_acc, 4)
            metrics[f"{name}_video_accuracy"] = round(video_acc, 4)
    log(f"temporal CNN ({kind}): {metrics}")
    config = {"in_channels": 2 * length, "size": size, "n_classes": n_classes,
              "convs": cfg.convs, "fc6": cfg.fc6, "fc7": cfg.fc7, "dropout": cfg.dropout}
    atomic_torch_save(out, {"kind": kind, "stack": length, "config": config, "bound": bound,
                            "subtract_mean": cfg.subtract_mean, "state_dict": model.state_dict(),
                            "trained_on": {"dataset": cfg.dataset, "split": cfg.split,
                                           "flow": str(flow_path),
                                           "videos": [meta["videos"][i] for i in train_v]},
                            "metrics": metrics})
    atomic_write_json(Path(out).with_suffix(".json"), metrics)
    return metrics


def _iter_rows(offsets: np.ndarray, vids: np.ndarray, length: int, batch: int):
    for v in vids:
        n = int(offsets[v + 1] - offsets[v])
        for s in range(0, n, batch):
            t = np.arange(s, min(n, s + batch))
            yield v, stack_indices(offsets, np.full(len(t), v), t, length)


def _accuracy(model, flow, offsets, labels, vids, length, bound, cfg, device):
    correct_frames = frames = correct_videos = 0
    with torch.inference_mode():
        for v in vids:
            probs = []
            for _, rows in _iter_rows(offsets, np.array([v]), length, cfg.batch_size_features):
                x = make_input(flow, rows, bound, cfg.subtract_mean).to(device)
                probs.append(torch.softmax(model(x), 1).cpu())
            p = torch.cat(probs)
            correct_frames += int((p.argmax(1) == labels[v]).sum())
            frames += len(p)
            correct_videos += int(int(p.mean(0).argmax()) == labels[v])
    return correct_frames / max(frames, 1), correct_videos / max(len(vids), 1)


def load_model(path: str | Path) -> tuple[TemporalCNN, dict]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"temporal CNN {path} does not exist; train it with "
                        "`videolstm temporal-cnn-train`")
    from videolstm.checkpoint import safe_torch_load

    ckpt = safe_torch_load(path, "temporal CNN", "delete it and rerun its training step")
    if not isinstance(ckpt, dict) or "config" not in ckpt or "state_dict" not in ckpt:
        raise UserError(f"{path} is not a temporal CNN checkpoint; delete it and rerun its training step")
    with torch.device("cpu"):
        model = TemporalCNN(**ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt


def features(model_path: str | Path, flow_path: str | Path, out: str | Path, meta: dict,
             batch_size: int = 256, threads: int = 1, device: str = "auto",
             log: Callable[[str], None] = print, prefetch_depth: int | None = None) -> dict:
    """fc6 (after ReLU) of the temporal CNN for every frame of a flow store: float16 percepts.
    On a GPU the input stacks are built two batches ahead by a background thread
    (`prefetch_depth`; None: 2 on CUDA, 0 on the CPU); the percepts are the same (tested)."""
    torch.set_num_threads(max(1, threads))
    model, ckpt = load_model(model_path)
    dev = pick_device(device)
    model = model.to(dev)
    flow, offsets = load_frames(flow_path)
    flow_meta = load_meta(flow_path)
    length = int(ckpt["stack"])
    if flow.shape[1] != ckpt["config"]["size"]:
        raise UserError(f"{flow_path} holds {flow.shape[1]}x{flow.shape[1]} flow but the CNN "
                        f"{model_path} was trained on {ckpt['config']['size']}; use the same "
                        "flow.size")
    dim = int(ckpt["config"]["fc6"])
    t0 = time.perf_counter()
    info = {**meta, "extractor": f"temporal_cnn_fc6_{ckpt['kind']}", "dim": dim,
            "stack": length, "flow_method": flow_meta.get("method"),
            "cnn_trained_on": ckpt["trained_on"], "cnn_metrics": ckpt["metrics"],
            "videos": flow_meta.get("videos", []), "skipped": flow_meta.get("skipped", 0),
            "skipped_videos": flow_meta.get("skipped_videos", []),
            "listing": flow_meta.get("listing")}

    def inputs():  # every video's input batches, then None at its end
        for v in range(len(offsets) - 1):
            for _, rows in _iter_rows(offsets, np.array([v]), length, batch_size):
                x = make_input(flow, rows, ckpt["bound"], ckpt["subtract_mean"])
                yield staged(x, dev)
            yield None

    with write_frames(out, (dim,), np.float16, info) as writer, torch.inference_mode():
        for x in prefetch(inputs(), depth_for(dev, prefetch_depth)):
            if x is None:
                writer.end_sequence()
                continue
            writer.append(model.features6(x.to(dev, non_blocking=True)).float().cpu().numpy())
    seconds = time.perf_counter() - t0
    log(f"{out}: {writer.rows} frames in {seconds:.1f} s, {info['extractor']} ({dim}-d)")
    return {"frames": writer.rows, "seconds": seconds}
