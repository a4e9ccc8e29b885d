"""The later protocol's image metrics pinned to their references: SSIM to scikit-image's
`structural_similarity` (its defaults, data range 1), MAE and PSNR to plain numpy, in the
evaluation, the 'no learning' baselines and the protocol table."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.metrics import structural_similarity

from videolstm.baselines import image_baselines
from videolstm.cli import main
from videolstm.evaluate import evaluate_model, psnr, ssim, ssim_skimage
from videolstm.models import ModelConfig
from videolstm.movingmnist.protocol import LATER_COLS, LATER_FC

TOL = 1e-9  # float64 throughout: the two agree to ~1e-15


def _digits_video(rng: np.random.Generator, n_seq: int, n_frames: int, size: int = 64) -> np.ndarray:
    """Structured frames in [0, 1], (T, N, size, size): two smooth blobs ('digits') moving."""
    video = np.zeros((n_frames, n_seq, size, size))
    for n in range(n_seq):
        for _ in range(2):
            digit = ndimage.gaussian_filter((rng.random((20, 20)) > 0.6).astype(float), 1.0)
            digit /= digit.max()
            pos = rng.integers(0, size - 20, 2).astype(float)
            vel = rng.uniform(-3, 3, 2)
            for t in range(n_frames):
                y, x = np.clip(pos + t * vel, 0, size - 20).astype(int)
                video[t, n, y:y + 20, x:x + 20] = np.maximum(video[t, n, y:y + 20, x:x + 20], digit)
    return video


def _skimage(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """scikit-image's SSIM of each frame pair (..., H, W) -> (...), data range 1, its defaults."""
    flat_p = pred.reshape(-1, *pred.shape[-2:])
    flat_t = true.reshape(-1, *true.shape[-2:])
    out = [structural_similarity(p, t, data_range=1.0) for p, t in zip(flat_p, flat_t, strict=True)]
    return np.array(out).reshape(pred.shape[:-2])


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    truth = _digits_video(rng, 6, 4)  # (4, 6, 64, 64)
    return {
        "random": (rng.random(truth.shape), truth),
        "blurred truth": (ndimage.gaussian_filter(truth, (0, 0, 2, 2)), truth),
        "mean frame": (np.broadcast_to(truth.mean((0, 1)), truth.shape).copy(), truth),
        "noisy truth": (np.clip(truth + 0.2 * rng.standard_normal(truth.shape), 0, 1), truth),
        "identical": (truth, truth),
    }


@pytest.mark.parametrize("case", ["random", "blurred truth", "mean frame", "noisy truth", "identical"])
def test_ssim_equals_scikit_image(frames, case):
    pred, true = frames[case]
    ours = ssim_skimage(torch.from_numpy(pred), torch.from_numpy(true)).numpy()
    assert ours.shape == pred.shape[:2]
    np.testing.assert_allclose(ours, _skimage(pred, true), rtol=0, atol=TOL)


def test_ssim_options_equal_scikit_image_options(frames):
    pred, true = (a[0, :3] for a in frames["blurred truth"])
    p, t = torch.from_numpy(pred), torch.from_numpy(true)
    # Wang et al.'s Gaussian SSIM (our `ssim` defaults)
    gauss = [structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                   use_sample_covariance=False) for a, b in zip(pred, true, strict=True)]
    np.testing.assert_allclose(ssim(p, t).numpy(), gauss, rtol=0, atol=TOL)
    # another data range (what scikit-image <= 0.19 assumed for float frames), odd sizes, float32
    for data_range in (2.0, 0.5):
        want = [structural_similarity(a, b, data_range=data_range) for a, b in zip(pred, true, strict=True)]
        np.testing.assert_allclose(ssim_skimage(p, t, data_range).numpy(), want, rtol=0, atol=TOL)
    a, b = pred[0, 3:50, 10:40], true[0, 3:50, 10:40]
    assert float(ssim_skimage(torch.from_numpy(a), torch.from_numpy(b))) == pytest.approx(
        structural_similarity(a, b, data_range=1.0), abs=TOL)
    a32, b32 = pred[1].astype(np.float32), true[1].astype(np.float32)
    assert float(ssim_skimage(torch.from_numpy(a32), torch.from_numpy(b32))) == pytest.approx(
        structural_similarity(a32, b32, data_range=1.0), abs=1e-5)  # scikit-image in float32


def test_ssim_window_must_fit():
    with pytest.raises(ValueError, match="smaller than the 7x7 window"):
        ssim_skimage(torch.zeros(6, 10), torch.zeros(6, 10))


def test_psnr_by_hand():
    rng = np.random.default_rng(3)
    pred, true = rng.random((2, 3, 100)), rng.random((2, 3, 100))
    want = 10 * np.log10(1 / ((pred - true) ** 2).mean(-1))
    np.testing.assert_allclose(psnr(torch.from_numpy(pred), torch.from_numpy(true)).numpy(), want,
                               rtol=1e-12)
    assert float(psnr(torch.zeros(5), torch.zeros(5))) == math.inf  # an exact frame


class _Given(torch.nn.Module):
    """A 'model' whose future frames are given (probabilities), 64x64: the metrics by hand."""

    def __init__(self, future: np.ndarray, n_in: int) -> None:
        super().__init__()
        t, n = future.shape[:2]
        self.cfg = ModelConfig(input_dim=64 * 64, n_in=n_in, n_recon=n_in, n_future=t)
        self.future = True
        self.probs = torch.from_numpy(future.reshape(t, n, -1))
        self.seen = 0

    def forward(self, x_in, x_future=None, teacher_forcing=False, n_future=None):
        b = x_in.shape[1]
        p = self.probs[:, self.seen:self.seen + b]
        self.seen += b
        return {"future": p}

    def emit(self, out):  # the 'logits' are the frames themselves
        return out


