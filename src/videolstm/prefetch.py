"""Host-side batch preparation that keeps a GPU busy: pinned staging and a background producer.

- `host_buffer`: an empty host tensor, page-locked when the batches go to a CUDA device (so the
  copy can be asynchronous; torch's caching host allocator keeps a block until its copies are
  done), plain memory otherwise.
- `to_device_float`: host batch -> float32 on the device; the cast from the stored dtype
  (float16 percepts) happens on the device, after a copy of half the bytes.
- `prefetch`: runs a producer (an iterator whose items are prepared on the host) in a background
  thread, a bounded number of items ahead. Items arrive in the producer's order, so a producer
  that draws random numbers draws them exactly as it would unthreaded; an exception in the
  producer reaches the consumer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

import torch

T = TypeVar("T")
_DONE = object()


def host_buffer(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An empty host tensor to gather a batch into: pinned when it is bound for a CUDA device."""
    return torch.empty(shape, dtype=dtype, device="cpu", pin_memory=device.type == "cuda")


def staged(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host batch made elsewhere (numpy), page-locked when it is bound for a CUDA device."""
    return t.pin_memory() if device.type == "cuda" else t


def depth_for(device: torch.device, depth: int | None = None) -> int:
    """How far ahead to prepare host batches: `depth` if given, else 2 on a GPU and 0 on the CPU
    (where the job's other cores belong to other jobs)."""
    if depth is not None:
        return depth
    return 2 if device.type == "cuda" else 0


def to_device_float(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy (asynchronously from pinned memory) and cast to float32 on the device."""
    return t.to(device, non_blocking=True).float()


class _Producer(threading.Thread):
    def __init__(self, items: Iterable, depth: int) -> None:
        super().__init__(daemon=True, name="videolstm-prefetch")
        self.items, self.queue, self.stop = items, queue.Queue(maxsize=depth), threading.Event()

    def run(self) -> None:
        try:
            for item in self.items:
                if not self._put((True, item)):
                    return
        except BaseException as e:  # handed to the consumer, raised there
            self._put((False, e))
            return
        self._put((True, _DONE))

    def _put(self, entry) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield `items` in order, computed by a background thread at most `depth` ahead
    (depth 0: in the caller's thread, no thread at all)."""
    if depth <= 0:
        yield from items
        return
    producer = _Producer(items, depth)
    producer.start()
    try:
        while True:
            ok, item = producer.queue.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:  # the consumer stopped early (or failed): let the thread end
        producer.stop.set()
        producer.join(timeout=5)
