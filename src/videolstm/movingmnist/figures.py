"""Figures of the Moving MNIST half of the paper (Figures 5, 7, 8, 9, 10), a prediction GIF and the
lab report's reconstruction comparison: the plots, and `write_figures`, which draws Figures 5, 7,
8, 9, 10 and the GIF from the Figure models' checkpoints.

Every figure is titled with its provenance: "embedded run" (small CPU models on generated data, a
demonstration of the pipeline, not the paper's figure) or "real data", plus the config name.
Files are byte-deterministic: PNG without a Software tag, GIF from fixed frames.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from videolstm.checkpoint import load_model  # noqa: E402
from videolstm.errors import UserError  # noqa: E402
from videolstm.evaluate import load_set, predict  # noqa: E402
from videolstm.io import atomic_write_bytes  # noqa: E402
from videolstm.lstm import PeepholeLSTM, TorchLSTM  # noqa: E402

PNG_METADATA = {"Software": None}
PDF_METADATA = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}


def provenance_line(config_name: str, data_source: str) -> str:
    if data_source == "real":
        return f"real data, config '{config_name}'"
    return (f"embedded run (config '{config_name}', {data_source} data): a demonstration, "
            "not the paper's figure")


def save_figure(fig, path: str | Path) -> None:
    """Save deterministically (no timestamps/software tags) and atomically; close the figure."""
    path = Path(path)
    buf = io.BytesIO()
    fmt = path.suffix.lstrip(".").lower()
    meta = PDF_METADATA if fmt == "pdf" else PNG_METADATA
    fig.savefig(buf, format=fmt, metadata=meta, dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _to_images(frames: torch.Tensor, size: int) -> np.ndarray:
    """(T, D) in [0, 1] -> (T, size, size) float."""
    return frames.detach().double().clamp(0, 1).reshape(-1, size, size).cpu().numpy()


def _strip(frames: list[np.ndarray | None], size: int, gap: int = 2) -> np.ndarray:
    """Frames side by side (None = blank), separated by `gap` mid-grey pixels."""
    n = len(frames)
    out = np.full((size, n * size + (n - 1) * gap), 0.5)
    for k, f in enumerate(frames):
        x0 = k * (size + gap)
        out[:, x0:x0 + size] = 0.0 if f is None else f
    return out


def _rows_figure(rows: list[tuple[str, np.ndarray]], title: str, size: int, path: str | Path,
                 width: float = 12.0) -> None:
    gap = 4
    img = np.full((len(rows) * (size + gap) - gap, rows[0][1].shape[1]), 1.0)
    ticks = []
    for k, (_, strip) in enumerate(rows):
        y0 = k * (size + gap)
        img[y0:y0 + size] = strip
        ticks.append(y0 + size / 2)
    h = width * img.shape[0] / img.shape[1] + 0.9
    fig, ax = plt.subplots(figsize=(width, h))
    ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks(ticks, [name for name, _ in rows], fontsize=7)
    ax.set_xticks([])
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def sequence_rows(models: dict[str, torch.nn.Module], frames: np.ndarray, examples: list[int],
                  ) -> list[tuple[str, np.ndarray]]:
    """For each example: the ground truth (n_in inputs | n_future future), then for each model
    its reconstruction (shown in input order) | its test-mode prediction."""
    size = frames.shape[2]
    rows = []
    for ex in examples:
        seq = torch.from_numpy(np.array(frames[:, ex:ex + 1])).flatten(2).float() / 255
        first = next(iter(models.values()))
        n_in, n_future = first.cfg.n_in, first.cfg.n_future
        truth = _to_images(seq[: n_in + n_future, 0], size)
        rows.append((f"seq {ex}: ground truth", _strip(list(truth), size)))
        for name, model in models.items():
            out = predict(model, seq[:n_in], n_future)
            cells: list[np.ndarray | None] = [None] * (n_in + n_future)
            if "recon" in out:
                rec = _to_images(model.emit(out["recon"][:, 0]), size)[::-1]  # back to input order
                for k, f in enumerate(rec):
                    cells[n_in - len(rec) + k] = f
            if "future" in out:
                fut = _to_images(model.emit(out["future"][:, 0]), size)
                for k, f in enumerate(fut[:n_future]):
                    cells[n_in + k] = f
            rows.append((f"seq {ex}: {name}", _strip(cells, size)))
    return rows


def figure5(models: dict[str, torch.nn.Module], frames: np.ndarray, path: str | Path,
            provenance: str, examples: tuple[int, ...] = (0, 1)) -> None:
    """Figure 5: input | future truth, then reconstruction | prediction of each model."""
    rows = sequence_rows(models, frames, list(examples))
    first = next(iter(models.values())).cfg
    title = (f"Figure 5: reconstruction (left {first.n_in} frames) and future prediction (right "
             f"{first.n_future}), decoders in test mode.\n{provenance}")
    _rows_figure(rows, title, frames.shape[2], path)


def figure8(model: torch.nn.Module, sets: dict[str, np.ndarray], path: str | Path,
            provenance: str, examples: tuple[int, ...] = (0, 1)) -> None:
    """Figure 8: out-of-domain inputs (1 and 3 digits) through a model trained on 2 digits."""
    rows = []
    for label, frames in sets.items():
        for name, strip in sequence_rows({"model": model}, frames, list(examples)):
            rows.append((f"{label}, {name}", strip))
    size = next(iter(sets.values())).shape[2]
    title = (f"Figure 8: out-of-domain runs (model trained on 2 digits; reconstruction | "
             f"prediction).\n{provenance}")
    _rows_figure(rows, title, size, path)


# -- Figure 7: long rollout of the future decoder ---------------------------------------------


def _layer_params(layer) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(weight_ih, weight_hh, bias, peephole) of one layer, in (i, f, g, o) gate order."""
    if isinstance(layer, PeepholeLSTM):
        return layer.weight_ih, layer.weight_hh, layer.bias, layer.peephole
    if isinstance(layer, TorchLSTM):
        lstm = layer.lstm
        peep = torch.zeros(3, layer.hidden)
        return lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0, peep
    raise TypeError(f"unsupported LSTM layer {type(layer).__name__}")


