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

from videolstm.baselines import BASELINE_NOTE, BASELINES
from videolstm.cli import parse_cfg, positive_int
from videolstm.errors import UserError
from videolstm.tables import TABLE2_RUNS

MNIST_COL = "Cross Entropy on MNIST"
PATCHES_COL = "Squared loss on image patches"
LATER_MSE = "Moving MNIST test MSE per frame"
LATER_MAE = "Moving MNIST test MAE per frame"
LATER_SSIM = "Moving MNIST test SSIM"
LATER_PSNR = "Moving MNIST test PSNR"
# eval metric key -> protocol table column, in the table's order (OpenSTL's: MSE, MAE, SSIM, PSNR)
LATER_COLS = {"future_mse_per_frame": LATER_MSE, "future_mae_per_frame": LATER_MAE,
              "future_ssim": LATER_SSIM, "future_psnr": LATER_PSNR}
LATER_FC = "FC-LSTM (PredRNN 2017 table)"
LATER_CONV = "ConvLSTM (PredRNN 2017 table)"
LAB_COL = "Moving MNIST MSE"
PAPER_LAB_SIZES = (500, 1500, 2500)
BASELINE_TITLES = tuple(BASELINES.values())


def _pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"{flag} {item!r}: expected RUN=PATH")
        run, path = item.split("=", 1)
        out[run] = path
    return out


def _read_eval(path: str) -> dict:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"evaluation file {p} does not exist; run its mnist_eval step first")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(
            f"evaluation file {p} is not valid JSON ({exc}); delete it and rerun") from exc


def _metric(ev: dict, key: str, path: str) -> float:
    value = ev.get("metrics", {}).get(key)
    if value is None:
        raise UserError(f"evaluation file {path} has no metric {key!r} (variant "
                        f"{ev.get('variant')!r}); it cannot fill this table cell")
    return float(value)


def _check_variant(ev: dict, run: str, path: str, flag: str) -> None:
    """A Table 2 row holds the evaluation of its own model: `composite=` must name an evaluation
    of a composite model (its JSON records the variant; `mnist-eval` and `sequence-eval` write it)."""
    found = ev.get("variant")
    if found != run:
        what = (f"is of a {found!r} model" if found else
                "records no variant (written by an older version; rerun its evaluation step)")
        raise UserError(f"{flag} {run}={path}: that evaluation {what}, but the row "
                        f"'{TABLE2_RUNS[run]}' takes a {run!r} model's evaluation; pass "
                        f"{run}=<the {run} run's evaluation JSON>")


def _provenance(cfg: dict, **extra) -> dict:
    for key in ("config_name", "data_source"):
        if key not in cfg:
            raise UserError(f"--cfg lacks '{key}'")
    from videolstm.tables import provenance

    return provenance(cfg, "none (Moving MNIST pixels)", **extra)


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
    device = pick_device(cfg.get("device", "auto"))
    result = evaluate_checkpoint(args.checkpoint, args.test, args.batch_size, device=str(device))
    result["config_name"] = cfg.get("config_name")
    result["data_source"] = cfg.get("data_source")
    atomic_write_json(args.out, result)
    m = result["metrics"]
    shown = {k: round(v, 4) for k, v in m.items() if isinstance(v, float)}
    print(f"{args.checkpoint}: {json.dumps(shown, sort_keys=True)}")
    return 0


def _domain_frames(cfg: dict, domain: str) -> tuple[int, int]:
    from videolstm.domains import DOMAIN_DEFAULTS

    dom = {**DOMAIN_DEFAULTS[domain], **(cfg.get("pretrain", {}).get(domain) or {})}
    return int(dom["n_in"]), int(dom["n_future"])


