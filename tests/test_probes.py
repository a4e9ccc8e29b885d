"""The probes table: features that match a reference computation, probes that tell what the
features hold (and fail where they do not), bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from videolstm.cli import main
from videolstm.finetune import probes
from videolstm.finetune.data import eval_blocks, read_labelled_videos, read_percepts
from videolstm.finetune.fake import write_fake_checkpoint, write_fake_dataset
from videolstm.finetune.sweep import fresh_lstm

FT = {"pretrained": "composite", "lstm": {"block": 8, "stride": 4},
      "streams": {"rgb": {"kind": "rgb", "domain": "percepts_rgb", "datasets": ["ucf101"]}}}


@pytest.fixture(scope="module")
def order_data(tmp_path_factory):
    """Pairs of classes that move along one direction in opposite senses: the mean percept tells
    the pair, only the order of frames the class."""
    root = tmp_path_factory.mktemp("order")
    write_fake_dataset(root, kinds=("rgb",), dim=8, per_group=3, order_only=True)
    write_fake_checkpoint(root / "pretrain" / "percepts_rgb" / "composite" / "final.pt",
                          "composite", 8, hidden=16, layers=1)
    return root


def _load(root):
    data = read_labelled_videos(root / "data" / "index" / "ucf101.csv")
    return data, read_percepts(root / "percepts" / "ucf101" / "rgb", data.videos)


def test_video_states_are_the_window_mean_of_the_final_state(order_data):
    data, percepts = _load(order_data)
    lstm = fresh_lstm((8, 6, 2), "peephole", "paper", seed=3)
    got = probes.video_states(lstm, percepts, block=8, stride=4, chunk=5)
    v = 7
    idx, _ = eval_blocks(percepts, np.array([v]), 8, 4)
    want = []
    for window in idx:  # one window at a time, step by step
        states = None
        for f in window:
            x = torch.from_numpy(np.asarray(percepts.frames[f], np.float32))[None]
            if states is None:
                states = [layer.zero_state(1, x) for layer in lstm.layers]
            _, states = lstm.step(x, states)
        want.append(torch.cat([t for s in states for t in s], dim=1)[0].detach().double().numpy())
    assert got.shape == (len(data.videos), 2 * 2 * 6)
    np.testing.assert_allclose(got[v], np.mean(want, axis=0), rtol=1e-5, atol=1e-6)
    frames = np.asarray(percepts.frames, np.float64)
    a, b = percepts.offsets[v], percepts.offsets[v + 1]
    np.testing.assert_allclose(probes.mean_percepts(percepts)[v], frames[a:b].mean(0))


def test_an_lstm_state_tells_the_order_the_mean_percept_cannot(order_data):
    """All labels of split 1: the mean percept tells the pair but not the class; an LSTM state
    (even untrained) tells the class. The same probe with shuffled labels is near chance."""
    data, percepts = _load(order_data)
    train = np.flatnonzero(data.splits[1] == "train")
    test = np.flatnonzero(data.splits[1] == "test")
    mean = probes.mean_percepts(percepts)
    state = probes.video_states(fresh_lstm((8, 32, 1), "peephole", "paper", 1), percepts, 8, 4)
    assert probes.probe_accuracy(mean, data.labels // 2, train, test) >= 90
    assert probes.probe_accuracy(mean, data.labels, train, test) <= 70
    assert probes.probe_accuracy(state, data.labels, train, test) >= 85
    shuffled = np.random.default_rng(0).permutation(data.labels)
    assert probes.probe_accuracy(state, shuffled, train, test) <= 60


def test_the_command_writes_every_feature_and_size(order_data, tmp_path):
    cfg = {"config_name": "unit", "data_source": "embedded", "seed": 0, "finetune": FT,
           "probes": {"datasets": ["ucf101"], "splits": [1, 2], "sizes": [1, "all"],
                      "samples": 2}}
    assert main(["probes", "--cfg", json.dumps(cfg), "--results", str(order_data),
                 "--out-dir", str(tmp_path)]) == 0
    df = pd.read_csv(tmp_path / "probes.csv", dtype={"size": str})
    assert set(df["feature"]) == set(probes.FEATURES)
    assert set(df["size"]) == {"1", "all"}
    assert (df["splits"] == 2).all()
    assert set(df.loc[df["size"] == "1", "samples"]) == {2}
    assert set(df.loc[df["size"] == "all", "samples"]) == {1}
    md = (tmp_path / "probes.md").read_text()
    assert "| ucf101 | 25.0 | mean percept |" in md


def test_a_dataset_without_an_rgb_stream_is_named(order_data, tmp_path, capsys):
    cfg = {"config_name": "unit", "data_source": "embedded", "seed": 0, "finetune": FT,
           "probes": {"datasets": ["hmdb51"], "splits": [1], "sizes": [1], "samples": 2}}
    assert main(["probes", "--cfg", json.dumps(cfg), "--results", str(order_data),
                 "--out-dir", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert "probes.datasets" in err and "hmdb51" in err
    assert not (tmp_path / "probes.csv").exists()


def test_the_splits_share_the_encoder_states_of_shared_percepts(order_data, tmp_path,
                                                               monkeypatch):
    """The RGB percepts and their encoder are the same for every split: each LSTM runs once."""
    calls = []
    real = probes.video_states
    monkeypatch.setattr(probes, "video_states", lambda *a, **k: calls.append(1) or real(*a, **k))
    cfg = {"config_name": "unit", "data_source": "embedded", "seed": 0, "finetune": FT,
           "probes": {"datasets": ["ucf101"], "splits": [1, 2, 3], "sizes": [1], "samples": 2}}
    probes.run(cfg, order_data, tmp_path, log=lambda m: None)
    assert len(calls) == 1 + 2  # the pretrained encoder and two random LSTMs
