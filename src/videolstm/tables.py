"""Tables with the paper's value beside ours and the difference, as CSV, Markdown and LaTeX.

`paper_numbers()` reads the paper's numbers (resources/paper_numbers.csv:
artifact,row,column,value).
`write_table(artifact, ours, out_dir, provenance)` writes `{out_dir}/{artifact}.{csv,md,tex}`:

- csv: one line per cell, columns row, column, paper, ours, difference (ours - paper), spread, n,
  status, flag (e.g. 'not learned': no better than a trivial baseline), per_split (each split's
  mean where the value is a mean over splits), per_sample (each run's value by split and
  labelled-set sample, where the value averages runs: what pairs two cells' runs), then the
  provenance columns (config, data_source, extractor, then any other keys sorted).
- md / tex: the table as the paper lays it out (rows x columns), each column split into paper / ours
  / difference, under a header naming the config, the data (embedded or real), the percept extractor
  and skipped videos; embedded results are stated to be a demonstration, not the paper's numbers.

Cells the paper has and we did not run read "not run". Rows listed in `quoted_rows` are the paper's
quotations of other work (e.g. Table 4's state of the art): shown with the paper's value, marked
"quoted", never as ours. Output bytes depend only on the inputs (no timestamps, fixed float
formatting, fixed ordering), and every file is written atomically.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from videolstm.errors import UserError
from videolstm.io import atomic_write_text

PAPER_NUMBERS = Path(str(resources.files("videolstm") / "resources" / "paper_numbers.csv"))
NOT_RUN = "not run"
QUOTED = "quoted"
PROVENANCE_FIRST = ("config", "data_source", "extractor")
# Table 2's rows: the 2-layer runs of each variant (config run name -> the paper's row)
TABLE2_RUNS = {
    "future": "Future Predictor",
    "composite": "Composite Model",
    "cond_future": "Conditional Future Predictor",
    "composite_cond": "Composite Model with Conditional Future Predictor",
}


def _read_paper_rows() -> list[dict[str, str]]:
    with open(PAPER_NUMBERS, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def paper_numbers() -> pd.DataFrame:
    """The paper's numbers: DataFrame with columns artifact, row, column, value (float)."""
    rows = _read_paper_rows()
    df = pd.DataFrame(rows, columns=["artifact", "row", "column", "value"])
    df["value"] = df["value"].astype(float)
    return df


def _paper_decimals(artifact: str) -> int:
    """Decimals the paper prints for an artifact (at least 1); ours is printed the same way."""
    best = 1
    for r in _read_paper_rows():
        if r["artifact"] == artifact and "." in r["value"]:
            best = max(best, len(r["value"].split(".", 1)[1]))
    return best


