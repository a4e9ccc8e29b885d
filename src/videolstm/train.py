"""Unsupervised pretraining of one model variant on one domain, resumable at any checkpoint.

Domains: `mnist` (Moving MNIST generated on the fly) and array domains (`patches`,
`percepts_rgb`, `percepts_flow`) whose frames come from float16 arrays + offsets. A run's settings
are `pretrain.defaults`, overridden by `pretrain.<domain>.train`, overridden by the run's `train`.

Every `checkpoint_every` steps `last.pt` is written atomically with the weights, the optimiser,
the step, the data stream's and torch's RNG states, the data's identity and the metrics so far;
rerunning the same command resumes from it and, on CPU, ends bit-identical to an uninterrupted
run. A checkpoint of a different run (other settings or data, or past the steps now asked for) is
not resumed: it is kept as `last.stale.pt` and the run starts afresh, saying why.
Started by `torchrun --nproc_per_node N`, it trains data-parallel (see videolstm.distributed).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from videolstm import checkpoint as ckpt_io
from videolstm import distributed
from videolstm.config import configured_device, require
from videolstm.data_sources import make_source
from videolstm.devices import pick_device
from videolstm.errors import UserError
from videolstm.io import atomic_write_json, atomic_write_text
from videolstm.models import ModelConfig, build_model
from videolstm.prefetch import to_device_float
from videolstm.pretrain_settings import TrainConfig, resolve_run


class ClippedSGD(torch.optim.Optimizer):
    """The authors' optimiser: SGD with momentum and L2 weight decay, the update clipped element-wise."""

    def __init__(self, params, lr: float, momentum: float, weight_decay: float, clip: float | None):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, "clip": clip})

    @torch.no_grad()
    def step(self, closure=None):  # noqa: D102
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.add(p, alpha=group["weight_decay"]) if group["weight_decay"] else p.grad
                state = self.state[p]
                if "velocity" not in state:
                    state["velocity"] = torch.zeros_like(p)
                v = state["velocity"].mul_(group["momentum"]).add_(g, alpha=group["lr"])
                if group["clip"] is not None:
                    v.clamp_(-group["clip"], group["clip"])
                p.sub_(v)


def decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Parameter groups: L2 decay on weights (dense, input, peephole, output), none on biases,
    as in the authors' configs (l2_decay on w_*, not on b)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name.rsplit(".", 1)[-1].startswith("bias") else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def make_optimizer(model: torch.nn.Module, tc: TrainConfig) -> torch.optim.Optimizer:
    params = decay_groups(model, tc.weight_decay)
    if tc.optimizer == "sgd":
        return ClippedSGD(params, tc.lr, tc.momentum, tc.weight_decay, tc.clip)
    if tc.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=tc.lr, alpha=0.9)
    if tc.optimizer == "adam":
        # fused: one kernel over all parameters (the foreach default took more time than the
        # forward and backward passes of the CPU-sized models; benchmarks/bench_pretrain.py)
        return torch.optim.Adam(params, lr=tc.lr, fused=fused_ok(model))
    raise UserError(f"pretrain optimizer {tc.optimizer!r} unknown; allowed: sgd, rmsprop, adam")


def fused_ok(model: torch.nn.Module) -> bool:
    """torch's fused Adam kernel handles float parameters on CPU and CUDA."""
    return all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point
               for p in model.parameters())


def objective(losses: dict[str, torch.Tensor], cfg, reduction: str, batch: int) -> torch.Tensor:
    """The training objective from the per-frame losses (module `models`).

    mean: their sum (each decoder's loss per frame). sum: the loss summed over the batch and the
    frames of each decoder, as the authors' code; squared error then counts 0.5 * sum, so that its
    derivative is pred - target like theirs (cross entropy's derivative already is).
    """
    if reduction == "mean":
        return losses["total"]
    if reduction != "sum":
        raise UserError(f"pretrain loss_reduction {reduction!r} unknown; allowed: mean, sum")
    frames = {"recon": cfg.n_recon, "future": cfg.n_future}
    half = 0.5 if cfg.output == "linear" else 1.0
    return sum(losses[k] * (frames[k] * batch * half) for k in frames if k in losses)


