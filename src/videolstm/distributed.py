"""Data-parallel pretraining: `torchrun --nproc_per_node N -m videolstm pretrain ...`.

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK; with WORLD_SIZE > 1 `train` joins a process group
(nccl on CUDA, one GPU per process; gloo on CPU) and wraps the model in DistributedDataParallel.
`pretrain.*.batch_size` stays the *global* batch: every rank draws the same global batch from the
shared data stream and builds only its slice (see data_sources), and each rank's loss is weighted
by its share of the batch, so the averaged gradient is the gradient of the single-process batch of
the same size (up to floating-point summation order), also for uneven slices. Rank 0 alone writes
checkpoints, metrics and summaries; checkpoints hold the unwrapped model's state_dict, so they
resume under any number of processes, or none.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from videolstm.errors import UserError

Losses = dict[str, torch.Tensor]


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, batch_size: int) -> tuple[int, int]:
        """[lo, hi) of this rank's slice of a global batch (sizes differ by at most one)."""
        if batch_size < self.world:
            raise UserError(
                f"pretrain batch_size {batch_size} is smaller than the {self.world} processes; "
                "raise batch_size (it is the global batch) or start fewer processes"
            )
        return self.rank * batch_size // self.world, (self.rank + 1) * batch_size // self.world


def setup(device: torch.device) -> tuple[DistContext, torch.device]:
    """Join the process group when started by torchrun with several processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(), device
    ctx = DistContext(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        if ctx.local_rank >= torch.cuda.device_count():
            raise UserError(
                f"LOCAL_RANK {ctx.local_rank} but only {torch.cuda.device_count()} GPUs are "
                "visible; start at most one process per GPU (torchrun --nproc_per_node)"
            )
        torch.cuda.set_device(ctx.local_rank)
        device = torch.device("cuda", ctx.local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return ctx, device


class _Losses(torch.nn.Module):
    """The training forward pass as a module, so DDP sees (and synchronises) it."""

    def __init__(self, model: torch.nn.Module, teacher_forcing: bool) -> None:
        super().__init__()
        self.model, self.teacher_forcing = model, teacher_forcing

    def forward(self, x_in: torch.Tensor, x_future: torch.Tensor) -> Losses:
        return self.model.losses(x_in, x_future, teacher_forcing=self.teacher_forcing)


def training_losses(model: torch.nn.Module, ctx: DistContext, device: torch.device,
                    teacher_forcing: bool = True) -> torch.nn.Module:
    """Callable (x_in, x_future) -> training losses (conditional decoders fed the ground truth
    when teacher_forcing, else their own outputs); DDP-wrapped when distributed."""
    step = _Losses(model, teacher_forcing)
    if not ctx.enabled:
        return step
    ids = [device.index] if device.type == "cuda" else None
    # static graph: some variants leave a parameter unused (e.g. a decoder's input weights);
    # the set is the same every step, which DDP then learns once instead of searching each step
    return torch.nn.parallel.DistributedDataParallel(step, device_ids=ids, static_graph=True)


def global_losses(losses: Losses, local_batch: int, global_batch: int,
                  ctx: DistContext, objective: torch.Tensor | None = None) -> tuple[Losses, torch.Tensor]:
    """(losses of the whole global batch, for logging and the NaN guard; the loss to backpropagate).

    `objective` (default: losses["total"]) is the training objective of this rank's batch as
    computed for the global batch size. DDP averages gradients over ranks, so rank r's objective is
    weighted by world * b_r / B.
    """
    objective = losses["total"] if objective is None else objective
    if not ctx.enabled:
        return losses, objective
    keys = sorted(losses)
    values = torch.stack([losses[k].detach().float() for k in keys]) * local_batch
    dist.all_reduce(values)
    values = values / global_batch
    share = objective * (local_batch * ctx.world / global_batch)
    return dict(zip(keys, values, strict=True)), share


def teardown(ctx: DistContext) -> None:
    """Wait for every rank (rank 0 writes the final outputs), then leave the process group."""
    if ctx.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
