"""`videolstm pretrain`: train (or resume) one configured unsupervised model;
`videolstm sequence-eval`: its test-mode losses on stored sequences (patches, percepts)."""

from __future__ import annotations

import argparse

from videolstm.cli import parse_cfg, positive_int
from videolstm.config import configured_device


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain", help="train one model variant; resumes from last.pt if present")
    p.add_argument("--cfg", required=True, help="JSON with the pretrain and mnist config sections")
    p.add_argument("--domain", required=True, help="mnist | patches | percepts_rgb | percepts_flow")
    p.add_argument("--run", required=True, help="run name from pretrain.<domain>.runs")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--data-root", default="results", help="root of the arrays named in the config")
    p.add_argument("--threads", type=positive_int, default=None)
    p.add_argument("--max-steps", type=positive_int, default=None, help="stop early (testing resume)")
    p.set_defaults(func=run)

    p = sub.add_parser("sequence-eval", help="test-mode losses of a checkpoint on stored frame arrays")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--arrays", required=True, help="stem: STEM.npy (frames, D) + STEM.offsets.npy")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--cfg", default=None, help="JSON: config_name, data_source, device")
    p.add_argument("--threads", type=positive_int, default=None)
    p.set_defaults(func=run_eval)


def run(args: argparse.Namespace) -> int:
    from videolstm.train import train

    train(parse_cfg(args.cfg), args.domain, args.run, args.out_dir, args.data_root,
          args.threads, args.max_steps)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import torch

    from videolstm.evaluate import evaluate_arrays
    from videolstm.io import atomic_write_json

    if args.threads:
        torch.set_num_threads(args.threads)
    from videolstm.devices import pick_device

    cfg = parse_cfg(args.cfg)
    device = pick_device(configured_device(cfg))  # the configured device, as every step
    result = evaluate_arrays(args.checkpoint, args.arrays, device=str(device))
    result.update(config_name=cfg.get("config_name"), data_source=cfg.get("data_source"))
    atomic_write_json(args.out, result)
    return 0
