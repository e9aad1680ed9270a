"""Scripted runs: start a film in a run directory, answer the plan approval, resume after a crash.

A run directory holds `run.json` (request, options, thread id), the SQLite checkpoint database, the
artifact store, `trace.jsonl` and the outputs. Checkpoints are written synchronously before each step
(`durability="sync"`) with a strict msgpack serializer (no pickle), and every tool call is served from
the artifact store when it already ran, so `resume` recomputes nothing that finished.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filmcrew.config import RunOptions, Settings, validate_request
from filmcrew.context import CrewContext

CHECKPOINT_DB = "checkpoints.sqlite"
RECURSION_LIMIT = 100

#: Receives each stream event: ("updates", {node: update}) or ("custom", {...progress...}).
EventSink = Callable[[str, Any], None]
#: Answers the plan approval interrupt; gets the HITL payload, returns the resume value.
Approver = Callable[[dict[str, Any]], Any]


class RunError(RuntimeError):
    """A run cannot start or continue; the message is one line for the user."""


@dataclass
class RunResult:
    run_dir: Path
    run_id: str
    status: str  # "done" | "rejected"
    final: Path | None
    state: dict[str, Any]


@contextmanager
def open_checkpointer(run_dir: Path) -> Iterator[Any]:
    """The run directory's SQLite checkpointer, with the strict (no-pickle) serializer."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(run_dir / CHECKPOINT_DB, check_same_thread=False)
    try:
        # allowed_msgpack_modules=None: strict mode whatever the environment says; state is plain JSON
        serde = JsonPlusSerializer(pickle_fallback=False, allowed_msgpack_modules=None)
        yield SqliteSaver(conn, serde=serde)
    finally:
        conn.close()


def prepare_run_dir(run_dir: Path) -> Path:
    """Create the run directory, or fail with a one-line reason if it cannot be written."""
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise RunError(f"cannot write to run dir {run_dir}: {e.strerror or e}") from None
    return run_dir


def start(request: str, options: RunOptions, run_dir: Path, *, approve: Approver | None = None,
          on_event: EventSink | None = None, settings: Settings | None = None,
          chat_model: Any | None = None) -> RunResult:
    """Make a film from `request` in `run_dir`. `approve=None` approves the plan unseen (--yes)."""
    from filmcrew.tools.video import video_backend

    request = validate_request(request)
    from filmcrew.agents.shot_editor import make_scorer

    # fail now, not after planning, when a backend cannot run here (missing weights, no GPU)
    video_backend(options.video_backend, debug_models=options.debug_models, settings=settings)
    make_scorer(options.scorer, options.debug_models, options.seed, settings)
    run_dir = prepare_run_dir(run_dir)
    meta_path = run_dir / "run.json"
    previous = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    run_id = f"run-{int(previous.get('runs', 0)) + 1}"
    meta = {"thread_id": run_id, "runs": int(previous.get("runs", 0)) + 1, "request": request,
            "options": options.model_dump(mode="json"), "auto_approve": approve is None,
            "status": "running"}
    _write_json(meta_path, meta)
    return _drive(run_dir, meta, _inputs(meta), approve, on_event, settings, chat_model)


def _inputs(meta: dict[str, Any]) -> dict[str, Any]:
    return {"request": meta["request"], "run_id": meta["thread_id"], "options": meta["options"],
            "auto_approve": meta["auto_approve"], "annotations": {}, "candidates": {}}


def resume(run_dir: Path, *, approve: Approver | None = None, on_event: EventSink | None = None,
           settings: Settings | None = None, chat_model: Any | None = None) -> RunResult:
    """Continue the last run in `run_dir` from its last checkpoint."""
    run_dir = Path(run_dir)
    meta_path = run_dir / "run.json"
    if not meta_path.exists():
        raise RunError(f"{run_dir} holds no run to resume (no run.json)")
    meta = json.loads(meta_path.read_text())
    return _drive(run_dir, meta, None, approve, on_event, settings, chat_model)


def _drive(run_dir: Path, meta: dict[str, Any], inputs: dict[str, Any] | None,
           approve: Approver | None, on_event: EventSink | None, settings: Settings | None,
           chat_model: Any | None) -> RunResult:
    from langgraph.types import Command

    from filmcrew.graphs.film import build_film_graph

    options = RunOptions.model_validate(meta["options"])
    ctx = CrewContext.create(run_dir, run_id=meta["thread_id"], llm_spec=options.llm,
                             settings=settings, chat_model=chat_model)
    config = {"configurable": {"thread_id": meta["thread_id"]}, "recursion_limit": RECURSION_LIMIT}
    sink = on_event or (lambda mode, data: None)
    sink("provider", ctx.llm.describe())
    with open_checkpointer(run_dir) as saver:
        app = build_film_graph().compile(checkpointer=saver)
        if inputs is None:
            snapshot = app.get_state(config)
            if not snapshot.next and snapshot.values.get("render"):
                return _finish(run_dir, meta, snapshot.values)
            pending = [i for t in snapshot.tasks for i in t.interrupts]
            payload: Any = None
            if not snapshot.values:  # killed before the first checkpoint: start over
                payload = _inputs(meta)
            elif pending:
                payload = Command(resume=_answer(pending[0].value, approve, meta))
        else:
            payload = inputs
        while True:
            interrupted = None
            for mode, data in app.stream(payload, config, context=ctx,
                                         stream_mode=["updates", "custom"], durability="sync"):
                if mode == "updates" and "__interrupt__" in data:
                    interrupted = data["__interrupt__"][0]
                    continue
                sink(mode, data)
            if interrupted is None:
                break
            payload = Command(resume=_answer(interrupted.value, approve, meta))
        values = app.get_state(config).values
    return _finish(run_dir, meta, values)


def _answer(request: dict[str, Any], approve: Approver | None, meta: dict[str, Any]) -> Any:
    if approve is None:
        if not meta.get("auto_approve"):
            raise RunError("the plan is waiting for approval; run with --yes or answer interactively")
        return {"decisions": [{"type": "approve"}]}
    return approve(request)


def _finish(run_dir: Path, meta: dict[str, Any], values: dict[str, Any]) -> RunResult:
    final = run_dir / "final.mp4"
    done = bool(values.get("render")) and final.exists()
    meta["status"] = "done" if done else "rejected"
    _write_json(run_dir / "run.json", meta)
    return RunResult(run_dir=run_dir, run_id=meta["thread_id"], status=meta["status"],
                     final=final if done else None, state=values)


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2), encoding="utf-8")
    os.replace(tmp, path)
