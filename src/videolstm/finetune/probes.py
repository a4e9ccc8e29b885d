"""Linear probes: what a pretrained encoder's state tells a few labels, beside no learning.

Control (b) asks whether a Composite-initialised classifier beats a random one with 1-2 labelled
videos per class; this table asks the same of the encoder's state read by a linear classifier
(no fine-tuning), beside features that need no learning. For each dataset and split, every
video gets three feature vectors:
- `pretrained`: the pretrained encoder (finetune.pretrained, on the RGB stream's domain) run over
  each `block`-frame window (stride `stride`, as the classifiers are scored); its final state
  (h and c of every layer) averaged over the windows;
- `random LSTM` (no learning): the same with a freshly initialised LSTM of the same shape, one
  per labelled-set sample (sample s of every split: the same LSTM);
- `mean percept` (no learning): the video's mean percept.
A multinomial logistic regression (standardised inputs) is trained on `sizes` labelled videos per
class (the split's training videos, `samples` samples per size; "all": every training video) and
scored on the split's test videos, for the class. Accuracy is per video; ours = mean over splits
of the mean over samples, spread = mean over splits of the standard deviation over samples.
"""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from videolstm.errors import UserError
from videolstm.finetune.data import (
    LabelledVideos,
    Percepts,
    balanced_sample,
    eval_blocks,
    read_labelled_videos,
    read_percepts,
    split_test_videos,
)
from videolstm.io import atomic_write_text
from videolstm.lstm import StackedLSTM

FEATURES = ["pretrained", "random LSTM", "mean percept"]
COLUMNS = ["dataset", "classes", "size", "feature", "accuracy", "spread", "splits",
           "samples"]


def settings(cfg: dict) -> dict:
    """The `probes` section (config/config.yaml holds its values; the schema requires them)."""
    return cfg.get("probes") or {}


@torch.no_grad()
def video_states(lstm: StackedLSTM, percepts: Percepts, block: int, stride: int,
                 chunk: int = 256, device: torch.device | str = "cpu") -> np.ndarray:
    """(V, 2 x layers x hidden) float64: each video's final LSTM state averaged over its windows
    (computed in float32 on `device`)."""
    lstm = lstm.float().eval().to(device)
    videos = np.arange(len(percepts.offsets) - 1)
    idx, owner = eval_blocks(percepts, videos, block, stride)
    out = np.zeros((len(videos), 2 * lstm.num_layers * lstm.hidden))
    for a in range(0, len(idx), chunk):
        x = torch.from_numpy(np.asarray(percepts.frames[idx[a:a + chunk].ravel()], np.float32))
        x = x.to(device).view(-1, block, percepts.dim).transpose(0, 1)  # (T, N, D)
        _, states = lstm(x)
        final = torch.cat([t for s in states for t in s], dim=1).double().cpu().numpy()
        np.add.at(out, owner[a:a + chunk], final)
    return out / np.bincount(owner, minlength=len(videos))[:, None]


def mean_percepts(percepts: Percepts) -> np.ndarray:
    """(V, D) float64: each video's mean percept (one video in float64 at a time: the frames of
    a real dataset do not fit in memory at once)."""
    o = percepts.offsets
    sums = np.stack([np.asarray(percepts.frames[o[v]:o[v + 1]], np.float64).sum(0)
                     for v in range(len(o) - 1)])
    return sums / percepts.lengths()[:, None]


