"""Counted, not timed: the FLOPs and the bytes autograd saves of one training step of the real
models, built on PyTorch's meta device (no memory, no compute). Read by `videolstm plan`, the
scheduler's job sizes and the fine-tuning job's choice of resident tables. torch and the models
are imported when a count is asked for, so that reading the workflow does not load torch."""

from __future__ import annotations

import functools


def count_flops(fn) -> float:
    """Matmul/conv FLOPs of running `fn` (PyTorch's FLOP counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def count_step(forward) -> dict:
    """FLOPs of forward + backward and the bytes autograd saves for the backward (meta)."""
    import torch

    saved = [0]

    def pack(t):
        saved[0] += t.numel() * t.element_size()
        return t

    def step():
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = forward()
        loss.backward()

    return {"flops": count_flops(step), "saved": saved[0]}


@functools.cache
def pretrain_counts(variant: str, mcfg_items: tuple, batch: int, teacher_forcing: bool = True) -> dict:
    """Parameters, FLOPs and saved-activation bytes of one pretraining step (`mcfg_items`: the
    ModelConfig's sorted items; cached: videolstm.plan and videolstm.job_resources ask for the
    same shapes)."""
    import torch

    from videolstm.models import ModelConfig, build_model

    mcfg = ModelConfig(**dict(mcfg_items))
    with torch.device("meta"):
        model = build_model(variant, mcfg)
    x = torch.empty(mcfg.n_in + mcfg.n_future, batch, mcfg.input_dim, device="meta")
    counts = count_step(lambda: model.losses(x[: mcfg.n_in], x[mcfg.n_in:],
                                              teacher_forcing=teacher_forcing)["total"])
    return {**counts, "params": sum(p.numel() for p in model.parameters())}


@functools.cache
def classifier_counts(dim: int, hidden: int, layers: int, classes: int, block: int, batch: int) -> dict:
    """One LSTM classifier (softmax at every step): parameters, FLOPs, saved bytes of a step."""
    import torch

    from videolstm.lstm import StackedLSTM

    with torch.device("meta"):
        lstm = StackedLSTM(dim, hidden, layers)
        head = torch.nn.Linear(hidden, classes)
    x = torch.empty(block, batch, dim, device="meta")
    counts = count_step(lambda: head(lstm(x)[0]).sum())
    params = sum(p.numel() for p in lstm.parameters()) + sum(p.numel() for p in head.parameters())
    return {**counts, "params": params}
