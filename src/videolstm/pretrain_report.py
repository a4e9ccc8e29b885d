"""Did the percept encoders learn? Their held-out losses beside what "no learning" scores.

Each pretraining run on stored arrays (percepts, patches) records in its summary.json its losses on
held-out clips (windows of sequences it never trained on, decoders fed their own outputs) and, on
the same windows, the trivial predictors of `ArraySource.no_learning`: the mean training frame and
the last input frame copied. A decoder counts as learned when its loss is below
`baselines.LEARNED_MARGIN` x the better of the two; a run when every decoder it has did. The
action tables and controls use this to say when a pretrained encoder that did not learn is why
pretraining does not help.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from videolstm.baselines import LEARNED_MARGIN
from videolstm.io import atomic_write_text

DECODERS = ("future", "recon")
COLUMNS = ["domain", "run", "variant", "steps", "decoder", "model", "mean_frame", "last_frame",
           "ratio", "learned"]


def read_summary(path: str | Path) -> dict:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        from videolstm.errors import UserError

        raise UserError(f"cannot read pretraining summary {path}: {exc}; rerun its pretrain "
                        "job") from exc


def decoder_rows(summary: dict) -> list[dict]:
    """One row per decoder of a run: its held-out loss, the baselines, and whether it learned."""
    base = summary.get("no_learning") or {}
    rows = []
    for dec in DECODERS:
        model = (summary.get("valid") or {}).get(dec)
        if model is None or dec not in base.get("mean_frame", {}):
            continue
        best = min(base["mean_frame"][dec], base["last_frame"][dec])
        rows.append({"domain": summary["domain"], "run": summary["run"],
                     "variant": summary["variant"], "steps": int(summary["steps"]),
                     "decoder": dec, "model": float(model),
                     "mean_frame": float(base["mean_frame"][dec]),
                     "last_frame": float(base["last_frame"][dec]),
                     "ratio": float(model) / best if best > 0 else float("inf"),
                     "learned": bool(float(model) < LEARNED_MARGIN * best)})
    return rows


def learned(summary: dict) -> tuple[bool, str]:
    """(every decoder learned, a one-line reason naming the numbers)."""
    rows = decoder_rows(summary)
    if not rows:
        return False, (f"{summary.get('domain')}/{summary.get('run')} records no held-out "
                       "baselines")
    parts = [f"{r['decoder']} {r['model']:.3g} vs no learning {min(r['mean_frame'], r['last_frame']):.3g}"
             for r in rows]
    ok = all(r["learned"] for r in rows)
    return ok, (f"{summary['domain']}/{summary['run']} {'learned' if ok else 'did not learn'} "
                f"({'; '.join(parts)} on held-out clips; learned = below {LEARNED_MARGIN} x "
                "the better baseline)")


def write(paths: list[str | Path], cfg: dict, out_dir: str | Path) -> list[Path]:
    rows = [r for p in sorted(paths, key=str) for r in decoder_rows(read_summary(p))]
    out_dir = Path(out_dir)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS + ["config", "data_source"], lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**{k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()},
                    "config": cfg.get("config_name", "unknown"),
                    "data_source": cfg.get("data_source", "unknown")})
    lines = [
        "# percept_pretraining", "",
        f"> Config: {cfg.get('config_name', 'unknown')}. Data: "
        f"{cfg.get('data_source', 'unknown')}.",
        "> Each encoder-decoder pretrained on percepts (or patches), scored on held-out clips "
        "(sequences it never trained on; one window each, decoders fed their own outputs): "
        "squared error per frame (summed over a frame's values), beside what no learning scores "
        "on the same windows: the mean training frame, and the last input frame copied. "
        f"learned = below {LEARNED_MARGIN} x the better of the two. Computed from each run's "
        "summary.json by videolstm.pretrain_report; none is typed in.", "",
        "| domain | run | steps | decoder | model | mean frame | last frame copied | "
        "model / best baseline | learned |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(f"| {r['domain']} | {r['run']} | {r['steps']} | {r['decoder']} | "
                     f"{r['model']:.2f} | {r['mean_frame']:.2f} | {r['last_frame']:.2f} | "
                     f"{r['ratio']:.3f} | {'yes' if r['learned'] else 'no'} |")
    out = [out_dir / "percept_pretraining.csv", out_dir / "percept_pretraining.md"]
    atomic_write_text(out[0], buf.getvalue())
    atomic_write_text(out[1], "\n".join(lines) + "\n")
    return out
