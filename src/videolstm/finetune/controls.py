"""Controls of the action-recognition protocol: can the data and percepts show the paper's effect?

On the main (rgb) stream of each control dataset, over `splits` and `samples` labelled-set samples
(training seeds at "all" labels), three comparisons, each paired by sample (the same labelled set):
- (a) temporal information: the LSTM classifier (random init) with all labels against the
  single-frame classifier. Holds when the LSTM is at least `min_gain` points better.
- (b) pretraining helps with few labels: the pretrained (`finetune.pretrained`) LSTM against the
  random-init LSTM at each of `sizes` videos per class. Holds when the gain exceeds the spread.
- (c) negative control: the random-init LSTM trained and tested on blocks whose frames are shuffled
  in time (engine.TrainConfig.shuffle_time) falls to the single-frame level. Holds when it is within
  the spread of single frame while the unshuffled LSTM is above it by more than the spread; when
  (a) does not hold, there is no temporal gain to remove and (c) is inconclusive.
Effect = mean over splits of the per-split mean paired difference; spread = mean over splits of the
standard deviation over samples of that difference, and never less than one test video's worth of
accuracy (100 / test videos): a smaller difference is not one the test set can show.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from videolstm.finetune.runs import BASELINE, MAIN_STREAM, SHUFFLED, SINGLE_FRAME, Run
from videolstm.io import atomic_write_text

COLUMNS = ["control", "dataset", "compared", "reference", "size", "compared_acc", "reference_acc",
           "effect", "spread", "criterion", "verdict", "splits", "samples"]


def settings(ft: dict) -> dict:
    """finetune.controls (its values live in config/config.yaml; the schema requires them all)."""
    return ft.get("controls") or {}


def control_runs(ft: dict) -> list[Run]:
    """The runs of one dataset and split that the three controls compare (and no other: the
    pretrained init is compared only at the few-label sizes, so it has no all-label runs)."""
    ctl, pre = settings(ft), ft.get("pretrained", "composite")
    runs = {Run(MAIN_STREAM, init, 0, s) for init in (SINGLE_FRAME, BASELINE, SHUFFLED)
            for s in range(ctl["samples"])}
    runs |= {Run(MAIN_STREAM, init, int(size), s) for init in (BASELINE, pre)
             for size in ctl["sizes"] for s in range(ctl["samples"])}
    return sorted(runs)


def paired(runs: pd.DataFrame, a: str, b: str, size: str) -> dict:
    """Mean accuracies of inits a and b at one size, and their paired difference's effect and
    spread (see the module docstring)."""
    sel = runs[runs["size"].astype(str) == size]
    wide = sel.pivot_table(index=["split", "sample"], columns="init", values="video_acc")
    if a not in wide or b not in wide:
        return {"compared_acc": np.nan, "reference_acc": np.nan, "effect": np.nan,
                "spread": np.nan, "splits": 0, "samples": 0}
    diff = (wide[a] - wide[b]).groupby(level="split")
    step = 100.0 / float(sel["n_test"].min()) if "n_test" in sel else 0.0
    return {
        "compared_acc": float(wide[a].groupby(level="split").mean().mean()),
        "reference_acc": float(wide[b].groupby(level="split").mean().mean()),
        "effect": float(diff.mean().mean()),
        "spread": max(float(diff.std(ddof=0).mean()), step),
        "splits": int(diff.ngroups), "samples": int(diff.count().min()),
    }


def table(runs: pd.DataFrame, ft: dict, encoders: list[dict] | None = None) -> pd.DataFrame:
    """The controls' rows; `encoders`: summaries of the pretrained encoders (b) starts from, so
    that an encoder that did not learn is named as the reason (b) does not hold."""
    from videolstm.pretrain_report import learned

    ctl, pre = settings(ft), ft.get("pretrained", "composite")
    not_learned = [why for ok, why in map(learned, encoders or []) if not ok]
    rows = []
    for dataset, d in runs[runs["stream"] == MAIN_STREAM].groupby("dataset", sort=True):
        a = paired(d, BASELINE, SINGLE_FRAME, "all")
        ok_a = a["effect"] >= ctl["min_gain"]
        rows.append({"control": "(a) temporal information", "dataset": dataset,
                     "compared": "LSTM (random init)", "reference": "single frame",
                     "size": "all", **a, "criterion": f"effect >= {ctl['min_gain']:g} points",
                     "verdict": "holds" if ok_a else "does not hold"})
        for size in ctl["sizes"]:
            b = paired(d, pre, BASELINE, str(size))
            rows.append({"control": "(b) pretraining helps with few labels", "dataset": dataset,
                         "compared": f"LSTM ({pre} init)", "reference": "LSTM (random init)",
                         "size": str(size), **b, "criterion": "effect > spread",
                         "verdict": "holds" if b["effect"] > b["spread"] else
                         "does not hold" + (f": {'; '.join(not_learned)}" if not_learned else "")})
        c = paired(d, SHUFFLED, SINGLE_FRAME, "all")
        drop = paired(d, BASELINE, SHUFFLED, "all")
        at_frame = abs(c["effect"]) <= c["spread"]
        removed = drop["effect"] > drop["spread"]
        verdict = ("holds" if at_frame and removed else "does not hold" if ok_a
                   else "inconclusive: (a) does not hold, no temporal gain to remove")
        rows.append({"control": "(c) negative control: frames shuffled in time", "dataset": dataset,
                     "compared": "LSTM, shuffled frames", "reference": "single frame",
                     "size": "all", **c,
                     "criterion": "abs(effect) <= spread and the unshuffled LSTM above it by more "
                                  f"than its spread (it is {drop['effect']:+.1f} +- "
                                  f"{drop['spread']:.1f})",
                     "verdict": verdict})
    return pd.DataFrame(rows, columns=COLUMNS)


def render_md(df: pd.DataFrame, cfg: dict, chance: dict[str, float], extractor: str,
              encoders: list[dict] | None = None) -> str:
    from videolstm.pretrain_report import learned

    ctl = settings(cfg["finetune"])
    encoder_lines = [f"> Pretrained encoder: {learned(e)[1]}." for e in encoders or []]
    lines = [
        "# controls", "",
        f"> Config: {cfg.get('config_name', 'unknown')}. Data: {cfg.get('data_source', 'unknown')}."
        f" Percept extractor: {extractor}. Stream: {MAIN_STREAM}.",
        f"> Splits {', '.join(map(str, ctl['splits']))}; {ctl['samples']} labelled-set samples per "
        "size (at 'all': training seeds). Video-level accuracy (%). Effect = compared - reference, "
        "paired by sample: mean over splits of each split's mean; spread = mean over splits of the "
        "standard deviation over samples of the difference, at least one test video's worth "
        "(100 / test videos). "
        + " ".join(f"Chance on {k}: {v:.1f}." for k, v in sorted(chance.items())),
        *encoder_lines,
        "> Each verdict is computed from the runs by videolstm.finetune.controls; "
        "none is typed in.", "",
        "| control | dataset | compared | reference | size | compared | reference | effect "
        "| spread | criterion | verdict |",
        "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in df.itertuples(index=False):
        lines.append(
            f"| {r.control} | {r.dataset} | {r.compared} | {r.reference} | {r.size} | "
            f"{r.compared_acc:.1f} | {r.reference_acc:.1f} | {r.effect:+.1f} | {r.spread:.1f} | "
            f"{r.criterion} | {r.verdict} |")
    return "\n".join(lines) + "\n"


def write(runs: pd.DataFrame, cfg: dict, out_dir: str | Path,
          encoders: list[dict] | None = None) -> list[Path]:
    df = table(runs, cfg["finetune"], encoders)
    out_dir = Path(out_dir)
    buf = io.StringIO()
    df.assign(config=cfg.get("config_name", "unknown"),
              data_source=cfg.get("data_source", "unknown")).to_csv(
        buf, index=False, float_format="%.6g", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    chance = {ds: 100.0 / int(g["n_classes"].iloc[0]) for ds, g in runs.groupby("dataset")}
    extractor = "; ".join(sorted(set(runs["extractor"].astype(str))))
    paths = [out_dir / "controls.csv", out_dir / "controls.md"]
    atomic_write_text(paths[0], buf.getvalue())
    atomic_write_text(paths[1], render_md(df, cfg, chance, extractor, encoders))
    return paths
