"""The paper's claims, checked: one row per finding, the paper's effect, ours with its standard
error, and a verdict from one rule (`verdict`).

Every claim is a difference "A - B" computed the same way from the paper's numbers
(resources/paper_numbers.csv) and from ours; the claim holds when ours has the paper's sign.
Inputs live under one results root, as the pipeline writes them: the committed tables
(tables/table{1,2,3,4}.csv, tables/labreport.csv, figures/figure12.csv), which each row names
as its artifact, and for paired standard errors the per-sequence losses of eval/*/*.json.

Standard errors (SE):
- Moving MNIST, patches, lab report, Figures 7/8: two models scored on the same test sequences,
  so the SE of the paired differences d_i: std(d, ddof=1) / sqrt(N).
- Action recognition (Tables 1, 3, 4, Figure 12): a cell is the mean over S splits of the mean
  over samples; its `spread` is the within-split std (ddof 0) and n the number of runs, so
  SE(cell) = spread / sqrt(n - S) (the ddof-1 std of the mean with n/S samples per split, averaged
  over splits). Two cells whose runs share labelled sets (the same split and sample: every
  classifier of a sample is trained on the same labelled videos, finetune.data.balanced_sample)
  are compared paired, from the cells' `per_sample` runs: d = A - B per (split, sample) and
  SE(A - B) = spread(d) / sqrt(n_pairs - S), spread(d) the within-split std of d (ddof 0)
  averaged over splits, as the controls pair them. With all labels the runs are training seeds
  (one labelled set), which share nothing pairwise: unpaired, sqrt(SE(A)^2 + SE(B)^2), as where
  the runs are not listed or the two cells do not list the same runs (two or more per split);
  with one run per split, the SE over the splits' paired means.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from videolstm.baselines import LEARNED_MARGIN
from videolstm.io import atomic_write_text
from videolstm.tables import PAPER_NUMBERS, TABLE2_RUNS

REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_RUN = "reproduced", "contradicted", "inconclusive", "not run"
Z = 2.0  # an effect counts when it exceeds this many standard errors
PARTS = ("mnist", "labreport", "video")
# the generated block of the claims page (docs/claims.md, linked from the README)
README_BEGIN, README_END = "<!-- claims:begin -->", "<!-- claims:end -->"

# Table 2's rows and columns as `videolstm table2` writes them (tests check they agree)
T2_ROWS = TABLE2_RUNS
T2_COLS = {"mnist": "Cross Entropy on MNIST", "patches": "Squared loss on image patches"}


def contradiction_z(picked_from: int = 1) -> float:
    """SEs a contradiction must exceed when B is the best of `picked_from` rows by our own numbers.
    Picking the best makes B look better than it is (the winner's curse), which helps exactly the
    'A is worse than the best other' direction; the union bound over the rows keeps its false
    rate at most at that of one comparison at Z. (The paper's direction, A beats the best, asks A
    to beat every other row by Z SEs of that pair, `verdict`'s rivals: an intersection-union
    test, whose false rate is at most one comparison's whatever the rows' SEs.) Every claim that
    picks states the paper's direction as 'A beats the best' (_check_pick)."""
    if picked_from <= 1:
        return Z
    return statistics.NormalDist().inv_cdf(1 - statistics.NormalDist().cdf(-Z) / picked_from)


def verdict(effect: float | None, se: float | None, expected_sign: int, *, ran: bool = True,
            learned: bool = True, fair: bool = True, picked_from: int = 1,
            rivals: Iterable[tuple[float, float | None]] = ()) -> str:
    """The one rule. Not run: no result. Inconclusive: no spread estimate (or a zero one), a model
    compared that did not learn (it tests neither direction), a winner that also had the larger
    training budget (`fair` False: the budget may explain the difference), or |effect| <= Z * SE
    (contradiction_z(picked_from) * SE against the paper's sign, where B is the best of several).
    Otherwise reproduced when the effect has the paper's sign, contradicted when it has the other;
    where B was picked from several, reproduced needs A to beat each of them, `rivals` (A's
    effect over that row, the pair's SE), by Z SEs too (the intersection-union test)."""
    if not ran or effect is None or not math.isfinite(effect):
        return NOT_RUN
    if not (learned and fair) or se is None or not math.isfinite(se) or se <= 0:
        return INCONCLUSIVE
    papers_sign = (effect > 0) == (expected_sign > 0)
    if abs(effect) <= (Z if papers_sign else contradiction_z(picked_from)) * se:
        return INCONCLUSIVE
    if papers_sign and not all(_beats(e, s, expected_sign) for e, s in rivals):
        return INCONCLUSIVE
    return REPRODUCED if papers_sign else CONTRADICTED


def _beats(effect: float, se: float | None, expected_sign: int) -> bool:
    """A's effect over one row has the paper's sign beyond Z of the pair's SE."""
    return (se is not None and math.isfinite(se) and se > 0
            and effect * expected_sign > Z * se)


def why_inconclusive(found: Finding, expected_sign: int) -> str:
    """The first reason `verdict` found, in a few words (the claims summary shows it)."""
    if not found.learned:
        return "a compared model did not learn"
    if not found.fair:
        return "the better model trained longer"
    if found.se is None or not math.isfinite(found.se) or found.se <= 0:
        return "no spread estimate"
    if found.effect is not None and abs(found.effect) > Z * found.se:
        if (found.effect > 0) != (expected_sign > 0):
            return (f"within {contradiction_z(found.picked_from):.2f} SE, the bar for worse than "
                    f"the best of {found.picked_from}")
        row, (effect, se) = next((r, v) for r, v in found.rivals.items()
                                 if not _beats(*v, expected_sign))
        return (f"beats the best by {Z:g} SE but not {row} by {Z:g} of that pair's SE ("
                f"{_fmt_effect(effect, se)})")
    return f"within {Z:g} SE"


@dataclass
class Finding:
    """Our side of a claim: the effect A - B, its SE, and why it may not count."""

    effect: float | None = None
    se: float | None = None
    ran: bool = True
    learned: bool = True
    fair: bool = True
    picked_from: int = 1  # B is the best of this many rows by our own numbers (contradiction_z)
    # where B was picked: A's effect over each of the rows, with that pair's SE (verdict)
    rivals: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def check_budget(self, steps: dict[str, int | None], winner: str, loser: str) -> None:
        """Training steps of the two runs compared: when the better one also trained longer, the
        comparison cannot tell the model from the budget."""
        if steps.get(winner) is None or steps.get(loser) is None or steps[winner] == steps[loser]:
            return
        note = f"{winner} trained {steps[winner]} steps, {loser} {steps[loser]}"
        if steps[winner] > steps[loser]:
            self.fair = False
            note += ": the better model also trained longer, so the budget may explain it"
        self.notes.append(note)


def not_run(note: str) -> Finding:
    return Finding(ran=False, notes=[note])


def paired_se(a: list[float], b: list[float]) -> float | None:
    """SE of the mean of paired differences a_i - b_i (same test sequences)."""
    if len(a) != len(b) or len(a) < 2:
        return None
    d = [x - y for x, y in zip(a, b, strict=True)]
    m = sum(d) / len(d)
    return math.sqrt(sum((x - m) ** 2 for x in d) / (len(d) - 1) / len(d))


def combined_se(*ses: float | None) -> float | None:
    """SE of a sum or difference of independent estimates; None if any is unknown."""
    if any(s is None or not math.isfinite(s) for s in ses):
        return None
    return math.sqrt(sum(s * s for s in ses))


# -- reading the results --------------------------------------------------------------------


def _num(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is None or math.isfinite(value) else None


def read_table(path: Path) -> dict[tuple[str, str], dict] | None:
    """A table CSV (tables.write_table) as {(row, column): cell}; None when the file is missing."""
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as fh:
        return {(r["row"], r["column"]): r for r in csv.DictReader(fh)}


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def paper_value(artifact: str, row: str, column: str) -> float:
    with open(PAPER_NUMBERS, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if (r["artifact"], r["row"], r["column"]) == (artifact, row, column):
                return float(r["value"])
    raise KeyError(f"paper_numbers.csv has no cell {artifact} / {row} / {column}")


def mean_se(spread: float | None, n: float | None, splits: int) -> float | None:
    """SE of a mean over splits of per-split means: spread / sqrt(n - S) (module docstring);
    None without a spread or with one run per split."""
    if spread is None or n is None or n - splits < 1:
        return None
    return spread / math.sqrt(n - splits)


def per_split_values(cell: dict) -> dict[int, float]:
    """Each split's mean of a table cell, from its `per_split` text ('split 1: 12.50, ...')."""
    return {int(k): float(v) for k, v in
            re.findall(r"split (\d+): (-?[0-9.]+)", cell.get("per_split") or "")}


def split_paired_se(a: dict, b: dict) -> float | None:
    """SE of the mean over splits of the per-split difference A_s - B_s (same split, same test
    videos): for cells with one run per split, whose spread is unknown. None under 2 splits."""
    pa, pb = per_split_values(a), per_split_values(b)
    common = sorted(set(pa) & set(pb))
    return paired_se([pa[s] for s in common], [pb[s] for s in common])


def per_sample_values(cell: dict) -> dict[tuple[int, int], float]:
    """Each run's value by (split, sample), from a cell's `per_sample` text
    ('split 1: 0=25.00, 1=31.25; split 2: ...', videolstm.finetune.report.per_sample_text).
    A value that is not a finite number is kept as nan (sample_paired_se then does not pair)."""
    out = {}
    for split, part in re.findall(r"split (\d+): ([^;]*)", cell.get("per_sample") or ""):
        # 'seed k=' (all labels: training seeds, which share nothing pairwise) is never paired
        for sample, text in re.findall(r"(?<!seed )\b(\d+)=([^,;\s]+)", part):
            value = _num(text)
            out[(int(split), int(sample))] = value if value is not None else math.nan
    return out


def sample_paired_se(a: dict, b: dict) -> tuple[float | None, int, int]:
    """SE of A - B paired by (split, sample) (module docstring): (SE, pairs, splits). Only when
    the two cells list the same runs, every value finite, at least two per split, so that the
    effect (the difference of the cells' means) is the mean of exactly these pairs; otherwise
    (None, pairs, splits) and the caller falls back to the unpaired SE."""
    pa, pb = per_sample_values(a), per_sample_values(b)
    by_split: dict[int, list[float]] = {}
    for key in sorted(set(pa) & set(pb)):
        by_split.setdefault(key[0], []).append(pa[key] - pb[key])
    pairs, splits = sum(map(len, by_split.values())), len(by_split)
    complete = (pa and set(pa) == set(pb) and all(map(math.isfinite, [*pa.values(), *pb.values()]))
                and all(len(d) > 1 for d in by_split.values()))
    if not complete:
        return None, pairs, splits
    stds = [statistics.pstdev(d) for d in by_split.values()]  # within-split std, ddof 0
    return mean_se(statistics.fmean(stds), pairs, splits), pairs, splits


def cell_se(cell: dict) -> float | None:
    """SE of an action-recognition table cell (its splits are named in `per_split`)."""
    splits = max(1, len(re.findall(r"split \d+:", cell.get("per_split") or "")))
    return mean_se(_num(cell.get("spread")), _num(cell.get("n")), splits)


# -- the claims -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    id: str
    short: str          # the claims summary's words
    claim: str          # one sentence; how a vague statement was made measurable
    where: str          # the paper's table or figure
    part: str           # the config part that produces it (mnist, labreport, video)
    artifact: str       # the committed file it is read from, relative to the results root
    paper: str          # the paper's effect, as text
    paper_num: float | None  # the paper's effect as a number (None: a figure, no number)
    expected_sign: int  # +1 / -1: the sign of the paper's effect
    unit: str
    measure: Callable[[Path], Finding]


def _diff_text(a: str, b: str, value: float, unit: str, decimals: int = 1) -> str:
    return f"{a} − {b} = {value:+.{decimals}f} {unit}".rstrip()


def _best(values: dict[str, float], lower_is_better: bool) -> str:
    return (min if lower_is_better else max)(sorted(values), key=values.get)


def _check_pick(cid: str, others: tuple[str, ...], effect: float, better_sign: int) -> None:
    """contradiction_z raises the bar against the paper's sign: right only when the paper's sign
    is 'A beats the best other', which a claim that picks its B must state."""
    if len(others) > 1 and (effect > 0) != (better_sign > 0):
        raise ValueError(f"claim {cid}: the paper's effect {effect:+g} does not say that A beats "
                         "the best other; the contradiction bar would guard the wrong direction")


def _t2_claim(cid: str, domain: str, a: str, others: tuple[str, ...], short: str, sentence: str,
              ) -> Claim:
    """Table 2: future loss of row `a` minus the best of `others` (lower is better)."""
    col = T2_COLS[domain]
    paper = {r: paper_value("table2", T2_ROWS[r], col) for r in (a, *others)}
    best = _best({r: paper[r] for r in others}, lower_is_better=True)
    effect = paper[a] - paper[best]
    _check_pick(cid, others, effect, -1)
    unit = "CE per frame" if domain == "mnist" else "squared error per frame"
    b_text = T2_ROWS[best] if len(others) == 1 else f"best other ({T2_ROWS[best]})"
    return Claim(cid, short, sentence, f"Table 2, {col}", "mnist" if domain == "mnist" else "video",
                 "tables/table2.csv", _diff_text(T2_ROWS[a], b_text, effect, unit), effect, -1, unit,
                 lambda root: _measure_t2(root, domain, a, others))


def _compare_cells(path: Path, column: str, names: dict[str, str], a: str, others: tuple[str, ...],
                   lower_is_better: bool):
    """A's cell against the best of `others` in one column of a table (rows named `names[r]` or
    r): (table, cells, ours, best, Finding with the effect), or a 'not run' Finding."""
    table = read_table(path)
    if table is None:
        return not_run(f"{path.parent.name}/{path.name} was not produced in this results folder")
    cells = {r: table.get((names.get(r, r), column)) for r in (a, *others)}
    if any(c is None or c["status"] != "ours" for c in cells.values()):
        return not_run(f"cells of column {column} are 'not run' in this configuration")
    ours = {r: float(c["ours"]) for r, c in cells.items()}
    best = _best({r: ours[r] for r in others}, lower_is_better=lower_is_better)
    found = Finding(effect=ours[a] - ours[best], picked_from=len(others))
    if len(others) > 1:
        found.notes.append(f"best other: {names.get(best, best)}")
    return table, cells, ours, best, found


def _measure_t2(root: Path, domain: str, a: str, others: tuple[str, ...]) -> Finding:
    col = T2_COLS[domain]
    picked = _compare_cells(root / "tables" / "table2.csv", col, T2_ROWS, a, others, True)
    if isinstance(picked, Finding):
        return picked
    table, cells, ours, best, found = picked
    for r in (a, best):
        if cells[r]["flag"]:
            found.learned = False
            found.notes.append(f"{T2_ROWS[r]} is flagged '{cells[r]['flag']}' (not below "
                               f"{LEARNED_MARGIN} x the no-learning baselines): the comparison "
                               "tests nothing")
    # the SE comes from per-sequence losses of the very runs in the table (checked by their means)
    per_seq, why, steps = {}, {}, {}
    for r in (a, *others):
        per_seq[r], why[r], steps[T2_ROWS[r]] = _sequence_losses(root, domain, r, ours[r])
    missing = next((why[r] for r in (a, best) if why[r]), "")
    if missing:
        found.notes.append(f"no SE: {missing}; rerun the evaluations (snakemake) to get one")
        return found
    found.se = paired_se(per_seq[a], per_seq[best])
    found.notes.append(f"SE paired over {len(per_seq[a])} test sequences")
    if len(others) > 1:  # a rival without usable losses has no SE: A cannot be shown to beat it
        found.rivals = {T2_ROWS[r]: (ours[a] - ours[r], paired_se(per_seq[a], per_seq[r])
                                     if per_seq[r] else None) for r in others}
        found.notes += [f"no SE against {T2_ROWS[r]}: {why[r]}" for r in others if why[r]]
    lower = found.effect < 0
    found.check_budget(steps, T2_ROWS[a] if lower else T2_ROWS[best],
                       T2_ROWS[best] if lower else T2_ROWS[a])
    return found


def _sequence_losses(root: Path, domain: str, run: str, mean: float,
                     ) -> tuple[list[float] | None, str, int | None]:
    """A run's per-sequence future losses from eval/, if they are the run in Table 2 (their mean
    is the table's `mean`): (losses or None, why not, the run's step)."""
    ev = read_json(root / "eval" / domain / f"{run}.json")
    losses = (ev or {}).get("per_sequence", {}).get("future_loss")
    if not losses:
        return None, f"no per-sequence losses in eval/{domain}/{run}.json", (ev or {}).get("step")
    if not math.isclose(sum(losses) / len(losses), mean, rel_tol=1e-5):
        return None, f"eval/{domain}/{run}.json is not the run in Table 2 (its mean differs)", \
            ev.get("step")
    return losses, "", ev.get("step")


def _lab_rows(table: dict) -> tuple[dict[int, float], float | None]:
    fc, conv = {}, None
    for (row, _), cell in table.items():
        if cell["status"] != "ours":
            continue
        m = re.match(r"FC-LSTM autoencoder (\d+) units", row)
        if m:
            fc[int(m.group(1))] = float(cell["ours"])
        elif row.startswith("ConvLSTM"):
            conv = float(cell["ours"])
    return fc, conv


def _lab_per_seq(root: Path, want: str | int) -> tuple[list[float] | None, float | None,
                                                       int | None]:
    """Per-sequence reconstruction MSE per pixel of the lab-report run `want` (hidden size or
    'convlstm'), its mean as the table reports it, and the run's training steps."""
    for path in sorted((root / "eval" / "labreport").glob("*.json")):
        ev = read_json(path) or {}
        mc = ev.get("model_config", {})
        is_it = (ev.get("variant") == "convlstm") if want == "convlstm" else (
            ev.get("variant") != "convlstm" and int(mc.get("hidden", -1)) == want)
        if is_it:
            frames = ev.get("per_sequence", {}).get("recon_mse_per_frame")
            if not frames:
                return None, None, None
            per_pixel = [v / int(mc["input_dim"]) for v in frames]
            return per_pixel, sum(per_pixel) / len(per_pixel), ev.get("step")
    return None, None, None


def _mean_frame_mse_per_pixel(root: Path) -> float | None:
    """What predicting the mean training frame scores per pixel on the Moving MNIST test set
    (its future frames; the process is stationary, so input frames are alike): the lab report's
    no-learning reference."""
    base = (read_json(root / "eval" / "baselines" / "mnist.json") or {}).get("baselines", {})
    mse = (base.get("mean_frame") or {}).get("future_mse_per_frame")
    sets = read_json(root / "data" / "moving_mnist" / "sets.json") or {}
    size = int((sets.get("generator") or {}).get("image_size", 64))
    return None if mse is None else float(mse) / (size * size)


def _measure_lab(root: Path, conv: bool) -> Finding:
    table = read_table(root / "tables" / "labreport.csv")
    if table is None:
        return not_run("the lab report's table was not produced in this results folder")
    fc, conv_value = _lab_rows(table)
    if len(fc) < (1 if conv else 2) or (conv and conv_value is None):
        return not_run("the lab report's table has too few of our runs for this comparison")
    big, small = max(fc), min(fc)
    a, b = ("convlstm", big) if conv else (big, small)
    va, vb = (conv_value, fc[big]) if conv else (fc[big], fc[small])
    found = Finding(effect=va - vb, notes=[f"FC sizes: {big} vs {small} units" if not conv
                                           else f"FC-LSTM of {big} units (the largest)"])
    reference = _mean_frame_mse_per_pixel(root)
    if reference is not None:  # an autoencoder no better than the mean frame tests nothing
        for name, value in ((a, va), (b, vb)):
            if value >= LEARNED_MARGIN * reference:
                found.learned = False
                found.notes.append(
                    f"{'ConvLSTM' if name == 'convlstm' else f'FC {name} units'} ({value:.5f}) is "
                    f"not below {LEARNED_MARGIN} x the mean training frame's MSE per pixel "
                    f"({reference:.5f}, eval/baselines/mnist.json): it did not learn")
    (sa, ma, na), (sb, mb, nb) = _lab_per_seq(root, a), _lab_per_seq(root, b)
    if sa is None or sb is None:
        found.notes.append("no SE: no per-sequence losses in eval/labreport/; rerun the "
                           "evaluations (snakemake) to get one")
    elif not (math.isclose(ma, va, rel_tol=1e-5) and math.isclose(mb, vb, rel_tol=1e-5)):
        found.notes.append("no SE: eval/labreport/ is not the run in the table (means differ)")
    else:
        found.se = paired_se(sa, sb)
        found.notes.append(f"SE paired over {len(sa)} test sequences")
        names = {a: "ConvLSTM" if a == "convlstm" else f"FC {a} units", b: f"FC {b} units"}
        win, lose = (a, b) if found.effect < 0 else (b, a)
        found.check_budget({names[a]: na, names[b]: nb}, names[win], names[lose])
    return found


def _cells_claim(cid: str, short: str, sentence: str, where: str, artifact: str, table: str,
                 column: str, a: str, others: tuple[str, ...]) -> Claim:
    """An action-recognition comparison: accuracy of row `a` minus the best of `others`."""
    paper = {r: paper_value(table, r, column) for r in (a, *others)}
    best = _best({r: paper[r] for r in others}, lower_is_better=False)
    b_text = best if len(others) == 1 else f"best other ({best})"
    effect = paper[a] - paper[best]
    _check_pick(cid, others, effect, +1)
    return Claim(cid, short, sentence, where, "video", artifact,
                 _diff_text(a, b_text, effect, "% accuracy"), effect, 1 if effect > 0 else -1,
                 "% accuracy", lambda root: _measure_cells(root, artifact, column, a, others))


# rows of the action tables whose classifier starts from a pretrained encoder: that run's name
ENCODER_ROWS = {
    "Composite LSTM Model + Finetuning": "composite", "Composite LSTM Model": "composite",
    "Composite Model": "composite", "Autoencoder": "autoencoder", "Future Predictor": "future",
    "Conditional Autoencoder": "cond_autoencoder", "Conditional Future Predictor": "cond_future",
    "Composite Model with Conditional Future Predictor": "composite_cond",
}


def _check_encoders(root: Path, found: Finding, rows: tuple[str, ...], column: str) -> None:
    """A compared classifier whose pretrained encoder did not learn (tables/percept_pretraining)
    tests nothing about pretraining: named as the reason, the comparison is not counted."""
    path = root / "tables" / "percept_pretraining.csv"
    if not path.is_file():
        return
    with open(path, newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    for row in rows:
        # Table 4 names the stream in the row ('... [RGB]', '[flow]', '[RGB+flow]'); a fused row
        # rests on both encoders. Which flow percepts '[flow]' is (flow or flow-stack) is in the
        # table's note, not its cells: every flow encoder is checked.
        base, _, streams = row.partition(" [")
        if streams:
            domains = set()
            for stream in streams.rstrip("]").lower().split("+"):
                domains |= ({"percepts_rgb"} if stream == "rgb"
                            else {"percepts_flow", "percepts_flowstack"})
        else:
            domains = {"percepts_flow" if "flow" in column.lower() else "percepts_rgb"}
        run = ENCODER_ROWS.get(base)
        bad = [r for r in table if r["run"] == run and r["learned"] != "True"
               and r["domain"].split("_split")[0] in domains]
        if bad:
            names = " and ".join(sorted({f"{r['domain'].split('_split')[0]}/{run}" for r in bad}))
            found.learned = False
            found.notes.append(
                f"{row}: its pretrained encoder ({names}) did not learn ("
                + "; ".join(f"{r['decoder']} {float(r['model']):.3g} vs no learning "
                            f"{min(float(r['mean_frame']), float(r['last_frame'])):.3g}"
                            for r in bad) + ", tables/percept_pretraining.csv)")


def _measure_cells(root: Path, artifact: str, column: str, a: str, others: tuple[str, ...],
                   ) -> Finding:
    picked = _compare_cells(root / artifact, column, {}, a, others, False)
    if isinstance(picked, Finding):
        return picked
    table, cells, ours, best, found = picked
    chance = next((_num(c["ours"]) for (r, col), c in table.items()
                   if col == column and r.startswith("Chance")), None)
    for r in (a, best):
        if chance is not None and ours[r] <= chance + 1e-9:
            found.learned = False
            found.notes.append(f"{r} is at or below chance ({chance:.1f}%): the comparison tests "
                               "nothing")
    _check_encoders(root, found, (a, best), column)
    found.se, note = _cells_se(cells[a], cells[best])
    found.notes.append(note)
    if len(others) > 1:
        found.rivals = {r: (ours[a] - ours[r], _cells_se(cells[a], cells[r])[0]) for r in others}
    return found


def _cells_se(a: dict, b: dict) -> tuple[float | None, str]:
    """SE of cell a minus cell b, and how it was found: paired by labelled-set sample where both
    list their runs, else unpaired from spread and n, else paired over splits."""
    se, pairs, splits = sample_paired_se(a, b)
    if se is not None:
        return se, (f"SE of the difference paired by labelled-set sample ({pairs} pairs over "
                    f"{splits} split(s))")
    n = [int(_num(c["n"]) or 0) for c in (a, b)]
    se = combined_se(cell_se(a), cell_se(b))
    if se is not None:
        return se, f"SE unpaired from spread and n (n = {n[0]}, {n[1]} runs)"
    se = split_paired_se(a, b)
    splits = len(set(per_split_values(a)) & set(per_split_values(b)))
    return se, (f"SE of the paired difference over {splits} splits (one run per split)"
                if se is not None else
                f"no SE: n = {n[0]}, {n[1]} runs (one per split or no spread) on {splits} "
                "split(s)")


def _fig12_claim(cid: str, dataset: str, paper_all: str) -> Claim:
    def p(model: str, col: str) -> float:
        return paper_value("figure12", model, f"{dataset} {col}")

    effect = ((p("Composite LSTM Model", "1 video/class") - p("Baseline LSTM", "1 video/class"))
              - (p("Composite LSTM Model", paper_all) - p("Baseline LSTM", paper_all)))
    return Claim(
        cid, f"pretraining helps most with the fewest labelled videos, {dataset}",
        f"On {dataset} RGB, the gain from Composite pretraining (pretrained LSTM - baseline LSTM) "
        "is larger with the fewest labelled videos per class than with all of them (the paper "
        "prints these two points of Figure 12).",
        "Figure 12", "video", "figures/figure12.csv",
        f"gain at 1 video/class − gain with all = {effect:+.1f} % accuracy", effect, 1,
        "% accuracy",
        lambda root: _measure_fig12(root, dataset))


def _measure_fig12(root: Path, dataset: str) -> Finding:
    path = root / "figures" / "figure12.csv"
    if not path.is_file():
        return not_run("Figure 12 was not produced in this results folder")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["dataset"] == dataset]
    models = ("Composite LSTM Model", "Baseline LSTM")
    pts = {(r["model"], float(r["videos_per_class"])): r for r in rows if r["model"] in models}
    sizes = sorted({v for (m, v) in pts if all((mm, v) in pts for mm in models)})
    if len(sizes) < 2:
        return not_run(f"Figure 12 has fewer than two labelled-set sizes for {dataset}")
    t1 = read_table(root / "tables" / "table1.csv") or {}
    splits = next((len(c["splits"].split(",")) for c in t1.values() if c.get("splits")), None)

    def gain(size: float) -> tuple[float, list[float | None], bool]:
        c, b = pts[(models[0], size)], pts[(models[1], size)]
        g = float(c["mean_acc"]) - float(b["mean_acc"])
        paired_se = sample_paired_se(c, b)[0]  # both models trained on the same labelled sets
        if paired_se is not None:
            return g, [paired_se], True
        # the number of splits is not in figure12.csv: Table 1 comes from the same runs
        ses = [mean_se(_num(r["std_acc"]), _num(r["n_runs"]), splits) if splits else None
               for r in (c, b)]
        return g, ses, False

    (g_few, se_few, p_few), (g_all, se_all, p_all) = gain(sizes[0]), gain(sizes[-1])
    split_paired = None
    if None in se_all:  # one run per split at 'all': the per-split gains in Table 1 (same runs)
        split_paired = _table1_gain_se(t1, dataset, g_all)
        se_all = [split_paired]
    found = Finding(effect=g_few - g_all, se=combined_se(*se_few, *se_all),
                    notes=[f"gain {g_few:+.2f} at {sizes[0]:g} vs {g_all:+.2f} at {sizes[-1]:g} "
                           "videos/class"])
    paired_at = [f"{v:g}" for v, p in ((sizes[0], p_few), (sizes[-1], p_all)) if p]
    if paired_at and found.se is not None:
        found.notes.append("each gain's SE paired by labelled-set sample at "
                           + " and ".join(paired_at) + " videos/class")
    if split_paired is not None and found.se is not None:
        found.notes.append("the gain with all labels: SE of its paired difference over the splits "
                           "(Table 1's per-split cells, one run per split)")
    if found.se is None:
        found.notes.append("no SE: a point has one run per split or no spread")
    _check_encoders(root, found, models, "rgb")
    return found


def _table1_gain_se(t1: dict, dataset: str, gain: float) -> float | None:
    """SE over splits of the pretraining gain with all labels, from Table 1's RGB cells (the
    runs Figure 12's last point averages); None when they are absent or not those runs."""
    column = f"{dataset} RGB"
    a, b = (t1.get((row, column)) for row in ("Composite LSTM Model + Finetuning",
                                              "LSTM classifier"))
    if a is None or b is None or not math.isclose(
            (_num(a["ours"]) or 0.0) - (_num(b["ours"]) or 0.0), gain, abs_tol=1e-3):
        return None
    return split_paired_se(a, b)


def _checks(root: Path) -> tuple[dict | None, str]:
    path = root / "eval" / "figures" / "mnist_checks.json"
    data = read_json(path)
    return data, ("" if data else "not measured in this results folder (eval/figures/"
                  "mnist_checks.json, written by rule mnist_figure_checks, is absent)")


def _measure_ood(root: Path, label: str) -> Finding:
    data, why = _checks(root)
    if data is None:
        return not_run(why)
    ood = data["out_of_domain"][label]
    a, b = ood["model_future_loss"], ood["mean_frame_future_loss"]
    effect = sum(a) / len(a) - sum(b) / len(b)
    return Finding(effect=effect, se=paired_se(a, b),
                   notes=[f"SE paired over {len(a)} sequences; baseline: {data['mean_frame_from']}"])


def _measure_rollout(root: Path, against_random: bool) -> Finding:
    data, why = _checks(root)
    if data is None:
        return not_run(why)
    ro = data["rollout"]
    trained, rand = ro["trained_activity"], ro["random_activity"]
    n = len(trained)
    mean_t = sum(trained) / n
    if against_random:
        return Finding(effect=mean_t - sum(rand) / n, se=paired_se(trained, rand),
                       notes=[f"activity trained {mean_t:.4f}, random {sum(rand) / n:.4f}; SE "
                              f"paired over {n} sequences; {ro['window']}"])
    sd = math.sqrt(sum((v - mean_t) ** 2 for v in trained) / (n - 1)) if n > 1 else None
    return Finding(effect=mean_t - ro["threshold"], se=sd / math.sqrt(n) if sd else None,
                   notes=[f"activity {mean_t:.4f} vs threshold {ro['threshold']}; outputs "
                          f"bounded by construction (|h| < 1), finite: {ro['finite']}, max |cell "
                          f"state| {ro['max_abs_cell']:.3g}; {ro['window']}; {n} sequences"])


def _t3_claims() -> list[Claim]:
    others = ("Autoencoder", "Future Predictor", "Conditional Autoencoder",
              "Conditional Future Predictor")
    out = []
    for k, col in enumerate(("UCF-101 small", "UCF-101", "HMDB-51 small", "HMDB-51"), 1):
        out.append(_cells_claim(
            f"T3-{k}", "Composite pretraining beats the other variants",
            f"On {col}, the Composite-pretrained classifier beats the best of the Autoencoder, "
            "Future Predictor and their conditional forms (the paper's 'at least as good as every "
            "other variant', made directional; the Composite with conditional future predictor "
            "ties it in the paper, +-0.1, so it is left out).",
            f"Table 3, {col}", "tables/table3.csv", "table3", col, "Composite Model", others))
    return out


def _t1_claims() -> list[Claim]:
    out = []
    for k, col in enumerate(("UCF-101 RGB", "HMDB-51 RGB"), 1):
        out.append(_cells_claim(
            f"T1-{k}", "LSTM classifier beats single frame",
            f"On {col} percepts, the LSTM classifier is more accurate than the single-frame "
            "classifier (logistic regression on single frames, averaged over the video).",
            f"Table 1, {col}", "tables/table1.csv", "table1", col, "LSTM classifier",
            ("Single Frame",)))
    for k, col in enumerate(("UCF-101 RGB", "HMDB-51 RGB"), 3):
        out.append(_cells_claim(
            f"T1-{k}", "Composite pretraining improves the LSTM classifier",
            f"On {col} percepts, initialising the LSTM classifier from the Composite Model "
            "improves its accuracy over random initialisation.",
            f"Table 1, {col}", "tables/table1.csv", "table1", col,
            "Composite LSTM Model + Finetuning", ("LSTM classifier",)))
    return out


def _t2_claims(domain: str, label: str, prefix: str) -> list[Claim]:
    return [
        _t2_claim(f"{prefix}1", domain, "composite", ("future",),
                  "Composite beats Future Predictor",
                  f"On {label}, the Composite Model predicts the future better (lower test loss) "
                  "than the Future Predictor."),
        _t2_claim(f"{prefix}2", domain, "cond_future", ("future",),
                  "conditioning the future decoder helps",
                  f"On {label}, the Conditional Future Predictor predicts better than the "
                  "(unconditioned) Future Predictor (the pair that isolates conditioning; the "
                  "Composite pair is part of the next claim)."),
        _t2_claim(f"{prefix}3", domain, "composite_cond", ("future", "composite", "cond_future"),
                  "Composite with conditional future predictor is best",
                  f"On {label}, the Composite Model with Conditional Future Predictor has the "
                  "lowest loss of the four models of Table 2."),
    ]


def all_claims() -> list[Claim]:
    lab = paper_value("labreport", "FC-LSTM autoencoder 2500 units", "Moving MNIST MSE") - \
        paper_value("labreport", "FC-LSTM autoencoder 500 units", "Moving MNIST MSE")
    return [
        *_t2_claims("mnist", "Moving MNIST", "T2-M"),
        *_t2_claims("patches", "image patches", "T2-P"),
        Claim("LR-1", "larger FC-LSTM autoencoders reconstruct better",
              "On Moving MNIST, the largest configured fully connected LSTM autoencoder "
              "reconstructs its input with lower MSE per pixel than the smallest.",
              "Lab report, Table 1", "labreport", "tables/labreport.csv",
              f"2500 units − 500 units = {lab:+.6f} MSE per pixel", lab, -1, "MSE per pixel",
              lambda root: _measure_lab(root, conv=False)),
        Claim("LR-2", "ConvLSTM autoencoder beats the FC-LSTM autoencoder",
              "On Moving MNIST, the ConvLSTM autoencoder reconstructs with lower MSE per pixel "
              "than the largest configured fully connected one.",
              "Lab report, section 3.3", "labreport", "tables/labreport.csv",
              "ConvLSTM − FC-LSTM < 0 (no number: the report compares reconstructions)", None, -1,
              "MSE per pixel", lambda root: _measure_lab(root, conv=True)),
        *_t1_claims(),
        _fig12_claim("F12-1", "UCF-101", "all"),
        _fig12_claim("F12-2", "HMDB-51", "all (70/class)"),
        *_t3_claims(),
        _cells_claim("T4-1", "RGB+flow fusion beats each stream alone",
                     "On UCF-101, late fusion of the RGB and flow Composite LSTM models is more "
                     "accurate than the better of the two streams alone.",
                     "Table 4, UCF-101", "tables/table4.csv", "table4", "UCF-101",
                     "Composite LSTM Model [RGB+flow]",
                     ("Composite LSTM Model [RGB]", "Composite LSTM Model [flow]")),
        Claim("F8-1", "trained on 2 digits, predicts 1 digit better than the mean frame",
              "A model trained on 2-digit sequences predicts 1-digit sequences with lower future "
              "cross entropy than the mean training frame (Figure 8, made measurable).",
              "Figure 8", "mnist", "figures/figure8.png",
              "model − mean frame < 0 (no number: the figure shows predictions)", None, -1,
              "CE per frame", lambda root: _measure_ood(root, "1 digit")),
        Claim("F8-2", "trained on 2 digits, predicts 3 digits better than the mean frame",
              "A model trained on 2-digit sequences predicts 3-digit sequences with lower future "
              "cross entropy than the mean training frame (Figure 8, made measurable).",
              "Figure 8", "mnist", "figures/figure8.png",
              "model − mean frame < 0 (no number: the figure shows predictions)", None, -1,
              "CE per frame", lambda root: _measure_ood(root, "3 digits")),
        Claim("F7-1", "the 100-step rollout stays active",
              "Run 100 steps (trained for 10), the future decoder's output units stay bounded "
              "and keep moving: their mean std over steps 51-100 exceeds 0.01 (a unit moving by "
              "less than 1% of its range is standing still).",
              "Figure 7 (top)", "mnist", "figures/figure7.png",
              "activity − 0.01 > 0 (no number: the figure shows periodic activity)", None, 1,
              "activity", lambda root: _measure_rollout(root, against_random=False)),
        Claim("F7-2", "trained decoder's rollout is more active than a random one",
              "Over the same 100-step rollout, the trained future decoder's output units move "
              "more (std over steps 51-100) than those of a randomly initialised decoder, whose "
              "dynamics die out in the paper.",
              "Figure 7 (bottom)", "mnist", "figures/figure7.png",
              "trained − random activity > 0 (no number: the figure)", None, 1, "activity",
              lambda root: _measure_rollout(root, against_random=True)),
    ]


# -- the table ------------------------------------------------------------------------------


def _fmt_effect(effect: float | None, se: float | None) -> str:
    if effect is None:
        return ""
    if not math.isfinite(effect):
        return f"{effect}"
    ref = se if se else abs(effect)
    decimals = min(8, max(0, 2 - math.floor(math.log10(ref)))) if ref > 0 else 2
    text = f"{effect:+.{decimals}f}"
    return text + (f" ± {se:.{decimals}f}" if se is not None else " (no SE)")


def evaluate(root: str | Path, config_name: str, data_source: str,
             parts: Iterable[str] | None = None, claims: list[Claim] | None = None) -> list[dict]:
    """One row per claim, read from the results under `root`, for the given configuration."""
    root = Path(root)
    parts = set(parts or PARTS)
    rows = []
    for c in claims or all_claims():
        if c.part not in parts:
            found = not_run(f"this configuration does not run the '{c.part}' part (parts: "
                            f"{', '.join(sorted(parts))})")
        else:
            found = c.measure(root)
        v = verdict(found.effect, found.se, c.expected_sign, ran=found.ran,
                    learned=found.learned, fair=found.fair, picked_from=found.picked_from,
                    rivals=found.rivals.values())
        notes = list(found.notes)
        if v != NOT_RUN and data_source == "real" and c.paper_num:  # magnitudes only on its data
            notes.append(f"magnitude: ours / paper = {found.effect / c.paper_num:.2f}")
        rows.append({
            "id": c.id, "claim": c.claim, "where": c.where, "paper_effect": c.paper,
            "paper_value": "" if c.paper_num is None else format(c.paper_num, ".6g"),
            "ours": "" if found.effect is None or not found.ran else format(found.effect, ".6g"),
            "se": "" if found.se is None else format(found.se, ".6g"),
            "our_effect": (f"{_fmt_effect(found.effect, found.se)} {c.unit}" if found.ran
                           and found.effect is not None else NOT_RUN),
            "verdict": v, "notes": "; ".join(notes), "config": config_name,
            "data_source": data_source, "artifact": f"{root.as_posix()}/{c.artifact}",
            "short": c.short,
            "why": why_inconclusive(found, c.expected_sign) if v == INCONCLUSIVE else "",
        })
    return rows


CSV_COLUMNS = ("id", "claim", "where", "paper_effect", "paper_value", "ours", "se", "our_effect",
               "verdict", "notes", "config", "data_source", "artifact")


def render_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([r[k] for k in CSV_COLUMNS])
    return buf.getvalue()


def _md(text: str) -> str:
    return text.replace("|", "\\|")


RULE_TEXT = (f"Verdict: reproduced = our effect has the paper's sign and exceeds {Z:g} standard "
             f"errors (where B is the best of several rows, A beats each of them by {Z:g} SE of "
             f"that pair); contradicted = the opposite sign beyond {Z:g} SE, or where B is the "
             "best of k rows by our own numbers beyond "
             + ", ".join(f"{contradiction_z(k):.2f}" for k in (2, 3, 4))
             + " SE for k = 2, 3, 4 (the winner's curse); inconclusive = within that bar "
             f"(or beyond {Z:g} SE of the best but not of every other row's pair), "
             "no spread estimate (or a zero one), a compared model that did not "
             "learn (flagged 'not learned', or at chance), or a better model that also trained "
             "for more steps; not run = this results folder has no result for it.")


def render_md(rows: list[dict], config_name: str, data_source: str) -> str:
    scope = ("the paper's data: signs and magnitudes can be compared" if data_source == "real"
             else "not the paper's data: only the signs of the effects are compared, never the "
             "magnitudes")
    out = ["# The paper's claims, checked", "",
           f"> Config: {config_name}. Data: {data_source} ({scope}).",
           f"> {RULE_TEXT}",
           "> SE: paired over test sequences (Moving MNIST, patches, lab report, Figures 7-8); "
           "for action recognition paired by labelled-set sample where both cells list their runs "
           "(spread of the per-sample differences / sqrt(pairs - splits)), else (and with all "
           "labels, whose runs are training seeds) "
           "sqrt(SE_A^2 + SE_B^2) with SE = spread / sqrt(n - splits). "
           "Effects are A − B as written in the paper's column.", "",
           "| id | claim | where | paper effect | our effect (± SE) | verdict | notes | artifact |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        out.append("| " + " | ".join(_md(r[k]) for k in (
            "id", "claim", "where", "paper_effect", "our_effect")) + f" | **{r['verdict']}** | "
            f"{_md(r['notes'])} | `{r['artifact']}` |")
    return "\n".join(out) + "\n"


def render_summary(rows: list[dict], config_name: str, data_source: str, md_path: str) -> str:
    """One run's part of the claims page (docs/claims.md): counts, then one line per claim."""
    counts = {v: sum(r["verdict"] == v for r in rows)
              for v in (REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_RUN)}
    scope = "paper's data" if data_source == "real" else f"{data_source} data, signs only"
    lines = [f"**Config `{config_name}`** ({scope}; full table: [{md_path}]({md_path})): "
             + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".", ""]
    for r in rows:
        ours = "" if r["verdict"] == NOT_RUN else f"; ours {r['our_effect']}"
        why = f" ({r['why']})" if r["why"] else ""
        lines.append(f"- **{r['verdict']}**{why} — {r['where']}: {r['short']}{ours}")
    return "\n".join(lines) + "\n"


def write_claims(rows: list[dict], out_stem: str | Path, config_name: str, data_source: str,
                 summary: str | Path | None = None) -> list[Path]:
    """Write {out_stem}.csv and .md (and the summary); byte-deterministic, atomic."""
    stem = Path(out_stem)
    paths = [stem.with_suffix(".csv"), stem.with_suffix(".md")]
    atomic_write_text(paths[0], render_csv(rows))
    atomic_write_text(paths[1], render_md(rows, config_name, data_source))
    if summary:
        atomic_write_text(summary, render_summary(rows, config_name, data_source,
                                                  paths[1].as_posix()))
        paths.append(Path(summary))
    return paths


# -- the claims page's generated block (docs/claims.md) -------------------------------------

_LINK = re.compile(r"\]\(([^)#:\s]+)\)")  # a Markdown link to a relative path (no URL, no anchor)


def readme_block(summaries: list[str], page_dir: str | Path = ".") -> str:
    """The text between the claims page's markers: the summaries in order, verbatim but for their
    links, which name paths from the project's root and are rewritten relative to `page_dir`
    (the folder of the page, from the root)."""
    def relink(m: re.Match) -> str:
        return "](" + Path(os.path.relpath(m.group(1), page_dir)).as_posix() + ")"

    text = "\n".join(_LINK.sub(relink, s) for s in summaries)
    return (f"{README_BEGIN}\n<!-- generated by `videolstm claims-readme` from the runs' "
            "claims_summary.md; do not edit by hand -->\n\n" + text + f"\n{README_END}")


def replace_readme_block(page: str, block: str) -> str:
    start, end = page.find(README_BEGIN), page.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"has no {README_BEGIN} ... {README_END} block")
    return page[:start] + block + page[end + len(README_END):]


def current_readme_block(page: str) -> str:
    start, end = page.find(README_BEGIN), page.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"has no {README_BEGIN} ... {README_END} block")
    return page[start:end + len(README_END)]
