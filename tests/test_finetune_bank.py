"""Batched-over-runs classifiers: equal to the single-run LSTM, to independent training, and able
to learn (and not to learn shuffled labels)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from videolstm.finetune.bank import LSTMBank
from videolstm.finetune.data import Percepts
from videolstm.finetune.engine import (
    TrainConfig,
    evaluate_lstm_group,
    step_average,
    train_lstm_group,
    video_average,
)
from videolstm.lstm import StackedLSTM


def _lstm(seed, d=6, h=5, layers=2, cell="peephole"):
    torch.manual_seed(seed)
    m = StackedLSTM(d, h, layers, cell)
    with torch.no_grad():  # non-zero peepholes and biases, so they are tested too
        for p in m.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return m


@pytest.mark.parametrize("cell", ["peephole", "torch"])
def test_bank_matches_single_run_lstm(cell):
    encs = [_lstm(s, cell=cell) for s in range(3)]
    bank = LSTMBank(3, 6, 5, 2, 4, peephole=cell == "peephole")
    for r, e in enumerate(encs):
        bank.load_lstm(r, e)
    x = torch.randn(3, 7, 2, 6)  # (R, T, B, D)
    got = bank.features(x)
    for r, e in enumerate(encs):
        want, _ = e(x[r])
        torch.testing.assert_close(got[r], want, rtol=1e-5, atol=1e-6)
    shared = bank.features(x[0])  # the same input for every run
    for r, e in enumerate(encs):
        torch.testing.assert_close(shared[r], e(x[0])[0], rtol=1e-5, atol=1e-6)


def test_pretrained_init_copies_encoder_weights():
    encs = [_lstm(s) for s in range(2)]
    bank = LSTMBank(2, 6, 5, 2, 3)
    for r, e in enumerate(encs):
        bank.load_lstm(r, e)
    for r, e in enumerate(encs):
        for k, layer in enumerate(e.layers):
            assert torch.equal(bank.w_ih[k][r].t(), layer.weight_ih)
            assert torch.equal(bank.w_hh[k][r].t(), layer.weight_hh)
            assert torch.equal(bank.bias[k][r], layer.bias)
            assert torch.equal(bank.peep[k][r], layer.peephole)


def _toy(n_videos=40, classes=4, frames=20, dim=8, seed=0, shuffle=False):
    """Separable sequences: each class has its own mean direction plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_videos) % classes
    means = rng.normal(size=(classes, dim)) * 1.5
    x = means[labels][:, None, :] + rng.normal(size=(n_videos, frames, dim))
    offsets = np.arange(n_videos + 1, dtype=np.int64) * frames
    p = Percepts(x.reshape(-1, dim).astype(np.float16), offsets, {}, "rgb")
    if shuffle:
        labels = rng.permutation(labels)
    return p, labels.astype(np.int64)


def test_batched_training_equals_independent_runs():
    p, labels = _toy()
    cfg = TrainConfig(steps=5, batch_size=4, lr=1e-2, dropout=0.3, block=8, stride=4)
    encs = [_lstm(s, d=8, h=6) for s in range(3)]
    sets = [np.arange(0, 40, 2), np.arange(1, 40, 2), np.arange(0, 40, 5)]
    seeds = [11, 12, 13]
    together = train_lstm_group(p, labels, 4, sets, encs, seeds, cfg)
    for r in range(3):
        alone = train_lstm_group(p, labels, 4, [sets[r]], [encs[r]], [seeds[r]], cfg)
        for a, b in zip(together.parameters(), alone.parameters(), strict=True):
            torch.testing.assert_close(a[r], b[0], rtol=1e-4, atol=1e-6)


def test_step_and_block_averaging_by_hand():
    # one run, 2 steps, 3 blocks, 2 classes
    step_probs = torch.tensor([[[[1.0, 0.0], [0.2, 0.8], [0.5, 0.5]],
                                [[0.6, 0.4], [0.0, 1.0], [0.9, 0.1]]]])
    blocks = step_average(step_probs)
    torch.testing.assert_close(blocks, torch.tensor([[[0.8, 0.2], [0.1, 0.9], [0.7, 0.3]]]))
    # blocks 0 and 1 belong to video 0, block 2 to video 1
    videos = video_average(blocks, torch.tensor([0, 0, 1]), 2)
    torch.testing.assert_close(videos, torch.tensor([[[0.45, 0.55], [0.7, 0.3]]]))


