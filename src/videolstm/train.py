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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from videolstm import checkpoint as ckpt_io
from videolstm import distributed
from videolstm.config import known_fields, require
from videolstm.data_sources import make_source
from videolstm.devices import pick_device
from videolstm.errors import UserError
from videolstm.io import atomic_write_json, atomic_write_text
from videolstm.models import ModelConfig, build_model


@dataclass
class TrainConfig:
    hidden: int = 128
    layers: int = 2
    cell: str = "peephole"
    init: str = "paper"
    optimizer: str = "rmsprop"  # sgd (authors: momentum 0.9, lr 1e-4, wd 1e-4) | rmsprop | adam
    # mean: loss per frame (averaged over frames and sequences); sum: summed over the batch and
    # frames, as the authors' code (output derivative pred - target per element, no division)
    loss_reduction: str = "mean"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    clip: float | None = 1.0
    batch_size: int = 16
    steps: int = 1000
    checkpoint_every: int = 100
    log_every: int = 10
    eval_every: int = 500
    amp: bool = True  # bf16 autocast on CUDA and on CPUs with native bf16 (cell state stays fp32)
    seed: int = 0


DOMAIN_DEFAULTS = {
    "mnist": {"n_in": 10, "n_recon": 10, "n_future": 10, "output": "sigmoid"},
    "labreport": {"n_in": 10, "n_recon": 10, "n_future": 10, "output": "sigmoid"},
    "patches": {"n_in": 16, "n_recon": 16, "n_future": 13, "output": "linear"},
    "percepts_rgb": {"n_in": 16, "n_recon": 16, "n_future": 13, "output": "linear"},
    "percepts_flow": {"n_in": 16, "n_recon": 16, "n_future": 13, "output": "linear"},
    "percepts_flowstack": {"n_in": 16, "n_recon": 16, "n_future": 13, "output": "linear"},
}


def resolve_run(pretrain: dict, domain: str, run: str) -> tuple[str, TrainConfig, dict]:
    """(variant, train settings, domain settings) of a configured run.

    `domain` may be a per-split domain `<domain>_split<N>` (videolstm.video.scope): the settings of
    pretrain.<domain> with `{split}` of its arrays filled in and `split` set.
    """
    from videolstm.video.scope import parse_domain, split_arrays

    base, split = parse_domain(domain)
    dom = labreport_domain(pretrain) if base == "labreport" else pretrain.get(base)
    if dom is None:
        raise UserError(f"config has no section pretrain.{base}")
    if "data" in dom or split is not None:
        data = dict(dom.get("data") or {})
        data["arrays"] = split_arrays(list(data.get("arrays") or []), split, base)
        if split is not None:  # which split's training videos `data.videos: train` keeps
            data["split"] = split
        dom = {**dom, "data": data}
    domain = base
    runs = dom.get("runs", {})
    if run not in runs:
        raise UserError(f"pretrain.{domain}.runs has no run {run!r}; configured: {sorted(runs)}")
    merged: dict = {}
    for layer in (pretrain.get("defaults", {}), dom.get("train", {}), runs[run].get("train", {})):
        merged.update(layer)
    tc = TrainConfig(**known_fields(TrainConfig, merged, f"pretrain (defaults, {domain}.train, "
                                                         f"{domain}.runs.{run}.train)"))
    settings = {**DOMAIN_DEFAULTS.get(domain, {}), **{k: v for k, v in dom.items() if k not in ("runs", "train")}}
    return runs[run]["variant"], tc, settings


