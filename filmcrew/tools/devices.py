"""The one accelerator lock: one denoising or sampling loop on the device at a time.

Every backend that runs a model on the GPU (WISA, SynCoS, RFLAV, REGEN, MusicGen) takes this lock
around its loop, so shots rendered in parallel threads queue for the device instead of splitting
its memory. It lives below every backend so each can import it without importing the others.
"""

from __future__ import annotations

import threading


class DeviceLock:
    """A lock that travels by name: a tool call shipped to a Ray worker (filmcrew/cluster.py) takes
    the worker's own DEVICE_LOCK, not a copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> DeviceLock:
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def __reduce__(self) -> tuple:
        return (_device_lock, ())


def _device_lock() -> DeviceLock:
    return DEVICE_LOCK


DEVICE_LOCK = DeviceLock()


def gpu_missing(settings: object) -> bool:
    """Whether a GPU backend cannot run for lack of a GPU *here*: with `--executor ray` its calls
    run on the cluster's GPU workers (filmcrew/cluster.py checks the cluster has some), so the
    driver needs none."""
    if getattr(settings, "executor", "local") != "local":
        return False
    import torch

    return not torch.cuda.is_available()
