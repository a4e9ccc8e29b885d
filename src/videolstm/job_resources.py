"""What one job needs: host memory (`mem_mb`), device memory (`gpu_mem_mb`) and a time limit
(`runtime`, minutes), derived from the configuration's model shapes (`resources.from_plan`).

Counted, not timed or guessed:
- model state: parameters (built on PyTorch's meta device) x 4 bytes x (weights, gradients,
  optimiser states), plus a bf16 copy of the weights under autocast;
- activations: the bytes of every tensor autograd saves for the backward pass of one training
  step, counted on the meta device (in float32: an upper bound under bf16 autocast);
- inference (percept extraction): the largest input + output of any layer for one batch;
- classifier banks: `finetune.max_runs_together` runs at once, each with a copy of its best
  parameters (validation), and the evaluation chunk's activations;
- percept tables: resident on the device when their frames are known and their float16 bytes
  fit `resources.gpu_mem_gb` beside the bank (as finetune.frames decides at run time), else
  streamed.
Allowances, stated (videolstm.memory): `HOST_BASE_MB` for a CPU process (an idle videolstm process
measured 0.26 GB here), `GPU_HOST_BASE_MB` for a CUDA one (not measured here), `DEVICE_MARGIN` for the allocator's
fragmentation and library workspaces. With `device: cpu` (or no `resources.gpu_mem_gb`) all of a
job's memory is host memory.

`runtime` is FLOPs (as `videolstm plan` counts them) divided by `resources.sustained_tflops`,
what the user's device sustains (measure it with `make bench` on that machine), with a factor of
2 and 30 minutes of slack; without that number, the configured `resources.runtime_min`.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

from videolstm import catalogue
from videolstm.config import configured_device
from videolstm.counts import classifier_counts, count_step, pretrain_counts
from videolstm.finetune import controls
from videolstm.finetune.runs import SINGLE_FRAME, plan_runs
from videolstm.finetune.sizing import bank_bytes, group_sizes
from videolstm.memory import (
    GPU_HOST_BASE_MB,
    HOST_BASE_MB,
    MB,
    OPT_STATES,
    device_need,
)
from videolstm.plan import (
    classifier_shape,
    dataset_classes,
    dataset_frames,
    input_dim_of,
    percept_dim,
)
from videolstm.pretrain_settings import resolve_run
from videolstm.video.scope import parse_domain


def _peak_inference(model, x) -> int:
    """The largest input + output bytes of any leaf module in one forward pass (meta)."""
    peak = [0]

    def hook(module, inputs, output):
        size = sum(t.numel() * t.element_size() for t in (*inputs, output) if hasattr(t, "numel"))
        peak[0] = max(peak[0], size)

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return peak[0]


# ---------------------------------------------------------------------------------------------


def on_gpu(cfg: dict) -> bool:
    return configured_device(cfg) != "cpu" and bool((cfg.get("resources") or {}).get("gpu_mem_gb"))


def _finish(cfg: dict, device_bytes: float, host_bytes: float, flops: float | None,
            gpu: bool = True) -> dict:
    """mem_mb, gpu_mem_mb and runtime of a job from its counted bytes and FLOPs."""
    res = cfg.get("resources") or {}
    device_mb = math.ceil(device_need(device_bytes) / MB)
    gpu = gpu and on_gpu(cfg)
    base = GPU_HOST_BASE_MB if gpu else HOST_BASE_MB
    host_mb = base + math.ceil(host_bytes / MB) + (0 if gpu else device_mb)
    tflops = res.get("sustained_tflops")
    if tflops and flops:
        runtime = math.ceil(2 * flops / (float(tflops) * 1e12) / 60) + 30
    else:
        runtime = int(res.get("runtime_min", 60))
    return {"mem_mb": host_mb, "gpu_mem_mb": device_mb if gpu else 0, "runtime": runtime}


def pretrain(cfg: dict, domain: str, run: str) -> dict:
    """One pretraining run."""
    from videolstm.train import model_config_for, model_extra  # torch: only when sizing

    variant, tc, settings = resolve_run(cfg["pretrain"], domain, run)
    base, _ = parse_domain(domain)
    dim = input_dim_of(cfg, base)
    batch_bytes = (settings["n_in"] + settings["n_future"]) * tc.batch_size * dim * 4
    mcfg = model_config_for(variant, tc, settings, dim, model_extra(cfg, variant, dim))
    step = pretrain_counts(variant, tuple(sorted(asdict(mcfg).items())), tc.batch_size,
                            tc.teacher_forcing)
    state = step["params"] * (4 * (2 + OPT_STATES.get(tc.optimizer, 2)) + (2 if tc.amp else 0))
    device = state + step["saved"] + batch_bytes
    # host: batches in flight, and a checkpoint (weights and optimiser state) serialised in
    # memory before it is written (io.atomic_torch_save), or read back when resuming
    ckpt = step["params"] * 4 * (1 + OPT_STATES.get(tc.optimizer, 2))
    return _finish(cfg, device, 2 * batch_bytes + 2 * ckpt, step["flops"] * tc.steps)


def finetune(cfg: dict, dataset: str, split: int, controls_runs: bool = False) -> dict:
    """One fine-tuning job (every classifier of a dataset and split, or the controls'). A percept
    table counts as resident only when its frames are known (an index exists) and it fits beside
    the bank on resources.gpu_mem_gb, which is how finetune.frames decides at run time."""

    ft = cfg["finetune"]
    lstm = ft["lstm"]
    runs = controls.control_runs(ft) if controls_runs else plan_runs(ft, dataset)
    classes = dataset_classes(cfg, _results(cfg), dataset)
    frames, _ = dataset_frames(cfg, _results(cfg), dataset)
    block, batch = int(lstm["block"]), int(lstm["batch_size"])
    rates = len(lstm.get("lrs") or [1]) if ft.get("validation") else 1
    gpu_bytes = ((cfg.get("resources") or {}).get("gpu_mem_gb") or 0) * 1e9
    sizes = group_sizes(ft, runs)
    device = host = flops = 0.0
    for stream in sorted({r.stream for r in runs}):
        mine = [r for r in runs if r.stream == stream and r.init != SINGLE_FRAME]
        dim, hidden, layers = classifier_shape(cfg, stream, split)
        together = sizes.get(stream, 1)
        n_blocks = 0 if frames is None else frames / int(lstm.get("stride", 8))
        counted = bank_bytes(dim, hidden, layers, classes, lstm, together, bool(ft.get("validation")),
                             n_blocks)
        table = 0.0 if frames is None else frames * percept_dim(cfg, ft["streams"][stream]["kind"]) * 2
        resident = frames is not None and device_need(counted + table) <= gpu_bytes
        device = max(device, counted + (table if resident else 0))
        step = classifier_counts(dim, hidden, layers, classes, block, batch)
        # host: the pretrained encoders kept for copying (one per pretrained variant) and one
        # checkpoint being read (its model and optimiser state: at most 3 encoders' worth x 2),
        # the streamed batches prepared ahead
        inits = len({r.init for r in mine})
        host = max(host, step["params"] * 4 * (inits + 6)
                   + (0 if resident else 3 * together * block * batch * dim * 2))
        flops += step["flops"] * int(lstm["steps"]) * len(mine) * rates
    if not on_gpu(cfg) and frames is not None:
        host += table  # the CPU path keeps tables up to 2 GB in RAM (finetune.frames)
    return _finish(cfg, device, host, flops)


def rgb_percepts(cfg: dict) -> dict:
    """VGG16 fc6 (or pixel) percepts of one dataset: inference in batches."""
    import torch

    from videolstm.video.percepts import build_vgg16

    rgb = cfg["percepts"]["rgb"]
    batch = int(rgb.get("batch_size", 64))
    if rgb.get("extractor") != "vgg16_fc6":
        return _finish(cfg, 0.0, batch * 240 * 320 * 3 * 4, None, gpu=False)
    with torch.device("meta"):
        model = build_vgg16()
        params = sum(p.numel() for p in model.parameters())
        peak = _peak_inference(torch.nn.Sequential(model.features, model.avgpool, torch.nn.Flatten(),
                                                   model.classifier[:2]),
                               torch.empty(batch, 3, 224, 224))
    # host: decoded frames of a batch, and the model built and its weights read on the host
    return _finish(cfg, params * 4 + peak, 4 * batch * 240 * 320 * 3 + 2 * params * 4, None)


def temporal_cnn(cfg: dict, kind: str, train: bool) -> dict:
    """The temporal-stream CNN of one kind and split: its training, or its percepts."""
    import torch

    from videolstm.video.temporal_cnn import KINDS, TemporalCNN

    cnn, size = cfg["flow"]["cnn"], int(cfg["flow"]["size"])
    length = KINDS[kind]
    classes = dataset_classes(cfg, _results(cfg), cnn.get("dataset", "ucf101"))
    batch = int(cnn["batch_size"] if train else cnn["batch_size_features"])
    with torch.device("meta"):
        model = TemporalCNN(2 * length, size, classes, cnn["convs"], cnn["fc6"], cnn["fc7"], 0.0)
    params = sum(p.numel() for p in model.parameters())
    x = torch.empty(batch, 2 * length, size, size, device="meta")
    batch_bytes = x.numel() * 4
    if train:
        saved = count_step(lambda: model(x).sum())["saved"]
        device = params * 4 * (2 + 2) + saved + batch_bytes  # Adam
    else:
        device = params * 4 + _peak_inference(torch.nn.Sequential(model.features, model.fc6), x)
    # host: batches being built (float32 arrays), and the model's weights saved or read
    return _finish(cfg, device, 3 * batch_bytes + 2 * params * 4, None)


def _results(cfg: dict) -> Path:
    return Path(cfg.get("results_dir") or "results")


def for_rule(cfg: dict, rule: str, wildcards) -> dict:
    """The derived resources of one job of a model rule of the workflow."""
    w = dict(wildcards.items()) if hasattr(wildcards, "items") else dict(wildcards)
    if rule == "pretrain":
        return pretrain(cfg, w["domain"], w["run"])
    if rule in ("finetune", "finetune_controls"):
        return finetune(cfg, w["dataset"], int(w["split"]), rule == "finetune_controls")
    if rule == "video_percepts_rgb":
        return rgb_percepts(cfg)
    if rule in ("video_temporal_cnn", "video_percepts_flow"):
        return temporal_cnn(cfg, w["flowkind"], rule == "video_temporal_cnn")
    raise KeyError(f"no derived resources for rule {rule!r}")


MODEL_RULES = catalogue.MODEL_RULES


def rule_resource(cfg: dict, rule: str, key: str, fixed: int):
    """A rule's resource `key`: `fixed` (the rule's stated value), or with resources.from_plan a
    function of the job's wildcards that Snakemake calls per job (each job counted once)."""
    if not (cfg.get("resources") or {}).get("from_plan"):
        return fixed
    cache: dict = {}

    def per_job(wildcards):
        job = tuple(sorted(dict(wildcards.items()).items()))
        if job not in cache:
            cache[job] = for_rule(cfg, rule, dict(job))
        return cache[job][key]

    return per_job


