"""Memory allowances shared by the scheduler's job sizes (videolstm.job_resources) and the
fine-tuning job's own choice of resident percept tables (videolstm.finetune.frames), so that the
plan and the run apply one rule. A leaf: no torch, no other module of the package."""

from __future__ import annotations

HOST_BASE_MB = 1000  # a CPU process (an idle videolstm process measured 260 MB here)
GPU_HOST_BASE_MB = 3000  # a CUDA process: context and libraries (an allowance; not measured here)
DEVICE_MARGIN = 1.2  # x the counted bytes, plus DEVICE_SLACK_MB
DEVICE_SLACK_MB = 512
MB = 10**6  # Snakemake's mem_mb is in megabytes; resources.gpu_mem_gb in gigabytes (10^9)
OPT_STATES = {"sgd": 1, "rmsprop": 1, "adam": 2}  # optimiser state tensors per parameter


def device_need(counted: float) -> int:
    """Bytes to keep for `counted` bytes of tensors (the allocator's margin and slack)."""
    return int(counted * DEVICE_MARGIN + DEVICE_SLACK_MB * MB)
