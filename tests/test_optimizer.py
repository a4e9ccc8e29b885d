"""The authors' optimiser semantics, computed by hand, and a check that no configured optimiser is
bounded so tightly that its weights cannot move."""

import math
from pathlib import Path

import pytest
import torch

from videolstm.config import load_config
from videolstm.domains import labreport_domain
from videolstm.finetune.engine import TrainConfig as ClassifierConfig
from videolstm.finetune.engine import _step
from videolstm.models import ModelConfig, build_model
from videolstm.train import (
    TrainConfig,
    amp_enabled,
    cpu_has_native_bf16,
    make_optimizer,
    objective,
    resolve_run,
    train,
)
from videolstm.video.scope import is_split_scoped

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "embedded": [ROOT / "config" / "config.yaml"],
    "paper": [ROOT / "config" / "config.yaml", ROOT / "config" / "paper.yaml"],
    "cpu": [ROOT / "config" / "config.yaml", ROOT / "config" / "cpu.yaml"],
}


def _tiny_future(seed=0):
    torch.manual_seed(seed)
    cfg = ModelConfig(input_dim=12, hidden=5, layers=1, output="sigmoid", n_in=3, n_recon=3, n_future=4)
    return build_model("future", cfg), cfg


def _authors_readout_grad(model, x_in, x_future):
    """lstm_combo.py: output derivative pred - target per element; weight gradients summed over
    batch and frames with no division."""
    with torch.no_grad():
        out = model(x_in, x_future, teacher_forcing=True)
        d = torch.sigmoid(out["future"]) - x_future  # (T, B, D)
        h = out["future_hidden"]  # (T, B, H)
        return d.reshape(-1, d.shape[-1]).t() @ h.reshape(-1, h.shape[-1]), d.sum((0, 1))


def test_sum_reduction_sgd_step_equals_the_authors_update():
    model, cfg = _tiny_future()
    tc = TrainConfig(optimizer="sgd", loss_reduction="sum", lr=0.05, momentum=0.9,
                     weight_decay=0.01, clip=2e-3)
    opt = make_optimizer(model, tc)
    gen = torch.Generator().manual_seed(1)
    w = model.future.readout.weight
    b = model.future.readout.bias
    v_w, v_b = torch.zeros_like(w), torch.zeros_like(b)
    for _ in range(2):  # the second step checks the momentum term
        x = torch.rand(7, 6, 12, generator=gen)
        x_in, x_future = x[:3], x[3:]
        d_w, d_b = _authors_readout_grad(model, x_in, x_future)
        # util.py Update: v = momentum v - lr (grad + l2 w); v clipped to +-clip; w += v.
        # No L2 decay on biases (the authors' configs decay w_* only).
        v_w = (0.9 * v_w - 0.05 * (d_w + 0.01 * w.detach())).clamp(-2e-3, 2e-3)
        v_b = (0.9 * v_b - 0.05 * d_b).clamp(-2e-3, 2e-3)
        expect_w, expect_b = w.detach() + v_w, b.detach() + v_b
        losses = model.losses(x_in, x_future, teacher_forcing=True)
        opt.zero_grad()
        objective(losses, cfg, tc.loss_reduction, x.shape[1]).backward()
        opt.step()
        assert torch.allclose(w, expect_w, atol=1e-7, rtol=0)
        assert torch.allclose(b, expect_b, atol=1e-7, rtol=0)
        clipped = (v_w.abs() == 2e-3).float().mean()
        assert 0 < clipped < 1, "the clip should bind for some weights and not others"


def test_mean_reduction_is_the_sum_divided_by_batch_and_frames():
    model, cfg = _tiny_future()
    x = torch.rand(7, 6, 12, generator=torch.Generator().manual_seed(2))
    losses = model.losses(x[:3], x[3:], teacher_forcing=True)
    mean = objective(losses, cfg, "mean", 6)
    total = objective(losses, cfg, "sum", 6)
    assert torch.allclose(total, mean * 6 * 4)
    linear = ModelConfig(**{**cfg.to_dict(), "output": "linear"})
    assert torch.allclose(objective(losses, linear, "sum", 6), mean * 6 * 4 * 0.5)  # 0.5 * sum sq


def test_weight_decay_spares_biases():
    model, _ = _tiny_future()
    opt = make_optimizer(model, TrainConfig(optimizer="adam", weight_decay=0.1))
    names = {id(p): n for n, p in model.named_parameters()}
    for group in opt.param_groups:
        for p in group["params"]:
            is_bias = names[id(p)].endswith("bias")
            assert (group["weight_decay"] == 0) == is_bias, names[id(p)]


