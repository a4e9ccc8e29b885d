"""Labelled-set sampling, the run plan, and the finetune -> tables -> figure chain on fake data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from videolstm.cli import main
from videolstm.errors import UserError
from videolstm.finetune.data import balanced_sample, read_labelled_videos, read_percepts, split_test_videos
from videolstm.finetune.fake import write_fake_checkpoint, write_fake_dataset
from videolstm.finetune.runs import VARIANTS, Run, plan_runs

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
    for domain in ("percepts_rgb", "percepts_flow_split1", "percepts_flow_split2"):
        for v in VARIANTS:
            write_fake_checkpoint(root / "pretrain" / domain / v / "final.pt", v, 8, hidden=6)
    return root


def test_balanced_deterministic_sampling_without_test_overlap(fake):
    data = read_labelled_videos(fake / "data" / "index" / "ucf101.csv")
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


def test_seeds_all_gives_the_all_label_cells_a_spread(fake, tmp_path):
    """finetune.seeds_all: several training seeds with all labels (one labelled set), so that
    Table 1's all-label cells get a within-split spread, as the few-label sizes do."""
    ft = {**FT, "seeds_all": 3}
    runs = plan_runs(ft, "ucf101")
    assert {r.sample for r in runs if r.size == 0 and r.init == "baseline"} == {0, 1, 2}
    assert {r.sample for r in runs if r.size == 1} == {0, 1}  # samples unchanged
    cfg = json.dumps({"config_name": "unit", "data_source": "embedded", "seed": 0,
                      "device": "cpu", "finetune": ft})
    out = tmp_path / "split1.csv"
    assert main(["finetune", "--cfg", cfg, "--dataset", "ucf101", "--split", "1", "--index",
                 str(fake / "data" / "index" / "ucf101.csv"), "--percepts",
                 str(fake / "percepts" / "ucf101"), "--pretrain", str(fake / "pretrain"),
                 "--out", str(out)]) == 0
    rows = pd.read_csv(out)
    at_all = rows[(rows["size"].astype(str) == "all") & (rows["stream"] == "rgb+flowstack")]
    # fused per seed, for each init (single frame, baseline, composite)
    assert sorted(at_all["sample"]) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert main(["tables-actions", "--cfg", cfg, "--runs", str(out), "--out-dir",
                 str(tmp_path / "tables")]) == 0
    t1 = pd.read_csv(tmp_path / "tables" / "table1.csv")
    cell = t1[(t1["row"] == "LSTM classifier") & (t1["column"] == "UCF-101 RGB")].iloc[0]
    assert cell["n"] == 3 and np.isfinite(cell["spread"])


def test_percept_order_mismatch_is_user_error(fake, tmp_path):
    data = read_labelled_videos(fake / "data" / "index" / "ucf101.csv")
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


def _finetune(fake, tmp_path, split, percepts=None):
    cfg = json.dumps({"config_name": "unit", "data_source": "embedded", "seed": 0,
                      "device": "cpu", "finetune": FT})
    return main(["finetune", "--cfg", cfg, "--dataset", "ucf101", "--split", str(split), "--index",
                 str(fake / "data" / "index" / "ucf101.csv"), "--percepts",
                 str(percepts or fake / "percepts" / "ucf101"), "--pretrain", str(fake / "pretrain"),
                 "--out", str(tmp_path / f"split{split}.csv")])


def test_flow_percepts_of_another_splits_cnn_are_refused(fake, tmp_path, capsys):
    """Held out means held out: split 2 scored on percepts of the CNN trained on split 1 (whose
    training videos include split 2's test videos, as on UCF-101) stops with a clear error."""
    import shutil

    mixed = tmp_path / "percepts"
    shutil.copytree(fake / "percepts" / "ucf101", mixed)
    for ext in (".npy", ".offsets.npy", ".json"):  # split 2's file holds split 1's CNN percepts
        shutil.copy(mixed / f"flowstack_split1{ext}", mixed / f"flowstack_split2{ext}")
    assert _finetune(fake, tmp_path, 2, mixed) == 2
    err = capsys.readouterr().err
    assert "trained on split 1" in err and "test videos among its training videos" in err
    assert _finetune(fake, tmp_path, 2) == 0  # its own CNN's percepts pass


def test_no_test_video_reaches_a_feature_or_an_initialisation(tmp_path):
    """The DAG's leakage test: for every split the paper config scores, each temporal CNN and each
    pretraining run that makes its flow features or encoders is that split's own, and the
    pretraining arrays of labelled videos keep only the split's training videos."""
    from videolstm.config import load_config
    from videolstm.data_sources import training_videos
    from videolstm.finetune.runs import needed_checkpoints, stream_domain
    from videolstm.finetune.workflow import inputs
    from videolstm.train import resolve_run

    project = Path(__file__).resolve().parents[1]
    cfg = load_config(project / "config" / "config.yaml", project / "config" / "paper.yaml")
    ft = cfg["finetune"]
    assert ft["splits"] == [1, 2, 3]
    root = tmp_path
    write_fake_dataset(root, kinds=("flow",), dim=4)
    data = read_labelled_videos(root / "data" / "index" / "ucf101.csv")
    for split in ft["splits"]:
        wc = type("W", (), {"dataset": "ucf101", "split": str(split)})
        for stem in inputs(cfg, "results", wc)["percepts"]:
            if "/flow" in stem:
                assert stem.split("/")[-1].startswith(("flow_split", "flowstack_split"))
                assert f"_split{split}." in stem, stem
        for ckpt in needed_checkpoints(ft, "ucf101", "results/pretrain", split):
            domain = ckpt.parts[-3]
            if domain.startswith("percepts_flow"):
                assert domain.endswith(f"_split{split}"), ckpt
                _, _, settings = resolve_run(cfg["pretrain"], domain, "composite")
                arrays = settings["data"]["arrays"]
                assert all(a.endswith(f"_split{split}") for a in arrays)
                if any(a.startswith(("percepts/ucf101/", "percepts/hmdb51/")) for a in arrays):
                    assert settings["data"].get("videos") == "train"
                    kept = training_videos(root / "percepts" / "ucf101" / f"flow_split{split}",
                                           root, split, domain)
                    test = set(split_test_videos(data, split).tolist())
                    assert kept.size and not set(kept.tolist()) & test
        for stream in ft["streams"].values():
            if stream["kind"] in ("flow", "flowstack"):
                assert stream_domain(stream, split) == f"{stream['domain']}_split{split}"


