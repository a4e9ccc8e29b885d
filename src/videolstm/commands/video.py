"""Video commands: synth, index, clips, patches, percepts, flow, temporal-cnn-train/-features.

Each takes explicit paths and `--cfg JSON` (the config sections it needs plus config_name,
data_source, seed, device), and writes its outputs atomically.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from videolstm.cli import parse_cfg, positive_int
from videolstm.config import configured_device
from videolstm.errors import UserError


def _log(msg: str) -> None:
    print(msg, flush=True)


def _common(p: argparse.ArgumentParser, threads: bool = True) -> None:
    p.add_argument("--cfg", default="{}", help="JSON of the config sections this step needs")
    if threads:
        p.add_argument("--threads", type=positive_int, default=1, help="worker processes / threads")


def _items_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--index", help="video index (CSV/Parquet); needs --root")
    src.add_argument("--clips", help="clip manifest from `videolstm clips`")
    p.add_argument("--root", help="dataset root the index paths are relative to")
    p.add_argument("--dataset", required=True, help="dataset name recorded in the outputs")


def _meta(cfg: dict, dataset: str, kind: str) -> dict:
    return {"dataset": dataset, "kind": kind, "source": cfg.get("data_source", "embedded"),
            "config_name": cfg.get("config_name", "")}


def _section(cfg: dict, *keys: str) -> dict:
    node = cfg
    for key in keys:
        node = node.get(key) or {}
    if not isinstance(node, dict):
        raise UserError(f"config section {'.'.join(keys)} must be a mapping")
    return node


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="write an embedded action-video dataset (official layout)")
    p.add_argument("--dataset", required=True, choices=["ucf101", "hmdb51", "unlabelled"])
    p.add_argument("--out", required=True, help="dataset root to write")
    _common(p)
    p.set_defaults(func=run_synth)

    p = sub.add_parser("index", help="index a dataset from its official split files")
    p.add_argument("--dataset", required=True, choices=["ucf101", "hmdb51", "folder"])
    p.add_argument("--root", required=True, help="the unpacked dataset")
    p.add_argument("--out", required=True, help="index file (.csv, or .parquet)")
    p.add_argument("--splits-dir", help="split files folder if not under the root")
    p.add_argument("--name", help="key under config datasets (default: --dataset)")
    _common(p)
    p.set_defaults(func=run_index)

    p = sub.add_parser("clips", help="sample unlabelled clips from folders of videos (manifest)")
    p.add_argument("--source", action="append", default=[], help="folder of videos (repeatable)")
    p.add_argument("--add-index", action="append", default=[],
                   help="also take the training videos of this labelled index (repeatable)")
    p.add_argument("--add-root", action="append", default=[], help="root of each --add-index")
    p.add_argument("--out", required=True, help="manifest CSV")
    _common(p)
    p.set_defaults(func=run_clips)

    p = sub.add_parser("patches", help="32x32 colour patch sequences cut from videos")
    p.add_argument("--index", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--part", required=True, choices=["train", "valid"])
    p.add_argument("--out", required=True, help=".npy (+ .offsets.npy, .json)")
    _common(p, threads=False)
    p.set_defaults(func=run_patches)

    p = sub.add_parser("percepts", help="RGB percepts (vgg16_fc6, digit_cnn or pixels) per frame")
    _items_args(p)
    p.add_argument("--out", required=True, help=".npy (+ .offsets.npy, .json)")
    p.add_argument("--weights", help="digit_cnn: the digit CNN (from digit-cnn-train)")
    _common(p)
    p.set_defaults(func=run_percepts)

    p = sub.add_parser("digit-cnn-train",
                       help="train the embedded stand-in for VGG16 on MNIST digits no video shows")
    p.add_argument("--out", required=True, help="model file (.pt; metrics in .json beside it)")
    _common(p)
    p.set_defaults(func=run_digit_cnn)

    p = sub.add_parser("flow", help="quantised dense optical flow of every frame (OpenCV DIS)")
    _items_args(p)
    p.add_argument("--out", required=True, help="uint8 .npy (+ .offsets.npy, .json)")
    _common(p)
    p.set_defaults(func=run_flow)

    p = sub.add_parser("temporal-cnn-train", help="train the temporal-stream CNN on flow")
    p.add_argument("--flow", required=True, help="flow store of the training dataset")
    p.add_argument("--index", required=True, help="index of that dataset (labels, splits)")
    p.add_argument("--kind", required=True, choices=["flow", "flowstack"])
    p.add_argument("--split", required=True, type=int, choices=[1, 2, 3],
                   help="train on this split's training videos only (one CNN per split)")
    p.add_argument("--out", required=True, help="model file (.pt; metrics in .json beside it)")
    _common(p)
    p.set_defaults(func=run_cnn_train)

    p = sub.add_parser("temporal-cnn-features", help="flow percepts: temporal CNN fc6 per frame")
    p.add_argument("--model", required=True)
    p.add_argument("--flow", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--out", required=True)
    _common(p)
    p.set_defaults(func=run_cnn_features)


def run_synth(args: argparse.Namespace) -> int:
    from videolstm.video import synth

    cfg = parse_cfg(args.cfg)
    section = _section(cfg, "video", args.dataset)
    if not section:
        raise UserError(f"config section video.{args.dataset} is missing")
    sc = synth.SynthConfig.from_dict(section, seed=int(cfg.get("seed", 0)), workers=args.threads)
    synth.generate(args.dataset, args.out, sc, progress=_log)
    return 0


def run_index(args: argparse.Namespace) -> int:
    from videolstm.video import index

    cfg = parse_cfg(args.cfg)
    name = args.name or args.dataset
    ds = _section(cfg, "datasets", name)
    ic = index.IndexConfig.from_dict(ds, workers=args.threads)
    splits_dir = args.splits_dir or ds.get("splits_dir")
    frame = index.build_index(args.dataset, args.root, ic, splits_dir)
    straddle = index.check_groups_disjoint(frame)
    if straddle:
        _log(f"warning: groups straddling train and test: {straddle[:5]}")
    n_bad = int((frame["status"] != "ok").sum())
    if n_bad:
        summary = index.problems_summary(frame)
        problems = Path(args.out).with_name(Path(args.out).stem + ".problems.csv")
        index.write_index(frame[frame["status"] != "ok"], problems)
        if not ic.allow_skip:
            raise UserError(f"{name}: {summary}\nall of them are listed in {problems}. Fix or "
                            f"re-extract these files, or set datasets.{name}.allow_skip: true to "
                            "go on without them (the skipped count is reported downstream)")
        print(f"warning: skipping them (datasets.{name}.allow_skip): {summary}", file=sys.stderr)
    index.write_index(frame, args.out)
    _log(f"{args.out}: {len(frame)} videos, {frame['class_name'].nunique()} classes, "
         f"{len(frame) - n_bad} ok, {n_bad} skipped")
    return 0


def run_clips(args: argparse.Namespace) -> int:
    from videolstm.io import atomic_write_text
    from videolstm.video import clips

    cfg = parse_cfg(args.cfg)
    cc = clips.ClipsConfig.from_dict(_section(cfg, "clips"), seed=int(cfg.get("seed", 0)),
                                     workers=args.threads)
    if len(args.add_index) != len(args.add_root):
        raise UserError("give one --add-root per --add-index")
    if not args.source and not args.add_index:
        raise UserError("give at least one --source folder or --add-index")
    sources = [(Path(s).name, Path(s), clips.folder_source(Path(s), cc)) for s in args.source]
    for idx, root in zip(args.add_index, args.add_root, strict=True):
        rows = clips.labelled_source(Path(idx), cc.train_split)
        sources.append((Path(idx).stem, Path(root), rows))
    manifest = clips.sample_clips(sources, cc)
    atomic_write_text(args.out, manifest.to_csv(index=False, lineterminator="\n"))
    ok = manifest["status"] == "ok"
    _log(f"{args.out}: {int(ok.sum())} clips ({int(manifest.loc[ok, 'n_frames'].sum())} frames) "
         f"from {len(sources)} sources, {int((~ok).sum())} videos not used")
    return 0


def run_patches(args: argparse.Namespace) -> int:
    from videolstm.video import patches

    cfg = parse_cfg(args.cfg)
    pc = patches.PatchConfig.from_dict(_section(cfg, "patches"), seed=int(cfg.get("seed", 0)))
    patches.cut_patches(args.index, args.root, args.part, pc, args.out,
                        _meta(cfg, "patches", args.part), log=_log)
    return 0


def _items(args: argparse.Namespace):
    from videolstm.video.clips import load_items

    return load_items(index=args.index, root=args.root, clips=args.clips)


def run_percepts(args: argparse.Namespace) -> int:
    from videolstm.video import percepts

    cfg = parse_cfg(args.cfg)
    section = _section(cfg, "percepts")
    pcfg = percepts.PerceptConfig.from_dict(
        {**{k: v for k, v in section.items() if k not in ("rgb", "kinds")},
         **_section(section, "rgb")},
        workers=args.threads, device=configured_device(cfg))
    extractor = percepts.make_extractor(pcfg, args.weights)
    percepts.extract(_items(args), extractor, args.out, _meta(cfg, args.dataset, "rgb"),
                     batch_size=pcfg.batch_size, workers=pcfg.workers, log=_log)
    return 0


def run_digit_cnn(args: argparse.Namespace) -> int:
    from videolstm.video import digit_cnn

    cfg = parse_cfg(args.cfg)
    dc = digit_cnn.DigitCNNConfig.from_dict(_section(cfg, "percepts", "rgb", "cnn"),
                                            seed=int(cfg.get("seed", 0)), threads=args.threads)
    digit_cnn.train(dc, args.out, log=_log)
    return 0


def run_flow(args: argparse.Namespace) -> int:
    from videolstm.video import flow

    cfg = parse_cfg(args.cfg)
    section = {k: v for k, v in _section(cfg, "flow").items() if k != "cnn"}
    fc = flow.FlowConfig.from_dict(section, workers=args.threads)
    flow.compute(_items(args), fc, args.out, _meta(cfg, args.dataset, "flow_fields"), log=_log)
    return 0


def run_cnn_train(args: argparse.Namespace) -> int:
    from videolstm.video import temporal_cnn

    cfg = parse_cfg(args.cfg)
    cc = temporal_cnn.CNNConfig.from_dict({**_section(cfg, "flow", "cnn"), "split": args.split},
                                          seed=int(cfg.get("seed", 0)), threads=args.threads,
                                          device=configured_device(cfg))
    temporal_cnn.train(args.flow, args.index, args.kind, cc, args.out, log=_log)
    return 0


def run_cnn_features(args: argparse.Namespace) -> int:
    from videolstm.video import temporal_cnn

    cfg = parse_cfg(args.cfg)
    cnn = _section(cfg, "flow", "cnn")
    kind = "flowstack" if "flowstack" in Path(args.model).stem else "flow"
    temporal_cnn.features(args.model, args.flow, args.out, _meta(cfg, args.dataset, kind),
                          batch_size=int(cnn.get("batch_size_features", 256)),
                          threads=args.threads, device=configured_device(cfg), log=_log)
    return 0
