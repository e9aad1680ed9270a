"""The Ray executor: the crew's GPU tool calls run on Ray actors, one per GPU, that keep models loaded.

The driver (the process running LangGraph) keeps the artifact store, its keys and its trace; a cache
miss of a `gpu=True` tool call hands the tool's `make(path)` to `RayExecutor.run`, which

1. pickles it with Ray's cloudpickle (the tool captured only plain values; its model is loaded on the
   worker through `tools/resident.py`), its progress callbacks turned into relays (executor.py);
2. routes it (`Router`): to the worker that already holds the call's model unless that worker is
   busier than a load is worth, else to the least loaded worker;
3. streams the call: progress events come back as they happen and go to the driver's callbacks (the
   CLI bars and the web page see the same events as a local run), then the meta;
4. retries once on another (or the restarted) worker if the worker died (killed, out of memory, node
   lost); a second death fails the call with `RemoteCallFailed`. An error of the tool itself is raised
   as it is, not retried.

Workers write the artifact at the path the driver chose, so the run directory must be on storage that
every node mounts at the same path; a worker that cannot see it says so. Actors are named
`filmcrew-worker-<job>-<i>` in the namespace `filmcrew`, so `filmcrew doctor` can list them and what
they hold. `ray` is imported only here, and only when a `RayExecutor` is made.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from filmcrew.relay import (
    CURRENT_CHANNEL,
    CallCancelled,
    Channel,
    Make,
    Meta,
    RemoteCallFailed,
    relay,
)

NAMESPACE = "filmcrew"
RESTART_WAIT_S = 300.0  # how long a retry waits for a dead worker to come back
PLACE_WAIT_S = 180.0  # how long a new executor waits for the cluster to start its workers
WORKER_PREFIX = "filmcrew-worker-"


def _ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise ValueError("the ray executor needs Ray: pip install -e \".[ray]\"") from e
    return ray


# -- the worker (runs inside a Ray actor) ---------------------------------------------------------


class Worker:
    """One GPU's worker: runs shipped calls one at a time and keeps their models resident.

    `routes` remembers, per routing model (the store's `model` string), which resident keys its last
    call loaded, so the worker can say which models it still holds after the LRU evicted some.
    """

    def __init__(self, index: int, budget_bytes: int | None, threads: int):
        import torch

        from filmcrew.tools.resident import RESIDENT

        if budget_bytes is not None:
            RESIDENT.budget_bytes = budget_bytes
        # CPU kernels split their sums by thread: the driver's thread count gives the driver's bytes
        torch.set_num_threads(threads)
        self.index = index
        self.calls = 0
        self.cancelled = 0  # calls stopped by the driver between their steps
        self.routes: dict[str, set] = {}
        self.channels: dict[int, Channel] = {}

    def call(self, call_id: int, model: str, payload: bytes, path: str):
        """Run one shipped `make(path)`: yields ("progress", (token, step, total)) as the tool reports,
        then ("done", meta, models held)."""
        import socket

        from ray import cloudpickle

        from filmcrew.tools.resident import RESIDENT

        target = Path(path)
        if not target.parent.is_dir():
            raise FileNotFoundError(
                f"the run directory {target.parent.parent.parent} is not visible on Ray node "
                f"{socket.gethostname()}: put runs on storage every node mounts at the same path "
                "(FILMCREW_RUNS_DIR or --run-dir)")
        channel = Channel()
        self.channels[call_id] = channel
        out: dict[str, Any] = {}
        finished = threading.Event()

        def work() -> None:
            CURRENT_CHANNEL.set(channel)
            out["keys"] = RESIDENT.track()
            try:
                # the driver's own pickled call, through Ray's authenticated channel (Ray pickles
                # every task argument the same way); nothing from a run's files is ever unpickled
                make = cloudpickle.loads(payload)
                out["meta"] = make(target)
            except BaseException as e:  # re-raised by the generator below, so in the driver
                out["error"] = e
            finally:
                finished.set()
                with channel.ready:
                    channel.ready.notify_all()

        thread = threading.Thread(target=work, name=f"filmcrew-call-{call_id}", daemon=True)
        thread.start()
        try:
            while True:
                with channel.ready:
                    channel.ready.wait_for(lambda: channel.events or finished.is_set(), timeout=1.0)
                    events, channel.events = channel.events, []
                for event in events:
                    yield ("progress", event)
                if finished.is_set() and not channel.events:
                    break
            thread.join()
        finally:
            self.channels.pop(call_id, None)
        self.calls += 1
        self.routes[model] = set(out.get("keys", ()))
        if "error" in out:
            self.cancelled += isinstance(out["error"], CallCancelled)
            raise out["error"]
        yield ("done", out["meta"], self.models())

    def cancel(self, call_id: int) -> bool:
        """Stop a running call at its next progress step (control group: runs beside the call)."""
        channel = self.channels.get(call_id)
        if channel is not None:
            channel.cancelled.set()
        return channel is not None

    def models(self) -> list[str]:
        """The routing models whose resident models are all still loaded here."""
        from filmcrew.tools.resident import RESIDENT

        return sorted(m for m, keys in self.routes.items()
                      if keys and all(RESIDENT.holds(k) for k in keys))

    def stats(self) -> dict[str, Any]:
        """What this worker is and holds (for `filmcrew doctor` and the tests)."""
        import socket

        from filmcrew.tools.resident import RESIDENT

        return {"index": self.index, "pid": os.getpid(), "host": socket.gethostname(),
                "calls": self.calls, "cancelled": self.cancelled, "busy": len(self.channels), "models": self.models(),
                "resident": RESIDENT.holding(), "loads": sum(RESIDENT.loads.values()),
                "budget_bytes": RESIDENT.budget_bytes}


# -- routing (driver side) ----------------------------------------------------------------------


class Router:
    """Which worker gets a call: the one holding its model, unless it is busier than a load is worth.

    Cost of a worker = calls in flight there + LOAD_COST if it does not hold the model; the cheapest
    wins, a holder on ties, then the lowest index. So a second call for a model waits behind one call
    on the worker that loaded it, and behind two another worker loads it too (8 shots over 2 workers
    spread, each loading the model once). A worker counts as holding a model from the moment a call
    for it is routed there.
    """

    LOAD_COST = 1

    def __init__(self, n: int):
        self.inflight = [0] * n
        self.held: list[set[str]] = [set() for _ in range(n)]
        self.pending: list[Counter[str]] = [Counter() for _ in range(n)]
        self._lock = threading.Lock()

    def pick(self, model: str, exclude: int | None = None) -> int:
        with self._lock:
            choices = [i for i in range(len(self.inflight)) if i != exclude] or [exclude or 0]

            def cost(i: int) -> tuple[int, bool, int]:
                holds = model in self.held[i] or self.pending[i][model] > 0
                return self.inflight[i] + (0 if holds else self.LOAD_COST), not holds, i

            i = min(choices, key=cost)
            self.inflight[i] += 1
            self.pending[i][model] += 1
            return i

    def done(self, i: int, model: str, held: list[str] | None) -> None:
        """A call ended: `held` is what the worker says it holds now (None: unknown, kept)."""
        with self._lock:
            self.inflight[i] -= 1
            self.pending[i][model] -= 1
            if held is not None:
                self.held[i] = set(held)

    def lost(self, i: int) -> None:
        """Worker `i` died: it restarts empty."""
        with self._lock:
            self.held[i] = set()


# -- the executor (driver side) -------------------------------------------------------------------


class RayExecutor:
    """GPU tool calls on a Ray cluster (FILMCREW_EXECUTOR=ray); see the module docstring."""

    name = "ray"

    def __init__(self, *, address: str | None = None, resource: str = "GPU",
                 actors: int | None = None, budget_gb: float | None = None):
        import torch

        ray = _ray()
        self.address = address or ""
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            if self.address:
                ray.init(address=self.address, namespace=NAMESPACE, log_to_driver=False)
            else:  # a local cluster of this machine
                ray.init(namespace=NAMESPACE, include_dashboard=False, log_to_driver=False)
        self.resource = resource
        have = int(ray.cluster_resources().get(resource, 0))
        n = actors or have
        if n <= 0 or have <= 0:
            raise ValueError(
                f"the Ray cluster ({self.address or 'local'}) has no {resource!r} resource: start "
                "its nodes with GPUs (or name another resource with FILMCREW_RAY_RESOURCE)")
        # a worker's resource is its GPU; its CPU threads are set to the driver's (see Worker)
        options: dict[str, Any] = {"num_cpus": 0, "max_restarts": -1, "max_task_retries": 0,
                                   "namespace": NAMESPACE}
        options |= {"num_gpus": 1} if resource == "GPU" else {"resources": {resource: 1}}
        budget = None if budget_gb is None else int(budget_gb * 2**30)
        job = ray.get_runtime_context().get_job_id()
        remote = ray.remote(concurrency_groups={"control": 2})(Worker)
        threads = torch.get_num_threads()
        self.workers = [remote.options(name=f"{WORKER_PREFIX}{job}-{i}", **options).remote(
            i, budget, threads) for i in range(n)]
        self._wait_placed(ray, n, resource)
        self.router = Router(n)
        self._ids = itertools.count(1)
        self._inflight: dict[int, tuple[int, Any]] = {}
        self._lock = threading.Lock()
        self.retries = 0  # calls run again because their worker died
        self.interrupted = False  # set by Ctrl-C: no new calls from then on
        self._dead = _death_errors(ray)
        self._sigint = None
        if threading.current_thread() is threading.main_thread():
            self._sigint = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        """Ctrl-C: cancel the remote calls first, so the graph's threads waiting on them end, and
        refuse the calls its branches still make while the run unwinds."""
        self.interrupted = True
        self.cancel_all()
        if callable(self._sigint):
            self._sigint(signum, frame)
        elif self._sigint != signal.SIG_IGN:
            raise KeyboardInterrupt

    def _wait_placed(self, ray: Any, n: int, resource: str) -> None:
        """Wait until every worker runs; a worker the cluster cannot place is an error, not a hang."""
        pending = [w.stats.options(concurrency_group="control").remote() for w in self.workers]
        ready, waiting = ray.wait(pending, num_returns=n, timeout=PLACE_WAIT_S)
        if waiting:
            for w in self.workers:
                with contextlib.suppress(Exception):
                    ray.kill(w, no_restart=True)
            raise ValueError(
                f"the Ray cluster placed {len(ready)} of {n} filmcrew workers (one {resource} each) "
                f"in {PLACE_WAIT_S:.0f} s; free the resource or set FILMCREW_RAY_WORKERS")
        ray.get(ready)  # a worker that failed to start raises its error here

    # -- calls ------------------------------------------------------------------------------------

    def run(self, model: str, make: Make, path: Path, *, label: str) -> Meta | None:
        from ray import cloudpickle

        with relay() as progress:
            payload = cloudpickle.dumps(make)
        died: int | None = None
        for attempt in (1, 2):
            i = self.router.pick(model, exclude=died)
            held: list[str] | None = None
            try:
                if died is not None:  # the retry: wait for its worker (restarting, perhaps)
                    self._wait_ready(i)
                meta, held = self._call(i, model, payload, path, progress)
                return meta
            except self._dead as e:
                died = i
                self.router.lost(i)
                self.retries += attempt == 1
                if attempt == 2:
                    raise RemoteCallFailed(
                        f"{label}: its Ray worker died twice ({type(e).__name__}); see the Ray "
                        "logs of the cluster (e.g. out of GPU memory)") from None
            finally:
                self.router.done(i, model, held)
        raise AssertionError("unreachable")

    def _wait_ready(self, i: int, timeout_s: float = RESTART_WAIT_S) -> None:
        """Wait until worker `i` answers (a killed worker restarts with a fresh process)."""
        import time

        ray = _ray()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                ray.get(self.workers[i].stats.options(concurrency_group="control").remote(),
                        timeout=max(1.0, deadline - time.monotonic()))
                return
            except self._dead + (ray.exceptions.GetTimeoutError,):
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)

    def _call(self, i: int, model: str, payload: bytes, path: Path,
              progress: dict[int, Any]) -> tuple[Meta | None, list[str]]:
        ray = _ray()
        call_id = next(self._ids)
        with self._lock:  # submitted and registered at once: cancel_all sees it or it sees Ctrl-C
            if self.interrupted:
                raise CallCancelled("the run was interrupted (Ctrl-C)")
            stream = self.workers[i].call.options(num_returns="streaming").remote(
                call_id, model, payload, str(path))
            self._inflight[call_id] = (i, stream)
        try:
            for ref in stream:
                try:
                    item = ray.get(ref)
                except ray.exceptions.TaskCancelledError:
                    raise CallCancelled("the run was cancelled") from None
                except ray.exceptions.RayTaskError as e:
                    raise (e.cause if isinstance(e.cause, BaseException) else e) from None
                if item[0] == "progress":
                    token, step, total = item[1]
                    if token in progress:
                        progress[token](step, total)
                else:
                    return item[1], item[2]
        finally:
            with self._lock:
                self._inflight.pop(call_id, None)
        raise RemoteCallFailed("a Ray worker ended a call without its result")

    def cancel_all(self) -> None:
        """Cancel every call in flight: running ones stop at their next progress step, queued ones
        never start; each raises `CallCancelled` in its caller."""
        ray = _ray()
        with self._lock:
            inflight = list(self._inflight.items())
        for call_id, (i, stream) in inflight:
            with contextlib.suppress(Exception):
                self.workers[i].cancel.options(concurrency_group="control").remote(call_id)
            with contextlib.suppress(Exception):
                ray.cancel(stream)

    def close(self) -> None:
        """Stop the workers (their models are freed); a cluster this executor started is shut down."""
        ray = _ray()
        for w in self.workers:
            with contextlib.suppress(Exception):
                ray.kill(w, no_restart=True)
        self.workers = []
        if self._sigint is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._sigint)
            self._sigint = None
        if self._owns_ray:
            ray.shutdown()

    # -- what it is -------------------------------------------------------------------------------

    def stats(self) -> list[dict[str, Any]]:
        """Each worker's `Worker.stats()`."""
        ray = _ray()
        return ray.get([w.stats.options(concurrency_group="control").remote() for w in self.workers])

    def describe(self) -> dict[str, Any]:
        return {"executor": "ray", "address": self.address or "local", "resource": self.resource,
                "workers": len(self.workers)}


def _death_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """The errors that mean the worker (not the tool) failed."""
    ex = ray.exceptions
    names = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "WorkerCrashedError",
             "OutOfMemoryError", "NodeDiedError", "ObjectLostError", "OwnerDiedError")
    return tuple(getattr(ex, n) for n in names if hasattr(ex, n))


