"""Small fake inputs of the supervised protocol (index, percepts, checkpoints) for tests and
benchmarks: classes differ in how their frames move along a class direction over time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from videolstm.checkpoint import save
from videolstm.io import atomic_save_npy, atomic_write_text
from videolstm.models import ModelConfig, build_model
from videolstm.video.scope import SPLIT_SCOPED_KINDS, percept_name

COLUMNS = "video,path,class_name,label,group,split1,split2,split3,n_frames,fps,width,height,status"


def write_fake_dataset(
    root: str | Path, dataset: str = "ucf101", classes: int = 4, groups: int = 6,
    per_group: int = 2, dim: int = 16, kinds=("rgb", "flow", "flowstack"), seed: int = 0,
    order_only: bool = False,
) -> Path:
    """Writes {root}/data/index/{dataset}.csv and {root}/percepts/{dataset}/{kind}.* (flow kinds:
    one `{kind}_split{N}` per split, as made by that split's temporal CNN); one failed video
    (status decode_error) is listed in the index and absent from the percepts.

    `order_only`: classes come in pairs that move along the same direction in opposite senses,
    so a single frame (or shuffled frames) can tell the pair but only the order tells the class."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    lines, ok = [COLUMNS], []
    for c in range(classes):
        for g in range(1, groups + 1):
            for k in range(per_group):
                vid = f"v_c{c}_g{g:02d}_{k}"
                splits = [("test" if (g - 1) % 3 == s else "train") for s in range(3)]
                n = int(rng.integers(12, 40))
                status = "ok" if (c, g, k) != (0, 1, 0) else "decode_error"
                lines.append(f"{vid},{vid}.avi,class{c},{c + 1},{g},{','.join(splits)},{n},25,"
                             f"320,240,{status}")
                if status == "ok":
                    ok.append((vid, c, n, splits))
    (root / "data" / "index").mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / "data" / "index" / f"{dataset}.csv", "\n".join(lines) + "\n")
    for kind in kinds:
        dirs = rng.normal(size=(classes, dim))
        chunks = []
        for _, c, n, _ in ok:
            t = np.linspace(0, 1, n)[:, None]
            if order_only:
                sense = t if c % 2 == 0 else 1 - t
                x = 2 * dirs[c // 2] + 4 * (sense - 0.5) * dirs[-1] + 0.3 * rng.normal(
                    size=(n, dim))
            else:
                x = rng.normal(size=(1, dim)) + np.sin(3 * t + c) * dirs[c] + 0.8 * rng.normal(
                    size=(n, dim))
            chunks.append(x)
        frames = np.concatenate(chunks).astype(np.float16)
        offsets = np.concatenate([[0], np.cumsum([n for _, _, n, _ in ok])]).astype(np.int64)
        out = root / "percepts" / dataset
        meta = {"extractor": f"fake-{kind}", "dim": dim, "dataset": dataset,
                "videos": [v for v, _, _, _ in ok], "source": "embedded"}
        scoped = kind in SPLIT_SCOPED_KINDS
        for split in (1, 2, 3) if scoped else (None,):
            name, info = kind, meta
            if scoped:
                name = percept_name(kind, split)
                info = {**meta, "cnn_trained_on": {"dataset": dataset, "split": split, "videos": [
                    v for v, _, _, sp in ok if sp[split - 1] == "train"]}}
            atomic_save_npy(out / f"{name}.npy", frames)
            atomic_save_npy(out / f"{name}.offsets.npy", offsets)
            atomic_write_text(out / f"{name}.json", json.dumps(info, indent=2) + "\n")
    return root


def write_fake_checkpoint(
    path: str | Path, variant: str, dim: int, hidden: int = 8, layers: int = 2, seed: int = 0
) -> Path:
    cfg = ModelConfig(input_dim=dim, hidden=hidden, layers=layers, output="linear", n_in=16,
                      n_recon=16, n_future=13)
    torch.manual_seed(seed)
    model = build_model(variant, cfg)
    save(path, {"variant": variant, "model_config": cfg.to_dict(), "state_dict":
                model.state_dict(), "optimizer": None, "step": 0, "rng": None, "metrics": []})
    return Path(path)