def rollout_activities(model: torch.nn.Module, x_in: torch.Tensor, n_steps: int,
                       ) -> dict[str, np.ndarray]:
    """`rollout_batch` for the first sequence of x_in: name -> (n_steps, hidden)."""
    return {name: acts[:, 0] for name, acts in rollout_batch(model, x_in, n_steps).items()}


@torch.no_grad()
def rollout_batch(model: torch.nn.Module, x_in: torch.Tensor, n_steps: int,
                  ) -> dict[str, np.ndarray]:
    """Run the future decoder n_steps from the encoder's state (test mode); record the top
    layer's activities per step: input/forget/output gates, the input after tanh, the cell state
    and the output. Returns name -> (n_steps, B, hidden), one column per sequence of x_in."""
    decoder = model.future
    _, states = model.encoder(x_in)
    states = [(h.double(), c.double()) for h, c in states]
    params = [[p.double() for p in _layer_params(layer)] for layer in decoder.lstm.layers]
    readout_w, readout_b = decoder.readout.weight.double(), decoder.readout.bias.double()
    x = torch.zeros(x_in.shape[1], readout_w.shape[0], dtype=torch.float64)
    names = ["input gate", "forget gate", "input (tanh)", "output gate", "cell state", "output"]
    rec: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for _ in range(n_steps):
        inp = x if decoder.conditional else None
        new_states = []
        for k, (w_ih, w_hh, b, peep) in enumerate(params):
            h, c = states[k]
            a = h @ w_hh.t() + b
            if inp is not None and w_ih.shape[1]:
                a = a + inp @ w_ih.t()
            ai, af, ag, ao = a.chunk(4, dim=1)
            i = torch.sigmoid(ai + peep[0] * c)
            f = torch.sigmoid(af + peep[1] * c)
            g = torch.tanh(ag)
            c = f * c + i * g
            o = torch.sigmoid(ao + peep[2] * c)
            h = o * torch.tanh(c)
            new_states.append((h, c))
            inp = h
        states = new_states
        for name, v in zip(names, (i, f, g, o, c, h), strict=True):
            rec[name].append(v.numpy().copy())
        x = decoder.emit(h @ readout_w.t() + readout_b)
    return {n: np.stack(v) for n, v in rec.items()}


