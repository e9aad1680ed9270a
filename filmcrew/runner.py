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

from filmcrew.config import RunOptions, Settings
from filmcrew.context import CrewContext
from filmcrew.inputs import CHECKPOINT_DB, RunError, check_request

RECURSION_LIMIT = 100

#: Receives each stream event: ("updates", {node: update}) or ("custom", {...progress...}).
EventSink = Callable[[str, Any], None]
#: Answers the plan approval interrupt; gets the HITL payload, returns the resume value.
Approver = Callable[[dict[str, Any]], Any]


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
    from filmcrew.agents.shot_editor import make_scorer
    from filmcrew.tools.video import video_backend

    request = check_request(request)
    settings = settings or Settings()
    # fail now, not after planning, when a backend cannot run here (missing weights, no GPU)
    video_backend(options.video_backend, debug_models=options.debug_models, settings=settings)
    make_scorer(options.scorer, options.debug_models, options.seed, settings)
    _check_music_backend(options, settings)
    if options.store_latents or options.interpolate_fps:
        from filmcrew.tools.video.regen.crew import regen_spec

        regen_spec(settings.regen_checkpoint, debug_models=options.debug_models)  # checks, no load
    run_dir = prepare_run_dir(run_dir)
    meta_path = run_dir / "run.json"
    previous = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    run_id = f"run-{int(previous.get('runs', 0)) + 1}"
    meta = {"thread_id": run_id, "runs": int(previous.get("runs", 0)) + 1, "request": request,
            "options": options.model_dump(mode="json"), "auto_approve": approve is None,
            "status": "running"}
    _write_json(meta_path, meta)
    return _drive(run_dir, meta, _inputs(meta), approve, on_event, settings, chat_model)


def _check_music_backend(options: RunOptions, settings: Settings) -> None:
    """Fail before planning when the music backend cannot run here (missing weights, package)."""
    if options.debug_models or options.music_backend == "procedural":
        return
    if options.music_backend == "musicgen":
        from filmcrew.tools.music.musicgen.model import find_musicgen

        find_musicgen(settings.musicgen_model)
    elif options.music_backend == "audiocraft":
        import importlib.util

        if importlib.util.find_spec("audiocraft") is None:
            raise RunError("--music-backend audiocraft needs audiocraft, which pins torch 2.1: run "
                           "filmcrew from its own environment (`make test-audiocraft` builds one)")


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
           chat_model: Any | None, ctx: CrewContext | None = None) -> RunResult:
    from langgraph.types import Command

    from filmcrew.graphs.film import build_film_graph

    options = RunOptions.model_validate(meta["options"])
    if ctx is None:
        ctx = CrewContext.create(run_dir, run_id=meta["thread_id"], llm_spec=options.llm,
                                 settings=settings, chat_model=chat_model)
    approve = _recording(approve, meta, ctx)
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
                payload = Command(resume=approve(pending[0].value))
        else:
            payload = inputs
        while True:
            interrupted = stream(app, payload, config, ctx, sink)
            if interrupted is None:
                break
            payload = Command(resume=approve(interrupted.value))
        values = app.get_state(config).values
    return _finish(run_dir, meta, values)


def stream(app: Any, payload: Any, config: dict[str, Any], ctx: CrewContext,
           sink: EventSink) -> Any:
    """Run the graph until it ends or asks for approval; return the pending interrupt, if any."""
    interrupted = None
    # subgraphs=True: the music subgraph's progress events (composer, critic) come through
    for _ns, mode, data in app.stream(payload, config, context=ctx, subgraphs=True,
                                      stream_mode=["updates", "custom"], durability="sync"):
        if mode == "updates" and "__interrupt__" in data:
            interrupted = data["__interrupt__"][0]
            continue
        sink(mode, data)
    return interrupted


def _recording(approve: Approver | None, meta: dict[str, Any], ctx: CrewContext) -> Approver:
    """The approver, with every decision written to the trace (replay answers from it)."""
    from filmcrew.artifacts import params_hash

    def answer(request: dict[str, Any]) -> Any:
        value = _answer(request, approve, meta)
        ctx.store.tracer.record("human", "review_plan", "decision",
                                params_hash("plan_decision", "1", request), False,
                                0.0, call_index=ctx.store.tracer.next_index("human", "review_plan"),
                                answer=value)
        return value

    return answer


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


