"""Figures 5, 7, 8, 9, 10 and the prediction GIF from the Figure models' checkpoints."""

from __future__ import annotations

from pathlib import Path

from videolstm.errors import UserError


def _model_label(ckpt: dict) -> str:
    """e.g. 'Composite, 2 x 512' or 'Composite, conditional future, 1 x 256' (from the checkpoint)."""
    mc = ckpt["model_config"]
    kind = "Composite, conditional future" if ckpt["variant"] == "composite_cond" else "Composite"
    return f"{kind}, {mc['layers']} x {mc['hidden']}"


def write_figures(cfg: dict, ckpts: dict[str, str], test_path: str, test_1digit: str,
                  test_3digits: str, out_dir: str | Path) -> Path:
    """Figures 5, 7, 8, 9, 10 and prediction.gif into `out_dir` (returned as a Path)."""
    from videolstm import figures_mnist as figs
    from videolstm.checkpoint import load_model
    from videolstm.evaluate import load_set

    need = ("composite_1layer", "composite", "composite_cond")
    missing = [r for r in need if r not in ckpts]
    if missing:
        raise UserError(f"mnist-figures needs --checkpoint for runs {missing} (RUN=CKPT)")
    loaded = {run: load_model(ckpts[run]) for run in need}
    models = {run: m for run, (m, _) in loaded.items()}
    prov = figs.provenance_line(cfg.get("config_name", "?"), cfg.get("data_source", "?"))
    seed = int(cfg.get("seed", 0))
    steps = int(cfg.get("mnist", {}).get("eval", {}).get("rollout_steps", 100))
    test = load_set(test_path)
    out = Path(out_dir)
    labels = {run: _model_label(ck) for run, (_, ck) in loaded.items()}
    shown = {ckpts[r]: r for r in reversed(need)}  # a checkpoint in two roles is shown once
    figs.figure5({labels[r]: models[r] for r in need if shown[ckpts[r]] == r}, test,
                 out / "figure5.png", prov)
    figs.figure7(models["composite_1layer"], test, out / "figure7.png", prov, n_steps=steps,
                 seed=seed)
    figs.figure8(models["composite_1layer"], {"1 digit": load_set(test_1digit),
                                              "3 digits": load_set(test_3digits)},
                 out / "figure8.png", prov)
    figs.figure9(models["composite"], out / "figure9.png", prov)
    figs.figure10(models["composite"], out / "figure10.png", prov)
    figs.prediction_gif(models["composite_cond"], test, out / "prediction.gif")
    return out
