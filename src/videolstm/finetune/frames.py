"""Percept frames for the classifiers, gathered by global frame index onto the training device.

Two ways, chosen by size; both give the same float32 batches bit for bit (tested), because the
percepts are stored as float16 and the cast to float32 is exact:
- resident: the whole float16 table is copied to the device once; a batch is an index_select
  there, cast to float32 there (no host work but the indices).
- streamed: the table stays a memory map; a batch's rows are read in sorted order into a float16
  host buffer (page-locked for a GPU), copied asynchronously, cast on the device. `batches`
  prepares them in a background thread, a few ahead, in draw order.

The table is resident when its float16 bytes fit the budget: on a CUDA device what is free once
the classifier bank's counted memory (`reserve_bytes`, videolstm.finetune.sizing.bank_bytes) and the
allocator's margin are set aside, so that a resident table never starves the bank; on the CPU
`CPU_RESIDENT_MB`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

from videolstm.finetune.data import Percepts
from videolstm.memory import DEVICE_MARGIN, DEVICE_SLACK_MB, MB
from videolstm.prefetch import host_buffer, prefetch, to_device_float

CPU_RESIDENT_MB = 2048


def resident_budget(device: torch.device, reserve_bytes: int = 0) -> int:
    """Bytes of percepts that may be resident on `device`: on CUDA the free memory (with the
    caching allocator's unused blocks) less the allocator margin of videolstm.memory and the bank's
    `reserve_bytes` (the same rule `videolstm plan` applies to resources.gpu_mem_gb)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int((free - DEVICE_SLACK_MB * MB) / DEVICE_MARGIN - reserve_bytes)
    return CPU_RESIDENT_MB * 2**20


class FrameSource:
    """Frames by global index, as float32 (*idx.shape, D) tensors on `device`."""

    def __init__(self, percepts: Percepts, device: torch.device | str,
                 budget_bytes: int | None = None, depth: int = 2, reserve_bytes: int = 0) -> None:
        self.percepts, self.device = percepts, torch.device(device)
        frames = percepts.frames
        # float16 as stored (exact in float32); any other stored type is used as float32
        self.np_dtype = np.float16 if frames.dtype == np.float16 else np.float32
        self.dtype = torch.float16 if self.np_dtype == np.float16 else torch.float32
        budget = resident_budget(self.device, reserve_bytes) if budget_bytes is None else budget_bytes
        self.resident = frames.shape[0] * frames.shape[1] * np.dtype(self.np_dtype).itemsize <= budget
        self.table = _upload(frames, self.np_dtype, self.dtype, self.device) if self.resident else None
        self.depth = 0 if self.resident else depth  # only a streamed source has host work to hide

    def host(self, idx: np.ndarray) -> Tensor:
        """The host part of a batch: the indices (resident) or the gathered float16 rows."""
        flat = np.ascontiguousarray(idx.reshape(-1), dtype=np.int64)
        if self.resident:
            return torch.from_numpy(flat)
        rows = host_buffer((flat.size, self.percepts.dim), self.dtype, self.device)
        order = np.argsort(flat, kind="stable")  # sorted reads from the memory map
        rows.numpy()[order] = self.percepts.frames[flat[order]]
        return rows

    def to_device(self, host: Tensor, shape: tuple[int, ...]) -> Tensor:
        """The device part: float32 frames of shape (*shape, D)."""
        if self.resident:
            out = self.table.index_select(0, host.to(self.device, non_blocking=True)).float()
        else:
            out = to_device_float(host, self.device)
        return out.view(*shape, -1)

    def __call__(self, idx: np.ndarray) -> Tensor:
        return self.to_device(self.host(idx), idx.shape)

    def batches(self, jobs: Iterable[tuple[np.ndarray, Any]]) -> Iterator[tuple[Tensor, Any]]:
        """(frames on the device, extra) for each (indices, extra) of `jobs`, in order; the host
        part (drawing the indices included) runs ahead in a background thread when streamed."""
        hosted = ((self.host(idx), idx.shape, extra) for idx, extra in jobs)
        for host, shape, extra in prefetch(hosted, self.depth):
            yield self.to_device(host, shape), extra


def _upload(frames: np.ndarray, np_dtype, dtype: torch.dtype, device: torch.device,
            chunk_rows: int = 1 << 16) -> Tensor:
    """The whole table on the device, copied from the memory map in chunks (no second full
    host copy on the way to a GPU)."""
    if device.type == "cpu":
        return torch.from_numpy(np.array(frames, dtype=np_dtype))
    table = torch.empty(frames.shape, dtype=dtype, device=device)
    for s in range(0, frames.shape[0], chunk_rows):
        part = np.ascontiguousarray(frames[s:s + chunk_rows], dtype=np_dtype)
        table[s:s + chunk_rows].copy_(torch.from_numpy(part))
    return table
