"""Generated AVIs decode as declared; percepts (pixels, VGG16 fc6 from a file), clips, patches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from videolstm.cli import main
from videolstm.errors import UserError
from videolstm.video import percepts, synth
from videolstm.video.arrays import load_frames, load_meta
from videolstm.video.clips import Item, Items
from videolstm.video.decode import central_crop, iter_frames, read_frames

TINY = dict(classes=2, groups=3, clips_per_group=1, seconds=0.48, test_groups=1, bit_rate=200_000)


@pytest.fixture(scope="module")
def ucf(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("ucf")
    root = base / "ucf101"
    synth.generate("ucf101", root, synth.SynthConfig(**TINY, seed=1))
    index = base / "ucf101.csv"
    assert main(["index", "--dataset", "ucf101", "--root", str(root), "--out", str(index)]) == 0
    return root, index


def test_generated_avis_decode_with_declared_size_and_count(ucf):
    import av

    root, _ = ucf
    videos = sorted(root.rglob("*.avi"))
    assert len(videos) == 6
    with av.open(str(videos[0])) as c:
        s = c.streams.video[0]
        assert (s.codec_context.name, s.width, s.height, int(s.average_rate)) == ("mpeg4", 320,
                                                                                  240, 25)
        assert s.codec_context.codec_tag == "XVID"
    frames = read_frames(videos[0])
    assert frames.shape == (12, 240, 320, 3) and frames.dtype == np.uint8
    assert len(list(iter_frames(videos[0], start=3, count=4))) == 4
    assert central_crop(frames, 224).shape == (12, 224, 224, 3)


def test_generator_is_deterministic_and_motion_defined(tmp_path):
    cfg = synth.SynthConfig(classes=3, groups=3, clips_per_group=1, seconds=0.2, test_groups=1,
                            seed=5)
    a = synth.generate("ucf101", tmp_path / "a", cfg)
    synth.generate("ucf101", tmp_path / "b", cfg)
    for rel in a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    # the class's motion is what the frames show: the actor (the bright pixels) moves in the
    # class's direction (right; up and right; up), every frame but where it wraps around (a jump
    # of most of the crop the other way), at the configured speed
    speed = cfg.speed
    for name, angle in (("MoveRight/v_MoveRight_g01_c01.avi", 0),
                        ("MoveUpRight/v_MoveUpRight_g01_c01.avi", 45),
                        ("MoveUp/v_MoveUp_g01_c01.avi", 90)):
        frames = read_frames(tmp_path / "a" / name).astype(float)
        pos = np.array([[c.mean() for c in np.nonzero(f.max(-1) > 150)[::-1]] for f in frames])
        steps = np.diff(pos, axis=0) * [1, -1]  # image y points down
        along = steps[(np.abs(steps) < 0.5 * synth.SPAN).all(1)]
        assert len(along) >= len(steps) - 2, (name, pos)
        direction = np.degrees(np.arctan2(along[:, 1], along[:, 0]))
        assert (np.abs((direction - angle + 180) % 360 - 180) < 15).all(), (name, direction)
        per_frame = (speed[0] * synth.SPAN / synth.FPS, speed[1] * synth.SPAN / synth.FPS)
        size = np.hypot(*along.T)
        assert (size > 0.5 * per_frame[0]).all() and (size < 1.5 * per_frame[1]).all(), (name, pos)


def test_a_class_shows_its_own_digit_as_often_as_configured():
    """Appearance tells the class only partly: a class's videos show its digit `home_digit` of
    the time, and any other digit otherwise."""
    for share in (0.0, 0.5, 1.0):
        cfg = synth.SynthConfig(classes=8, groups=12, clips_per_group=20, home_digit=share)
        jobs, _ = synth.plan("ucf101", cfg)
        home = {name: digit for name, digit, _ in synth.class_catalogue("ucf101")}
        shown = np.array([job.segments[0][0] == home[job.rel_path.split("/")[0]] for job in jobs])
        assert abs(shown.mean() - share) < 0.05, share
    digits = {job.segments[0][0] for job in jobs if job.rel_path.startswith("MoveUp/")}
    assert digits == {2}


def test_pixels_percepts_cli_shape_dtype_offsets(ucf, tmp_path):
    root, index = ucf
    out = tmp_path / "p" / "rgb.npy"
    cfg = {"percepts": {"rgb": {"extractor": "pixels", "size": 8, "batch_size": 5}},
           "data_source": "embedded", "config_name": "test"}
    assert main(["percepts", "--index", str(index), "--root", str(root), "--dataset", "ucf101",
                 "--out", str(out), "--cfg", json.dumps(cfg), "--threads", "2"]) == 0
    frames, offsets = load_frames(out)
    assert frames.dtype == np.float16 and frames.shape == (6 * 12, 8 * 8 * 3)
    assert offsets.dtype == np.int64 and offsets.tolist() == list(range(0, 73, 12))
    assert 0.0 <= float(frames.min()) and float(frames.max()) <= 1.0
    meta = load_meta(out)
    assert meta["extractor"] == "pixels" and meta["dim"] == 192 and meta["source"] == "embedded"
    assert len(meta["videos"]) == 6 and meta["skipped"] == 0
    # batching across videos gives the same rows as one video at a time
    first = Items([Item("x", str(root / "MoveRight/v_MoveRight_g01_c01.avi"))], [], "x")
    ext = percepts.make_extractor(percepts.PerceptConfig(extractor="pixels", size=8))
    percepts.extract(first, ext, tmp_path / "one.npy", {}, batch_size=64, log=lambda s: None)
    assert np.array_equal(load_frames(tmp_path / "one.npy")[0][:], frames[:12])


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = percepts.build_vgg16()
    path = tmp_path_factory.mktemp("w") / percepts.VGG16_FILE
    torch.save(model.state_dict(), path)
    return path


def test_vgg16_state_dict_matches_torchvision_names_and_shapes():
    shapes = {k: tuple(v.shape) for k, v in percepts.build_vgg16().state_dict().items()}
    assert len(shapes) == 32
    assert shapes["features.0.weight"] == (64, 3, 3, 3)
    assert shapes["features.28.weight"] == (512, 512, 3, 3)
    assert shapes["classifier.0.weight"] == (4096, 25088)
    assert shapes["classifier.6.weight"] == (1000, 4096)


def test_vgg16_fc6_loads_from_file_and_extracts(vgg_file, ucf, tmp_path):
    root, _ = ucf
    cfg = percepts.PerceptConfig(extractor="vgg16_fc6", weights=str(vgg_file), device="cpu")
    ext = percepts.make_extractor(cfg)
    frames = read_frames(root / "MoveRight/v_MoveRight_g01_c01.avi")[:2]
    feats = ext.forward(ext.prepare(frames))
    assert feats.shape == (2, 4096) and (feats >= 0).all()  # after ReLU
    ref = percepts.load_vgg16(vgg_file)
    x = torch.from_numpy(central_crop(frames, 224)).permute(0, 3, 1, 2).float() / 255
    x = (x - torch.tensor(percepts.IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        percepts.IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = torch.relu(ref.classifier[0](torch.flatten(ref.avgpool(ref.features(x)), 1)))
    np.testing.assert_allclose(feats, expected.numpy(), rtol=1e-3, atol=1e-4)


def test_vgg16_missing_or_wrong_weights_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    with pytest.raises(UserError, match="vgg16-397923af.pth") as err:
        percepts.vgg16_weights_path(None)
    assert str(tmp_path / "hub" / "hub" / "checkpoints") in str(err.value)
    with pytest.raises(UserError, match="does not exist"):
        percepts.vgg16_weights_path(str(tmp_path / "nope.pth"))
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(UserError, match="not torchvision's VGG16"):
        percepts.load_vgg16(bad)


def test_clips_and_patches(ucf, tmp_path):
    root, index = ucf
    manifest = tmp_path / "clips.csv"
    cfg = json.dumps({"clips": {"seconds": 0.2, "per_video": 2}, "seed": 0})
    assert main(["clips", "--source", str(root), "--out", str(manifest), "--cfg", cfg]) == 0
    import pandas as pd

    m = pd.read_csv(manifest)
    assert len(m) == 12 and set(m["n_frames"]) == {5} and (m["status"] == "ok").all()
    for _, g in m.groupby("video"):  # non-overlapping
        s = sorted(g["start_frame"])
        assert s[1] >= s[0] + 5
    out = tmp_path / "rgb.npy"
    pcfg = json.dumps({"percepts": {"rgb": {"extractor": "pixels", "size": 4, "grey": True}}})
    assert main(["percepts", "--clips", str(manifest), "--dataset", "unlabelled", "--out",
                 str(out), "--cfg", pcfg]) == 0
    frames, offsets = load_frames(out)
    assert frames.shape == (60, 16) and offsets[-1] == 60
    pout = tmp_path / "patches" / "train.npy"
    pc = json.dumps({"patches": {"seq_len": 6, "train_sequences": 7, "frame_scale": 0.5}})
    assert main(["patches", "--index", str(index), "--root", str(root), "--part", "train",
                 "--out", str(pout), "--cfg", pc]) == 0
    frames, offsets = load_frames(pout)
    assert frames.shape == (42, 3072) and frames.dtype == np.float16
    assert offsets.tolist() == list(range(0, 43, 6))
    assert load_meta(pout)["layout"] == "HWC"