# -- the cluster as `filmcrew doctor` shows it ------------------------------------------------------


def cluster_view(address: str | None, *, timeout_s: float = 10.0) -> dict[str, Any]:
    """Nodes (alive, GPUs, memory), and every filmcrew worker of a running driver with what it holds.

    Connects to `address` ("auto", "ray://…"); an empty address looks for a cluster already started
    on this machine and starts none.
    """
    ray = _ray()
    owns = not ray.is_initialized()
    if owns:
        ray.init(address=address or "auto", namespace=NAMESPACE, log_to_driver=False)
    try:
        nodes = [{"host": n.get("NodeManagerHostname") or n.get("NodeManagerAddress"),
                  "alive": bool(n.get("Alive")),
                  "gpus": n.get("Resources", {}).get("GPU", 0),
                  "cpus": n.get("Resources", {}).get("CPU", 0),
                  "memory_gb": round(n.get("Resources", {}).get("memory", 0) / 2**30, 1)}
                 for n in ray.nodes()]
        workers = []
        for entry in ray.util.list_named_actors(all_namespaces=True):
            if entry.get("namespace") != NAMESPACE or not entry["name"].startswith(WORKER_PREFIX):
                continue
            try:
                actor = ray.get_actor(entry["name"], namespace=NAMESPACE)
                stats = ray.get(actor.stats.options(concurrency_group="control").remote(),
                                timeout=timeout_s)
            except Exception as e:  # a worker that is restarting or gone
                stats = {"error": type(e).__name__}
            workers.append({"name": entry["name"], **stats})
        return {"address": address or "local", "nodes": nodes, "workers": workers,
                "resources": ray.cluster_resources()}
    finally:
        if owns:
            ray.shutdown()