def _by_hand(pred: np.ndarray, true: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame (T, N) metrics the straightforward way (numpy, scikit-image)."""
    clipped = np.clip(pred, 0, 1)
    return {
        "future_mse_per_frame": ((pred - true) ** 2).sum((-2, -1)),
        "future_mae_per_frame": np.abs(pred - true).sum((-2, -1)),
        "future_ssim": _skimage(clipped, true),
        "future_psnr": 10 * np.log10(1 / ((clipped - true) ** 2).mean((-2, -1))),
    }


def test_evaluation_metrics_equal_the_references():
    rng = np.random.default_rng(1)
    n_in, n_future, n_seq = 2, 3, 5
    video = _digits_video(rng, n_seq, n_in + n_future)
    frames = np.round(video * 255).astype(np.uint8)
    true = frames[n_in:].astype(np.float64) / 255
    pred = ndimage.gaussian_filter(true, (0, 0, 1.5, 1.5)) * 1.1 - 0.02  # leaves [0, 1] a little
    res = evaluate_model(_Given(pred, n_in), frames, batch_size=2)
    want = _by_hand(pred, true)
    m = res["metrics"]
    for key, per_frame in want.items():
        assert m[key] == pytest.approx(per_frame.mean(), abs=TOL), key
        np.testing.assert_allclose(m[f"{key}_by_step"], per_frame.mean(1), rtol=0, atol=TOL)
        # per_sequence: each sequence's mean over its frames, in test-set order
        seqs = res["per_sequence"][key]
        np.testing.assert_allclose(seqs, per_frame.mean(0), rtol=0, atol=TOL)
        assert np.mean(seqs) == pytest.approx(m[key], abs=TOL)
    assert "scikit-image" in res["ssim"] and "7x7 uniform window" in res["ssim"]
    assert "OpenSTL" in res["psnr"] and "OpenSTL" in res["mae"]


def test_baselines_metrics_equal_the_references():
    rng = np.random.default_rng(2)
    n_in, n_future = 3, 4
    frames = np.round(_digits_video(rng, 5, n_in + n_future) * 255).astype(np.uint8)
    mean = rng.random(64 * 64) * 0.3
    out = image_baselines(frames, mean, n_in, n_future, batch_size=2)
    x = frames.astype(np.float64) / 255
    true = x[n_in:]
    preds = {"mean_frame": np.broadcast_to(mean.reshape(64, 64), true.shape),
             "last_frame": np.broadcast_to(x[n_in - 1:n_in], true.shape)}
    for name, pred in preds.items():
        for key, per_frame in _by_hand(pred, true).items():
            assert out["baselines"][name][key] == pytest.approx(per_frame.mean(), abs=TOL), (name, key)
            np.testing.assert_allclose(out["per_sequence"][name][key], per_frame.mean(0), rtol=0,
                                       atol=TOL)


def _eval_json(path, run, metrics):
    path.write_text(json.dumps({"metrics": metrics, "n_sequences": 7, "variant": run,
                                "model_config": {"layers": 1, "hidden": 8}}))
    return f"{run}={path}"


def test_protocol_table_has_mae_and_psnr(tmp_path):
    cfg = json.dumps({"config_name": "unit", "data_source": "embedded"})
    values = {"future_mse_per_frame": 120.5, "future_mae_per_frame": 250.25,
              "future_ssim": 0.5, "future_psnr": 15.75}
    evals = [_eval_json(tmp_path / "future.json", "future", values),
             _eval_json(tmp_path / "composite.json", "composite",
                        {k: v * 1.5 for k, v in values.items()})]
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"n_sequences": 7, "baselines": {
        name: {k: v * 2 for k, v in values.items()} for name in ("mean_frame", "last_frame")}}))
    assert main(["table2", "--only", "protocol", "--cfg", cfg, "--mnist-eval", *evals,
                 "--mnist-baselines", str(base), "--out-dir", str(tmp_path)]) == 0
    with open(tmp_path / "moving_mnist_protocol.csv", newline="") as fh:
        cells = {(r["row"], r["column"]): r for r in csv.DictReader(fh)}
    for key, col in LATER_COLS.items():
        fc = cells[(LATER_FC, col)]
        assert float(fc["ours"]) == pytest.approx(values[key])  # the lowest-MSE run
        if key in ("future_mae_per_frame", "future_psnr"):
            assert fc["paper"] == ""  # no published value vendored: never typed in
        else:
            assert fc["paper"] != ""
        assert float(cells[("No learning: mean training frame", col)]["ours"]) == pytest.approx(
            2 * values[key])
    md = (tmp_path / "moving_mnist_protocol.md").read_text()
    assert "PSNR" in md and "MAE" in md and "7x7 uniform window" in md and "OpenSTL" in md


def test_protocol_table_names_a_stale_evaluation(tmp_path, capsys):
    cfg = json.dumps({"config_name": "unit", "data_source": "embedded"})
    old = _eval_json(tmp_path / "future.json", "future",
                     {"future_mse_per_frame": 120.0, "future_ssim": 0.5})
    assert main(["table2", "--only", "protocol", "--cfg", cfg, "--mnist-eval", old,
                 "--out-dir", str(tmp_path)]) == 2
    assert "no metric 'future_mae_per_frame'" in capsys.readouterr().err