def run_mnist_baselines(args: argparse.Namespace) -> int:
    from videolstm.baselines import image_baselines, mean_frame
    from videolstm.config import require
    from videolstm.data_sources import BASELINE_SEED_OFFSET, generator_from_config
    from videolstm.evaluate import load_set
    from videolstm.io import atomic_write_json
    from videolstm.mnist import digits_description

    cfg = parse_cfg(args.cfg)
    require(cfg, "mnist", "seed")
    n_in, n_future = _domain_frames(cfg, "mnist")
    # the mean frame of training sequences (training digits only), never of the test set
    gen = generator_from_config(cfg, "train")
    test = load_set(args.test)
    size = gen.cfg.image_size
    if test.shape[2] != size or test.shape[0] < n_in + n_future:
        raise UserError(
            f"test set {args.test} holds {test.shape[0]} frames of {test.shape[2]}x{test.shape[3]} "
            f"per sequence, but the baselines need {n_in} in + {n_future} future frames of "
            f"{size}x{size} (mnist.generator, pretrain.mnist): pass the Moving MNIST set that "
            "mnist-data wrote with the same --cfg")
    train = gen.dataset(1000, cfg["seed"] + BASELINE_SEED_OFFSET)
    result = image_baselines(test, mean_frame(train), n_in, n_future)
    result.update(test_set=str(args.test), mean_frame_from="1,000 generated training sequences",
                  digits=digits_description(cfg["mnist"].get("digits", {})),
                  config_name=cfg.get("config_name"), data_source=cfg.get("data_source"))
    atomic_write_json(args.out, result)
    print(f"{args.test}: " + json.dumps({k: {m: round(v, 2) for m, v in d.items()}
                                         for k, d in result["baselines"].items()}))
    return 0


def run_sequence_baselines(args: argparse.Namespace) -> int:
    from videolstm.baselines import array_baselines
    from videolstm.io import atomic_write_json

    cfg = parse_cfg(args.cfg)
    n_in, n_future = _domain_frames(cfg, args.domain)
    result = array_baselines(args.train, args.test, n_in, n_future)
    result.update(test_set=str(args.test), train_set=str(args.train),
                  config_name=cfg.get("config_name"), data_source=cfg.get("data_source"))
    atomic_write_json(args.out, result)
    return 0


def _baseline_rows(path: str | None, column: str, metrics: dict[str, str]) -> list[dict]:
    """Rows of the trivial baselines in a baselines JSON: metric key -> table column."""
    if not path:
        return []
    ev = _read_eval(path)
    rows = []
    for name, title in BASELINES.items():
        found = ev.get("baselines", {}).get(name)
        if found is None:
            raise UserError(f"baselines file {path} has no baseline {name!r}; rerun its step")
        for key, col in metrics.items():
            if key not in found:
                raise UserError(f"baselines file {path} has no {key!r} for {name!r}; rerun its step")
            rows.append({"row": title, "column": col, "value": float(found[key]),
                         "n": ev.get("n_sequences")})
    return rows


def _flag_unlearned(df, columns: list[str]):
    """Mark model cells of the given (lower-is-better) columns that are not clearly below the
    best trivial baseline of their column."""
    from videolstm.baselines import not_learned

    df = df.copy()
    df["flag"] = ""
    is_baseline = df["row"].isin(BASELINE_TITLES)
    for col in columns:
        base = df[(df["column"] == col) & is_baseline]["value"]
        if base.empty:
            continue
        models = (df["column"] == col) & ~is_baseline
        for i in df.index[models]:
            if not_learned(float(df.at[i, "value"]), [float(v) for v in base]):
                df.at[i, "flag"] = "not learned"
    return df


def table2_frames(mnist: dict[str, str], patches: dict[str, str]):
    import pandas as pd

    rows = []
    for evals, column, flag in ((mnist, MNIST_COL, "--mnist-eval"), (patches, PATCHES_COL, "--patches-eval")):
        for run, path in sorted(evals.items()):
            if run not in TABLE2_RUNS:
                raise UserError(f"{flag} run {run!r} is not a Table 2 row; use {sorted(TABLE2_RUNS)}")
            ev = _read_eval(path)
            _check_variant(ev, run, path, flag)
            rows.append({"row": TABLE2_RUNS[run], "column": column,
                         "value": _metric(ev, "future_loss", path), "n": ev.get("n_sequences")})
    return pd.DataFrame(rows, columns=["row", "column", "value", "n"])