def probe_accuracy(features: np.ndarray, labels: np.ndarray, train: np.ndarray,
                   test: np.ndarray) -> float:
    """Test accuracy (%) of a logistic regression trained on the `train` rows (standardised on
    them). A target with one value among the training rows predicts that value."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(labels[train])) < 2:
        return float(100.0 * np.mean(labels[test] == labels[train][0]))
    scaler = StandardScaler().fit(features[train])
    model = LogisticRegression(max_iter=2000)
    with warnings.catch_warnings():  # a few labelled videos are separable: lbfgs may not settle
        warnings.simplefilter("ignore")
        model.fit(scaler.transform(features[train]), labels[train])
    return float(100.0 * np.mean(model.predict(scaler.transform(features[test])) == labels[test]))


def split_rows(data: LabelledVideos, split: int, features: dict[str, list[np.ndarray]],
               sizes: list, samples: int, seed: int, dataset: str) -> list[dict]:
    """One row per (size, feature, sample) of one split. `features[name][s]` is the
    feature matrix of sample s (one matrix for a feature that does not vary with the sample)."""
    test = split_test_videos(data, split)
    rows = []
    for size in sizes:
        per_class = None if str(size) == "all" else int(size)
        for s in range(1 if per_class is None else samples):
            train = balanced_sample(data, split, per_class, s, seed, tag=f"probes/{dataset}")
            for name, mats in features.items():
                acc = probe_accuracy(mats[s % len(mats)], data.labels, train, test)
                rows.append({"dataset": dataset, "classes": len(data.class_names),
                             "size": str(size), "feature": name, "split": split, "sample": s,
                             "accuracy": acc})
    return rows


def dataset_split_rows(cfg: dict, dataset: str, split: int, index: str | Path,
                       stem: str | Path, checkpoint: str | Path,
                       cache: dict | None = None) -> list[dict]:
    """Every probe of one dataset and split (module docstring), on the RGB percepts `stem`
    (`{stem}.npy` ...). `cache` keeps the features of
    each (percept file, checkpoint) pair: the RGB percepts and their encoder are shared by the
    splits, so their states are computed once (the random LSTMs' seeds do not depend on the
    split either)."""
    from videolstm.config import configured_device
    from videolstm.devices import pick_device
    from videolstm.finetune.engine import TrainConfig
    from videolstm.finetune.sweep import fresh_lstm, load_encoder_lstm

    pcfg, ft = settings(cfg), cfg["finetune"]
    seed = int(cfg.get("seed", 0))
    lstm_cfg = TrainConfig.from_dict(ft.get("lstm"))
    data = read_labelled_videos(index)
    cache = {} if cache is None else cache
    key = (str(stem), str(checkpoint))
    if key not in cache:
        percepts = read_percepts(stem, data.videos)
        encoder, init = load_encoder_lstm(Path(checkpoint))
        shape = (encoder.input_dim, encoder.hidden, encoder.num_layers)
        device = pick_device(configured_device(cfg))

        def state(lstm: StackedLSTM) -> np.ndarray:
            return video_states(lstm, percepts, lstm_cfg.block, lstm_cfg.stride, device=device)

        cache[key] = {
            "pretrained": [state(encoder)],
            "random LSTM": [state(fresh_lstm(shape, encoder.cell, init, seed * 1000 + s))
                            for s in range(int(pcfg["samples"]))],
            "mean percept": [mean_percepts(percepts)],
        }
    return split_rows(data, split, cache[key], pcfg["sizes"], int(pcfg["samples"]), seed,
                      dataset)


def table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean over splits of each split's mean over samples; spread: mean over splits of the
    standard deviation over samples."""
    keys = ["dataset", "classes", "size", "feature"]
    per_split = rows.groupby([*keys, "split"], sort=False)["accuracy"].agg(
        mean="mean", sd=lambda a: float(np.std(a)), n="size").reset_index()
    out = per_split.groupby(keys, sort=False).agg(
        accuracy=("mean", "mean"), spread=("sd", "mean"), splits=("split", "nunique"),
        samples=("n", "min")).reset_index()
    return out[COLUMNS]


