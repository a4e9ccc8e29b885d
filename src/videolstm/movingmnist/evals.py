"""Evaluation and baseline JSONs as table cells: reading and checking them, the trivial
baselines' rows, the 'not learned' flag and the provenance every Moving MNIST table carries."""

from __future__ import annotations

import json
from pathlib import Path

from videolstm.baselines import BASELINES
from videolstm.errors import UserError
from videolstm.tables import TABLE2_RUNS

BASELINE_TITLES = tuple(BASELINES.values())


def read_eval(path: str) -> dict:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"evaluation file {p} does not exist; run its mnist_eval step first")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(
            f"evaluation file {p} is not valid JSON ({exc}); delete it and rerun") from exc


def metric(ev: dict, key: str, path: str) -> float:
    value = ev.get("metrics", {}).get(key)
    if value is None:
        raise UserError(f"evaluation file {path} has no metric {key!r} (variant "
                        f"{ev.get('variant')!r}); it cannot fill this table cell")
    return float(value)


def check_variant(ev: dict, run: str, path: str, flag: str) -> None:
    """A Table 2 row holds the evaluation of its own model: `composite=` must name an evaluation
    of a composite model (its JSON records the variant; `mnist-eval` and `sequence-eval` write it)."""
    found = ev.get("variant")
    if found != run:
        what = (f"is of a {found!r} model" if found else
                "records no variant (written by an older version; rerun its evaluation step)")
        raise UserError(f"{flag} {run}={path}: that evaluation {what}, but the row "
                        f"'{TABLE2_RUNS[run]}' takes a {run!r} model's evaluation; pass "
                        f"{run}=<the {run} run's evaluation JSON>")


def table_provenance(cfg: dict, **extra) -> dict:
    """The header every Moving MNIST table carries (config, data; no percept extractor)."""
    for key in ("config_name", "data_source"):
        if key not in cfg:
            raise UserError(f"--cfg lacks '{key}'")
    from videolstm.tables import provenance

    return provenance(cfg, "none (Moving MNIST pixels)", **extra)


def baseline_rows(path: str | None, column: str, metrics: dict[str, str]) -> list[dict]:
    """Rows of the trivial baselines in a baselines JSON: metric key -> table column."""
    if not path:
        return []
    ev = read_eval(path)
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


def flag_unlearned(df, columns: list[str]):
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


def provenance_of_test_set(cfg: dict) -> dict:
    """Which test set the cells were scored on, and its digits."""
    from videolstm.movingmnist.digits import digits_description

    out = {"test_set": "Moving MNIST test set"}
    if "mnist" in cfg:
        out["digits"] = digits_description(cfg["mnist"].get("digits", {}))
        test_file = (cfg["mnist"].get("eval") or {}).get("test_file")
        if test_file:  # its digits are not ours to vouch for
            out["test_set"] = f"user file {Path(test_file).name} (its digits are not known)"
    return out
