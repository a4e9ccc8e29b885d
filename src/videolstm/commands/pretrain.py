"""`videolstm pretrain`: train (or resume) one configured unsupervised model."""

from __future__ import annotations

import argparse

from videolstm.cli import parse_cfg


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain", help="train one model variant; resumes from last.pt if present")
    p.add_argument("--cfg", required=True, help="JSON with the pretrain and mnist config sections")
    p.add_argument("--domain", required=True, help="mnist | patches | percepts_rgb | percepts_flow")
    p.add_argument("--run", required=True, help="run name from pretrain.<domain>.runs")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--data-root", default="results", help="root of the arrays named in the config")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--max-steps", type=int, default=None, help="stop early (testing resume)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videolstm.train import train

    train(parse_cfg(args.cfg), args.domain, args.run, args.out_dir, args.data_root,
          args.threads, args.max_steps)
    return 0
