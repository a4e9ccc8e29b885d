"""Table 2: future-prediction loss of the four Moving MNIST models (cross entropy) and of the
image-patch models (squared loss), beside the trivial baselines on the same test sets."""

from __future__ import annotations

from pathlib import Path

from videolstm.baselines import BASELINE_NOTE
from videolstm.errors import UserError
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

MNIST_COL = "Cross Entropy on MNIST"
PATCHES_COL = "Squared loss on image patches"


def table2_frames(mnist: dict[str, str], patches: dict[str, str]):
    import pandas as pd

    rows = []
    for evals, column, flag in ((mnist, MNIST_COL, "--mnist-eval"), (patches, PATCHES_COL, "--patches-eval")):
        for run, path in sorted(evals.items()):
            if run not in TABLE2_RUNS:
                raise UserError(f"{flag} run {run!r} is not a Table 2 row; use {sorted(TABLE2_RUNS)}")
            ev = read_eval(path)
            check_variant(ev, run, path, flag)
            rows.append({"row": TABLE2_RUNS[run], "column": column,
                         "value": metric(ev, "future_loss", path), "n": ev.get("n_sequences")})
    return pd.DataFrame(rows, columns=["row", "column", "value", "n"])


def _sizes(*evals: dict[str, str]) -> str:
    """'layers x units' of the evaluated models, e.g. '1 x 256 (MNIST), 1 x 64 (patches)'."""
    parts = []
    for name, ev in zip(("MNIST", "patches"), evals, strict=False):
        found = sorted({(int(e["model_config"]["layers"]), int(e["model_config"]["hidden"]))
                        for e in map(read_eval, ev.values()) if "model_config" in e})
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
        modes = {bool(e.get("teacher_forcing", True)) for e in map(read_eval, ev.values())
                 if "cond" in VARIANT_DECODERS.get(e.get("variant"), ())}
        if modes:
            parts.append(f"{name}: " + " and ".join(text[m] for m in sorted(modes, reverse=True)))
    return "; ".join(parts) or "none evaluated"


def table2_with_baselines(mnist: dict[str, str], patches: dict[str, str], mnist_base: str | None,
                          patches_base: str | None):
    import pandas as pd

    ours = table2_frames(mnist, patches)
    base = (baseline_rows(mnist_base, MNIST_COL, {"future_loss": MNIST_COL})
            + baseline_rows(patches_base, PATCHES_COL, {"future_loss": PATCHES_COL}))
    df = pd.concat([ours, pd.DataFrame(base, columns=ours.columns)], ignore_index=True)
    return flag_unlearned(df, [MNIST_COL, PATCHES_COL])


def write_table2(cfg: dict, mnist: dict[str, str], patches: dict[str, str],
                 mnist_base: str | None, patches_base: str | None, out_dir: Path) -> None:
    """Write `{out_dir}/table2.{csv,md,tex}` from the runs' evaluation JSONs (RUN -> path)."""
    from videolstm.tables import write_table

    ours = table2_with_baselines(mnist, patches, mnist_base, patches_base)
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
    write_table("table2", ours, out_dir, table_provenance(cfg, **provenance_of_test_set(cfg)),
                row_order=[*TABLE2_RUNS.values(), *BASELINE_TITLES],
                col_order=[MNIST_COL, PATCHES_COL], note=note)
