"""What crosses between the driver and a worker with a shipped tool call (filmcrew/executor.py):
progress callbacks that relay their events back, the worker side of a call, and the errors a remote
call ends with."""

from __future__ import annotations

import contextvars
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Progress = Callable[[int, int], None]
Meta = dict[str, Any]
Make = Callable[[Path], Meta | None]  # a tool call's work: write the artifact at the path, say its meta


class CallCancelled(RuntimeError):
    """A remote call stopped because the driver cancelled it (Ctrl-C, a closed run)."""


class RemoteCallFailed(RuntimeError):
    """A remote call failed twice for a reason outside the tool (its worker died both times)."""


def _due(step: int, total: int, last: int) -> bool:
    """Whether a progress step is worth an event: every 1/50 of the work, and the end."""
    return step == total or step - last >= max(1, total // 50)


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
        if _due(step, total, self._last):
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
        if _due(step, total, self._last):
            self._last = step
            self.channel.emit(self.token, step, total)
