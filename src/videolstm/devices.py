"""The one place a configured device name (`device: auto | cpu | cuda`) becomes a torch device."""

from __future__ import annotations

import torch

from videolstm.errors import UserError


def pick_device(name: str = "auto") -> torch.device:
    """`auto`: the GPU when one is visible, else the CPU; `cuda` without a GPU is a clear error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device: cuda was requested but no CUDA GPU is visible; use device: auto or cpu")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":  # TF32 for the fp32 matmuls and convolutions (classifier banks,
        torch.backends.cuda.matmul.allow_tf32 = True  # evaluation); CPU numerics untouched
        torch.backends.cudnn.allow_tf32 = True
    return device
