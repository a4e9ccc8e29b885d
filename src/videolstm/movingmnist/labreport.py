"""The lab report's comparison: reconstruction MSE of FC-LSTM autoencoders at several sizes and
of the ConvLSTM autoencoder, as a table and a figure of reconstructions."""

from __future__ import annotations

from pathlib import Path

from videolstm.errors import UserError
from videolstm.movingmnist.evals import metric, provenance_of_test_set, read_eval, table_provenance

LAB_COL = "Moving MNIST MSE"
PAPER_LAB_SIZES = (500, 1500, 2500)


def labreport_frame(evals: dict[str, str]):
    import pandas as pd

    rows = []
    paper_rows = {f"FC-LSTM autoencoder {h} units" for h in PAPER_LAB_SIZES}
    fc = []
    for run, path in evals.items():
        ev = read_eval(path)
        value = metric(ev, "recon_mse_per_pixel", path)
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


def write_labreport_table(cfg: dict, evals: dict[str, str], out_dir: str | Path) -> None:
    """Write `{out_dir}/labreport.{csv,md,tex}` from the runs' evaluation JSONs (RUN -> path)."""
    from videolstm.tables import write_table

    ours = labreport_frame(evals)
    note = ("Moving MNIST MSE: squared error of the reconstructed input frames (10, reverse order) "
            "per pixel, pixels in [0, 1], averaged over pixels, frames and test sequences, as the "
            "lab report's numbers (0.027440 at 500 units). Rows at other sizes are scaled down for "
            "this configuration and have no paper value.")
    write_table("labreport", ours, out_dir,
                table_provenance(cfg, **provenance_of_test_set(cfg)), note=note)


def write_labreport_figure(cfg: dict, ckpts: dict[str, str], test: str, figure: str) -> None:
    """The figure of reconstructions by each checkpoint (RUN -> path): FC-LSTMs by size, then
    the ConvLSTM."""
    from videolstm.checkpoint import load_model
    from videolstm.evaluate import load_set
    from videolstm.movingmnist.figures import labreport_figure, provenance_line

    models = {}
    for run in sorted(ckpts, key=lambda r: (r == "convlstm", len(r), r)):
        model, ckpt = load_model(ckpts[run])
        label = ("ConvLSTM" if ckpt["variant"] == "convlstm"
                 else f"FC-LSTM {ckpt['model_config']['hidden']} units")
        models[label] = model
    if not models:
        raise UserError("labreport needs at least one --checkpoint RUN=CKPT for the figure")
    labreport_figure(models, load_set(test), figure,
                     provenance_line(cfg["config_name"], cfg["data_source"]))