# ---------------------------------------------------------------------------------------------
# the jobs of a configuration, for `videolstm plan`, docs/paper_jobs.md and `videolstm check`


def model_jobs(cfg: dict) -> list[tuple[str, dict]]:
    """(rule, wildcards) of one job of each model-job shape the configuration runs (the jobs come
    from videolstm.catalogue; split 1 and the ucf101 percepts stand for the other splits and
    datasets, which have the same shapes)."""
    jobs = catalogue.model_jobs(cfg, str(_results(cfg)))

    def of(rule: str) -> list[dict]:
        return [j.wildcards for j in jobs if j.rule == rule]

    out = [("pretrain", w) for w in of("pretrain") if parse_domain(w["domain"])[1] in (None, 1)]
    if of("video_percepts_rgb"):
        out.append(("video_percepts_rgb", {"dataset": "ucf101"}))
    for kind in sorted({w["flowkind"] for w in of("video_temporal_cnn")}):
        out += [("video_temporal_cnn", {"flowkind": kind, "split": "1"}),
                ("video_percepts_flow", {"flowkind": kind, "split": "1", "dataset": "ucf101"})]
    for rule in ("finetune", "finetune_controls"):
        out += [(rule, {"dataset": d, "split": "1"}) for d in dict.fromkeys(w["dataset"] for w in of(rule))]
    return out


