"""The controls table: shuffled blocks, its runs, and verdicts that follow the data (and can fail)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from videolstm.cli import main
from videolstm.finetune import controls, engine
from videolstm.finetune.data import read_labelled_videos, read_percepts
from videolstm.finetune.fake import write_fake_checkpoint, write_fake_dataset
from videolstm.finetune.runs import BASELINE, SHUFFLED, SINGLE_FRAME


def test_shuffled_training_windows_are_the_same_frames_in_another_order(tmp_path):
    write_fake_dataset(tmp_path, kinds=("rgb",), dim=4)
    data = read_labelled_videos(tmp_path / "data" / "index" / "ucf101.csv")
    percepts = read_percepts(tmp_path / "percepts" / "ucf101" / "rgb", data.videos)
    pools = [np.arange(len(data.videos))]
    plain, _ = engine._train_batch([np.random.default_rng(3)], pools, data.labels, percepts, 8, 16)
    mixed, _ = engine._train_batch([np.random.default_rng(3)], pools, data.labels, percepts, 8, 16,
                                   shuffle=True)
    assert plain.shape == mixed.shape
    assert np.array_equal(np.sort(plain, -1), np.sort(mixed, -1))  # same frames per window
    assert (np.diff(plain, axis=-1) >= 0).all()  # windows are in time order...
    assert not (np.diff(mixed, axis=-1) >= 0).all()  # ...and shuffled ones are not


FT = {
    "pretrained": "composite", "samples": 2, "sizes": {"ucf101": [1, "all"]},
    "small": {"ucf101": 1},
    "streams": {"rgb": {"kind": "rgb", "domain": "percepts_rgb", "datasets": ["ucf101"]}},
    "lstm": {"steps": 150, "batch_size": 16, "lr": 0.01, "dropout": 0.0, "block": 8, "stride": 4},
    "single_frame": {"steps": 150, "batch_size": 32, "lr": 0.01},
    "controls": {"datasets": ["ucf101"], "splits": [1, 2, 3], "samples": 2, "sizes": [1],
                 "min_gain": 10},
}


@pytest.fixture(scope="module")
def order_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("order")
    write_fake_dataset(root, kinds=("rgb",), dim=8, per_group=3, order_only=True)
    write_fake_checkpoint(root / "pretrain" / "percepts_rgb" / "composite" / "final.pt",
                          "composite", 8, hidden=16, layers=1)
    return root


def _controls(root, out, ft) -> pd.DataFrame:
    cfg = json.dumps({"config_name": "unit", "data_source": "embedded", "seed": 0,
                      "device": "cpu", "finetune": ft})
    runs = []
    for split in (1, 2, 3):
        csv = out / f"split{split}.csv"
        assert main(["finetune", "--controls", "--cfg", cfg, "--dataset", "ucf101", "--split",
                     str(split), "--index", str(root / "data" / "index" / "ucf101.csv"),
                     "--percepts", str(root / "percepts" / "ucf101"), "--pretrain",
                     str(root / "pretrain"), "--out", str(csv)]) == 0
        runs.append(str(csv))
    assert main(["table-controls", "--cfg", cfg, "--runs", *runs, "--out-dir", str(out)]) == 0
    return pd.read_csv(out / "controls.csv", dtype={"size": str})


def test_order_only_data_passes_a_and_c_and_an_untrained_lstm_fails(order_data, tmp_path):
    """On data where only the order of frames tells the class, the LSTM beats single frame and
    shuffling its frames takes the gain away; with one training step the same table says (a)
    does not hold. Both come from the real runs, not from the verdict code alone."""
    df = _controls(order_data, tmp_path / "trained", FT).set_index("control")
    a, c = df.loc["(a) temporal information"], df.loc["(c) negative control: frames shuffled in time"]
    assert a["verdict"] == "holds", a.to_dict()
    assert a["effect"] >= 10 and a["splits"] == 3 and a["samples"] == 2
    assert c["verdict"] == "holds", c.to_dict()
    untrained = {**FT, "lstm": {**FT["lstm"], "steps": 1}}
    df = _controls(order_data, tmp_path / "untrained", untrained).set_index("control")
    assert df.loc["(a) temporal information", "verdict"] == "does not hold"
    md = (tmp_path / "untrained" / "controls.md").read_text()
    assert "does not hold" in md and "Chance on ucf101: 25.0" in md


def _rows(acc: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    rows = []
    for (init, size), values in acc.items():
        for k, v in enumerate(values):
            rows.append({"dataset": "ucf101", "split": 1 + k // 2, "sample": k % 2, "stream": "rgb",
                         "init": init, "size": size, "video_acc": v, "n_classes": 4,
                         "extractor": "x"})
    return pd.DataFrame(rows)


def test_verdicts_follow_effect_and_spread():
    ft = {"pretrained": "composite", "controls": {"sizes": [1], "min_gain": 10}}
    base = {(SINGLE_FRAME, "all"): [40, 42, 41, 43], (BASELINE, "all"): [60, 62, 61, 63],
            (SHUFFLED, "all"): [41, 41, 42, 42], ("composite", "1"): [30, 36, 31, 37],
            (BASELINE, "1"): [28, 28, 29, 29]}
    df = controls.table(_rows(base), ft).set_index("control")
    assert df["verdict"].tolist() == ["holds", "holds", "holds"]
    assert df.loc["(a) temporal information", "effect"] == pytest.approx(20.0)
    # the composite gain (+4.5) within a spread of 3 per split: (b) fails only when spread > gain
    noisy = {**base, ("composite", "1"): [20, 40, 21, 41]}
    assert controls.table(_rows(noisy), ft).set_index("control").loc[
        "(b) pretraining helps with few labels", "verdict"] == "does not hold"
    flat = {**base, (BASELINE, "all"): [41, 42, 42, 43]}  # no temporal gain at all
    out = controls.table(_rows(flat), ft).set_index("control")["verdict"]
    assert out.iloc[0] == "does not hold" and out.iloc[2].startswith("inconclusive")


def _summary(future: float, recon: float | None = None) -> dict:
    valid = {"future": future, **({"recon": recon} if recon is not None else {})}
    return {"domain": "percepts_rgb", "run": "composite", "variant": "composite", "steps": 100,
            "valid": valid, "no_learning": {"mean_frame": {"future": 100.0, "recon": 90.0},
                                             "last_frame": {"future": 50.0, "recon": 60.0}}}


def test_an_encoder_that_did_not_learn_is_named_as_why_b_fails():
    from videolstm.pretrain_report import learned

    assert learned(_summary(40.0, 50.0))[0]
    ok, why = learned(_summary(49.0, 50.0))  # future not below 0.95 x the copied last frame
    assert not ok and "did not learn" in why and "future 49" in why
    ft = {"pretrained": "composite", "controls": {"sizes": [1], "min_gain": 10}}
    flat = {(SINGLE_FRAME, "all"): [40, 42, 41, 43], (BASELINE, "all"): [60, 62, 61, 63],
            (SHUFFLED, "all"): [41, 41, 42, 42], ("composite", "1"): [28, 28, 29, 29],
            (BASELINE, "1"): [28, 28, 29, 29]}
    b = controls.table(_rows(flat), ft, [_summary(49.0, 50.0)]).set_index("control").loc[
        "(b) pretraining helps with few labels", "verdict"]
    assert b.startswith("does not hold: percepts_rgb/composite did not learn")
    b_ok = controls.table(_rows(flat), ft, [_summary(40.0, 50.0)]).set_index("control").loc[
        "(b) pretraining helps with few labels", "verdict"]
    assert b_ok == "does not hold"


def test_no_learning_baselines_are_the_mean_frame_and_the_copied_last_frame(tmp_path):
    import numpy as np

    from videolstm.data_sources import ArraySource
    from videolstm.video.arrays import write_frames

    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((12, 3)).astype(np.float16) for _ in range(20)]
    with write_frames(tmp_path / "a.npy", (3,), np.float16, {}) as w:
        for s in seqs:
            w.lengths.append(len(s))
            w.append(s)
    src = ArraySource([tmp_path / "a"], {"n_in": 4, "n_future": 3}, 4, 0, valid_fraction=0.25)
    base = src.no_learning()
    # by hand on the same held-out windows
    frames = np.concatenate(seqs).astype(np.float64)
    train = [s.astype(np.float64) for i, s in enumerate(seqs)
             if (0, i * 12, 12 - 7 + 1) in src.train]
    mean = np.concatenate(train).mean(0)
    fut, last = [], []
    for _a, o, n in src.valid:
        w = frames[o + (n - 1) // 2: o + (n - 1) // 2 + 7]
        fut.append(((w[4:] - mean) ** 2).sum(-1).mean())
        last.append(((w[4:] - w[3]) ** 2).sum(-1).mean())
    assert base["mean_frame"]["future"] == pytest.approx(np.mean(fut), rel=1e-6)
    assert base["last_frame"]["future"] == pytest.approx(np.mean(last), rel=1e-6)


def test_the_controls_job_trains_every_run_the_table_reads_and_no_other():
    """Each (init, size) group the controls job trains changes the table when it is missing (no
    wasted training), and the table reads no group the job does not train."""
    ft = {"pretrained": "composite",
          "controls": {"samples": 2, "sizes": [1, 2], "min_gain": 10}}
    planned = {(r.init, r.size_name) for r in controls.control_runs(ft)}
    rng = np.random.default_rng(0)
    acc = {group: list(rng.uniform(20, 80, 4)) for group in sorted(planned)}
    full = controls.table(_rows(acc), ft)
    assert full[["effect", "spread"]].notna().all().all()  # nothing the table needs is missing
    for group in sorted(planned):
        without = controls.table(_rows({g: v for g, v in acc.items() if g != group}), ft)
        assert not without.equals(full), f"{group} is trained but no control reads it"