def _sizes(*evals: dict[str, str]) -> str:
    """'layers x units' of the evaluated models, e.g. '1 x 256 (MNIST), 1 x 64 (patches)'."""
    parts = []
    for name, ev in zip(("MNIST", "patches"), evals, strict=False):
        found = sorted({(int(e["model_config"]["layers"]), int(e["model_config"]["hidden"]))
                        for e in map(_read_eval, ev.values()) if "model_config" in e})
        if found:
            parts.append(", ".join(f"{lay} x {h}" for lay, h in found) + f" ({name})")
    return "; ".join(parts) or "unknown"


def _conditional_training(mnist: dict[str, str], patches: dict[str, str]) -> str:
    """How the evaluated conditional decoders of each column were trained (teacher_forcing)."""
    from videolstm.models import VARIANT_DECODERS

    text = {True: "on the ground-truth previous frame (teacher forcing, as the authors' code)",
            False: "on their own previous outputs, as they run at test time (pretrain "
                   "teacher_forcing: false; the authors' code feeds the ground truth in training)"}
    parts = []
    for name, ev in (("MNIST", mnist), ("patches", patches)):
        modes = {bool(e.get("teacher_forcing", True)) for e in map(_read_eval, ev.values())
                 if "cond" in VARIANT_DECODERS.get(e.get("variant"), ())}
        if modes:
            parts.append(f"{name}: " + " and ".join(text[m] for m in sorted(modes, reverse=True)))
    return "; ".join(parts) or "none evaluated"


def table2_with_baselines(mnist: dict[str, str], patches: dict[str, str], mnist_base: str | None,
                          patches_base: str | None):
    import pandas as pd

    ours = table2_frames(mnist, patches)
    base = (_baseline_rows(mnist_base, MNIST_COL, {"future_loss": MNIST_COL})
            + _baseline_rows(patches_base, PATCHES_COL, {"future_loss": PATCHES_COL}))
    df = pd.concat([ours, pd.DataFrame(base, columns=ours.columns)], ignore_index=True)
    return _flag_unlearned(df, [MNIST_COL, PATCHES_COL])


def best_run(evals: dict[str, str]) -> str:
    """The run with the lowest later-protocol MSE (the FC-LSTM row's default)."""
    return min(sorted(evals), key=lambda r: _metric(_read_eval(evals[r]), "future_mse_per_frame", evals[r]))


def protocol_frame(evals: dict[str, str], fc_run: str, flag: str = "--mnist-eval"):
    import pandas as pd

    rows = []
    for run, path in sorted(evals.items()):
        ev = _read_eval(path)
        if run in TABLE2_RUNS:  # the row is named after the run's model
            _check_variant(ev, run, path, flag)
        layers = ev.get("model_config", {}).get("layers")
        name = f"ours: {TABLE2_RUNS.get(run, run)} ({layers} layers, run {run})"
        for key, col in LATER_COLS.items():
            value = _metric(ev, key, path)
            rows.append({"row": name, "column": col, "value": value, "n": ev.get("n_sequences")})
            if run == fc_run:
                rows.append({"row": LATER_FC, "column": col, "value": value,
                             "n": ev.get("n_sequences")})
    return pd.DataFrame(rows, columns=["row", "column", "value", "n"])


def protocol_with_baselines(evals: dict[str, str], fc_run: str, mnist_base: str | None,
                            flag: str = "--mnist-eval"):
    import pandas as pd

    ours = protocol_frame(evals, fc_run, flag)
    base = _baseline_rows(mnist_base, LATER_MSE, LATER_COLS)
    df = pd.concat([ours, pd.DataFrame(base, columns=ours.columns)], ignore_index=True)
    return _flag_unlearned(df, [LATER_MSE])


