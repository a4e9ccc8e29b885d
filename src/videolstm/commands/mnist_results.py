"""Moving MNIST results: test-set evaluation, Table 2, the later literature's protocol table, the
lab report's table and the figures.

    videolstm mnist-eval --checkpoint CKPT --test SET.npy --out EVAL.json [--cfg JSON]
    videolstm table2 --cfg JSON --mnist-eval RUN=EVAL.json ... [--patches-eval RUN=EVAL.json ...]
                     --out-dir results/tables
    videolstm labreport --cfg JSON --eval RUN=EVAL.json ... --checkpoint RUN=CKPT ...
                        --test SET.npy --out-dir results/tables --figure PNG
    videolstm mnist-figures --cfg JSON --checkpoint RUN=CKPT ... --test SET.npy
                            --test-1digit SET.npy --test-3digits SET.npy --out-dir results/figures
    videolstm mnist-figure-checks --cfg JSON --checkpoint CKPT --test SET.npy
                                  --test-1digit SET.npy --test-3digits SET.npy --out JSON
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from videolstm.cli import parse_cfg, positive_int
from videolstm.config import configured_device
from videolstm.errors import UserError


def _pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"{flag} {item!r}: expected RUN=PATH")
        run, path = item.split("=", 1)
        out[run] = path
    return out


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mnist-eval", help="evaluate a checkpoint on a Moving MNIST set (test mode)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--test", required=True, help="uint8 (T, N, 64, 64) .npy, time first")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--cfg", default=None, help="JSON: config_name, data_source, device")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--threads", type=positive_int, default=None)
    p.set_defaults(func=run_eval)

    p = sub.add_parser("mnist-baselines", help="what 'no learning' scores on a Moving MNIST set")
    p.add_argument("--cfg", required=True, help="JSON: mnist, pretrain.mnist (n_in, n_future), seed")
    p.add_argument("--test", required=True, help="uint8 (T, N, 64, 64) .npy, time first")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.set_defaults(func=run_mnist_baselines)

    p = sub.add_parser("sequence-baselines", help="what 'no learning' scores on stored sequences")
    p.add_argument("--cfg", required=True, help="JSON: config_name, data_source, pretrain.<domain>")
    p.add_argument("--domain", required=True, help="pretrain domain giving n_in and n_future")
    p.add_argument("--train", required=True, help="stem of the training arrays (mean patch)")
    p.add_argument("--test", required=True, help="stem of the arrays the models are scored on")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.set_defaults(func=run_sequence_baselines)

    p = sub.add_parser("table2", help="Table 2 and the later literature's Moving MNIST protocol")
    p.add_argument("--cfg", required=True)
    p.add_argument("--mnist-eval", nargs="*", default=[], metavar="RUN=JSON")
    p.add_argument("--patches-eval", nargs="*", default=[], metavar="RUN=JSON")
    p.add_argument("--mnist-baselines", default=None, metavar="JSON",
                   help="mnist-baselines output: 'no learning' rows on the same test set")
    p.add_argument("--patches-baselines", default=None, metavar="JSON",
                   help="sequence-baselines output for the patches column")
    p.add_argument("--protocol-eval", nargs="*", default=[], metavar="RUN=JSON",
                   help="runs for the MSE/MAE/SSIM/PSNR table (default: the --mnist-eval runs)")
    p.add_argument("--fc-lstm-run", default="best",
                   help="our run compared with the later literature's FC-LSTM row (default: best, "
                        "the run with the lowest test MSE)")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--only", choices=["table2", "protocol"], default=None)
    p.set_defaults(func=run_table2)

    p = sub.add_parser("labreport", help="the lab report's FC-LSTM vs ConvLSTM table and figure")
    p.add_argument("--cfg", required=True)
    p.add_argument("--eval", nargs="*", default=[], metavar="RUN=JSON")
    p.add_argument("--checkpoint", nargs="*", default=[], metavar="RUN=CKPT")
    p.add_argument("--test", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--figure", required=True)
    p.set_defaults(func=run_labreport)

    p = sub.add_parser("mnist-figures", help="Figures 5, 7, 8, 9, 10 and a prediction GIF")
    p.add_argument("--cfg", required=True)
    p.add_argument("--checkpoint", nargs="*", default=[], metavar="RUN=CKPT")
    p.add_argument("--test", required=True)
    p.add_argument("--test-1digit", required=True)
    p.add_argument("--test-3digits", required=True)
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=run_figures)

    p = sub.add_parser("mnist-figure-checks",
                       help="Figures 7 and 8 as numbers: out-of-domain losses, rollout activity")
    p.add_argument("--cfg", required=True, help="JSON: mnist, seed, config_name, data_source")
    p.add_argument("--checkpoint", required=True, help="the Figure 7/8 model (1-layer composite)")
    p.add_argument("--test", required=True)
    p.add_argument("--test-1digit", required=True)
    p.add_argument("--test-3digits", required=True)
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--threads", type=positive_int, default=None)
    p.set_defaults(func=run_figure_checks)


def run_eval(args: argparse.Namespace) -> int:
    import torch

    from videolstm.devices import pick_device
    from videolstm.evaluate import evaluate_checkpoint
    from videolstm.io import atomic_write_json

    cfg = parse_cfg(args.cfg)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.batch_size < 1:
        raise UserError("--batch-size must be at least 1")
    device = pick_device(configured_device(cfg))
    result = evaluate_checkpoint(args.checkpoint, args.test, args.batch_size, device=str(device))
    result["config_name"] = cfg.get("config_name")
    result["data_source"] = cfg.get("data_source")
    atomic_write_json(args.out, result)
    m = result["metrics"]
    shown = {k: round(v, 4) for k, v in m.items() if isinstance(v, float)}
    print(f"{args.checkpoint}: {json.dumps(shown, sort_keys=True)}")
    return 0


def run_mnist_baselines(args: argparse.Namespace) -> int:
    from videolstm.io import atomic_write_json
    from videolstm.movingmnist.no_learning import mnist_baselines

    result = mnist_baselines(parse_cfg(args.cfg), args.test)
    atomic_write_json(args.out, result)
    print(f"{args.test}: " + json.dumps({k: {m: round(v, 2) for m, v in d.items()}
                                         for k, d in result["baselines"].items()}))
    return 0



def run_sequence_baselines(args: argparse.Namespace) -> int:
    from videolstm.baselines import array_baselines
    from videolstm.domains import domain_frames
    from videolstm.io import atomic_write_json

    cfg = parse_cfg(args.cfg)
    n_in, n_future = domain_frames(cfg, args.domain)
    result = array_baselines(args.train, args.test, n_in, n_future)
    result.update(test_set=str(args.test), train_set=str(args.train),
                  config_name=cfg.get("config_name"), data_source=cfg.get("data_source"))
    atomic_write_json(args.out, result)
    return 0


def run_table2(args: argparse.Namespace) -> int:
    from videolstm.movingmnist.protocol import write_protocol
    from videolstm.movingmnist.table2 import write_table2

    cfg = parse_cfg(args.cfg)
    mnist = _pairs(args.mnist_eval, "--mnist-eval")
    patches = _pairs(args.patches_eval, "--patches-eval")
    out_dir = Path(args.out_dir)
    if args.only in (None, "table2"):
        write_table2(cfg, mnist, patches, args.mnist_baselines, args.patches_baselines, out_dir)
        print(f"wrote {out_dir}/table2.{{csv,md,tex}}")
    if args.only in (None, "protocol"):
        evals = _pairs(args.protocol_eval, "--protocol-eval") or mnist
        write_protocol(cfg, evals, args.fc_lstm_run, args.mnist_baselines,
                       "--protocol-eval" if args.protocol_eval else "--mnist-eval", out_dir)
        print(f"wrote {out_dir}/moving_mnist_protocol.{{csv,md,tex}}")
    return 0


def run_labreport(args: argparse.Namespace) -> int:
    from videolstm.movingmnist.labreport import write_labreport_figure, write_labreport_table

    cfg = parse_cfg(args.cfg)
    evals = _pairs(args.eval, "--eval")
    if not evals:
        raise UserError("labreport needs at least one --eval RUN=JSON")
    write_labreport_table(cfg, evals, args.out_dir)
    print(f"wrote {args.out_dir}/labreport.{{csv,md,tex}}")
    write_labreport_figure(cfg, _pairs(args.checkpoint, "--checkpoint"), args.test, args.figure)
    print(f"wrote {args.figure}")
    return 0


def run_figures(args: argparse.Namespace) -> int:
    from videolstm.movingmnist.figures import write_figures

    cfg = parse_cfg(args.cfg)
    out = write_figures(cfg, _pairs(args.checkpoint, "--checkpoint"), args.test,
                        args.test_1digit, args.test_3digits, args.out_dir)
    print(f"wrote Figures 5, 7, 8, 9, 10 and prediction.gif to {out}")
    return 0



def run_figure_checks(args: argparse.Namespace) -> int:
    import torch

    from videolstm.config import require
    from videolstm.io import atomic_write_json
    from videolstm.movingmnist.figure_checks import figure_check_report

    cfg = parse_cfg(args.cfg)
    require(cfg, "mnist", "seed")
    if args.threads:
        torch.set_num_threads(args.threads)
    result = figure_check_report(cfg, args.checkpoint, args.test, args.test_1digit,
                                 args.test_3digits)
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0