def _num(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _csv_num(value: float) -> str:
    return "" if math.isnan(value) else format(value, ".6g")


def _fmt(value: float, decimals: int, signed: bool = False) -> str:
    if math.isnan(value):
        return ""
    text = f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"
    if text.lstrip("+-").strip("0.") == "":  # -0.0 / +0.0 -> 0.0
        text = f"{0.0:.{decimals}f}"
    return text


def provenance(cfg: Mapping[str, Any], extractor: str, **extra: Any) -> dict[str, Any]:
    """A table's provenance from a run's settings: config name, data source, percept extractor
    and any extra fields (splits, digits, skipped videos...)."""
    return {"config": cfg.get("config_name", "unknown"),
            "data_source": cfg.get("data_source", "unknown"), "extractor": extractor, **extra}


def _provenance(provenance: Mapping[str, Any]) -> dict[str, str]:
    prov = {str(k): "" if v is None else str(v) for k, v in provenance.items()}
    if "config" not in prov and "config_name" in prov:
        prov["config"] = prov.pop("config_name")
    for key in PROVENANCE_FIRST:
        if not prov.get(key):
            raise UserError(
                f"table provenance lacks '{key}'; pass config (name), data_source and extractor"
            )
    ordered = {key: prov[key] for key in PROVENANCE_FIRST}
    for key in sorted(k for k in prov if k not in PROVENANCE_FIRST):
        ordered[key] = prov[key]
    return ordered


def _order(found: list[str], preferred: Iterable[str] | None) -> list[str]:
    """Preferred order first (only names present), then the rest in order of first appearance."""
    out: list[str] = []
    for name in list(preferred or []) + found:
        if name in found and name not in out:
            out.append(name)
    return out


def build_cells(
    artifact: str,
    ours: pd.DataFrame,
    row_order: Iterable[str] | None = None,
    col_order: Iterable[str] | None = None,
    quoted_rows: Iterable[str] | None = None,
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Merge ours with the paper's cells. Returns (cells, rows, columns) in display order."""
    missing = {"row", "column", "value"} - set(ours.columns)
    if missing:
        raise UserError(f"table {artifact}: results lack columns {sorted(missing)}")
    paper = paper_numbers()
    paper = paper[paper["artifact"] == artifact]
    quoted = set(quoted_rows or [])
    paper_val = {
        (r, c): v
        for r, c, v in zip(paper["row"], paper["column"], paper["value"], strict=True)
    }
    mine: dict[tuple[str, str], dict[str, float]] = {}
    for rec in ours.to_dict("records"):
        key = (str(rec["row"]), str(rec["column"]))
        if key in mine:
            raise UserError(f"table {artifact}: two results for cell {key}")
        mine[key] = {
            "value": _num(rec.get("value")),
            "spread": _num(rec.get("spread")),
            "n": _num(rec.get("n")),
            "flag": str(rec.get("flag") or ""),
            "per_split": str(rec.get("per_split") or ""),
            "per_sample": str(rec.get("per_sample") or ""),
        }
    rows_found: list[str] = []
    cols_found: list[str] = []
    for r, c in list(paper_val) + list(mine):
        if r not in rows_found:
            rows_found.append(r)
        if c not in cols_found:
            cols_found.append(c)
    rows = _order(rows_found, row_order)
    cols = _order(cols_found, col_order)
    cells = []
    for r in rows:
        for c in cols:
            if (r, c) not in paper_val and (r, c) not in mine:
                continue
            p = paper_val.get((r, c), math.nan)
            m = mine.get((r, c), {"value": math.nan, "spread": math.nan, "n": math.nan, "flag": "",
                                  "per_split": "", "per_sample": ""})
            if r in quoted:
                status = QUOTED
            elif math.isnan(m["value"]):
                status = NOT_RUN
            else:
                status = "ours"
            diff = m["value"] - p if status == "ours" else math.nan
            cells.append(
                {"row": r, "column": c, "paper": p, "ours": m["value"] if status == "ours" else
                 math.nan, "difference": diff, "spread": m["spread"], "n": m["n"],
                 "status": status, "flag": m["flag"] if status == "ours" else "",
                 "per_split": m["per_split"] if status == "ours" else "",
                 "per_sample": m["per_sample"] if status == "ours" else ""}
            )
    return cells, rows, cols


def render_csv(cells: list[dict[str, Any]], prov: dict[str, str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        ["row", "column", "paper", "ours", "difference", "spread", "n", "status", "flag", "per_split",
         "per_sample", *prov]
    )
    for cell in cells:
        n = cell["n"]
        writer.writerow(
            [cell["row"], cell["column"], _csv_num(cell["paper"]), _csv_num(cell["ours"]),
             _csv_num(cell["difference"]), _csv_num(cell["spread"]),
             "" if math.isnan(n) else str(int(n)), cell["status"], cell["flag"], cell["per_split"],
             cell["per_sample"], *prov.values()]
        )
    return buf.getvalue()


def _header_lines(artifact: str, prov: dict[str, str], note: str | None) -> list[str]:
    source = prov["data_source"]
    lines = [
        f"{artifact}: paper = value printed in Srivastava et al. (2015); ours = this run; "
        "difference = ours - paper.",
        f"Config: {prov['config']}. Data: {source}. Percept extractor: {prov['extractor']}.",
    ]
    extras = [f"{k}: {v}" for k, v in prov.items() if k not in PROVENANCE_FIRST]
    if extras:
        lines.append("; ".join(extras) + ".")
    if source != "real":
        lines.append(
            "These results come from the embedded (synthetic/small) data: a demonstration of the "
            "pipeline, not a reproduction of the paper's numbers."
        )
    lines.append(
        f"'{NOT_RUN}' = a cell of the paper this configuration did not run; '{QUOTED}' = a result "
        "of other work quoted by the paper (not run here); ours is the mean over splits of each "
        "split's mean over labelled-set samples, +- the standard deviation over samples within a "
        "split, where there is more than one sample."
    )
    if note:
        lines.append(note)
    return lines


def _ours_text(cell: dict[str, Any], decimals: int, pm: str) -> str:
    if cell["status"] != "ours":
        return cell["status"]
    text = _fmt(cell["ours"], decimals)
    if not math.isnan(cell["spread"]) and cell["n"] == cell["n"] and cell["n"] > 1:
        text += f" {pm} {_fmt(cell['spread'], decimals)}"
    if cell.get("flag"):
        text += f" ({cell['flag']})"
    return text


def _grid(cells, rows, cols):
    return {(c["row"], c["column"]): c for c in cells}


def render_md(artifact, cells, rows, cols, prov, note) -> str:
    decimals = _paper_decimals(artifact)
    grid = _grid(cells, rows, cols)
    out = [f"# {artifact}", ""]
    out += [f"> {line}" for line in _header_lines(artifact, prov, note)]
    out.append("")
    head = ["row"]
    for c in cols:
        head += [f"{c} (paper)", f"{c} (ours)", f"{c} (diff)"]
    out.append("| " + " | ".join(_md_escape(h) for h in head) + " |")
    out.append("|" + "|".join([" --- "] + [" ---: "] * (3 * len(cols))) + "|")
    for r in rows:
        line = [_md_escape(r)]
        for c in cols:
            cell = grid.get((r, c))
            if cell is None:
                line += ["", "", ""]
                continue
            line += [
                _fmt(cell["paper"], decimals),
                _ours_text(cell, decimals, "±"),
                _fmt(cell["difference"], decimals, signed=True),
            ]
        out.append("| " + " | ".join(line) + " |")
    return "\n".join(out) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def _tex(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


def render_tex(artifact, cells, rows, cols, prov, note) -> str:
    decimals = _paper_decimals(artifact)
    grid = _grid(cells, rows, cols)
    out = [f"% {artifact} (generated; do not edit)"]
    out += [f"% {line}" for line in _header_lines(artifact, prov, note)]
    out.append(r"\begin{tabular}{l" + "rrr" * len(cols) + "}")
    out.append(r"\hline")
    out.append(
        " & ".join([""] + [rf"\multicolumn{{3}}{{c}}{{{_tex(c)}}}" for c in cols]) + r" \\"
    )
    out.append(" & ".join(["Model"] + ["paper", "ours", r"$\Delta$"] * len(cols)) + r" \\")
    out.append(r"\hline")
    for r in rows:
        line = [_tex(r)]
        for c in cols:
            cell = grid.get((r, c))
            if cell is None:
                line += ["", "", ""]
                continue
            ours = _ours_text(cell, decimals, r"$\pm$")
            line += [
                _fmt(cell["paper"], decimals),
                ours if cell["status"] == "ours" else rf"\textit{{{ours}}}",
                _fmt(cell["difference"], decimals, signed=True),
            ]
        out.append(" & ".join(line) + r" \\")
    out.append(r"\hline")
    out.append(r"\end{tabular}")
    caption = " ".join(_header_lines(artifact, prov, note))
    out.append(f"% caption: {caption}")
    return "\n".join(out) + "\n"


def write_table(
    artifact: str,
    ours: pd.DataFrame,
    out_dir: str | Path,
    provenance: Mapping[str, Any],
    row_order: Iterable[str] | None = None,
    col_order: Iterable[str] | None = None,
    note: str | None = None,
    quoted_rows: Iterable[str] | None = None,
    out_name: str | None = None,
) -> list[Path]:
    """Write {out_dir}/{artifact}.csv/.md/.tex (byte-deterministic, atomic); return the paths.

    `ours`: DataFrame with columns row, column, value (+ optional spread, n).
    `provenance`: at least config (or config_name), data_source, extractor; other keys (e.g.
    skipped_videos, splits) become extra CSV columns and header lines.
    `out_name`: file stem when it differs from the artifact whose paper numbers are shown.
    """
    prov = _provenance(provenance)
    row_order = list(row_order) if row_order is not None else None
    col_order = list(col_order) if col_order is not None else None
    cells, rows, cols = build_cells(artifact, ours, row_order, col_order, quoted_rows)
    out_dir = Path(out_dir)
    paths = [out_dir / f"{out_name or artifact}.{ext}" for ext in ("csv", "md", "tex")]
    atomic_write_text(paths[0], render_csv(cells, prov))
    atomic_write_text(paths[1], render_md(artifact, cells, rows, cols, prov, note))
    atomic_write_text(paths[2], render_tex(artifact, cells, rows, cols, prov, note))
    return paths
