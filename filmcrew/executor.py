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

Progress callbacks travel with the call: a `StreamProgress` (what the nodes pass to tools) pickled
inside a relay becomes a `RemoteProgress` on the worker, whose events come back to the original
callback in the driver, and whose next event raises `CallCancelled` once the driver cancels the call.

`ray` is imported only when the Ray executor is made: `import filmcrew` never imports it.
"""

from __future__ import annotations

import contextvars
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

Meta = dict[str, Any]
Make = Callable[[Path], Meta | None]

EXECUTORS = ("local", "ray")


class CallCancelled(RuntimeError):
    """A remote call stopped because the driver cancelled it (Ctrl-C, a closed run)."""


class RemoteCallFailed(RuntimeError):
    """A remote call failed twice for a reason outside the tool (its worker died both times)."""


@runtime_checkable
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
        """What it runs on, for `report.json` and `filmcrew doctor`."""
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


def cancel_executors() -> None:
    """Cancel every call in flight on the executors this process made (Ctrl-C)."""
    with _SHARED_LOCK:
        executors = list(_SHARED.values())
    for ex in executors:
        ex.cancel_all()


# -- progress across processes ------------------------------------------------------------------

Progress = Callable[[int, int], None]


class StreamProgress:
    """A `progress(step, total)` that emits LangGraph custom stream events (a no-op outside a graph
    run), throttled to every 1/50 of the work and the end. Picklable only inside `relay()`."""

    def __init__(self, node: str, shot_id: str | None, stage: str):
        self.node, self.shot_id, self.stage = node, shot_id, stage
        try:
            from langgraph.config import get_stream_writer

            self._writer: Callable[[dict], None] | None = get_stream_writer()
        except Exception:  # called outside a graph run (scripts, tests)
            self._writer = None
        self._last = -1

    def __call__(self, step: int, total: int) -> None:
        if self._writer is None:
            return
        if step == total or step - self._last >= max(1, total // 50):
            self._last = step
            self._writer({"type": "progress", "node": self.node, "shot_id": self.shot_id,
                          "stage": self.stage, "step": step, "total": total})

    def __reduce__(self) -> tuple:
        table = _RELAY.get()
        if table is None:
            raise TypeError("a progress callback crosses processes only through an executor's relay")
        token = next(_TOKENS)
        table[token] = self
        return (RemoteProgress, (token,))


_RELAY: contextvars.ContextVar[dict[int, Progress] | None] = contextvars.ContextVar(
    "filmcrew_relay", default=None)
_TOKENS = itertools.count(1)


@contextmanager
def relay() -> Iterator[dict[int, Progress]]:
    """While pickling a call: every `StreamProgress` in it is recorded here by token (the driver
    forwards the worker's events for that token to it) and pickled as a `RemoteProgress`."""
    table: dict[int, Progress] = {}
    reset = _RELAY.set(table)
    try:
        yield table
    finally:
        _RELAY.reset(reset)


class Channel:
    """The worker side of one call: progress events out, a cancel flag in (filmcrew/cluster.py)."""

    def __init__(self) -> None:
        self.events: list[tuple[int, int, int]] = []  # (token, step, total)
        self.cancelled = threading.Event()
        self.ready = threading.Condition()

    def emit(self, token: int, step: int, total: int) -> None:
        if self.cancelled.is_set():
            raise CallCancelled("the driver cancelled this call")
        with self.ready:
            self.events.append((token, step, total))
            self.ready.notify_all()


#: The channel of the call running in this worker thread (set by the worker around `make`).
CURRENT_CHANNEL: contextvars.ContextVar[Channel | None] = contextvars.ContextVar(
    "filmcrew_channel", default=None)


class RemoteProgress:
    """A driver's progress callback as seen on a worker: events go to the call's channel, throttled
    like the driver's; a cancelled call raises `CallCancelled` at its next step."""

    def __init__(self, token: int):
        self.token = token
        self.channel = CURRENT_CHANNEL.get()
        self._last = -1

    def __call__(self, step: int, total: int) -> None:
        if self.channel is None:
            return
        if self.channel.cancelled.is_set():
            raise CallCancelled("the driver cancelled this call")
        if step == total or step - self._last >= max(1, total // 50):
            self._last = step
            self.channel.emit(self.token, step, total)
