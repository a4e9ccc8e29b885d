"""Supervised protocol commands: `finetune` (one dataset and split), `tables-actions` (Tables 1, 3,
4), `figure12`, the controls table and the encoder probes."""

from __future__ import annotations

import json
import time
from pathlib import Path

from videolstm.cli import parse_cfg, positive_int
from videolstm.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "finetune",
        help="train and evaluate every classifier of one dataset and split (batched)",
        description="Train the LSTM classifiers (pretrained inits and baseline), the single-frame "
        "baseline and late fusion for one dataset and split; write one CSV row per run.",
    )
    p.add_argument("--cfg", required=True, help="JSON with the finetune section (+ run identity)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--split", type=int, required=True, choices=[1, 2, 3])
    p.add_argument("--index", required=True, help="video index CSV of the dataset")
    p.add_argument("--percepts", required=True, help="folder with {kind}.npy/.offsets.npy/.json")
    p.add_argument("--pretrain", required=True, help="folder with {domain}/{variant}/final.pt")
    p.add_argument("--out", required=True, help="CSV of runs; a .json summary is written beside")
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads")
    p.add_argument("--controls", action="store_true",
                   help="train the runs of the controls table instead (finetune.controls)")
    p.set_defaults(func=cmd_finetune)

    c = sub.add_parser("table-controls", help="the controls table from the controls' runs")
    c.add_argument("--cfg", required=True)
    c.add_argument("--runs", nargs="+", required=True, help="per-split CSVs of `finetune --controls`")
    c.add_argument("--pretrain-summaries", nargs="*", default=[], metavar="JSON",
                   help="summary.json of the pretrained encoders the controls start from")
    c.add_argument("--out-dir", required=True)
    c.set_defaults(func=cmd_table_controls)

    b = sub.add_parser("probes", help="linear probes of the pretrained encoder's state (probes)",
                       description="What the pretrained RGB encoder's final state tells a logistic "
                       "regression given a few labelled videos per class, beside a random LSTM "
                       "and the mean percept (videolstm.finetune.probes).")
    b.add_argument("--cfg", required=True, help="JSON with the probes and finetune sections")
    b.add_argument("--results", required=True,
                   help="results folder with data/index, percepts and pretrain")
    b.add_argument("--out-dir", required=True)
    b.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads")
    b.set_defaults(func=cmd_probes)

    q = sub.add_parser("table-percept-pretraining",
                       help="percept encoders' held-out losses beside the no-learning baselines")
    q.add_argument("--cfg", required=True)
    q.add_argument("--summaries", nargs="+", required=True, help="pretraining summary.json files")
    q.add_argument("--out-dir", required=True)
    q.set_defaults(func=cmd_table_percept_pretraining)

    t = sub.add_parser("tables-actions", help="Tables 1, 3 and 4 from fine-tuning results")
    t.add_argument("--cfg", required=True)
    t.add_argument("--runs", nargs="+", required=True, help="per-split CSVs of `finetune`")
    t.add_argument("--temporal-cnn", nargs="*", default=[], metavar="JSON",
                   help="metrics of each split's single-field temporal CNN: Table 1's flow "
                        "single-frame cell")
    t.add_argument("--out-dir", required=True)
    t.set_defaults(func=cmd_tables)

    f = sub.add_parser("figure12", help="Figure 12: accuracy vs labelled videos per class")
    f.add_argument("--cfg", required=True)
    f.add_argument("--runs", nargs="+", required=True)
    f.add_argument("--out-dir", required=True)
    f.set_defaults(func=cmd_figure12)


def _cfg(text: str) -> dict:
    cfg = parse_cfg(text)
    if "finetune" not in cfg or not isinstance(cfg["finetune"], dict):
        raise UserError("--cfg lacks the 'finetune' section")
    return cfg


def cmd_finetune(args) -> int:
    import torch

    from videolstm.finetune.controls import control_runs
    from videolstm.finetune.sweep import run_split
    from videolstm.io import atomic_write_json, atomic_write_text

    cfg = _cfg(args.cfg)
    torch.set_num_threads(max(1, args.threads))
    t0 = time.perf_counter()
    df, summary = run_split(
        cfg, args.dataset, args.split, args.index, args.percepts, args.pretrain,
        log=lambda m: print(m, flush=True),
        runs=control_runs(cfg["finetune"]) if args.controls else None,
    )
    df["config"] = cfg.get("config_name", "unknown")
    df["data_source"] = cfg.get("data_source", "unknown")
    if args.controls:  # the accuracy step of one test video (controls.table)
        df["n_test"] = summary["test_videos"]
    out = Path(args.out)
    atomic_write_text(out, df.to_csv(index=False, float_format="%.6g"))
    # wall-clock times go to the log, not into the (DVC-tracked, byte-deterministic) outputs
    timings = {k: round(v, 1) for k, v in summary.pop("seconds").items()}
    summary.update(config=cfg.get("config_name"), data_source=cfg.get("data_source"))
    atomic_write_json(out.with_suffix(".json"), summary)
    print(f"wrote {out} ({len(df)} rows) in {time.perf_counter() - t0:.1f} s; per stream {timings}")
    return 0


def _skipped(paths) -> int | None:
    per_dataset: dict[str, int] = {}
    for p in paths:
        js = Path(p).with_suffix(".json")
        if js.is_file():
            s = json.loads(js.read_text())
            per_dataset[s["dataset"]] = max(per_dataset.get(s["dataset"], 0),
                                            int(s.get("skipped_videos", 0)))
    return sum(per_dataset.values()) if per_dataset else None


def cmd_tables(args) -> int:
    from videolstm.finetune import report

    cfg = _cfg(args.cfg)
    runs = report.read_runs(args.runs)
    skipped = _skipped(args.runs)
    cnn = []
    for path in map(Path, args.temporal_cnn):
        if not path.is_file():
            raise UserError(f"temporal CNN metrics {path} do not exist; run its training step first")
        cnn.append(json.loads(path.read_text()))
    for path in report.table1(runs, cfg, args.out_dir, skipped, temporal_cnn=cnn):
        print(f"wrote {path}")
    for fn in (report.table3, report.table4):
        for path in fn(runs, cfg, args.out_dir, skipped):
            print(f"wrote {path}")
    return 0


def cmd_table_controls(args) -> int:
    from videolstm.finetune import controls, report
    from videolstm.pretrain_report import read_summary

    cfg = _cfg(args.cfg)
    encoders = [read_summary(p) for p in args.pretrain_summaries]
    for path in controls.write(report.read_runs(args.runs), cfg, args.out_dir, encoders):
        print(f"wrote {path}")
    return 0


def cmd_probes(args) -> int:
    import torch

    from videolstm.finetune import probes

    cfg = _cfg(args.cfg)
    if not probes.settings(cfg):
        raise UserError("--cfg has no 'probes' section; add one (config/config.yaml shows it)")
    torch.set_num_threads(max(1, args.threads))
    for path in probes.run(cfg, args.results, args.out_dir, log=lambda m: print(m, flush=True)):
        print(f"wrote {path}")
    return 0


def cmd_table_percept_pretraining(args) -> int:
    from videolstm import pretrain_report

    for path in pretrain_report.write(args.summaries, _cfg(args.cfg), args.out_dir):
        print(f"wrote {path}")
    return 0


def cmd_figure12(args) -> int:
    from videolstm.finetune import report

    cfg = _cfg(args.cfg)
    for path in report.figure12(report.read_runs(args.runs), cfg, args.out_dir):
        print(f"wrote {path}")
    return 0
