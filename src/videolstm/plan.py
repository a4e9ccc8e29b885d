"""What a configuration will cost, stage by stage, before anything runs (`videolstm plan`).

Disk is computed from the stored formats (flow fields uint8 (frames, size, size, 2); percepts and
patches float16; checkpoints float32 weights plus optimiser state, last.pt and final.pt).
Compute is counted, not timed: matmul/conv FLOPs of the actual models, built on PyTorch's meta
device and run through `torch.utils.flop_counter` (forward + backward for training). Optical flow
(OpenCV DIS) has no FLOP count; its frame count is given. No wall time is estimated: divide by what
your hardware sustains (`make bench` measures this machine's matmul peak).

Frame counts come from the dataset indexes when they exist (results/data/index/<dataset>.csv, the
`n_frames` of usable videos); for the embedded videos, from their configured sizes; for real
datasets without an index, they are unknown until `videolstm index` (or the data stage) has run,
and the stages that need them say so instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from videolstm import catalogue
from videolstm.counts import classifier_counts, count_flops, pretrain_counts
from videolstm.finetune import controls
from videolstm.finetune.runs import MAIN_STREAM, plan_runs, stream_domain
from videolstm.memory import OPT_STATES
from videolstm.pretrain_settings import resolve_run

EMBEDDED_FPS = 25  # the embedded generator writes 25 fps videos (video/synth.py)
OFFICIAL_CLASSES = {"ucf101": 101, "hmdb51": 51}  # the real datasets' class counts
ASSUMED_CLIP_FPS = 25  # unlabelled clips without a manifest: frames = seconds x 25 (stated)


@dataclass
class Item:
    stage: str
    what: str
    disk_bytes: float | None = 0.0
    flops: float | None = 0.0
    note: str = ""


@dataclass
class Plan:
    config_name: str
    items: list[Item] = field(default_factory=list)

    def totals(self) -> pd.DataFrame:
        """Per stage: the sums of what is known, and how many items are unknown."""
        df = pd.DataFrame([i.__dict__ for i in self.items])
        return df.groupby("stage", sort=False).agg(
            disk_bytes=("disk_bytes", lambda s: s.sum()), disk_unknown=("disk_bytes", lambda s: s.isna().sum()),
            flops=("flops", lambda s: s.sum()), flops_unknown=("flops", lambda s: s.isna().sum()))


# ---------------------------------------------------------------------------------------------
# frame counts


def dataset_frames(cfg: dict, results: Path, name: str) -> tuple[int | None, str]:
    """(frames of the usable videos of a labelled dataset, where the number comes from)."""
    from videolstm.video.index import read_index, usable

    index = results / "data" / "index" / f"{name}.csv"
    if index.is_file():
        return int(usable(read_index(index))["n_frames"].sum()), f"index {index}"
    if not (cfg.get("datasets", {}).get(name) or {}).get("root"):
        v = cfg.get("video", {}).get(name, {})
        n = v.get("classes", 0) * v.get("groups", 0) * v.get("clips_per_group", 0)
        return int(n * round(v.get("seconds", 0) * EMBEDDED_FPS)), "embedded video sizes"
    return None, f"unknown until its index is built (videolstm index --dataset {name} ...)"


def dataset_classes(cfg: dict, results: Path, name: str) -> int:
    """Classes of a labelled dataset: from its index, the embedded sizes, or the official count."""
    from videolstm.video.index import read_index, usable

    index = results / "data" / "index" / f"{name}.csv"
    if index.is_file():
        return int(usable(read_index(index))["label"].nunique())
    if not (cfg.get("datasets", {}).get(name) or {}).get("root"):
        return int(cfg.get("video", {}).get(name, {}).get("classes", 1))
    return OFFICIAL_CLASSES.get(name, 1)


def unlabelled_frames(cfg: dict, results: Path) -> tuple[int | None, str]:
    manifest = results / "data" / "clips" / "unlabelled.csv"
    clips = cfg.get("clips", {})
    seconds = float(clips.get("seconds", 10.0))
    if manifest.is_file():
        m = pd.read_csv(manifest, keep_default_na=False)
        ok = m[m["status"] == "ok"]
        return int(pd.to_numeric(ok["n_frames"]).sum()), f"clip manifest ({len(ok)} usable clips)"
    if not (cfg.get("datasets", {}).get("unlabelled") or {}).get("root"):
        v = cfg.get("video", {}).get("unlabelled", {})
        per = max(1, int(v.get("seconds", 0) // max(seconds, 1e-9)))
        n = v.get("videos", 0) * min(per, clips.get("per_video", 1))
        return int(n * seconds * EMBEDDED_FPS), "embedded video sizes"
    if clips.get("max_clips"):
        n = int(clips["max_clips"])
        return int(n * seconds * ASSUMED_CLIP_FPS), f"clips.max_clips ({n} x {seconds:g} s x 25 fps)"
    return None, "unknown until the clips are cut (no clips.max_clips)"


# ---------------------------------------------------------------------------------------------
# FLOPs of the real models on the meta device


def vgg16_fc6_flops() -> float:
    import torch

    from videolstm.video.percepts import build_vgg16

    with torch.device("meta"):
        model = build_vgg16()
    return count_flops(lambda: model.fc6(torch.empty(1, 3, 224, 224, device="meta")))


def temporal_cnn_flops(cnn: dict, size: int, length: int, classes: int, train: bool) -> float:
    import torch

    from videolstm.video.temporal_cnn import TemporalCNN

    with torch.device("meta"):
        model = TemporalCNN(2 * length, size, classes, cnn["convs"], cnn["fc6"], cnn["fc7"], 0.0)
    x = torch.empty(1, 2 * length, size, size, device="meta")
    if train:
        return count_flops(lambda: model(x).sum().backward())
    return count_flops(lambda: model.features6(x))


def pretrain_step(variant: str, mcfg, batch: int) -> tuple[float, int]:
    """(FLOPs of one training step, number of parameters) of a pretraining model."""
    from dataclasses import asdict

    counts = pretrain_counts(variant, tuple(sorted(asdict(mcfg).items())), batch)
    return counts["flops"], counts["params"]


def classifier_step(dim: int, hidden: int, layers: int, classes: int, block: int, batch: int) -> float:
    return classifier_counts(dim, hidden, layers, classes, block, batch)["flops"]


# ---------------------------------------------------------------------------------------------


def percept_dim(cfg: dict, kind: str) -> int:
    if kind == "rgb":
        rgb = cfg["percepts"]["rgb"]
        if rgb.get("extractor") == "vgg16_fc6":
            return 4096
        if rgb.get("extractor") == "digit_cnn":  # grid x grid cells + the global max
            cnn = rgb["cnn"]
            return int(cnn["channels"][-1]) * (int(cnn["grid"]) ** 2 + 1)
        return int(rgb.get("size", 16)) ** 2 * (1 if rgb.get("grey") else 3)
    return int(cfg["flow"]["cnn"]["fc6"])


def input_dim_of(cfg: dict, domain: str) -> int:
    """Frame width of a pretraining domain (without any _split suffix)."""
    if domain in ("mnist", "labreport"):
        return int(cfg["mnist"].get("generator", {}).get("image_size", 64)) ** 2
    if domain == "patches":
        return 3 * int(cfg["patches"]["size"]) ** 2
    return percept_dim(cfg, domain.removeprefix("percepts_"))


def classifier_shape(cfg: dict, stream: str, split: int) -> tuple[int, int, int]:
    """(input, hidden, layers) of a stream's LSTM classifiers: the shape of the encoder they copy
    (the stream's pretraining domain), else the stream's own hidden and layers."""
    ft, pre = cfg["finetune"], cfg["pretrain"]
    scfg = ft["streams"][stream]
    dim = percept_dim(cfg, scfg["kind"])
    domain = scfg.get("domain")
    if not domain:
        return dim, int(scfg.get("hidden", 128)), int(scfg.get("layers", 1))
    runs_of = pre[domain]["runs"]
    ref = next((r for r, v in runs_of.items() if v["variant"] == ft.get("pretrained")),
               next(iter(runs_of)))
    _, tc, _ = resolve_run(pre, stream_domain(scfg, split), ref)
    return dim, tc.hidden, tc.layers


def make_plan(cfg: dict, results: str | Path | None = None) -> Plan:
    """Every stage the configuration runs, with its disk and FLOPs (module docstring)."""
    from videolstm.models import ModelConfig
    from videolstm.train import model_config_for
    from videolstm.video.scope import percept_kind
    from videolstm.video.temporal_cnn import KINDS as STACK  # flow fields per CNN input
    from videolstm.video.workflow import LABELLED, consumed_percepts, flow_consumers

    results = Path(results if results is not None else cfg.get("results_dir") or "results")
    parts = catalogue.parts(cfg)
    plan = Plan(cfg.get("config_name", "?"))
    frames, source = {}, {}
    for d in LABELLED:
        frames[d], source[d] = dataset_frames(cfg, results, d)
    frames["unlabelled"], source["unlabelled"] = unlabelled_frames(cfg, results)

    def per_frame(n, bytes_per_frame, flops_per_frame):
        return (None if n is None else n * bytes_per_frame,
                None if n is None or flops_per_frame is None else n * flops_per_frame)

    if "video" in parts:
        flow_datasets, cnns = flow_consumers(cfg)
        size = int(cfg["flow"]["size"])
        for d in flow_datasets:
            disk, _ = per_frame(frames[d], 2 * size * size, 0)
            plan.items.append(Item("data", f"optical flow fields: {d}", disk, None,
                                   f"{frames[d] or '?'} frames ({source[d]}); DIS, not FLOP-counted"))
        cnn = cfg["flow"]["cnn"]
        classes = dataset_classes(cfg, results, cnn.get("dataset", "ucf101"))
        for name in cnns:  # one temporal CNN per kind and split
            step = temporal_cnn_flops(cnn, size, STACK[percept_kind(name)], classes, train=True)
            plan.items.append(Item("data", f"temporal CNN training ({name})", 0.0,
                                   step * cnn["batch_size"] * cnn["steps"],
                                   f"{cnn['steps']} steps x batch {cnn['batch_size']}"))
        p = cfg["patches"]
        n_seq = p["train_sequences"] + p["valid_sequences"]
        plan.items.append(Item("data", "image patches", n_seq * p["seq_len"] * 3 * p["size"] ** 2 * 2, 0.0,
                               f"{n_seq} sequences of {p['seq_len']} frames"))
        vgg = vgg16_fc6_flops() if cfg["percepts"]["rgb"].get("extractor") == "vgg16_fc6" else 0.0
        for stem in consumed_percepts(cfg):  # only what a classifier or a pretraining run reads
            _, d, name = stem.split("/")
            k = percept_kind(name)
            dim = percept_dim(cfg, k)
            if k == "rgb":
                fpf = vgg
            else:
                fpf = temporal_cnn_flops(cfg["flow"]["cnn"], size, STACK[k], 2, train=False)
            disk, flops = per_frame(frames[d], 2 * dim, fpf)
            plan.items.append(Item("percepts", f"{name} percepts: {d}", disk, flops,
                                   f"{dim}-d float16; {source[d]}"))

    pre = cfg["pretrain"]
    splits = (cfg.get("finetune") or {}).get("splits", [1])
    for job in catalogue.pretrain_jobs(cfg, str(results)):
        domain, run = job.wildcards["domain"], job.wildcards["run"]
        base = domain.split("_split")[0]
        variant, tc, settings = resolve_run(pre, domain, run)
        if variant == "convlstm":
            plan.items.append(Item("pretrain", f"{domain}/{run}", None, None,
                                   "ConvLSTM: not counted"))
            continue
        mcfg: ModelConfig = model_config_for(variant, tc, settings, input_dim_of(cfg, base), {})
        step, params = pretrain_step(variant, mcfg, tc.batch_size)
        disk = params * 4 * (1 + OPT_STATES.get(tc.optimizer, 2)) * 2
        plan.items.append(Item("pretrain", f"{domain}/{run}", disk, step * tc.steps,
                               f"{variant} {tc.layers} x {tc.hidden}, {tc.steps} steps x batch "
                               f"{tc.batch_size}, {params / 1e6:.1f} M parameters"))

    if "video" in parts:
        ft = cfg["finetune"]
        lstm = ft["lstm"]
        for d in ft["datasets"]:
            runs = plan_runs(ft, d)
            lstm_runs = [r for r in runs if r.init != "single_frame"]
            for stream in sorted({r.stream for r in lstm_runs}):
                classes = dataset_classes(cfg, results, d)
                step = classifier_step(*classifier_shape(cfg, stream, splits[0]), classes,
                                       lstm.get("block", 16), lstm.get("batch_size", 128))
                n = sum(r.stream == stream for r in lstm_runs) * len(ft["splits"])
                # with validation, one training per candidate learning rate
                rates = len(lstm.get("lrs") or [1]) if ft.get("validation") else 1
                plan.items.append(Item("finetune", f"{d} {stream} LSTM classifiers", 0.0,
                                       step * lstm.get("steps", 200) * n * rates,
                                       f"{n} runs x {rates} learning rates x {lstm.get('steps')} "
                                       "steps"))
                ctl = controls.settings(ft)
                if stream == MAIN_STREAM and d in ctl.get("datasets", []):
                    n = sum(r.init != "single_frame" for r in controls.control_runs(ft)) * len(
                        ctl["splits"])
                    plan.items.append(Item("finetune", f"{d} {stream} controls' LSTM classifiers",
                                           0.0, step * lstm.get("steps", 200) * n * rates,
                                           f"{n} runs x {rates} learning rates x "
                                           f"{lstm.get('steps')} steps"))
    return plan


def _human(value: float | None, unit: str, scale: float, suffixes: list[str]) -> str:
    if value is None or pd.isna(value):
        return "unknown"
    for s in suffixes:
        if abs(value) < scale or s == suffixes[-1]:
            return f"{value:,.1f} {s}{unit}"
        value /= scale
    return ""


def bytes_text(n: float | None) -> str:
    return _human(n, "B", 1024.0, ["", "Ki", "Mi", "Gi", "Ti", "Pi"])


def flops_text(n: float | None) -> str:
    return _human(n, "FLOP", 1000.0, ["", "k", "M", "G", "T", "P", "E"])


def render(plan: Plan) -> str:
    lines = [f"plan for config '{plan.config_name}': disk written and FLOPs counted per stage",
             f"{'stage':10s} {'item':44s} {'disk':>12s} {'compute':>14s}  note"]
    for i in plan.items:
        lines.append(f"{i.stage:10s} {i.what[:44]:44s} {bytes_text(i.disk_bytes):>12s} "
                     f"{flops_text(i.flops):>14s}  {i.note}")
    lines.append("")
    lines.append("per stage:")
    for stage, row in plan.totals().iterrows():
        unknown = [f"{int(row[k])} {what} unknown" for k, what in
                   (("disk_unknown", "disk item(s)"), ("flops_unknown", "compute item(s)")) if row[k]]
        lines.append(f"{stage:10s} disk {bytes_text(row['disk_bytes']):>12s}   compute "
                     f"{flops_text(row['flops']):>14s}" + (f"   + {', '.join(unknown)}" if unknown else ""))
    lines.append("'unknown' = needs a frame count or a model this plan cannot count (see notes). "
                 "Not counted: evaluations (validation, test, the temporal CNN's accuracy pass), "
                 "single-frame classifiers, the temporal CNN's own checkpoint. No wall time is "
                 "estimated: divide the FLOPs by what your hardware sustains.")
    return "\n".join(lines) + "\n"
