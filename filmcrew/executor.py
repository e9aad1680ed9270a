"""Where the crew's GPU work runs: in this process (`local`, the default) or on a Ray cluster (`ray`).

LangGraph stays the orchestrator in the driver process; what moves is the heavy inside of a tool call.
A GPU tool asks the artifact store for its artifact with `gpu=True` (filmcrew/artifacts.py); the store
looks the key up and traces the call as always, and only a miss hands the tool's `make(path)` to the
run's executor:

- `LocalExecutor` calls it here.
- `RayExecutor` (filmcrew/cluster.py) ships it to a Ray actor, one per GPU, that keeps its models
  resident (tools/resident.py), and routes each call to an actor that already holds the call's model.

The file is written where the driver asked (the run directory must be on storage every worker sees
at the same path), so the store's atomic publish, the cache keys and the trace are the same either
way: a film made on a cluster is byte-identical to the local one.

Progress callbacks travel with the call (filmcrew/relay.py): a `StreamProgress` pickled inside a
relay becomes a `RemoteProgress` on the worker, whose events come back to the original callback in the
driver, and whose next event raises `CallCancelled` once the driver cancels the call.

`ray` is imported only when the Ray executor is made: `import filmcrew` never imports it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

from filmcrew.relay import CallCancelled, Make, Meta, RemoteCallFailed, StreamProgress, relay

__all__ = ["EXECUTORS", "CallCancelled", "Executor", "LocalExecutor", "RemoteCallFailed",
           "StreamProgress", "executor_for", "make_executor", "relay"]

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    name: str

    def run(self, model: str, make: Make, path: Path, *, label: str) -> Meta | None:
        """Run `make(path)` (write the artifact's file at `path`, return its meta) somewhere that
        can hold `model`; return the meta."""
        ...

    def cancel_all(self) -> None:
        """Stop every call in flight (they raise `CallCancelled`)."""
        ...

    def close(self) -> None: ...

    def describe(self) -> dict[str, Any]:
        """What it runs on, for `report.json`."""
        ...


class LocalExecutor:
    """Today's behaviour: the tool's work runs in the calling thread of this process."""

    name = "local"

    def run(self, model: str, make: Make, path: Path, *, label: str) -> Meta | None:
        return make(path)

    def cancel_all(self) -> None:
        pass

    def close(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"executor": "local"}


def make_executor(name: str, *, address: str | None = None, resource: str = "GPU",
                  actors: int | None = None, budget_gb: float | None = None) -> Executor:
    """The executor called `name` ("local" or "ray"); see the README's "Running on a cluster"."""
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        from filmcrew.cluster import RayExecutor

        return RayExecutor(address=address, resource=resource, actors=actors, budget_gb=budget_gb)
    raise ValueError(f"unknown executor {name!r}: use one of {', '.join(EXECUTORS)}")


_SHARED: dict[tuple, Executor] = {}
_SHARED_LOCK = threading.Lock()


def executor_for(settings: Any) -> Executor:
    """The process's executor for these settings (FILMCREW_EXECUTOR, FILMCREW_RAY_*), made once:
    its workers and their loaded models serve every run and chat turn of the process."""
    key = (getattr(settings, "executor", "local"), getattr(settings, "ray_address", None),
           getattr(settings, "ray_resource", "GPU"), getattr(settings, "ray_workers", None),
           getattr(settings, "ray_model_budget_gb", None))
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = make_executor(key[0], address=key[1], resource=key[2], actors=key[3],
                                         budget_gb=key[4])
        return _SHARED[key]


def close_executors() -> None:
    """Close every executor this process made (their workers stop)."""
    with _SHARED_LOCK:
        executors = list(_SHARED.values())
        _SHARED.clear()
    for ex in executors:
        ex.close()