def test_classifier_learns_separable_task_and_not_shuffled_labels():
    cfg = TrainConfig(steps=60, batch_size=16, lr=1e-2, dropout=0.0, block=8, stride=4)
    order = np.arange(160)
    train, test = order[(order // 4) % 2 == 0], order[(order // 4) % 2 == 1]  # all classes
    p, labels = _toy(n_videos=160, seed=1)
    bank = train_lstm_group(p, labels, 4, [train], [_lstm(0, d=8, h=16)], [0], cfg)
    acc = evaluate_lstm_group(bank, p, test, labels, cfg)["video_acc"][0].item()
    assert acc > 90
    p, shuffled = _toy(n_videos=160, seed=1, shuffle=True)
    bank = train_lstm_group(p, shuffled, 4, [train], [_lstm(0, d=8, h=16)], [0], cfg)
    acc = evaluate_lstm_group(bank, p, test, shuffled, cfg)["video_acc"][0].item()
    assert acc < 45  # chance is 25 %


def _paper_lstm_config(**overrides):
    from pathlib import Path

    from videolstm.config import load_config

    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "config" / "config.yaml", root / "config" / "paper.yaml")
    return TrainConfig.from_dict({**cfg["finetune"]["lstm"], "eval_chunk": 64, **overrides})


def test_paper_config_classifier_learns_a_separable_task():
    """paper.yaml's classifier optimiser (the authors': summed loss, no clip, L2 1e-5, no
    momentum, lr 1e-4) at its batch size learns in a few hundred steps; the old settings (mean
    loss, clip 1e-3, momentum 0.9) stay near chance over the same steps."""
    order = np.arange(160)
    train, test = order[(order // 4) % 2 == 0], order[(order // 4) % 2 == 1]
    p, labels = _toy(n_videos=160, seed=1)
    cfg = _paper_lstm_config(steps=150, dropout=0.0, block=8, stride=4)
    assert (cfg.optimizer, cfg.loss_reduction, cfg.clip) == ("sgd", "sum", None)
    bank = train_lstm_group(p, labels, 4, [train], [_lstm(0, d=8, h=16)], [0], cfg)
    assert evaluate_lstm_group(bank, p, test, labels, cfg)["video_acc"][0].item() > 90
    old = _paper_lstm_config(steps=150, dropout=0.0, block=8, stride=4, loss_reduction="mean",
                             clip=0.001, momentum=0.9, weight_decay=1e-4)
    bank = train_lstm_group(p, labels, 4, [train], [_lstm(0, d=8, h=16)], [0], old)
    assert evaluate_lstm_group(bank, p, test, labels, old)["video_acc"][0].item() < 60


# -- the authors' classifier options (config/paper.yaml): windows, frozen peepholes, dropout ------


def _unequal_percepts(lengths=(10, 40), dim=3):
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return Percepts(np.zeros((offsets[-1], dim), np.float16), offsets, {}, "rgb")


@pytest.mark.parametrize("windows, want_long", [("video", 0.5), ("all", 33 / 36)])
def test_windows_drawn_per_video_or_uniformly_over_all_windows(windows, want_long):
    """Videos of 10 and 40 frames, 8-frame windows: 3 and 33 windows. 'video' picks either video
    half the time; 'all' (the authors') picks the long one 33 times in 36. Every window is whole."""
    from videolstm.finetune.engine import _train_batch

    p = _unequal_percepts()
    idx, lab = _train_batch([np.random.default_rng(0)], [np.array([0, 1])], np.array([0, 1]), p,
                            8, 20000, windows=windows)
    long = idx[0, :, 0] >= 10
    assert abs(long.mean() - want_long) < 0.01
    assert (lab[0] == long).all()
    assert (np.diff(idx[0], axis=-1) == 1).all()  # consecutive frames of one video
    assert ((idx[0, :, -1] < 10) | (idx[0, :, 0] >= 10)).all()
    starts = idx[0, long, 0] - 10
    assert set(np.unique(starts)) == set(range(33))  # every window of the long video drawn


def test_frozen_peepholes_stay_as_loaded_and_the_rest_trains():
    p, labels = _toy()
    enc = _lstm(0, d=8, h=6)
    for freeze in (True, False):
        cfg = TrainConfig(steps=5, batch_size=4, lr=1e-2, block=8, stride=4, freeze_peepholes=freeze)
        bank = train_lstm_group(p, labels, 4, [np.arange(40)], [enc], [0], cfg)
        for k, layer in enumerate(enc.layers):
            assert torch.equal(bank.peep[k][0], layer.peephole) == freeze
            assert not torch.equal(bank.w_hh[k][0].t(), layer.weight_hh)


def test_single_frame_dropout_acts_in_training_only_and_changes_training():
    from videolstm.finetune.bank import LinearBank
    from videolstm.finetune.engine import train_frame_group

    bank = LinearBank(2, 50, 3)
    for r in range(2):
        bank.init_run(r, torch.Generator().manual_seed(r))
    x = torch.randn(2, 4, 50)
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    bank.train()
    assert not torch.equal(bank(x, 0.5, gens), bank(x))
    bank.eval()
    assert torch.equal(bank(x, 0.5, gens), bank(x))
    p, labels = _toy()
    trained = [train_frame_group(p, labels, 4, [np.arange(40)], [0],
                                 TrainConfig(steps=5, batch_size=8, lr=1e-2, dropout=d)).weight
               for d in (0.0, 0.0, 0.5)]
    assert torch.equal(trained[0], trained[1]) and not torch.equal(trained[0], trained[2])