def amp_enabled(tc: TrainConfig, device: torch.device) -> bool:
    """bf16 autocast: on CUDA, and on CPUs with native bf16 (elsewhere it would be emulated, slow)."""
    if not tc.amp:
        return False
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())


def cpu_has_native_bf16() -> bool:
    """True when the CPU has bf16 instructions (x86 AVX512-BF16 or AMX-BF16; Linux flags)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    flags = {f for line in text.splitlines() if line.startswith("flags") for f in line.split()}
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def model_extra(cfg: dict, variant: str, input_dim: int) -> dict:
    """ModelConfig fields beyond the LSTM's: the ConvLSTM's convolution settings."""
    if variant != "convlstm":
        return {}
    conv = cfg["pretrain"].get("labreport", {}).get("convlstm", {})
    return {"image_size": int(math.isqrt(input_dim)), "conv_channels": conv.get("channels", 16),
            "conv_kernel": conv.get("kernel", 5), "conv_patch": conv.get("patch", 4)}


def model_config_for(variant: str, tc: TrainConfig, settings: dict, input_dim: int, extra: dict) -> ModelConfig:
    return ModelConfig(
        input_dim=input_dim, hidden=tc.hidden, layers=tc.layers, cell=tc.cell, init=tc.init,
        output=settings["output"], n_in=settings["n_in"], n_recon=settings.get("n_recon", settings["n_in"]),
        n_future=settings["n_future"], **extra,
    )


@torch.no_grad()
def evaluate(model: torch.nn.Module, batches, device: torch.device) -> dict[str, float]:
    """Mean per-frame losses over fixed batches, decoders in test mode (own outputs fed back)."""
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    for x_in, x_future in batches:
        losses = model.losses(to_device_float(x_in, device), to_device_float(x_future, device),
                              teacher_forcing=False)
        b = x_in.shape[1]
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + float(v) * b
        n += b
    model.train()
    return {k: v / max(n, 1) for k, v in sums.items()}


def resumable_settings(tc: TrainConfig) -> dict:
    """Settings a resumed run must share with its checkpoint (not the step counts or intervals)."""
    skip = {"steps", "checkpoint_every", "log_every", "eval_every"}
    return {k: v for k, v in asdict(tc).items() if k not in skip}


def _metrics_csv(rows: list[dict]) -> str:
    cols = ["step", "split", "total", "recon", "future"]
    lines = [",".join(cols)]
    for r in rows:
        cells = ("" if r.get(c) is None else f"{r[c]:.6f}" if isinstance(r[c], float) else str(r[c]) for c in cols)
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


@dataclass
class _Run:
    """One run's pieces: what it trains, on what, and its progress (step, metric rows)."""

    cfg: dict
    domain: str
    run: str
    variant: str
    tc: TrainConfig
    mcfg: ModelConfig
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    source: Any
    identity: dict
    step: int = 0
    rows: list = field(default_factory=list)

    def payload(self) -> dict:
        return {
            "variant": self.variant, "domain": self.domain, "run": self.run,
            "model_config": self.mcfg.to_dict(), "train_config": asdict(self.tc),
            "data_identity": self.identity, "state_dict": self.model.state_dict(),
            "optimizer": self.opt.state_dict(), "step": self.step,
            "rng": {"source": self.source.state_dict(), "torch": torch.get_rng_state()},
            "metrics": self.rows, "config_name": self.cfg.get("config_name"),
            "data_source": self.cfg.get("data_source"),
        }

    def resume(self, last: Path, main: bool) -> None:
        """Continue from `last` when it is a partial run of this very run (issue 13); otherwise
        keep it as last.stale.pt and start afresh, saying why."""
        state = ckpt_io.load(last)
        problems = ckpt_io.resume_mismatches(state, self.variant, self.mcfg.to_dict(),
                                             resumable_settings(self.tc), self.identity, self.tc.steps)
        name = f"{self.domain}/{self.run}"
        if problems:
            if main:
                stale = last.with_name("last.stale.pt")
                last.replace(stale)
                print(f"not resuming {name} from {last}: {'; '.join(problems)}. Starting afresh; "
                      f"the old checkpoint is kept as {stale}", file=sys.stderr)
            return
        self.model.load_state_dict(state["state_dict"])
        self.opt.load_state_dict(state["optimizer"])
        self.step, self.rows = state["step"], state["metrics"]
        self.source.load_state_dict(state["rng"]["source"])
        torch.set_rng_state(state["rng"]["torch"])
        if main:
            print(f"resuming {name} from {last} at step {self.step}", file=sys.stderr)

    def summary(self) -> dict:
        valid = [r for r in self.rows if r["split"] == "valid"][-1]
        return {"variant": self.variant, "domain": self.domain, "run": self.run, "steps": self.step,
                "valid": {k: v for k, v in valid.items() if k not in ("step", "split")},
                "model_config": self.mcfg.to_dict(), "train_config": asdict(self.tc),
                "config_name": self.cfg.get("config_name"), "data_source": self.cfg.get("data_source")}