def _test_provenance(cfg: dict) -> dict:
    from videolstm.mnist import digits_description

    out = {"test_set": "Moving MNIST test set"}
    if "mnist" in cfg:
        out["digits"] = digits_description(cfg["mnist"].get("digits", {}))
        test_file = (cfg["mnist"].get("eval") or {}).get("test_file")
        if test_file:  # its digits are not ours to vouch for
            out["test_set"] = f"user file {Path(test_file).name} (its digits are not known)"
    return out


def run_table2(args: argparse.Namespace) -> int:
    from videolstm.tables import write_table

    cfg = parse_cfg(args.cfg)
    mnist = _pairs(args.mnist_eval, "--mnist-eval")
    patches = _pairs(args.patches_eval, "--patches-eval")
    out_dir = Path(args.out_dir)
    if args.only in (None, "table2"):
        ours = table2_with_baselines(mnist, patches, args.mnist_baselines, args.patches_baselines)
        note = ("Cross entropy on MNIST: Bernoulli cross entropy of the predicted future frames, "
                "summed over the 64x64 = 4096 pixels of a frame and averaged over frames and test "
                "sequences (the paper does not state its normalisation; the authors' logs are on "
                "this scale). Decoders in test mode: conditional decoders are fed their own "
                f"outputs; they were trained ({_conditional_training(mnist, patches)}). "
                f"Models: {_sizes(mnist, patches)} (the paper's: 2 x 2048). "
                "Squared loss on image patches: "
                + ("from the patches evaluation." if patches else
                   f"'{'not run'}': no image-patch evaluation in this configuration.")
                + " Squared error is the plain sum of squares over a frame (the authors' code "
                "reports 0.5 * sum, half of ours). " + BASELINE_NOTE)
        write_table("table2", ours, out_dir, _provenance(cfg, **_test_provenance(cfg)),
                    row_order=[*TABLE2_RUNS.values(), *BASELINE_TITLES],
                    col_order=[MNIST_COL, PATCHES_COL], note=note)
        print(f"wrote {out_dir}/table2.{{csv,md,tex}}")
    if args.only in (None, "protocol"):
        evals = _pairs(args.protocol_eval, "--protocol-eval") or mnist
        fc_run = best_run(evals) if args.fc_lstm_run == "best" and evals else args.fc_lstm_run
        ours = protocol_with_baselines(evals, fc_run, args.mnist_baselines,
                                       "--protocol-eval" if args.protocol_eval else "--mnist-eval")
        note = (f"Later literature's protocol (PredRNN, NeurIPS 2017): 10 frames in, 10 predicted; "
                "MSE per frame = sum of squared error over the 64x64 frame with pixels in [0, 1], "
                "averaged over frames and sequences; MAE per frame = sum of absolute error over "
                "the frame, averaged likewise (OpenSTL's MAE); SSIM per frame with scikit-image's "
                "structural_similarity defaults (7x7 uniform window, sample covariance, K1 0.01, "
                "K2 0.03, data range 1, 3-pixel border cropped; prediction clipped to [0, 1]), "
                "averaged over frames and sequences (PredRNN's code scores the frames as uint8 "
                "with data range 255, the same up to rounding down to integers; OpenSTL passes "
                "float frames without a data range to scikit-image <= 0.19.3, which then takes "
                "2); PSNR per frame = 10 log10(1 / mean squared error "
                "over the frame's pixels), prediction clipped to [0, 1], averaged over frames and "
                "sequences (OpenSTL's PSNR; one frame reproduced exactly, as the copied last "
                "frame can be, makes it inf, as there). No published FC-LSTM MAE or PSNR is "
                "vendored here: "
                f"those paper cells are empty. Row '{LATER_FC}' holds our run '{fc_run}'"
                + (" (the lowest test MSE of our runs)" if args.fc_lstm_run == "best" else "")
                + " beside "
                f"the published FC-LSTM numbers; '{LATER_CONV}' is not run here (our ConvLSTM is "
                "the lab report's autoencoder, not a predictor). Paper values in this table are "
                "the later literature's, not Srivastava et al.'s. " + BASELINE_NOTE
                + " The flag uses the MSE column.")
        write_table("later", ours, out_dir, _provenance(cfg, **_test_provenance(cfg)),
                    row_order=[LATER_FC, LATER_CONV, *BASELINE_TITLES],
                    col_order=list(LATER_COLS.values()),
                    note=note, out_name="moving_mnist_protocol")
        print(f"wrote {out_dir}/moving_mnist_protocol.{{csv,md,tex}}")
    return 0