def test_paper_config_uses_the_authors_optimiser():
    cfg = load_config(*CONFIGS["paper"])
    for run in cfg["pretrain"]["mnist"]["runs"]:
        _, tc, _ = resolve_run(cfg["pretrain"], "mnist", run)
        assert (tc.optimizer, tc.loss_reduction, tc.lr, tc.momentum, tc.weight_decay, tc.clip) == (
            "sgd", "sum", 1e-4, 0.9, 1e-4, 1e-4), run
        # nothing of the embedded config's CPU sizing leaks through the overlay
        assert (tc.hidden, tc.layers, tc.batch_size, tc.steps) == (
            2048, 1 if run == "composite_1layer" else 2, 80, 100000), run
    lstm = ClassifierConfig.from_dict(cfg["finetune"]["lstm"])
    assert (lstm.optimizer, lstm.loss_reduction, lstm.clip, lstm.weight_decay, lstm.momentum) == (
        "sgd", "sum", None, 1e-5, 0.0)


def _max_move(optimizer, lr, momentum, clip, steps, clip_on_update):
    """Upper bound on how far one weight can move over a run, when a clip bounds each step."""
    if optimizer == "adam":  # per-step moves of about lr, whatever the gradient's scale
        return steps * lr
    if optimizer == "rmsprop":  # g / sqrt(mean g^2) <= 1 / sqrt(1 - alpha) for alpha = 0.9
        return steps * lr / math.sqrt(1 - 0.9)
    if clip is None:
        return math.inf
    per_step = clip if clip_on_update else lr * clip / max(1 - momentum, 1e-12)
    return steps * per_step


def _optimiser_paths(cfg):
    pre = cfg["pretrain"]
    for domain in ("mnist", "labreport", "patches", "percepts_rgb", "percepts_flow",
                   "percepts_flowstack"):
        runs = labreport_domain(pre)["runs"] if domain == "labreport" else (pre.get(domain) or {}).get("runs", {})
        instance = f"{domain}_split1" if is_split_scoped(pre.get(domain) or {}) else domain
        for run in runs:
            _, tc, _ = resolve_run(pre, instance, run)
            yield (f"pretrain.{domain}.{run}", tc.optimizer, tc.lr, tc.momentum, tc.clip, tc.steps,
                   tc.optimizer == "sgd")
    for name in ("lstm", "single_frame"):
        c = ClassifierConfig.from_dict(cfg["finetune"][name])
        clip = c.clip if name == "lstm" else None
        yield f"finetune.{name}", c.optimizer, c.lr, c.momentum, clip, c.steps, False


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_no_optimiser_is_configured_so_weights_cannot_move(name):
    # e.g. lr 1e-4, gradient clip 1e-3, momentum 0.9, 2,000 steps: at most 2e-3 per weight, less
    # than the initial weights' own scale, so such a classifier could not learn
    for path, opt, lr, momentum, clip, steps, on_update in _optimiser_paths(load_config(*CONFIGS[name])):
        bound = _max_move(opt, lr, momentum, clip, steps, on_update)
        assert bound >= 0.1, f"{name}: {path} can move a weight by at most {bound:.2g} in {steps} steps"


def test_the_move_bound_catches_the_old_classifier_settings():
    assert _max_move("sgd", 1e-4, 0.9, 1e-3, 2000, False) == pytest.approx(2e-3)


def test_sum_reduction_classifier_step_sums_over_batch_and_steps():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 3, 4, requires_grad=True)  # (runs, T, B, C)
    target = torch.randint(0, 4, (2, 5, 3))
    grads = {}
    for reduction in ("mean", "sum"):
        holder = torch.nn.Linear(1, 1)
        opt = torch.optim.SGD(holder.parameters(), lr=0.0)
        logits.grad = None
        _step(holder, opt, logits, target, 2, None, reduction)
        grads[reduction] = logits.grad.clone()
    assert torch.allclose(grads["sum"], grads["mean"] * 15)


def test_cpu_training_step_runs_under_bf16_when_native(tiny_config, tmp_path):
    """The training loop with amp on: finite losses either way (bf16 on this CPU when native)."""
    cfg = tiny_config
    cfg["pretrain"]["defaults"].update(amp=True, loss_reduction="sum", optimizer="sgd", lr=1e-4,
                                       clip=1e-4, weight_decay=1e-4)
    summary = train(cfg, "mnist", "future", tmp_path / "run")
    assert math.isfinite(summary["valid"]["future"])
    assert amp_enabled(TrainConfig(**summary["train_config"]), torch.device("cpu")) == cpu_has_native_bf16()


def test_lab_report_runs_keep_their_own_settings():
    """pretrain.mnist.train (the Table 2 sizing) must not leak into the lab report's runs."""
    for name in ("embedded", "paper"):
        cfg = load_config(*CONFIGS[name])
        for run in labreport_domain(cfg["pretrain"])["runs"]:
            _, tc, _ = resolve_run(cfg["pretrain"], "labreport", run)
            assert tc.optimizer == "rmsprop" and tc.loss_reduction == "mean", (name, run)
            if name == "paper":
                assert (tc.lr, tc.clip, tc.weight_decay) == (1e-4, None, 0.0), run
