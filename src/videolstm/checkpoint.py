"""Checkpoints: everything needed to resume (`last.pt`) or to use a model downstream (`final.pt`).

A checkpoint is a dict: format, variant, domain, run, model_config, train_config, data_identity
(what the batches are drawn from), state_dict, optimizer, step, rng (torch and data-stream states),
metrics (rows so far). Written atomically.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from videolstm.errors import UserError
from videolstm.io import atomic_torch_save
from videolstm.models import Encoder, ModelConfig, build_model

FORMAT = "videolstm-checkpoint-1"


def save(path: str | Path, payload: dict[str, Any]) -> None:
    atomic_torch_save(path, {"format": FORMAT, **payload})


def safe_torch_load(path: Path, what: str, fix: str) -> Any:
    """torch.load that never executes code: weights_only=True admits tensors and plain types only
    (checkpoints come from shared DVC remotes); anything else is refused with one clear line."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UserError(f"{what} {path} holds objects other than tensors and plain data; refused "
                        f"without running them (it may be hostile). {fix}") from exc
    except Exception as exc:  # torch raises many types for a damaged or truncated file
        raise UserError(f"{what} {path} cannot be read ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}); {fix}") from exc


def load(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist; run its pretraining step first")
    ckpt = safe_torch_load(path, "checkpoint", "delete it and rerun its pretraining step")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UserError(f"{path} is not a videolstm checkpoint (format {FORMAT})")
    return ckpt


def resume_mismatches(ckpt: dict, variant: str, model_config: dict, train_config: dict,
                      data_identity: dict, steps: int) -> list[str]:
    """Why `ckpt` is not a partial run of this run (empty list: it is, resume it).

    A run is the same run when its variant, model, training settings (step counts and intervals
    aside) and data (the source's identity: generator settings and digit hashes, or the content
    hashes of the frame arrays) all match, and it has not gone past the steps now asked for.
    """
    problems = []
    if ckpt.get("variant") != variant:
        problems.append(f"variant {ckpt.get('variant')!r} != {variant!r}")
    for section, wanted in (("model_config", model_config), ("train_config", train_config)):
        for key, value in wanted.items():
            old = ckpt.get(section, {}).get(key)
            if old != value:
                problems.append(f"{key}: checkpoint has {old!r}, config asks for {value!r}")
    old_data = ckpt.get("data_identity")
    if old_data is None:
        problems.append("the checkpoint records no data identity (written by an older version)")
    elif old_data != data_identity:
        changed = sorted(k for k in set(old_data) | set(data_identity)
                         if old_data.get(k) != data_identity.get(k))
        problems.append(f"the training data changed ({', '.join(changed)})")
    if int(ckpt.get("step", 0)) > steps:
        problems.append(f"the checkpoint is at step {ckpt.get('step')}, past the {steps} steps asked for")
    return problems


def load_model(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """The trained model of a checkpoint (eval mode, CPU) and the checkpoint dict."""
    ckpt = load(path)
    fix = "it is damaged or was edited: delete it and rerun its pretraining step"
    try:
        with torch.device("cpu"):  # on the host, whatever the default device; callers move it
            model = build_model(ckpt["variant"], ModelConfig.from_dict(ckpt["model_config"]))
    except (KeyError, TypeError, ValueError, UserError) as exc:
        raise UserError(f"checkpoint {path} records no usable model (variant "
                        f"{ckpt.get('variant')!r}, model_config: {exc}); {fix}") from exc
    try:
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, RuntimeError) as exc:  # tensors of other shapes than its model_config's
        first = next((ln.strip() for ln in str(exc).splitlines()[1:] if ln.strip()), str(exc))
        mc = ckpt["model_config"]
        shape = ", ".join(f"{k} {mc[k]}" for k in ("input_dim", "hidden", "layers") if k in mc)
        raise UserError(f"checkpoint {path}: its weights do not fit the model it records "
                        f"({ckpt['variant']}, {shape}): {first.rstrip('.')}; {fix}") from exc
    return model.eval(), ckpt


def load_encoder(path: str | Path) -> Encoder:
    """The pretrained encoder of a checkpoint, ready to initialise a classifier."""
    model, ckpt = load_model(path)
    if not hasattr(model, "encoder") or not isinstance(model.encoder, Encoder):
        raise UserError(f"checkpoint {path} ({ckpt['variant']}) has no LSTM encoder to reuse")
    return model.encoder