def randomised_future(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """A copy of the model whose future decoder has freshly initialised (random) weights."""
    clone = copy.deepcopy(model)
    gen_state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        for layer in clone.future.lstm.layers:
            layer.reset_parameters(clone.cfg.init)
        from videolstm.lstm import init_uniform_

        init_uniform_(clone.future.readout.weight, clone.cfg.init, clone.cfg.hidden)
        torch.nn.init.zeros_(clone.future.readout.bias)
    finally:
        torch.set_rng_state(gen_state)
    return clone.eval()


def figure7(model: torch.nn.Module, frames: np.ndarray, path: str | Path, provenance: str,
            n_steps: int = 100, n_units: int = 200, seed: int = 0, example: int = 0) -> None:
    """Figure 7: unit activities of the future decoder over an n_steps rollout, trained weights
    (top) vs randomly initialised future-decoder weights (bottom); units chosen at random."""
    seq = torch.from_numpy(np.array(frames[:, example:example + 1])).flatten(2)
    x_in = seq[: model.cfg.n_in].float() / 255
    runs = {"trained future predictor": rollout_activities(model, x_in, n_steps),
            "randomly initialised future predictor":
                rollout_activities(randomised_future(model, seed + 1), x_in, n_steps)}
    hidden = model.cfg.hidden
    units = np.sort(np.random.default_rng(seed).choice(hidden, min(n_units, hidden), replace=False))
    names = list(next(iter(runs.values())))
    fig, axes = plt.subplots(2, len(names), figsize=(2.3 * len(names), 6.2), squeeze=False)
    for r, (label, acts) in enumerate(runs.items()):
        for c, name in enumerate(names):
            ax = axes[r, c]
            data = acts[name][:, units].T
            lo, hi = (0, 1) if "gate" in name else (-1, 1) if name != "cell state" else (None, None)
            ax.imshow(data, aspect="auto", cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_title(f"{name}", fontsize=7)
            ax.set_xlabel("step", fontsize=6)
            ax.tick_params(labelsize=5)
            if c == 0:
                ax.set_ylabel(f"{label}\n{len(units)} units", fontsize=7)
    fig.suptitle(f"Figure 7: future decoder run {n_steps} steps (trained for "
                 f"{model.cfg.n_future}); {model.cfg.layers}-layer {model.variant}, "
                 f"{hidden} units\n{provenance}", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


# -- Figures 9 and 10: weight features --------------------------------------------------------


def top_features(weights: torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
    """weights (n_features, D); the k rows of largest L2 norm (descending) and their indices."""
    w = weights.detach().double().cpu()
    norms = w.norm(dim=1).numpy()
    order = np.argsort(-norms, kind="stable")[:k]
    return w[order].numpy(), order


def _tile(features: np.ndarray, size: int, cols: int = 20) -> np.ndarray:
    """Rows (n, size*size) -> one image of tiles, each scaled to its own [-max|w|, max|w|]."""
    n = len(features)
    rows = max(1, -(-n // cols))
    gap = 1
    img = np.full((rows * (size + gap) - gap, cols * (size + gap) - gap), 0.5)
    for k, f in enumerate(features):
        m = np.abs(f).max() or 1.0
        r, c = divmod(k, cols)
        img[r * (size + gap):r * (size + gap) + size, c * (size + gap):c * (size + gap) + size] = (
            0.5 + 0.5 * f.reshape(size, size) / m)
    return img


def _features_figure(panels: list[tuple[str, np.ndarray]], size: int, title: str,
                     path: str | Path) -> None:
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.6), squeeze=False)
    for ax, (name, feats) in zip(axes[0], panels, strict=True):
        ax.imshow(_tile(feats, size), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def figure9(model: torch.nn.Module, path: str | Path, provenance: str, k: int = 200) -> None:
    """Figure 9: input features of the encoder's first layer (four sets: input, input gate,
    forget gate, output gate), the top-k units by L2 norm of all their input weights; a tile at
    the same place belongs to the same unit in every panel."""
    layer = model.encoder.lstm.layers[0]
    w_ih = _layer_params(layer)[0].detach().double()
    hidden = w_ih.shape[0] // 4
    size = int(round(w_ih.shape[1] ** 0.5))
    sets = dict(zip(["input gate", "forget gate", "input", "output gate"], w_ih.chunk(4, 0),
                    strict=True))
    unit_norm = torch.stack([s.norm(dim=1) ** 2 for s in sets.values()]).sum(0)
    order = np.argsort(-unit_norm.numpy(), kind="stable")[:min(k, hidden)]
    panels = [(f"{name} ({len(order)} units)", sets[name][order].numpy())
              for name in ("input", "input gate", "forget gate", "output gate")]
    _features_figure(panels, size, f"Figure 9: input features of the encoder (top {len(order)} "
                     f"by L2 norm), {model.variant}\n{provenance}", path)


def figure10(model: torch.nn.Module, path: str | Path, provenance: str, k: int = 200) -> None:
    """Figure 10: output features (readout weights from the top LSTM layer) of the decoders."""
    panels = []
    size = int(round(model.cfg.input_dim ** 0.5))
    for name in ("recon", "future"):
        dec = getattr(model, name, None)
        if dec is None:
            continue
        feats, _ = top_features(dec.readout.weight.t(), k)  # (hidden, D): one feature per unit
        label = "reconstruction decoder" if name == "recon" else "future predictor"
        panels.append((f"{label} (top {len(feats)})", feats))
    _features_figure(panels, size, f"Figure 10: output features of the decoders (top by L2 "
                     f"norm), {model.variant}\n{provenance}", path)


# -- animated prediction ----------------------------------------------------------------------


def prediction_gif(model: torch.nn.Module, frames: np.ndarray, path: str | Path, example: int = 0,
                   scale: int = 3, duration_ms: int = 200) -> None:
    """Animated GIF: ground truth (left) and the model's view (right): its input frames, then its
    test-mode prediction (a white bar at the top marks predicted frames)."""
    size = frames.shape[2]
    seq = torch.from_numpy(np.array(frames[:, example:example + 1])).flatten(2)
    seq = seq.float() / 255
    n_in, n_future = model.cfg.n_in, model.cfg.n_future
    out = predict(model, seq[:n_in], n_future)
    pred = _to_images(model.emit(out["future"][:, 0]), size)
    truth = _to_images(seq[: n_in + n_future, 0], size)
    images = []
    for t in range(n_in + n_future):
        right = truth[t] if t < n_in else pred[t - n_in]
        canvas = np.full((size + 4, 2 * size + 4), 0.5)
        canvas[4:, :size] = truth[t]
        canvas[4:, size + 4:] = right
        canvas[:3, size + 4:] = 1.0 if t >= n_in else 0.0
        arr = (canvas * 255).round().astype(np.uint8)
        img = Image.fromarray(arr, mode="L").resize(
            (arr.shape[1] * scale, arr.shape[0] * scale), Image.NEAREST)
        images.append(img)
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:],
                   duration=duration_ms, loop=0, optimize=False)
    atomic_write_bytes(path, buf.getvalue())


def labreport_figure(models: dict[str, torch.nn.Module], frames: np.ndarray, path: str | Path,
                     provenance: str, example: int = 0) -> None:
    """Lab report: reconstructions of the FC-LSTM autoencoders and the ConvLSTM of one sequence."""
    rows = sequence_rows(models, frames, [example])
    first = next(iter(models.values())).cfg
    rows = [(name, strip[:, : first.n_in * (frames.shape[2] + 2) - 2]) for name, strip in rows]
    title = f"Lab report: reconstructions of the input (FC-LSTM vs ConvLSTM)\n{provenance}"
    _rows_figure(rows, title, frames.shape[2], path, width=8.0)


# -- every figure from the Figure models' checkpoints -----------------------------------------


def _model_label(ckpt: dict) -> str:
    """e.g. 'Composite, 2 x 512' or 'Composite, conditional future, 1 x 256' (from the checkpoint)."""
    mc = ckpt["model_config"]
    kind = "Composite, conditional future" if ckpt["variant"] == "composite_cond" else "Composite"
    return f"{kind}, {mc['layers']} x {mc['hidden']}"


def write_figures(cfg: dict, ckpts: dict[str, str], test_path: str, test_1digit: str,
                  test_3digits: str, out_dir: str | Path) -> Path:
    """Figures 5, 7, 8, 9, 10 and prediction.gif into `out_dir` (returned as a Path)."""
    need = ("composite_1layer", "composite", "composite_cond")
    missing = [r for r in need if r not in ckpts]
    if missing:
        raise UserError(f"mnist-figures needs --checkpoint for runs {missing} (RUN=CKPT)")
    loaded = {run: load_model(ckpts[run]) for run in need}
    models = {run: m for run, (m, _) in loaded.items()}
    prov = provenance_line(cfg.get("config_name", "?"), cfg.get("data_source", "?"))
    seed = int(cfg.get("seed", 0))
    steps = int(cfg.get("mnist", {}).get("eval", {}).get("rollout_steps", 100))
    test = load_set(test_path)
    out = Path(out_dir)
    labels = {run: _model_label(ck) for run, (_, ck) in loaded.items()}
    shown = {ckpts[r]: r for r in reversed(need)}  # a checkpoint in two roles is shown once
    figure5({labels[r]: models[r] for r in need if shown[ckpts[r]] == r}, test,
            out / "figure5.png", prov)
    figure7(models["composite_1layer"], test, out / "figure7.png", prov, n_steps=steps, seed=seed)
    figure8(models["composite_1layer"], {"1 digit": load_set(test_1digit),
                                         "3 digits": load_set(test_3digits)},
            out / "figure8.png", prov)
    figure9(models["composite"], out / "figure9.png", prov)
    figure10(models["composite"], out / "figure10.png", prov)
    prediction_gif(models["composite_cond"], test, out / "prediction.gif")
    return out
