"""The models a process keeps loaded: one LRU of models under a memory budget.

Every GPU backend loads its model through `RESIDENT.get(key, load)` instead of a cache of its own, so
one place knows what a process holds, evicts the least recently used model when a new one would not
fit the budget, and counts loads. Locally the budget is the accelerator's memory (no budget on a
CPU); a Ray worker (filmcrew/executor.py) sets its own and reports what it holds, so the cluster can
send a call to the worker that already has its model.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

#: Share of the accelerator's memory that models may fill by default; the rest is for activations.
DEFAULT_BUDGET_SHARE = 0.85


def model_bytes(obj: Any) -> int:
    """Bytes of the tensors an object holds: parameters and buffers of every torch module reachable
    through tuples, lists, dicts and attributes (a diffusers pipeline's components, a bundle's model),
    each storage counted once."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return 0
    seen_obj: set[int] = set()
    seen_data: set[tuple[str, int]] = set()
    total = 0

    def tensor(t: torch.Tensor) -> None:
        nonlocal total
        if t.device.type == "meta":
            return
        key = (str(t.device), t.untyped_storage().data_ptr())
        if key not in seen_data:
            seen_data.add(key)
            total += t.untyped_storage().nbytes()

    def walk(o: Any, depth: int) -> None:
        if depth > 4 or id(o) in seen_obj or o is None or isinstance(o, (str, bytes, int, float)):
            return
        seen_obj.add(id(o))
        if isinstance(o, torch.nn.Module):
            for t in [*o.parameters(), *o.buffers()]:
                tensor(t)
            return
        if isinstance(o, torch.Tensor):
            tensor(o)
            return
        if isinstance(o, dict):
            items = list(o.values())
        elif isinstance(o, (list, tuple)):
            items = list(o)
        else:
            items = [v for k, v in vars(o).items() if not k.startswith("__")] \
                if hasattr(o, "__dict__") else []
        for v in items:
            walk(v, depth + 1)

    walk(obj, 0)
    return total


def accelerator_bytes() -> int | None:
    """Memory of the first CUDA device, or None when there is none."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return None
    if not torch.cuda.is_available():
        return None
    return int(torch.cuda.get_device_properties(0).total_memory)


class ResidentModels:
    """Loaded models by key, least recently used first out when a load would exceed the budget.

    `budget_bytes=None` keeps everything (a CPU run's tiny models). A model larger than the whole
    budget is still loaded (alone): the budget decides what else stays, not whether a call can run.
    Thread-safe; two threads asking for the same key load it once.
    """

    def __init__(self, budget_bytes: int | Callable[[], int | None] | None = None):
        self._budget = budget_bytes  # a callable is asked once, on first use (CUDA init is not free)
        self._models: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.RLock()
        self._loading: dict[Hashable, threading.Lock] = {}
        self.loads: dict[Hashable, int] = {}
        self.load_seconds: dict[Hashable, float] = {}
        self._touched: threading.local = threading.local()

    @property
    def budget_bytes(self) -> int | None:
        if callable(self._budget):
            self._budget = self._budget()
        return self._budget

    @budget_bytes.setter
    def budget_bytes(self, value: int | None) -> None:
        self._budget = value

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The model under `key`, loaded by `load()` on a miss (then the LRU is trimmed)."""
        self._note(key)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key][0]
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:  # one loader per key; others wait and then find it
            with self._lock:
                if key in self._models:
                    self._models.move_to_end(key)
                    return self._models[key][0]
            t0 = time.perf_counter()
            model = load()
            size = model_bytes(model)
            with self._lock:
                self._evict_for(size)
                self._models[key] = (model, size)
                self.loads[key] = self.loads.get(key, 0) + 1
                self.load_seconds[key] = time.perf_counter() - t0
                self._loading.pop(key, None)
            return model

    def _evict_for(self, size: int) -> None:
        if self.budget_bytes is None:
            return
        evicted = False
        while self._models and self.used_bytes() + size > self.budget_bytes:
            self._models.popitem(last=False)
            evicted = True
        if evicted:
            _free_memory()

    def drop(self, predicate: Callable[[Hashable], bool]) -> None:
        """Unload every model whose key matches."""
        with self._lock:
            for k in [k for k in self._models if predicate(k)]:
                del self._models[k]
        _free_memory()

    def clear(self) -> None:
        self.drop(lambda k: True)

    def holds(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._models

    def used_bytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._models.values())

    def holding(self) -> list[dict[str, Any]]:
        """What is loaded, least recently used first: key (as text), bytes, loads so far."""
        with self._lock:
            return [{"key": _label(k), "bytes": size, "loads": self.loads.get(k, 0)}
                    for k, (_, size) in self._models.items()]

    # -- which keys a call used (a Ray worker maps its routing key to them) ------------------------

    def track(self) -> set[Hashable]:
        """Start recording the keys this thread asks for; returns the (live) set they go into."""
        self._touched.keys = set()
        return self._touched.keys

    def _note(self, key: Hashable) -> None:
        keys = getattr(self._touched, "keys", None)
        if keys is not None:
            keys.add(key)


def _label(key: Hashable) -> str:
    return " ".join(str(p) for p in key) if isinstance(key, tuple) else str(key)


def _free_memory() -> None:
    gc.collect()
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _default_budget() -> int | None:
    total = accelerator_bytes()
    return None if total is None else int(total * DEFAULT_BUDGET_SHARE)


#: The process-wide registry every backend loads through.
RESIDENT = ResidentModels(_default_budget)
