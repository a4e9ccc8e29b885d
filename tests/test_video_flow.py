"""Optical flow direction and magnitude, quantisation, the temporal CNN and its flow percepts."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from videolstm.cli import main
from videolstm.errors import UserError
from videolstm.video import flow, synth
from videolstm.video.arrays import load_frames, load_meta


def _texture(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.random((60, 80)).astype(np.float32)
    big = cv2.resize(noise, (400, 300), interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), 2.0)
    big = (big - big.min()) / (big.max() - big.min()) * 255
    return np.repeat(big[..., None], 3, axis=2).astype(np.uint8)


@pytest.mark.parametrize("dx,dy", [(3, 0), (-2, 4), (0, -5)])
def test_flow_direction_and_magnitude_on_translating_pattern(dx, dy):
    tex = _texture()
    frames = [tex[40 - k * dy : 280 - k * dy, 40 - k * dx : 360 - k * dx] for k in range(3)]
    comp = flow.FlowComputer(flow.FlowConfig(preset="medium", scale=1.0, size=224))
    raw = comp.raw(comp.grey(frames[0]), comp.grey(frames[1]))
    centre = raw[60:180, 80:240]
    np.testing.assert_allclose(np.median(centre[..., 0]), dx, atol=0.25)
    np.testing.assert_allclose(np.median(centre[..., 1]), dy, atol=0.25)
    stored = comp.video(iter(frames))  # 3 frames -> 3 fields (last repeated)
    assert stored.shape == (3, 224, 224, 2) and stored.dtype == np.uint8
    back = flow.dequantise(stored[0, 50:170, 50:170], 20.0)
    np.testing.assert_allclose(np.median(back[..., 0]), dx, atol=0.3)
    np.testing.assert_allclose(np.median(back[..., 1]), dy, atol=0.3)
    assert np.array_equal(stored[1], stored[2])


def test_flow_at_reduced_scale_is_in_full_frame_pixels():
    tex = _texture(1)
    frames = [tex[30:270, 40 - 4 * k : 360 - 4 * k] for k in range(2)]
    comp = flow.FlowComputer(flow.FlowConfig(preset="fast", scale=0.5, size=32))
    raw = comp.raw(comp.grey(frames[0]), comp.grey(frames[1]))
    np.testing.assert_allclose(np.median(raw[20:100, 30:130, 0]), 4.0, atol=0.4)


def test_quantisation_clips_to_bound():
    f = np.array([-50.0, -20.0, 0.0, 7.5, 20.0, 99.0], np.float32)
    q = flow.quantise(f, 20.0)
    assert q.dtype == np.uint8 and q[0] == 0 and q[1] == 0 and q[-1] == 255 and q[-2] == 255
    np.testing.assert_allclose(flow.dequantise(q, 20.0)[2:4], [0.0, 7.5], atol=40 / 255)


def test_tvl1_is_refused_with_reason():
    with pytest.raises(UserError, match="TV-L1"):
        flow.FlowConfig.from_dict({"method": "tvl1"})


def test_flow_store_temporal_cnn_and_flow_percepts(tmp_path):
    root = tmp_path / "ucf101"
    synth.generate("ucf101", root, synth.SynthConfig(classes=2, groups=3, clips_per_group=2,
                                                     seconds=0.6, test_groups=1, seed=2))
    index = tmp_path / "ucf101.csv"
    assert main(["index", "--dataset", "ucf101", "--root", str(root), "--out", str(index)]) == 0
    cfg = {"flow": {"preset": "ultrafast", "scale": 0.25, "size": 16,
                    "cnn": {"convs": [[8, 3, 2, True]], "fc6": 24, "fc7": 16, "steps": 5,
                            "batch_size": 8, "flip": True}},
           "data_source": "embedded", "config_name": "test"}
    store = tmp_path / "flow" / "ucf101.npy"
    assert main(["flow", "--index", str(index), "--root", str(root), "--dataset", "ucf101",
                 "--out", str(store), "--cfg", json.dumps(cfg), "--threads", "2"]) == 0
    fields, offsets = load_frames(store)
    assert fields.shape == (12 * 15, 16, 16, 2) and fields.dtype == np.uint8
    assert offsets[-1] == 180 and load_meta(store)["method"] == "opencv_dis"
    roles = pd.read_csv(index)
    for kind, split in (("flow", 1), ("flowstack", 2)):
        model = tmp_path / f"{kind}_split{split}.pt"
        assert main(["temporal-cnn-train", "--flow", str(store), "--index", str(index),
                     "--kind", kind, "--split", str(split), "--out", str(model),
                     "--cfg", json.dumps(cfg)]) == 0
        out = tmp_path / "percepts" / f"{kind}_split{split}.npy"
        assert main(["temporal-cnn-features", "--model", str(model), "--flow", str(store),
                     "--dataset", "ucf101", "--out", str(out), "--cfg", json.dumps(cfg)]) == 0
        feats, offs = load_frames(out)
        assert feats.shape == (180, 24) and feats.dtype == np.float16
        assert np.array_equal(offs, offsets) and (np.asarray(feats) >= 0).all()
        meta = load_meta(out)
        assert meta["extractor"] == f"temporal_cnn_fc6_{kind}" and meta["stack"] == (
            10 if kind == "flowstack" else 1)
        assert len(meta["videos"]) == 12 and meta["source"] == "embedded"
        # the percepts name the CNN's split and exactly the videos it was trained on
        trained = meta["cnn_trained_on"]
        assert trained["split"] == split
        assert set(trained["videos"]) == set(roles.loc[roles[f"split{split}"] == "train", "video"])
