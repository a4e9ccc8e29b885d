"""The later literature's Moving MNIST protocol (PredRNN 2017, OpenSTL): MSE, MAE, SSIM and PSNR
of 10 predicted frames, our runs beside the published FC-LSTM row and the trivial baselines."""

from __future__ import annotations

from pathlib import Path

from videolstm.baselines import BASELINE_NOTE
from videolstm.movingmnist.evals import (
    BASELINE_TITLES,
    baseline_rows,
    check_variant,
    flag_unlearned,
    metric,
    provenance_of_test_set,
    read_eval,
    table_provenance,
)
from videolstm.tables import TABLE2_RUNS

LATER_MSE = "Moving MNIST test MSE per frame"
LATER_MAE = "Moving MNIST test MAE per frame"
LATER_SSIM = "Moving MNIST test SSIM"
LATER_PSNR = "Moving MNIST test PSNR"
# eval metric key -> protocol table column, in the table's order (OpenSTL's: MSE, MAE, SSIM, PSNR)
LATER_COLS = {"future_mse_per_frame": LATER_MSE, "future_mae_per_frame": LATER_MAE,
              "future_ssim": LATER_SSIM, "future_psnr": LATER_PSNR}
LATER_FC = "FC-LSTM (PredRNN 2017 table)"
LATER_CONV = "ConvLSTM (PredRNN 2017 table)"


def best_run(evals: dict[str, str]) -> str:
    """The run with the lowest later-protocol MSE (the FC-LSTM row's default)."""
    return min(sorted(evals), key=lambda r: metric(read_eval(evals[r]), "future_mse_per_frame", evals[r]))


def protocol_frame(evals: dict[str, str], fc_run: str, flag: str = "--mnist-eval"):
    import pandas as pd

    rows = []
    for run, path in sorted(evals.items()):
        ev = read_eval(path)
        if run in TABLE2_RUNS:  # the row is named after the run's model
            check_variant(ev, run, path, flag)
        layers = ev.get("model_config", {}).get("layers")
        name = f"ours: {TABLE2_RUNS.get(run, run)} ({layers} layers, run {run})"
        for key, col in LATER_COLS.items():
            value = metric(ev, key, path)
            rows.append({"row": name, "column": col, "value": value, "n": ev.get("n_sequences")})
            if run == fc_run:
                rows.append({"row": LATER_FC, "column": col, "value": value,
                             "n": ev.get("n_sequences")})
    return pd.DataFrame(rows, columns=["row", "column", "value", "n"])


def protocol_with_baselines(evals: dict[str, str], fc_run: str, mnist_base: str | None,
                            flag: str = "--mnist-eval"):
    import pandas as pd

    ours = protocol_frame(evals, fc_run, flag)
    base = baseline_rows(mnist_base, LATER_MSE, LATER_COLS)
    df = pd.concat([ours, pd.DataFrame(base, columns=ours.columns)], ignore_index=True)
    return flag_unlearned(df, [LATER_MSE])


def write_protocol(cfg: dict, evals: dict[str, str], fc_lstm_run: str, mnist_base: str | None,
                   flag: str, out_dir: Path) -> None:
    """Write `{out_dir}/moving_mnist_protocol.{csv,md,tex}`; `fc_lstm_run` 'best' picks the run
    with the lowest test MSE for the FC-LSTM row, `flag` names the option the runs came from."""
    from videolstm.tables import write_table

    fc_run = best_run(evals) if fc_lstm_run == "best" and evals else fc_lstm_run
    ours = protocol_with_baselines(evals, fc_run, mnist_base, flag)
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
            + (" (the lowest test MSE of our runs)" if fc_lstm_run == "best" else "")
            + " beside "
            f"the published FC-LSTM numbers; '{LATER_CONV}' is not run here (our ConvLSTM is "
            "the lab report's autoencoder, not a predictor). Paper values in this table are "
            "the later literature's, not Srivastava et al.'s. " + BASELINE_NOTE
            + " The flag uses the MSE column.")
    write_table("later", ours, out_dir, table_provenance(cfg, **provenance_of_test_set(cfg)),
                row_order=[LATER_FC, LATER_CONV, *BASELINE_TITLES],
                col_order=list(LATER_COLS.values()),
                note=note, out_name="moving_mnist_protocol")