def _build(cfg: dict, domain: str, run: str, data_root, ctx, device: torch.device) -> _Run:
    """The run's settings, data stream (this rank's shard), model and optimiser."""
    variant, tc, settings = resolve_run(cfg["pretrain"], domain, run)
    torch.manual_seed(tc.seed)
    source = make_source(domain, cfg, settings, tc, data_root, device)
    source.set_shard(*ctx.shard(tc.batch_size))  # this rank's slice of the global batch
    mcfg = model_config_for(variant, tc, settings, source.input_dim, model_extra(cfg, variant, source.input_dim))
    with torch.device("cpu"):  # initialised by the CPU RNG: the same weights on any device
        model = build_model(variant, mcfg)
    model = model.to(device)
    return _Run(cfg, domain, run, variant, tc, mcfg, model, make_optimizer(model, tc), source,
                source.identity())


def train(
    cfg: dict, domain: str, run: str, out_dir: str | Path, data_root: str | Path = "results",
    threads: int | None = None, max_steps: int | None = None,
) -> dict[str, Any]:
    """Train (or resume) one run; writes last.pt, final.pt, metrics.csv and summary.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if threads:
        torch.set_num_threads(threads)
    require(cfg, "pretrain", *(("mnist", "seed") if domain in ("mnist", "labreport") else ()))
    ctx, device = distributed.setup(pick_device(configured_device(cfg)))
    r = _build(cfg, domain, run, data_root, ctx, device)
    tc, last = r.tc, out_dir / "last.pt"
    if last.exists():
        r.resume(last, ctx.main)
    seen, elapsed = _loop(r, ctx, device, last, max_steps)
    try:
        if not ctx.main:  # rank 0 writes every output
            return {"step": r.step, "rank": ctx.rank}
        atomic_write_text(out_dir / "metrics.csv", _metrics_csv(r.rows))
        if r.step < tc.steps:  # stopped early on purpose (max_steps): no final outputs
            return {"step": r.step}
        summary = r.summary()
        if hasattr(r.source, "no_learning"):  # stored arrays: baselines on the same windows
            summary["no_learning"] = r.source.no_learning()
        atomic_write_json(out_dir / "summary.json", summary)
        ckpt_io.save(out_dir / "final.pt", r.payload())  # last: its presence means complete
        print(f"{domain}/{run}: {r.step} steps, {seen / max(elapsed, 1e-9):.1f} sequences/s on "
              f"{ctx.world} x {device}", file=sys.stderr)
        return summary
    finally:
        distributed.teardown(ctx)


def _loop(r: _Run, ctx, device: torch.device, last: Path, max_steps: int | None) -> tuple[int, float]:
    """Train from r.step to the end (or max_steps): log, evaluate and checkpoint on schedule."""
    tc = r.tc
    forward = distributed.training_losses(r.model, ctx, device, tc.teacher_forcing)  # DDP when distributed
    use_amp = amp_enabled(tc, device)
    end = tc.steps if max_steps is None else min(tc.steps, max_steps)
    bar = tqdm(total=tc.steps, initial=r.step, desc=f"{r.domain}/{r.run}", file=sys.stderr,
               mininterval=2.0, dynamic_ncols=True, disable=not ctx.main)
    t0, seen = time.perf_counter(), 0
    guard = _FiniteGuard(device)
    r.model.train()
    while r.step < end:
        x_in, x_future = r.source.next_batch()
        x_in, x_future = to_device_float(x_in, device), to_device_float(x_future, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            losses = forward(x_in, x_future)
        # losses of the global batch (all ranks agree) and this rank's share to backpropagate
        losses, local_loss = distributed.global_losses(
            losses, x_in.shape[1], tc.batch_size, ctx,
            objective(losses, r.mcfg, tc.loss_reduction, tc.batch_size))  # the global batch
        loss = losses["total"]
        guard.record(loss)
        r.opt.zero_grad(set_to_none=True)
        local_loss.backward()
        if tc.clip is not None and tc.optimizer != "sgd":
            torch.nn.utils.clip_grad_value_(r.model.parameters(), tc.clip)
        r.opt.step()
        r.step += 1
        seen += tc.batch_size  # the global batch
        if (r.step % tc.log_every == 0 or r.step % tc.eval_every == 0
                or r.step % tc.checkpoint_every == 0 or r.step in (tc.steps, end)):
            guard.check(r, last)  # before anything is logged, evaluated or saved
        if r.step % tc.log_every == 0 or r.step == tc.steps:
            r.rows.append({"step": r.step, "split": "train",
                           **{k: float(v.detach()) for k, v in losses.items()}})
            rate = seen / max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix(loss=f"{float(loss.detach()):.2f}", seq_s=f"{rate:.0f}")
        if ctx.main and (r.step % tc.eval_every == 0 or r.step == tc.steps):
            r.rows.append({"step": r.step, "split": "valid",
                           **evaluate(r.model, r.source.valid_batches(), device)})
        bar.update(1)
        if ctx.main and (r.step % tc.checkpoint_every == 0 or r.step == tc.steps):
            guard.check_weights(r, last)  # a finite loss does not make the update finite
            ckpt_io.save(last, r.payload())
    bar.close()
    return seen, time.perf_counter() - t0


class _FiniteGuard:
    """Watches the training loss for nan/inf without a device sync every step (on a GPU each
    sync stalls the launch queue): the first bad step and its loss are kept on the device and
    read at log, evaluation and checkpoint steps, so a run stops before it writes a checkpoint
    (or a metric) of non-finite weights."""

    def __init__(self, device: torch.device) -> None:
        self.count = torch.zeros((), dtype=torch.long, device=device)
        self.first_bad = torch.zeros((), dtype=torch.long, device=device)  # 0: none yet
        self.bad_loss = torch.zeros((), dtype=torch.float32, device=device)

    def record(self, loss: torch.Tensor) -> None:
        self.count += 1
        new = ~torch.isfinite(loss.detach()) & (self.first_bad == 0)
        self.first_bad = torch.where(new, self.count, self.first_bad)
        self.bad_loss = torch.where(new, loss.detach().float(), self.bad_loss)

    def check_weights(self, r: _Run, last: Path) -> None:
        """Every parameter finite (one sync), before a checkpoint is written."""
        finite = torch.stack([torch.isfinite(p).all() for p in r.model.parameters()]).all()
        if not bool(finite):
            raise _stopped(r, last, f"the weights became non-finite by step {r.step} (the loss was "
                                    "still finite)")

    def check(self, r: _Run, last: Path) -> None:
        first = int(self.first_bad)  # the one sync
        if first:
            step = r.step - int(self.count) + first
            raise _stopped(r, last, f"the training loss became {float(self.bad_loss)} at step {step}")


def _stopped(r: _Run, last: Path, what: str) -> UserError:
    return UserError(
        f"{r.domain}/{r.run}: {what}; stopped. The last good checkpoint is "
        f"{last if last.exists() else '(none yet)'}. Lower pretrain lr or set clip, then rerun "
        "(it resumes from last.pt)")
