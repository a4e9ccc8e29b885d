"""The data path that feeds a GPU (resident float16 table, or streamed rows prepared ahead in a
thread) gives exactly the batches of the plain host path, in the same draw order; run on CPU."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from videolstm.data_sources import ArraySource
from videolstm.finetune.data import Percepts
from videolstm.finetune.engine import TrainConfig, Validation, train_frame_group, train_lstm_group
from videolstm.finetune.frames import FrameSource
from videolstm.lstm import StackedLSTM
from videolstm.prefetch import prefetch


def _percepts(tmp_path, n_videos=24, frames=18, dim=8, classes=4):
    rng = np.random.default_rng(0)
    labels = np.arange(n_videos) % classes
    x = rng.normal(size=(n_videos * frames, dim)) * 3
    np.save(tmp_path / "rgb.npy", x.astype(np.float16))
    mm = np.load(tmp_path / "rgb.npy", mmap_mode="r")  # a memory map, as read_percepts gives
    offsets = np.arange(n_videos + 1, dtype=np.int64) * frames
    return Percepts(mm, offsets, {}, "rgb"), labels.astype(np.int64)


def test_resident_and_streamed_batches_are_identical_to_the_host_gather(tmp_path):
    p, _ = _percepts(tmp_path)
    resident = FrameSource(p, "cpu")
    streamed = FrameSource(p, "cpu", budget_bytes=0)
    assert resident.resident and not streamed.resident and streamed.depth > 0
    idx = np.random.default_rng(1).integers(0, p.frames.shape[0], size=(3, 5, 7))
    want = torch.from_numpy(np.asarray(p.frames[idx.reshape(-1)], dtype=np.float32)).view(3, 5, 7, -1)
    for source in (resident, streamed):
        got = source(idx)
        assert got.dtype == torch.float32 and got.shape == (3, 5, 7, p.dim)
        assert torch.equal(got, want)
    jobs = [(idx[i], i) for i in range(3)]
    for source in (resident, streamed):
        out = list(source.batches(iter(jobs)))
        assert [extra for _, extra in out] == [0, 1, 2]
        for i, (x, _) in enumerate(out):
            assert torch.equal(x, want[i])


def _lstm(seed, d=8, h=6):
    torch.manual_seed(seed)
    return StackedLSTM(d, h, 1)


def test_training_on_a_streamed_source_equals_training_on_a_resident_one(tmp_path):
    """The prefetching thread draws every window in the same order as the unthreaded path: the
    trained classifiers (validation checks included) are bit-identical."""
    p, labels = _percepts(tmp_path)
    cfg = TrainConfig(steps=12, batch_size=4, lr=1e-2, dropout=0.3, block=6, stride=3)
    sets = [np.arange(0, 20, 2), np.arange(1, 20, 2)]
    val = Validation(np.array([20, 21, 22, 23]), every=4)
    banks = []
    for budget in (None, 0):
        source = FrameSource(p, "cpu", budget_bytes=budget)
        encs = (_lstm(s) for s in (3, 4))  # a generator, as the sweep passes fresh baselines
        banks.append(train_lstm_group(p, labels, 4, sets, encs, [7, 8], cfg, "cpu", source, val))
    for a, b in zip(banks[0].parameters(), banks[1].parameters(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(banks[0].best_step, banks[1].best_step)
    frames = [train_frame_group(p, labels, 4, sets, [7, 8], cfg, "cpu", FrameSource(p, "cpu", budget_bytes=b))
              for b in (None, 0)]
    for a, b in zip(frames[0].parameters(), frames[1].parameters(), strict=True):
        assert torch.equal(a, b)


def test_prefetch_keeps_order_raises_the_producers_error_and_stops_its_thread():
    assert list(prefetch(iter(range(50)), depth=3)) == list(range(50))

    def broken():
        yield 1
        raise ValueError("bad percept row")

    with pytest.raises(ValueError, match="bad percept row"):
        list(prefetch(broken(), depth=2))
    before = threading.active_count()
    it = prefetch(iter(range(10**6)), depth=2)
    assert next(it) == 0
    it.close()  # the consumer stops early: the producer thread ends
    assert threading.active_count() == before


def test_array_batches_stay_float16_until_the_device(tmp_path):
    """Pretraining windows cross to the device as the stored float16 (half the bytes of float32)
    and are cast there; the values are those of the float32 gather."""
    x = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float16)
    np.save(tmp_path / "a.npy", x)
    np.save(tmp_path / "a.offsets.npy", np.array([0, 100, 200], dtype=np.int64))
    settings = {"n_in": 4, "n_future": 3}
    src = ArraySource([tmp_path / "a"], settings, batch_size=5, seed=0)
    x_in, x_future = src.next_batch()
    assert x_in.dtype == torch.float16 and x_in.shape == (4, 5, 6) and x_future.shape == (3, 5, 6)
    flat = x.astype(np.float32)
    for b in range(5):  # every column is a window of 7 consecutive frames
        window = torch.cat([x_in[:, b], x_future[:, b]]).float().numpy()
        starts = [s for s in range(194) if np.array_equal(flat[s:s + 7], window)]
        assert starts
