"""Tables 1, 3, 4 and Figure 12 from the per-split run CSVs (results/finetune/...).

A table cell is, as the paper reports it, the mean over splits of each split's mean video-level
accuracy over its labelled-set samples; the spread is the standard deviation over samples WITHIN a
split (averaged over splits), never mixing the splits' differences in; n is the number of runs.
The per-split means are in the CSV's `per_split` column, each run's accuracy in `per_sample` (by
split and sample: two cells' runs of one sample were trained on the same labelled videos, so a
comparison can be paired, as videolstm.claims does).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from videolstm.errors import UserError
from videolstm.finetune.runs import BASELINE, SINGLE_FRAME
from videolstm.io import atomic_write_bytes, atomic_write_text
from videolstm.models import VARIANT_TITLES
from videolstm.tables import paper_numbers, provenance, write_table

DATASET_TITLES = {"ucf101": "UCF-101", "hmdb51": "HMDB-51"}
TABLE3_ROWS = {BASELINE: "Baseline LSTM", **{k: v for k, v in VARIANT_TITLES.items()
                                              if k != "convlstm"}}


def read_runs(paths: list[str | Path]) -> pd.DataFrame:
    frames = []
    for p in paths:
        if not Path(p).is_file():
            raise UserError(f"fine-tuning results {p} do not exist; run `videolstm finetune` first")
        frames.append(pd.read_csv(p, dtype={"size": str}))
    return pd.concat(frames, ignore_index=True)


def _cell(runs: pd.DataFrame, row: str, column: str, **where) -> dict | None:
    sel = runs
    for key, value in where.items():
        sel = sel[sel[key] == value]
    if sel.empty:
        return None
    value, spread, per_split = split_stats(sel)
    return {"row": row, "column": column, "value": value, "spread": spread, "n": len(sel),
            "per_split": "; ".join(f"split {k}: {v:.2f}" for k, v in per_split.items()),
            "per_sample": per_sample_text(sel)}


def per_sample_text(runs: pd.DataFrame) -> str:
    """Each run's accuracy by split and labelled-set sample, 'split 1: 0=25.00, 1=31.25; split 2:
    ...' (videolstm.claims.per_sample_values reads it). With all labels there is one labelled set
    and the runs are training seeds, 'seed 0=72.22, ...': two cells' seed k share nothing, so
    they are listed but never paired."""
    if "sample" not in runs:  # runs from elsewhere that do not name their samples: no pairing
        return ""
    parts = []
    for split, g in runs.sort_values(["split", "sample"]).groupby("split", sort=True):
        seed = "seed " if set(g["size"].astype(str)) == {"all"} else ""
        parts.append(f"split {int(split)}: " + ", ".join(
            f"{seed}{int(s)}={v:.2f}" for s, v in zip(g["sample"], g["video_acc"], strict=True)))
    return "; ".join(parts)


def split_stats(runs: pd.DataFrame) -> tuple[float, float, dict[int, float]]:
    """(mean over splits of the per-split mean accuracy, mean over splits of the std over samples
    within each split (nan with one sample per split), {split: mean})."""
    by_split = runs.groupby("split")["video_acc"]
    means = by_split.mean()
    stds = by_split.std(ddof=0)[by_split.size() > 1]
    spread = float(stds.mean()) if len(stds) else float("nan")
    return float(means.mean()), spread, {int(k): float(v) for k, v in means.items()}


CHANCE_ROW = "Chance (100 / classes)"


def _chance(runs: pd.DataFrame, columns: list[tuple[str, str, str | None]]) -> list[dict]:
    """What 'no learning' scores: one cell per (column title, dataset, stream or None = any)
    that has runs behind it."""
    cells = []
    for title, ds, stream in columns:
        sel = runs[(runs["dataset"] == ds) & ((runs["stream"] == stream) if stream else True)]
        classes = sel["n_classes"]
        if not classes.empty:
            cells.append({"row": CHANCE_ROW, "column": title, "value": 100.0 / int(classes.iloc[0]),
                          "spread": float("nan"), "n": float("nan"), "per_split": "",
                          "per_sample": ""})
    return cells


def _frame(cells) -> pd.DataFrame:
    cells = [c for c in cells if c is not None]
    return pd.DataFrame(cells, columns=["row", "column", "value", "spread", "n", "per_split",
                                        "per_sample"])


def _provenance(runs: pd.DataFrame, cfg: dict, skipped: int | None) -> dict:
    extra = {} if skipped is None else {"skipped_videos": skipped}
    return provenance(cfg, "; ".join(sorted(set(runs["extractor"].astype(str)))),
                      splits=",".join(str(s) for s in sorted(set(runs["split"]))), **extra)


FLOW_COLUMN = "UCF-101 1-frame flow"


def table1(runs, cfg, out_dir, skipped=None, temporal_cnn: list[dict] | None = None) -> list[Path]:
    """Table 1. With `temporal_cnn` (the metrics JSON of each split's single-field temporal CNN),
    the flow column's Single Frame cell is those CNNs' own video-level test accuracy (mean over
    splits), as the paper's 72.2 is; without, the logistic regression on their fc6 features."""
    pre = cfg["finetune"].get("pretrained", "composite")
    rows = {SINGLE_FRAME: "Single Frame", BASELINE: "LSTM classifier",
            pre: "Composite LSTM Model + Finetuning"}
    cols = [("UCF-101 RGB", "ucf101", "rgb"), (FLOW_COLUMN, "ucf101", "flow"),
            ("HMDB-51 RGB", "hmdb51", "rgb")]
    cnns = sorted((m for m in temporal_cnn or [] if m.get("dataset", "ucf101") == "ucf101"
                   and "test_video_accuracy" in m), key=lambda m: m.get("split", 1))
    use_cnn = bool(cnns) and not runs[(runs["dataset"] == "ucf101") & (runs["stream"] == "flow")].empty
    cells = [_cell(runs, rname, cname, init=init, dataset=ds, stream=st, size="all")
             for init, rname in rows.items() for cname, ds, st in cols
             if not (use_cnn and init == SINGLE_FRAME and cname == FLOW_COLUMN)]
    note = "Video-level accuracy (%) with all labelled training videos."
    if use_cnn:
        accs = [100.0 * float(m["test_video_accuracy"]) for m in cnns]
        cells.append({"row": rows[SINGLE_FRAME], "column": FLOW_COLUMN,
                      "value": float(np.mean(accs)), "spread": float("nan"), "n": len(cnns),
                      "per_split": "; ".join(f"split {m.get('split', 1)}: {a:.2f} (CNN)"
                                             for m, a in zip(cnns, accs, strict=True)),
                      "per_sample": ""})
        note += (" Flow Single Frame: the temporal-stream CNNs' own video accuracy on the test "
                 "videos of their split (one CNN per split, trained on its training videos), "
                 "as the paper's 72.2.")
    else:
        note += " Flow Single Frame: logistic regression on the flow CNN's fc6 features."
    cells += _chance(runs, cols)
    return write_table("table1", _frame(cells), out_dir, _provenance(runs, cfg, skipped), note=note)


def table3(runs, cfg, out_dir, skipped=None) -> list[Path]:
    small = cfg["finetune"]["small"]
    cells = []
    for init, rname in TABLE3_ROWS.items():
        for ds, title in DATASET_TITLES.items():
            cells.append(_cell(runs, rname, f"{title} small", init=init, dataset=ds,
                               stream="rgb", size=str(small.get(ds, ""))))
            cells.append(_cell(runs, rname, title, init=init, dataset=ds, stream="rgb",
                               size="all"))
    cells += _chance(runs, [(f"{title}{part}", ds, "rgb") for ds, title in DATASET_TITLES.items()
                            for part in (" small", "")])
    sizes = ", ".join(f"{DATASET_TITLES.get(k, k)} small = {v} videos/class"
                      for k, v in sorted(small.items()))
    return write_table("table3", _frame(cells), out_dir, _provenance(runs, cfg, skipped),
                       note=f"RGB percepts, video-level accuracy (%). {sizes}.")


def table4(runs, cfg, out_dir, skipped=None) -> list[Path]:
    pre = cfg["finetune"].get("pretrained", "composite")
    fusion = cfg["finetune"].get("fusion") or ["rgb", "flowstack"]
    ours = {"Composite LSTM Model [RGB]": "rgb", "Composite LSTM Model [flow]": fusion[-1],
            "Composite LSTM Model [RGB+flow]": "+".join(fusion)}
    cells = [_cell(runs, rname, title, init=pre, dataset=ds, stream=st, size="all")
             for rname, st in ours.items() for ds, title in DATASET_TITLES.items()]
    cells += _chance(runs, [(title, ds, None) for ds, title in DATASET_TITLES.items()])
    paper = paper_numbers()
    quoted = sorted(set(paper[paper.artifact == "table4"]["row"]) - set(ours))
    return write_table(
        "table4", _frame(cells), out_dir, _provenance(runs, cfg, skipped), quoted_rows=quoted,
        note=f"[flow] = the '{fusion[-1]}' percepts; [RGB+flow] = late fusion (averaged video "
             f"probabilities) of the {fusion[0]} and {fusion[-1]} models.",
    )


FIG12_MODELS = {SINGLE_FRAME: "Single frame", BASELINE: "Baseline LSTM"}
GAIN_SUFFIX = " − Baseline LSTM, same labelled videos"  # Figure 12's gain rows: model + suffix


def figure12_data(runs: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """One row per (dataset, model, size): mean and spread as a table cell, each run in
    `per_sample`; then the pretrained model's gain over the baseline on the same labelled sets
    (paired by split and sample, as the controls pair them: videolstm.finetune.controls.paired),
    as rows '<model> − Baseline LSTM, same labelled videos' whose mean_acc / std_acc are the gain
    and the spread of the per-sample gains (with all labels, whose runs are training seeds that
    share nothing pairwise: the two models' spreads combined, sqrt(s_a^2 + s_b^2)). Fine-tuning
    runs carry no n_test, so the controls' one-test-video floor on the spread does not apply."""
    from videolstm.finetune.controls import paired

    pre = cfg["finetune"].get("pretrained", "composite")
    models = {**FIG12_MODELS, pre: "Composite LSTM Model" if pre == "composite"
              else VARIANT_TITLES.get(pre, pre)}
    sel = runs[(runs.stream == "rgb") & runs.init.isin(list(models))].copy()
    rows = []
    for (ds, init, size), g in sel.groupby(["dataset", "init", "size"], sort=True):
        rows.append({
            "dataset": DATASET_TITLES.get(ds, ds), "model": models[init], "size": size,
            "videos_per_class": _per_class(g, size),
            **dict(zip(("mean_acc", "std_acc"), split_stats(g)[:2], strict=True)),
            "n_runs": len(g), "extractor": "; ".join(sorted(set(g["extractor"].astype(str)))),
            "per_sample": per_sample_text(g),
        })
    for (ds, size), g in sel.groupby(["dataset", "size"], sort=True):
        if not {pre, BASELINE} <= set(g["init"]):
            continue
        gain = paired(g, pre, BASELINE, str(size))
        std = gain["spread"] if gain["samples"] > 1 else float("nan")
        if size == "all":  # training seeds, not shared labelled sets: the two spreads combined
            spreads = [split_stats(g[g["init"] == i])[1] for i in (pre, BASELINE)]
            std = float(np.hypot(*spreads))
        rows.append({
            "dataset": DATASET_TITLES.get(ds, ds), "model": models[pre] + GAIN_SUFFIX,
            "size": size, "videos_per_class": _per_class(g, size), "mean_acc": gain["effect"],
            "std_acc": std, "n_runs": gain["splits"] * gain["samples"],
            "extractor": "; ".join(sorted(set(g["extractor"].astype(str)))), "per_sample": "",
        })
    df = pd.DataFrame(rows)
    df["config"] = cfg.get("config_name", "unknown")
    df["data_source"] = cfg.get("data_source", "unknown")
    return df.sort_values(["dataset", "model", "videos_per_class"], kind="stable")


def _per_class(g: pd.DataFrame, size: str) -> float:
    """Labelled videos per class: the size, or at 'all' the mean over the runs."""
    return int(size) if size != "all" else round(float((g["n_train"] / g["n_classes"]).mean()), 2)


def figure12(runs, cfg, out_dir) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    import seaborn as sns

    df = figure12_data(runs, cfg)
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "figure12.csv", df.to_csv(index=False, float_format="%.6g"))
    datasets = list(dict.fromkeys(df["dataset"]))
    sns.set_theme(style="whitegrid")
    fig, axes = plt.subplots(2, len(datasets), figsize=(5 * len(datasets), 7), squeeze=False,
                             sharex="col", height_ratios=(3, 2))
    palette = dict(zip(["Single frame", "Baseline LSTM", "Composite LSTM Model"],
                       sns.color_palette("deep", 3), strict=True))
    for top, bottom, ds in zip(axes[0], axes[1], datasets, strict=True):
        d = df[df.dataset == ds]
        gains = d["model"].str.endswith(GAIN_SUFFIX)
        for model, g in d[~gains].groupby("model", sort=True):
            g = g.sort_values("videos_per_class")
            top.errorbar(g["videos_per_class"], g["mean_acc"], yerr=g["std_acc"], marker="o",
                         capsize=3, label=model, color=palette.get(model))
        top.set_ylabel("video-level accuracy (%)")
        top.set_title(ds)
        top.legend(fontsize=8)
        for model, g in d[gains].groupby("model", sort=True):
            g = g.sort_values("videos_per_class")
            bottom.errorbar(g["videos_per_class"], g["mean_acc"], yerr=g["std_acc"], marker="o",
                            capsize=3, color=palette["Composite LSTM Model"])
            bottom.set_ylabel(f"{model.removesuffix(GAIN_SUFFIX)}\n− Baseline LSTM (points)",
                              fontsize=8)
        bottom.axhline(0.0, color="grey", linewidth=1)
        bottom.set_title("gain on the same labelled videos\n(paired by sample; all labels: "
                         "seeds, spreads combined)", fontsize=8)
        bottom.set_xscale("log")
        # the sizes as plain numbers (1, 2, 5, 10, ...), not as powers of ten
        sizes = sorted(set(d["videos_per_class"]))
        bottom.set_xticks(sizes, [f"{v:g}" for v in sizes])
        bottom.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        bottom.set_xlabel("labelled training videos per class (log scale)")
    src = cfg.get("data_source", "unknown")
    ext = "; ".join(sorted(set(df["extractor"])))
    fig.suptitle(f"Figure 12 (config {cfg.get('config_name')}, {src} data, extractor {ext}); "
                 "error bars: std over labelled-set samples within a split", fontsize=9)
    fig.tight_layout()
    paths = [out_dir / "figure12.csv"]
    for ext_, meta in (("png", {"Software": None}),
                       ("pdf", {"Creator": None, "Producer": None, "CreationDate": None})):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext_, dpi=120, metadata=meta)
        atomic_write_bytes(out_dir / f"figure12.{ext_}", buf.getvalue())
        paths.append(out_dir / f"figure12.{ext_}")
    plt.close(fig)
    return paths
