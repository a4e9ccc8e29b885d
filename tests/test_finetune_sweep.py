"""Labelled-set sampling, the run plan, and the finetune -> tables -> figure chain on fake data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from videolstm.cli import main
from videolstm.errors import UserError
from videolstm.finetune.data import balanced_sample, read_index, read_percepts, split_test_videos
from videolstm.finetune.fake import write_fake_checkpoint, write_fake_dataset
from videolstm.finetune.sweep import VARIANTS, Run, plan_runs

FT = {
    "samples": 2, "pretrained": "composite",
    "sizes": {"ucf101": [1, "all"]}, "small": {"ucf101": 2},
    "streams": {"rgb": {"kind": "rgb", "domain": "percepts_rgb", "datasets": ["ucf101"]},
                "flowstack": {"kind": "flowstack", "domain": "percepts_flow",
                              "datasets": ["ucf101"]}},
    "fusion": ["rgb", "flowstack"],
    "lstm": {"steps": 5, "batch_size": 4}, "single_frame": {"steps": 5, "batch_size": 8},
}


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft")
    write_fake_dataset(root, kinds=("rgb", "flowstack"), dim=8)
    for domain in ("percepts_rgb", "percepts_flow"):
        for v in VARIANTS:
            write_fake_checkpoint(root / "pretrain" / domain / v / "final.pt", v, 8, hidden=6)
    return root


def test_balanced_deterministic_sampling_without_test_overlap(fake):
    data = read_index(fake / "data" / "index" / "ucf101.csv")
    assert data.skipped == 1
    for split in (1, 2, 3):
        test = set(split_test_videos(data, split))
        for k in (1, 2):
            a = balanced_sample(data, split, k, 0, seed=0)
            assert np.array_equal(a, balanced_sample(data, split, k, 0, seed=0))
            assert not set(a) & test
            assert np.bincount(data.labels[a], minlength=data.n_classes).tolist() == [k] * 4
        samples = {tuple(balanced_sample(data, split, 1, s, seed=0)) for s in range(5)}
        assert len(samples) > 1  # different samples differ
        everything = balanced_sample(data, split, None, 0, seed=0)
        assert set(everything) == set(np.flatnonzero(data.splits[split] == "train"))


def test_plan_has_table3_and_figure12_runs():
    runs = plan_runs(FT, "ucf101")
    assert Run("rgb", "baseline", 2, 1) in runs and Run("rgb", "future", 0, 0) in runs
    assert Run("rgb", "single_frame", 1, 1) in runs and Run("flowstack", "composite", 0, 0) in runs
    assert Run("rgb", "single_frame", 0, 1) not in runs  # "all" has one sample
    assert len(runs) == len(set(runs))


def test_percept_order_mismatch_is_user_error(fake, tmp_path):
    data = read_index(fake / "data" / "index" / "ucf101.csv")
    with pytest.raises(UserError, match="differ"):
        read_percepts(fake / "percepts" / "ucf101" / "rgb", data.videos[::-1])


def test_cli_chain_writes_tables_and_figure(fake, tmp_path):
    cfg = json.dumps({"config_name": "unit", "data_source": "embedded", "seed": 0,
                      "device": "cpu", "finetune": FT})
    out = tmp_path / "finetune" / "ucf101" / "split1.csv"
    args = ["finetune", "--cfg", cfg, "--dataset", "ucf101", "--split", "1", "--index",
            str(fake / "data" / "index" / "ucf101.csv"), "--percepts",
            str(fake / "percepts" / "ucf101"), "--pretrain", str(fake / "pretrain"),
            "--out", str(out)]
    assert main(args) == 0
    first = out.read_bytes()
    assert main(args) == 0 and out.read_bytes() == first  # byte-deterministic
    runs = pd.read_csv(out)
    assert {"rgb", "flowstack", "rgb+flowstack"} <= set(runs["stream"])
    assert set(runs["config"]) == {"unit"} and "fake-rgb" in set(runs["extractor"])
    assert main(["tables-actions", "--cfg", cfg, "--runs", str(out), "--out-dir",
                 str(tmp_path / "tables")]) == 0
    t4 = pd.read_csv(tmp_path / "tables" / "table4.csv")
    assert "quoted" in set(t4["status"]) and "ours" in set(t4["status"])
    assert main(["figure12", "--cfg", cfg, "--runs", str(out), "--out-dir",
                 str(tmp_path / "fig")]) == 0
    png = (tmp_path / "fig" / "figure12.png").read_bytes()
    assert png[:4] == b"\x89PNG"
    assert main(["figure12", "--cfg", cfg, "--runs", str(out), "--out-dir",
                 str(tmp_path / "fig")]) == 0
    assert (tmp_path / "fig" / "figure12.png").read_bytes() == png


def test_missing_checkpoint_is_user_error(fake, tmp_path, capsys):
    cfg = json.dumps({"config_name": "unit", "data_source": "embedded", "seed": 0,
                      "device": "cpu", "finetune": FT})
    rc = main(["finetune", "--cfg", cfg, "--dataset", "ucf101", "--split", "1", "--index",
               str(fake / "data" / "index" / "ucf101.csv"), "--percepts",
               str(fake / "percepts" / "ucf101"), "--pretrain", str(tmp_path / "none"),
               "--out", str(tmp_path / "x.csv")])
    assert rc == 2 and "does not exist" in capsys.readouterr().err
