from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from videolstm.config import load_config

ROOT = Path(__file__).resolve().parents[1]

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def _loaded_config() -> dict:
    return load_config(ROOT / "config" / "config.yaml")


@pytest.fixture
def base_config(_loaded_config) -> dict:
    """config/config.yaml, a fresh copy per test (a test may change it freely)."""
    return copy.deepcopy(_loaded_config)


@pytest.fixture
def tiny_config(base_config) -> dict:
    """The embedded config shrunk to seconds: tiny models, few steps, small sets."""
    cfg = copy.deepcopy(base_config)
    cfg["mnist"]["eval"].update(valid_size=8, test_size=8, ood_size=4)
    cfg["pretrain"]["defaults"].update(
        hidden=8, layers=2, batch_size=4, steps=6, checkpoint_every=2, log_every=1, eval_every=3
    )
    # the embedded config sizes its Moving MNIST runs in pretrain.mnist(.runs).train: drop that
    cfg["pretrain"]["mnist"].pop("train", None)
    runs = cfg["pretrain"]["mnist"]["runs"]
    for run in runs.values():
        run.pop("train", None)
    runs["composite_1layer"] = {"variant": "composite", "train": {"layers": 1}}
    return cfg