def together(cfg: dict, rule: str, wildcards: dict) -> int | None:
    """Classifiers trained at once in a fine-tuning job (its largest group, capped)."""
    if rule not in ("finetune", "finetune_controls"):
        return None
    ft = cfg["finetune"]
    runs = controls.control_runs(ft) if rule == "finetune_controls" else plan_runs(ft, wildcards["dataset"])
    return max(group_sizes(ft, runs).values(), default=1)


def fit_problems(cfg: dict) -> list[str]:
    """Model jobs whose counted device memory exceeds resources.gpu_mem_gb (with a fix)."""
    gpu = (cfg.get("resources") or {}).get("gpu_mem_gb")
    if not on_gpu(cfg):
        return []
    problems = []
    for rule, w in model_jobs(cfg):
        need = for_rule(cfg, rule, w)["gpu_mem_mb"]
        if need <= gpu * 1000:
            continue
        text = (f"{rule} {'/'.join(w.values())} needs {need / 1000:.1f} GB of GPU memory, more than "
                f"resources.gpu_mem_gb {gpu}")
        if rule in ("finetune", "finetune_controls"):
            fits = largest_runs_together(cfg, rule, w)
            text += (f": set finetune.max_runs_together to {fits} or less" if fits else
                     ": even one classifier does not fit")
        problems.append(text)
    return problems