def labreport_frame(evals: dict[str, str]):
    import pandas as pd

    rows = []
    paper_rows = {f"FC-LSTM autoencoder {h} units" for h in PAPER_LAB_SIZES}
    fc = []
    for run, path in evals.items():
        ev = _read_eval(path)
        value = _metric(ev, "recon_mse_per_pixel", path)
        if ev.get("variant") == "convlstm":
            rows.append({"row": "ConvLSTM autoencoder (no paper value)", "column": LAB_COL,
                         "value": value, "n": ev.get("n_sequences")})
            continue
        hidden = int(ev.get("model_config", {}).get("hidden", 0))
        fc.append((hidden, run, value, ev.get("n_sequences")))
    for hidden, _, value, n in sorted(fc):
        name = f"FC-LSTM autoencoder {hidden} units"
        if name not in paper_rows:
            name += " (scaled down, no paper value)"
        rows.insert(len(rows) - (1 if rows and rows[-1]["row"].startswith("ConvLSTM") else 0),
                    {"row": name, "column": LAB_COL, "value": value, "n": n})
    return pd.DataFrame(rows, columns=["row", "column", "value", "n"])


def run_labreport(args: argparse.Namespace) -> int:
    from videolstm.checkpoint import load_model
    from videolstm.evaluate import load_set
    from videolstm.figures_mnist import labreport_figure, provenance_line
    from videolstm.tables import write_table

    cfg = parse_cfg(args.cfg)
    evals = _pairs(args.eval, "--eval")
    if not evals:
        raise UserError("labreport needs at least one --eval RUN=JSON")
    ours = labreport_frame(evals)
    note = ("Moving MNIST MSE: squared error of the reconstructed input frames (10, reverse order) "
            "per pixel, pixels in [0, 1], averaged over pixels, frames and test sequences, as the "
            "lab report's numbers (0.027440 at 500 units). Rows at other sizes are scaled down for "
            "this configuration and have no paper value.")
    write_table("labreport", ours, args.out_dir,
                _provenance(cfg, **_test_provenance(cfg)), note=note)
    print(f"wrote {args.out_dir}/labreport.{{csv,md,tex}}")
    ckpts = _pairs(args.checkpoint, "--checkpoint")
    models = {}
    for run in sorted(ckpts, key=lambda r: (r == "convlstm", len(r), r)):
        model, ckpt = load_model(ckpts[run])
        label = ("ConvLSTM" if ckpt["variant"] == "convlstm"
                 else f"FC-LSTM {ckpt['model_config']['hidden']} units")
        models[label] = model
    if not models:
        raise UserError("labreport needs at least one --checkpoint RUN=CKPT for the figure")
    labreport_figure(models, load_set(args.test), args.figure,
                     provenance_line(cfg["config_name"], cfg["data_source"]))
    print(f"wrote {args.figure}")
    return 0


def _model_label(ckpt: dict) -> str:
    """e.g. 'Composite, 2 x 512' or 'Composite, conditional future, 1 x 256' (from the checkpoint)."""
    mc = ckpt["model_config"]
    kind = "Composite, conditional future" if ckpt["variant"] == "composite_cond" else "Composite"
    return f"{kind}, {mc['layers']} x {mc['hidden']}"


