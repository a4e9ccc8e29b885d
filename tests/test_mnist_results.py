"""Moving MNIST results: SSIM, metrics, test-mode conditional decoding, Table 2, figures."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from videolstm.cli import main
from videolstm.evaluate import evaluate_model, gaussian_window, ssim
from videolstm.models import ModelConfig, build_model


def _ssim_scipy(x: np.ndarray, y: np.ndarray) -> float:
    """Independent reference: scipy Gaussian filter (sigma 1.5, truncate 3.5 -> 11 taps), border
    of 5 pixels cropped (= the valid region), population statistics (as scikit-image does with
    gaussian_weights=True, use_sample_covariance=False, data_range=1)."""
    def filt(a):
        return ndimage.gaussian_filter(a, sigma=1.5, truncate=3.5, mode="reflect")
    c1, c2 = 0.01**2, 0.03**2
    mx, my = filt(x), filt(y)
    vx, vy = filt(x * x) - mx * mx, filt(y * y) - my * my
    cxy = filt(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(s[5:-5, 5:-5].mean())


def test_ssim_identity_and_window():
    g = gaussian_window()
    assert g.shape == (11, 11) and abs(float(g.sum()) - 1) < 1e-12
    x = torch.rand(3, 2, 32, 32, generator=torch.Generator().manual_seed(0))
    s = ssim(x, x)
    assert s.shape == (3, 2)
    assert torch.allclose(s, torch.ones_like(s), atol=1e-12)


def test_ssim_matches_scipy_reference():
    rng = np.random.default_rng(1)
    for noise in (0.05, 0.3):
        x = rng.random((64, 64))
        y = np.clip(x + noise * rng.standard_normal((64, 64)), 0, 1)
        ours = float(ssim(torch.from_numpy(x), torch.from_numpy(y)))
        assert ours == pytest.approx(_ssim_scipy(x, y), abs=1e-10)
        assert ours < 1


def test_ssim_constant_images_by_hand():
    # constant images a, b: variances 0, so SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    a, b, c1 = 0.2, 0.6, 0.01**2
    x = torch.full((16, 16), a, dtype=torch.float64)
    y = torch.full((16, 16), b, dtype=torch.float64)
    assert float(ssim(x, y)) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), abs=1e-9)


class _Oracle(torch.nn.Module):
    """A 'model' whose future logits are given: lets the metrics be checked by hand."""

    def __init__(self, future_probs: torch.Tensor) -> None:
        super().__init__()
        self.cfg = ModelConfig(input_dim=16 * 16, n_in=2, n_recon=2, n_future=3)
        self.future = True
        self.probs = future_probs  # (n_future, N, D)
        self.seen = 0

    def forward(self, x_in, x_future=None, teacher_forcing=False, n_future=None):
        b = x_in.shape[1]
        p = self.probs[:, self.seen:self.seen + b].clamp(1e-12, 1 - 1e-12)
        self.seen += b
        return {"future": torch.log(p) - torch.log1p(-p)}

    def emit(self, logits):
        return torch.sigmoid(logits)


def test_metrics_perfect_prediction_and_known_ce():
    rng = np.random.default_rng(0)
    frames = (rng.random((5, 7, 16, 16)) > 0.5).astype(np.uint8) * 255
    truth = torch.from_numpy(frames[2:5]).flatten(2).double() / 255
    res = evaluate_model(_Oracle(truth.clone()), frames, batch_size=3)
    m = res["metrics"]
    assert m["future_mse_per_frame"] == pytest.approx(0, abs=1e-12)
    assert m["future_ssim"] == pytest.approx(1, abs=1e-9)
    assert m["future_loss"] == pytest.approx(0, abs=1e-6)
    # predicting 0.5 everywhere: CE = 256 ln 2 per frame, MSE = 256 * 0.25 per frame
    res = evaluate_model(_Oracle(torch.full_like(truth, 0.5)), frames, batch_size=4)
    m = res["metrics"]
    assert m["future_loss"] == pytest.approx(256 * math.log(2), rel=1e-9)
    assert m["future_mse_per_frame"] == pytest.approx(64.0, rel=1e-9)
    assert len(m["future_loss_by_step"]) == 3
    assert res["n_sequences"] == 7


def _tiny(variant: str, seed: int = 0, size: int = 16):
    torch.manual_seed(seed)
    cfg = ModelConfig(input_dim=size * size, hidden=8, layers=1, n_in=3, n_recon=3, n_future=3)
    return build_model(variant, cfg).eval()


def test_conditional_model_evaluated_on_its_own_outputs():
    model = _tiny("composite_cond")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (6, 4, 16, 16), dtype=np.uint8)
    b = a.copy()
    b[3:] = rng.integers(0, 256, (3, 4, 16, 16), dtype=np.uint8)  # different ground-truth future
    x_in = torch.from_numpy(a[:3]).flatten(2).float() / 255
    out_a = model(x_in, torch.from_numpy(a[3:]).flatten(2).float() / 255, teacher_forcing=False)
    out_b = model(x_in, torch.from_numpy(b[3:]).flatten(2).float() / 255, teacher_forcing=False)
    assert torch.equal(out_a["future"], out_b["future"])  # test mode never sees the truth
    tf = model(x_in, torch.from_numpy(a[3:]).flatten(2).float() / 255, teacher_forcing=True)
    assert not torch.allclose(tf["future"], out_a["future"])
    # the evaluation's loss is that of the test-mode outputs, not the teacher-forced ones
    res = evaluate_model(model, a, batch_size=4)
    target = torch.from_numpy(a[3:]).flatten(2).double() / 255
    want = torch.nn.functional.binary_cross_entropy_with_logits(
        out_a["future"].double(), target, reduction="none").sum(-1).mean()
    assert res["metrics"]["future_loss"] == pytest.approx(float(want.detach()), rel=1e-6)
    assert "recon_loss" in res["metrics"] and "recon_mse_per_pixel" in res["metrics"]


def _save_ckpt(path, variant, seed=0, layers=2, size=64):
    from videolstm.checkpoint import save

    torch.manual_seed(seed)
    cfg = ModelConfig(input_dim=size * size, hidden=8, layers=layers, n_in=10, n_recon=10,
                      n_future=10)
    model = build_model(variant, cfg)
    save(path, {"variant": variant, "domain": "mnist", "run": path.parent.name,
                "model_config": cfg.to_dict(), "state_dict": model.state_dict(), "step": 1})


CFG = json.dumps({"config_name": "testcfg", "data_source": "embedded", "seed": 0,
                  "device": "cpu", "mnist": {"eval": {"rollout_steps": 12}}})


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist_results")
    rng = np.random.default_rng(0)
    sets = {}
    for name, n in (("test", 5), ("test_1digit", 2), ("test_3digits", 2)):
        sets[name] = root / f"{name}.npy"
        np.save(sets[name], rng.integers(0, 256, (20, n, 64, 64), dtype=np.uint8))
    ckpts = {}
    for i, (run, variant, layers) in enumerate([
        ("future", "future", 2), ("composite", "composite", 2), ("cond_future", "cond_future", 2),
        ("composite_cond", "composite_cond", 2), ("composite_1layer", "composite", 1),
        ("fc8", "autoencoder", 1),
    ]):
        ckpts[run] = root / "pretrain" / run / "final.pt"
        ckpts[run].parent.mkdir(parents=True)
        _save_ckpt(ckpts[run], variant, seed=i, layers=layers)
    return root, sets, ckpts


def test_table2_from_evals_not_run_patches(workspace):
    root, sets, ckpts = workspace
    evals = []
    for run in ("future", "composite", "cond_future", "composite_cond"):
        out = root / "eval" / f"{run}.json"
        assert main(["mnist-eval", "--cfg", CFG, "--checkpoint", str(ckpts[run]),
                     "--test", str(sets["test"]), "--out", str(out), "--batch-size", "2"]) == 0
        evals.append(f"{run}={out}")
    tables = root / "tables"
    assert main(["table2", "--cfg", CFG, "--mnist-eval", *evals, "--out-dir", str(tables)]) == 0
    md = (tables / "table2.md").read_text()
    csv = (tables / "table2.csv").read_text()
    for row, paper in (("Future Predictor", "350.2"), ("Composite Model", "344.9"),
                       ("Conditional Future Predictor", "343.5"),
                       ("Composite Model with Conditional Future Predictor", "341.2")):
        assert f"| {row} | {paper} |" in md
    assert md.count("not run") >= 4  # the patches column
    assert "4096 pixels" in md and "testcfg" in md and "embedded" in md
    ce = json.loads((root / "eval" / "future.json").read_text())["metrics"]["future_loss"]
    assert f"{ce:.6g}" in csv  # the value comes from the evaluation
    proto = (tables / "moving_mnist_protocol.md").read_text()
    assert "118.300" in proto and "103.300" in proto and "SSIM" in proto


def test_eval_user_errors(workspace, tmp_path, capsys):
    root, sets, ckpts = workspace
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 20, 64, 64), dtype=np.float32))
    rc = main(["mnist-eval", "--cfg", CFG, "--checkpoint", str(ckpts["future"]), "--test",
               str(bad), "--out", str(tmp_path / "x.json")])
    assert rc == 2 and "with time first" in capsys.readouterr().err.lower()


def test_figures_written_and_deterministic(workspace, tmp_path):
    root, sets, ckpts = workspace
    args = ["mnist-figures", "--cfg", CFG, "--checkpoint",
            *(f"{r}={ckpts[r]}" for r in ("composite_1layer", "composite", "composite_cond")),
            "--test", str(sets["test"]), "--test-1digit", str(sets["test_1digit"]),
            "--test-3digits", str(sets["test_3digits"])]
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([*args, "--out-dir", str(a)]) == 0
    assert main([*args, "--out-dir", str(b)]) == 0
    names = ["figure5.png", "figure7.png", "figure8.png", "figure9.png", "figure10.png",
             "prediction.gif"]
    for name in names:
        assert (a / name).stat().st_size > 1000
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "figure5.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"Software" not in (a / "figure5.png").read_bytes()


def test_labreport_table_and_figure(workspace, tmp_path):
    root, sets, ckpts = workspace
    ev = tmp_path / "fc8.json"
    assert main(["mnist-eval", "--cfg", CFG, "--checkpoint", str(ckpts["fc8"]), "--test",
                 str(sets["test"]), "--out", str(ev)]) == 0
    fig = tmp_path / "lab.png"
    assert main(["labreport", "--cfg", CFG, "--eval", f"fc8={ev}", "--checkpoint",
                 f"fc8={ckpts['fc8']}", "--test", str(sets["test"]), "--out-dir", str(tmp_path),
                 "--figure", str(fig)]) == 0
    md = (tmp_path / "labreport.md").read_text()
    assert "0.027440" in md and "8 units (scaled down, no paper value)" in md
    assert fig.stat().st_size > 1000