def labreport_domain(pretrain: dict) -> dict:
    """The lab report's runs on Moving MNIST: FC autoencoders of each hidden size and a ConvLSTM.

    Frames as pretrain.mnist; settings from pretrain.defaults and pretrain.labreport.train only
    (never pretrain.mnist.train: the lab report trained its own way, RMSProp).
    """
    lab = pretrain.get("labreport", {})
    runs = {f"fc{h}": {"variant": "autoencoder", "train": {"hidden": h}} for h in lab.get("hidden_sizes", [])}
    runs["convlstm"] = {"variant": "convlstm"}
    mnist = pretrain.get("mnist", {})
    return {**{k: v for k, v in mnist.items() if k not in ("runs", "train")},
            "train": dict(lab.get("train", {})), "runs": runs}


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
        losses = model.losses(x_in.to(device), x_future.to(device), teacher_forcing=False)
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
    variant, tc, settings = resolve_run(cfg["pretrain"], domain, run)
    ctx, device = distributed.setup(pick_device(cfg.get("device", "auto")))
    torch.manual_seed(tc.seed)
    source = make_source(domain, cfg, settings, tc, data_root)
    source.set_shard(*ctx.shard(tc.batch_size))  # this rank's slice of the global batch
    extra = {}
    if variant == "convlstm":
        conv = cfg["pretrain"].get("labreport", {}).get("convlstm", {})
        extra = {"image_size": int(math.isqrt(source.input_dim)), "conv_channels": conv.get("channels", 16),
                 "conv_kernel": conv.get("kernel", 5), "conv_patch": conv.get("patch", 4)}
    mcfg = model_config_for(variant, tc, settings, source.input_dim, extra)
    model = build_model(variant, mcfg).to(device)
    opt = make_optimizer(model, tc)
    forward = distributed.training_losses(model, ctx, device)  # DDP-wrapped when distributed
    step, rows = 0, []
    last = out_dir / "last.pt"
    identity = source.identity()
    if last.exists():  # resume only the same run; anything else starts afresh (issue 13)
        state = ckpt_io.load(last)
        problems = ckpt_io.resume_mismatches(state, variant, mcfg.to_dict(), resumable_settings(tc),
                                             identity, tc.steps)
        if problems:
            if ctx.main:
                stale = last.with_name("last.stale.pt")
                last.replace(stale)
                print(f"not resuming {domain}/{run} from {last}: {'; '.join(problems)}. Starting "
                      f"afresh; the old checkpoint is kept as {stale}", file=sys.stderr)
        else:
            model.load_state_dict(state["state_dict"])
            opt.load_state_dict(state["optimizer"])
            step, rows = state["step"], state["metrics"]
            source.load_state_dict(state["rng"]["source"])
            torch.set_rng_state(state["rng"]["torch"])
            if ctx.main:
                print(f"resuming {domain}/{run} from {last} at step {step}", file=sys.stderr)

    def payload() -> dict:
        return {
            "variant": variant, "domain": domain, "run": run, "model_config": mcfg.to_dict(),
            "train_config": asdict(tc), "data_identity": identity,
            "state_dict": model.state_dict(), "optimizer": opt.state_dict(),
            "step": step, "rng": {"source": source.state_dict(), "torch": torch.get_rng_state()},
            "metrics": rows, "config_name": cfg.get("config_name"), "data_source": cfg.get("data_source"),
        }

    use_amp = amp_enabled(tc, device)
    end = tc.steps if max_steps is None else min(tc.steps, max_steps)
    bar = tqdm(total=tc.steps, initial=step, desc=f"{domain}/{run}", file=sys.stderr,
               mininterval=2.0, dynamic_ncols=True, disable=not ctx.main)
    t0, seen = time.perf_counter(), 0
    model.train()
    while step < end:
        x_in, x_future = source.next_batch()
        x_in, x_future = x_in.to(device, non_blocking=True), x_future.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            losses = forward(x_in, x_future)
        # losses of the global batch (all ranks agree) and this rank's share to backpropagate
        losses, local_loss = distributed.global_losses(
            losses, x_in.shape[1], tc.batch_size, ctx,
            objective(losses, mcfg, tc.loss_reduction, tc.batch_size))  # the global batch
        loss = losses["total"]
        if not torch.isfinite(loss):
            raise UserError(
                f"{domain}/{run}: the training loss became {float(loss.detach())} at step {step + 1}; "
                f"stopped. The last good checkpoint is {last if last.exists() else '(none yet)'}. "
                "Lower pretrain lr or set clip, then rerun (it resumes from last.pt)"
            )
        opt.zero_grad(set_to_none=True)
        local_loss.backward()
        if tc.clip is not None and tc.optimizer != "sgd":
            torch.nn.utils.clip_grad_value_(model.parameters(), tc.clip)
        opt.step()
        step += 1
        seen += tc.batch_size  # the global batch
        if step % tc.log_every == 0 or step == tc.steps:
            rows.append({"step": step, "split": "train", **{k: float(v.detach()) for k, v in losses.items()}})
            rate = seen / max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix(loss=f"{float(loss.detach()):.2f}", seq_s=f"{rate:.0f}")
        if ctx.main and (step % tc.eval_every == 0 or step == tc.steps):
            rows.append({"step": step, "split": "valid", **evaluate(model, source.valid_batches(), device)})
        bar.update(1)
        if ctx.main and (step % tc.checkpoint_every == 0 or step == tc.steps):
            ckpt_io.save(last, payload())
    bar.close()
    elapsed = time.perf_counter() - t0
    if not ctx.main:  # rank 0 writes every output
        distributed.teardown(ctx)
        return {"step": step, "rank": ctx.rank}
    atomic_write_text(out_dir / "metrics.csv", _metrics_csv(rows))
    if step < tc.steps:  # stopped early on purpose (max_steps): no final outputs
        distributed.teardown(ctx)
        return {"step": step}
    valid = [r for r in rows if r["split"] == "valid"][-1]
    summary = {"variant": variant, "domain": domain, "run": run, "steps": step,
               "valid": {k: v for k, v in valid.items() if k not in ("step", "split")},
               "model_config": mcfg.to_dict(), "train_config": asdict(tc),
               "config_name": cfg.get("config_name"), "data_source": cfg.get("data_source")}
    atomic_write_json(out_dir / "summary.json", summary)
    # final.pt last: its presence means the run is complete
    ckpt_io.save(out_dir / "final.pt", payload())
    print(f"{domain}/{run}: {step} steps, {seen / max(elapsed, 1e-9):.1f} sequences/s on "
          f"{ctx.world} x {device}", file=sys.stderr)
    distributed.teardown(ctx)
    return summary