def run_figures(args: argparse.Namespace) -> int:
    from videolstm import figures_mnist as figs
    from videolstm.checkpoint import load_model
    from videolstm.evaluate import load_set

    cfg = parse_cfg(args.cfg)
    ckpts = _pairs(args.checkpoint, "--checkpoint")
    need = ("composite_1layer", "composite", "composite_cond")
    missing = [r for r in need if r not in ckpts]
    if missing:
        raise UserError(f"mnist-figures needs --checkpoint for runs {missing} (RUN=CKPT)")
    loaded = {run: load_model(ckpts[run]) for run in need}
    models = {run: m for run, (m, _) in loaded.items()}
    prov = figs.provenance_line(cfg.get("config_name", "?"), cfg.get("data_source", "?"))
    seed = int(cfg.get("seed", 0))
    steps = int(cfg.get("mnist", {}).get("eval", {}).get("rollout_steps", 100))
    test = load_set(args.test)
    out = Path(args.out_dir)
    labels = {run: _model_label(ck) for run, (_, ck) in loaded.items()}
    shown = {ckpts[r]: r for r in reversed(need)}  # a checkpoint in two roles is shown once
    figs.figure5({labels[r]: models[r] for r in need if shown[ckpts[r]] == r}, test,
                 out / "figure5.png", prov)
    figs.figure7(models["composite_1layer"], test, out / "figure7.png", prov, n_steps=steps,
                 seed=seed)
    figs.figure8(models["composite_1layer"], {"1 digit": load_set(args.test_1digit),
                                              "3 digits": load_set(args.test_3digits)},
                 out / "figure8.png", prov)
    figs.figure9(models["composite"], out / "figure9.png", prov)
    figs.figure10(models["composite"], out / "figure10.png", prov)
    figs.prediction_gif(models["composite_cond"], test, out / "prediction.gif")
    print(f"wrote Figures 5, 7, 8, 9, 10 and prediction.gif to {out}")
    return 0


def run_figure_checks(args: argparse.Namespace) -> int:
    import torch

    from videolstm.baselines import mean_frame
    from videolstm.checkpoint import load_model
    from videolstm.config import require
    from videolstm.data_sources import BASELINE_SEED_OFFSET, generator_from_config
    from videolstm.evaluate import load_set
    from videolstm.figure_checks import ood_losses, rollout_checks
    from videolstm.io import atomic_write_json

    cfg = parse_cfg(args.cfg)
    require(cfg, "mnist", "seed")
    if args.threads:
        torch.set_num_threads(args.threads)
    model, ckpt = load_model(args.checkpoint)
    seed = int(cfg["seed"])
    # the same mean training frame as the 'no learning' row of Table 2 (run_mnist_baselines)
    train = generator_from_config(cfg, "train").dataset(1000, seed + BASELINE_SEED_OFFSET)
    mean = mean_frame(train)
    steps = int(cfg["mnist"].get("eval", {}).get("rollout_steps", 100))
    result = {
        "checkpoint": str(args.checkpoint), "run": ckpt.get("run"), "variant": ckpt["variant"],
        "model_config": ckpt["model_config"], "step": ckpt.get("step"),
        "config_name": cfg.get("config_name"), "data_source": cfg.get("data_source"),
        "mean_frame_from": "1,000 generated 2-digit training sequences",
        "out_of_domain": {
            "1 digit": {"test_set": str(args.test_1digit),
                        **ood_losses(model, load_set(args.test_1digit), mean)},
            "3 digits": {"test_set": str(args.test_3digits),
                         **ood_losses(model, load_set(args.test_3digits), mean)},
        },
        "rollout": {"test_set": str(args.test),
                    **rollout_checks(model, load_set(args.test), steps, seed)},
    }
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0