#: The graph nodes whose calls `replay --live` can send to the real provider or tool.
LIVE_NODES = ("planner", "physics", "generate", "shot_editor", "composer", "critic", "mixer",
              "renderer")


@dataclass
class ReplayResult:
    run_dir: Path
    status: str  # "done" | "rejected"
    final: Path | None
    report: dict[str, Any]  # what replay.json holds


def replay(source: Path, run_dir: Path | None = None, *, live: tuple[str, ...] | list[str] = (),
           run_id: str | None = None, on_event: EventSink | None = None,
           settings: Settings | None = None, chat_model: Any | None = None) -> ReplayResult:
    """Re-run the recorded run at `source` in a new run directory, serving every call from the
    recording; calls of `live` nodes go to the real provider/tool. Writes `replay.json`; a strict
    replay that diverges raises `ReplayDivergence` after writing it."""
    from filmcrew.replay import (
        RecordedLLM,
        RecordedStore,
        Recording,
        ReplayDivergence,
        ReplayError,
        ReplaySession,
        recorded_approver,
        summary,
    )
    from filmcrew.tracing import Tracer

    unknown = sorted(set(live) - set(LIVE_NODES))
    if unknown:
        raise RunError(f"--live {','.join(unknown)}: no such node; choose from {', '.join(LIVE_NODES)}")
    try:
        recording = Recording.open(source, run_id)
        options = RunOptions.model_validate(recording.meta["options"])
    except (ReplayError, ValueError) as e:
        raise RunError(str(e).splitlines()[0]) from None
    run_dir = prepare_run_dir(run_dir or _fresh_sibling(recording.run_dir, "replay"))
    if (run_dir / "run.json").exists():
        raise RunError(f"{run_dir} already holds a run; give --run-dir a new directory")
    meta = {"thread_id": "run-1", "runs": 1, "request": recording.meta["request"],
            "options": options.model_dump(mode="json"),
            "auto_approve": bool(recording.meta.get("auto_approve")), "status": "running",
            "replay_of": str(recording.run_dir), "replayed_run": recording.run_id,
            "live": sorted(set(live))}
    _write_json(run_dir / "run.json", meta)
    settings = settings or Settings()
    session = ReplaySession(recording, set(live))
    tracer = Tracer(run_dir / "trace.jsonl", run_id="run-1")
    store = RecordedStore(run_dir, tracer, session)
    spec = options.llm or settings.llm
    llm = RecordedLLM(spec, settings=settings, store=store, model=chat_model, session=session)
    ctx = CrewContext(run_dir=run_dir, settings=settings, run_id="run-1", llm_spec=spec,
                      chat_model=chat_model, store=store, llm=llm)
    approve = recorded_approver(session, tracer, meta["auto_approve"])
    error: ReplayDivergence | None = None
    result = None
    try:
        result = _drive(run_dir, meta, _inputs(meta), approve, on_event, settings, chat_model, ctx=ctx)
    except ReplayDivergence as e:
        error = e
    report = {"source": str(recording.run_dir), "replayed_run": recording.run_id,
              "status": "diverged" if error else result.status,  # type: ignore[union-attr]
              **summary(session, tracer)}
    final = run_dir / "final.mp4"
    from filmcrew.artifacts import sha256_file

    report["final_sha256"] = sha256_file(final) if error is None and final.is_file() else None
    report["recorded_final_sha256"] = recording.final_sha256()
    report["same_final"] = report["final_sha256"] is not None and \
        report["final_sha256"] == report["recorded_final_sha256"]
    _write_json(run_dir / "replay.json", report)
    if error is not None:
        raise error
    return ReplayResult(run_dir=run_dir, status=result.status,  # type: ignore[union-attr]
                        final=result.final, report=report)  # type: ignore[union-attr]


def _fresh_sibling(path: Path, suffix: str) -> Path:
    """`<path>-<suffix>`, or `-<suffix>-2`, … whichever does not exist yet."""
    n = 1
    while True:
        candidate = path.with_name(f"{path.name}-{suffix}" + (f"-{n}" if n > 1 else ""))
        if not candidate.exists():
            return candidate
        n += 1
