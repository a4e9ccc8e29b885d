"""No tensor on the training path is made without saying its device: with PyTorch's default
device set to `meta` (where a tensor has no data), pretraining, fine-tuning and evaluation with
`device: cpu` run through and give exactly the results of a normal run. A factory call that
relied on the default device (and so would put a tensor on the CPU while training on a GPU)
makes a meta tensor here, which fails or changes the result."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from tests.test_train import make_arrays
from videolstm import checkpoint
from videolstm.cli import main
from videolstm.finetune.fake import write_fake_checkpoint, write_fake_dataset
from videolstm.finetune.runs import VARIANTS
from videolstm.train import train


@pytest.fixture
def meta_default():
    def run(fn):
        torch.set_default_device("meta")
        try:
            return fn()
        finally:
            torch.set_default_device(None)
    return run


def _weights(path):
    return checkpoint.load(path)["state_dict"]


@pytest.mark.parametrize("domain", ["patches", "mnist"])
def test_pretraining_never_relies_on_the_default_device(tiny_config, tmp_path, meta_default, domain):
    make_arrays(tiny_config, tmp_path)
    tiny_config["device"] = "cpu"
    run = "composite" if domain == "patches" else "composite_cond"
    train(tiny_config, domain, run, tmp_path / "plain", data_root=tmp_path)
    meta_default(lambda: train(tiny_config, domain, run, tmp_path / "meta", data_root=tmp_path))
    a, b = _weights(tmp_path / "plain" / "final.pt"), _weights(tmp_path / "meta" / "final.pt")
    assert all(v.device.type == "cpu" for v in b.values())
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("streamed", [False, True])
def test_fine_tuning_never_relies_on_the_default_device(tmp_path, meta_default, monkeypatch, streamed):
    write_fake_dataset(tmp_path, kinds=("rgb",), dim=8)
    for v in VARIANTS:
        write_fake_checkpoint(tmp_path / "pretrain" / "percepts_rgb" / v / "final.pt", v, 8, hidden=6)
    ft = {"datasets": ["ucf101"], "splits": [1], "samples": 2, "sizes": {"ucf101": [1, "all"]},
          "small": {"ucf101": 1}, "pretrained": "composite",
          "streams": {"rgb": {"kind": "rgb", "domain": "percepts_rgb", "datasets": ["ucf101"]}},
          "lstm": {"steps": 6, "batch_size": 4}, "single_frame": {"steps": 6, "batch_size": 8},
          "validation": {"per_class": 1, "every": 3}}
    cfg = json.dumps({"config_name": "unit", "data_source": "embedded", "seed": 0, "device": "cpu",
                      "finetune": ft})

    def finetune(out):
        return main(["finetune", "--cfg", cfg, "--dataset", "ucf101", "--split", "1", "--index",
                     str(tmp_path / "data" / "index" / "ucf101.csv"), "--percepts",
                     str(tmp_path / "percepts" / "ucf101"), "--pretrain", str(tmp_path / "pretrain"),
                     "--out", str(out)])

    if streamed:  # percepts read from the memory map in a background thread, as on a big GPU job
        monkeypatch.setattr("videolstm.finetune.frames.CPU_RESIDENT_MB", 0)
    assert finetune(tmp_path / "plain.csv") == 0
    assert meta_default(lambda: finetune(tmp_path / "meta.csv")) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "plain.csv"), pd.read_csv(tmp_path / "meta.csv"))


def test_evaluation_never_relies_on_the_default_device(tiny_config, tmp_path, meta_default):
    from videolstm.evaluate import evaluate_arrays

    make_arrays(tiny_config, tmp_path)
    tiny_config["device"] = "cpu"
    train(tiny_config, "patches", "composite", tmp_path / "out", data_root=tmp_path)
    ckpt, stem = tmp_path / "out" / "final.pt", tmp_path / "arr" / "x"
    plain = evaluate_arrays(ckpt, stem)
    meta = meta_default(lambda: evaluate_arrays(ckpt, stem))
    assert plain["metrics"] == meta["metrics"]


def test_the_temporal_cnn_never_relies_on_the_default_device(tmp_path, meta_default):
    import numpy as np

    from videolstm.video import synth
    from videolstm.video.arrays import load_frames

    root = tmp_path / "ucf101"
    synth.generate("ucf101", root, synth.SynthConfig(classes=2, groups=3, clips_per_group=1,
                                                     seconds=0.4, test_groups=1, seed=2))
    index = tmp_path / "ucf101.csv"
    assert main(["index", "--dataset", "ucf101", "--root", str(root), "--out", str(index)]) == 0
    cfg = json.dumps({"flow": {"preset": "ultrafast", "scale": 0.25, "size": 16,
                               "cnn": {"convs": [[8, 3, 2, True]], "fc6": 24, "fc7": 16, "steps": 4,
                                       "batch_size": 8}},
                      "data_source": "embedded", "config_name": "test", "device": "cpu"})
    store = tmp_path / "flow.npy"
    assert main(["flow", "--index", str(index), "--root", str(root), "--dataset", "ucf101",
                 "--out", str(store), "--cfg", cfg]) == 0
    feats = {}
    for name, wrap in (("plain", lambda f: f()), ("meta", meta_default)):
        model, out = tmp_path / f"{name}.pt", tmp_path / f"{name}_feats.npy"
        assert wrap(lambda m=model: main(["temporal-cnn-train", "--flow", str(store), "--index",
                                          str(index), "--kind", "flow", "--split", "1", "--out",
                                          str(m), "--cfg", cfg])) == 0
        assert wrap(lambda m=model, o=out: main(["temporal-cnn-features", "--model", str(m), "--flow",
                                                 str(store), "--dataset", "ucf101", "--out", str(o),
                                                 "--cfg", cfg])) == 0
        feats[name] = np.asarray(load_frames(out)[0])
    assert np.array_equal(feats["plain"], feats["meta"])

    # batches built ahead by the background thread (as on a GPU) train the same model
    from videolstm.video import temporal_cnn

    cc = temporal_cnn.CNNConfig.from_dict({**json.loads(cfg)["flow"]["cnn"], "split": 1}, device="cpu")
    states = []
    for depth in (0, 2):
        temporal_cnn.train(store, index, "flowstack", cc, tmp_path / f"d{depth}.pt", log=lambda m: None,
                           prefetch_depth=depth)
        states.append(torch.load(tmp_path / f"d{depth}.pt", weights_only=False)["state_dict"])
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    made = []
    for depth in (0, 2):  # and the percepts of input stacks built ahead are the same
        temporal_cnn.features(tmp_path / "d0.pt", store, tmp_path / f"f{depth}.npy", {"dataset": "ucf101"},
                              batch_size=7, device="cpu", log=lambda m: None, prefetch_depth=depth)
        made.append(load_frames(tmp_path / f"f{depth}.npy"))
    assert np.array_equal(np.asarray(made[0][0]), np.asarray(made[1][0]))
    assert np.array_equal(made[0][1], made[1][1])