def largest_runs_together(cfg: dict, rule: str, wildcards: dict) -> int:
    """The largest finetune.max_runs_together whose job fits resources.gpu_mem_gb (0: none)."""
    limit = cfg["resources"]["gpu_mem_gb"] * 1000
    best, lo, hi = 0, 1, int(cfg["finetune"]["max_runs_together"])
    while lo <= hi:
        mid = (lo + hi) // 2
        trial = {**cfg, "finetune": {**cfg["finetune"], "max_runs_together": mid}}
        if for_rule(trial, rule, wildcards)["gpu_mem_mb"] <= limit:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def render_jobs(cfg: dict) -> str:
    """A markdown table: per model job, where it runs, its memory, time limit, classifiers."""
    gpu = on_gpu(cfg)
    lines = ["| job | runs on | host memory | GPU memory | time limit | classifiers at once |",
             "| --- | --- | --- | --- | --- | --- |"]
    for rule, w in model_jobs(cfg):
        r = for_rule(cfg, rule, w)
        n = together(cfg, rule, w)
        on = "GPU" if gpu and r["gpu_mem_mb"] else "CPU"
        name = "/".join(v for k, v in w.items() if k != "split")
        gpu_mem = f"{r['gpu_mem_mb'] / 1000:.1f} GB" if r["gpu_mem_mb"] else "-"
        lines.append(f"| {rule} {name} | {on} | {r['mem_mb'] / 1000:.1f} GB | {gpu_mem} | "
                     f"{r['runtime']} min | {'-' if n is None else n} |")
    return "\n".join(lines) + "\n"