def render_md(df: pd.DataFrame, cfg: dict, variant: str, extractor: str) -> str:
    pcfg = settings(cfg)
    sizes = [str(s) for s in pcfg["sizes"]]
    lines = [
        "# probes: what the pretrained encoder's state tells a few labels", "",
        f"> Config: {cfg.get('config_name', 'unknown')}. Data: {cfg.get('data_source', 'unknown')}."
        f" Percept extractor: {extractor}. Pretrained encoder: {variant} (RGB stream).",
        f"> A logistic regression on each video's features, trained on n labelled videos per class "
        f"(splits {', '.join(map(str, pcfg['splits']))}; {pcfg['samples']} samples per size, one "
        "at 'all'), scored on the split's test videos: accuracy (%) = mean over splits of the "
        "mean over samples, +- the mean over splits of the standard deviation over samples (none "
        "at 'all': one labelled set). "
        "Features: the encoder's final state averaged over the video's windows ('pretrained'); "
        "the same with a randomly initialised LSTM ('random LSTM', no learning); the video's mean "
        "percept ('mean percept', no learning). Target: the class. Computed by "
        "videolstm.finetune.probes.", "",
        "| dataset | chance | features | " + " | ".join(f"n = {s}" for s in sizes) + " |",
        "| --- | ---: | --- | " + " | ".join("---:" for _ in sizes) + " |",
    ]
    for (dataset, feature), g in df.groupby(["dataset", "feature"], sort=False):
        cells = {r.size: f"{r.accuracy:.1f}" + (f" +- {r.spread:.1f}" if r.samples > 1 else "")
                 for r in g.itertuples()}
        lines.append(f"| {dataset} | {100.0 / int(g['classes'].iloc[0]):.1f} | "
                     f"{feature} | " + " | ".join(cells.get(s, "") for s in sizes) + " |")
    return "\n".join(lines) + "\n"


def write(rows: pd.DataFrame, cfg: dict, out_dir: str | Path, variant: str,
          extractor: str) -> list[Path]:
    df = table(rows)
    buf = io.StringIO()
    df.assign(config=cfg.get("config_name", "unknown"),
              data_source=cfg.get("data_source", "unknown")).to_csv(
        buf, index=False, float_format="%.6g", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    out_dir = Path(out_dir)
    paths = [out_dir / "probes.csv", out_dir / "probes.md"]
    atomic_write_text(paths[0], buf.getvalue())
    atomic_write_text(paths[1], render_md(df, cfg, variant, extractor))
    return paths


def probe_files(cfg: dict, results: str | Path) -> list[tuple[str, int, str, str, str]]:
    """(dataset, split, index CSV, RGB percept stem, pretrained checkpoint) of every probe
    (none when `probes` is not configured)."""
    from videolstm.finetune.runs import checkpoint_path, stream_domain
    from videolstm.video.scope import percept_name

    pcfg, ft = settings(cfg), cfg.get("finetune") or {}
    if not pcfg:
        return []
    rgb = ft["streams"]["rgb"]
    variant = ft.get("pretrained", "composite")
    return [(d, s, f"{results}/data/index/{d}.csv",
             f"{results}/percepts/{d}/{percept_name(rgb['kind'], s)}",
             str(checkpoint_path(f"{results}/pretrain", stream_domain(rgb, s), variant)))
            for d in pcfg["datasets"] for s in pcfg["splits"]]


def inputs(cfg: dict, results: str | Path) -> dict[str, list[str]]:
    """The files the probes read under `results` (also the Snakemake rule's inputs)."""
    files = probe_files(cfg, results)
    if not files:
        return {}
    return {
        "index": sorted({index for _, _, index, _, _ in files}),
        "percepts": sorted({f"{stem}{e}" for _, _, _, stem, _ in files
                            for e in (".npy", ".offsets.npy", ".json")}),
        "checkpoints": sorted({ckpt for *_, ckpt in files}),
    }


def run(cfg: dict, results: str | Path, out_dir: str | Path, log=print) -> list[Path]:
    """Every probe of the `probes` section, into {out_dir}/probes.csv and .md."""
    ft = cfg["finetune"]
    rgb_datasets = ft["streams"]["rgb"].get("datasets", [])
    files = probe_files(cfg, results)
    rows, cache = [], {}
    for dataset, split, index, stem, ckpt in files:
        if dataset not in rgb_datasets:
            raise UserError(f"probes.datasets: {dataset} is not a dataset of the rgb stream "
                            f"(finetune.streams.rgb.datasets: {rgb_datasets})")
        got = dataset_split_rows(cfg, dataset, split, index, stem, ckpt, cache)
        rows += got
        log(f"{dataset} split {split}: {len(got)} probes")
    extractors = {str(read_percepts(stem).meta.get("extractor", "unknown")) for *_, stem, _ in files}
    return write(pd.DataFrame(rows), cfg, out_dir, ft.get("pretrained", "composite"),
                 "; ".join(sorted(extractors)))