def test_validation_videos_are_held_out_of_labelled_sets_and_test(fake):
    from videolstm.finetune.data import validation_exclusion, validation_videos

    data = read_labelled_videos(fake / "data" / "index" / "ucf101.csv")
    groups = data.group_of()
    for split in (1, 2, 3):
        held = validation_videos(data, split, 1, seed=0, tag="ucf101")
        assert len(held) == data.n_classes  # one per class
        assert not set(held) & set(split_test_videos(data, split))
        assert (data.splits[split][held] == "train").all()
        excluded = validation_exclusion(data, split, held)
        assert set(held) <= set(excluded)
        for size in (1, 2, None):
            for sample in range(3):
                labelled = balanced_sample(data, split, size, sample, 0, "ucf101",
                                           exclude=excluded)
                assert not set(labelled) & set(held)
                # group-disjoint, as the test split is: no labelled video shares a group
                assert not set(groups[labelled]) & set(groups[held])
                assert all((data.labels[labelled] == c).any() for c in range(data.n_classes))


def test_early_stopping_keeps_each_runs_best_validation_check(fake):
    """Every run ends with the parameters of its best validation check: scored again on the
    validation videos after training, each run gives exactly its recorded best accuracy, which
    is the maximum over its checks (found by retraining with the same seeds)."""
    import torch

    from videolstm.finetune import engine
    from videolstm.finetune.data import validation_videos

    data = read_labelled_videos(fake / "data" / "index" / "ucf101.csv")
    percepts = read_percepts(fake / "percepts" / "ucf101" / "rgb", data.videos)
    held = validation_videos(data, 1, 1, seed=0)
    sets = [balanced_sample(data, 1, k, 0, 0, exclude=held) for k in (1, 2, None)]
    cfg = engine.TrainConfig(steps=40, batch_size=8, lr=0.05)
    val = engine.Validation(held, every=10)
    bank = engine.train_frame_group(percepts, data.labels, data.n_classes, sets, [1, 2, 3], cfg,
                                    validation=val)
    again = engine.evaluate_frame_group(bank, percepts, held, data.labels, cfg)["video_acc"]
    assert torch.allclose(again.double(), bank.valid_acc)
    per_check = []
    for steps in (10, 20, 30, 40):
        b = engine.train_frame_group(percepts, data.labels, data.n_classes, sets, [1, 2, 3],
                                     engine.TrainConfig(steps=steps, batch_size=8, lr=0.05))
        per_check.append(engine.evaluate_frame_group(b, percepts, held, data.labels,
                                                     cfg)["video_acc"].double())
    per_check = torch.stack(per_check)  # (checks, runs)
    assert torch.allclose(bank.valid_acc, per_check.max(0).values)
    first_best = (per_check == per_check.max(0).values).double().argmax(0)
    assert bank.best_step.tolist() == ((first_best + 1) * 10).tolist()


def test_learning_rate_is_chosen_on_validation_and_recorded(fake, tmp_path):
    ft = {**FT, "validation": {"per_class": 1, "every": 5},
          "lstm": {**FT["lstm"], "steps": 20, "lrs": [1e-9, 0.01]},
          "single_frame": {**FT["single_frame"], "steps": 20, "lrs": [1e-9, 0.05]}}
    cfg = json.dumps({"config_name": "unit", "data_source": "embedded", "seed": 0,
                      "device": "cpu", "finetune": ft})
    out = tmp_path / "split1.csv"
    assert main(["finetune", "--cfg", cfg, "--dataset", "ucf101", "--split", "1", "--index",
                 str(fake / "data" / "index" / "ucf101.csv"), "--percepts",
                 str(fake / "percepts" / "ucf101"), "--pretrain", str(fake / "pretrain"),
                 "--out", str(out)]) == 0
    runs = pd.read_csv(out, dtype={"size": str})
    runs = runs[runs["stream"] != "rgb+flowstack"]
    assert set(runs["lr"]) <= {1e-9, 0.01, 0.05}
    assert (runs["steps"] % 5 == 0).all() and (runs["steps"] <= 20).all()
    assert runs["valid_acc"].notna().all()
    # a rate of 1e-9 cannot move the weights: whenever training helps on validation, it loses
    assert (runs["lr"] > 1e-9).mean() > 0.5, runs[["init", "size", "lr", "valid_acc"]]
