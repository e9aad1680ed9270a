"""The run context every node receives through LangGraph's `Runtime`: store, LLM, tracer, options.

The context is built by the runner for each invocation (it holds live objects, so it is never
checkpointed); everything a resumed run needs to rebuild it is in the run directory. Graph state holds
only plain JSON values and references.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filmcrew.artifacts import ArtifactStore
from filmcrew.config import RunOptions, Settings
from filmcrew.llm.chat import CrewLLM
from filmcrew.tracing import Tracer


@dataclass
class CrewContext:
    run_dir: Path
    store: ArtifactStore
    llm: CrewLLM
    settings: Settings = field(default_factory=Settings)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, run_dir: Path, *, run_id: str = "", llm_spec: str | None = None,
               settings: Settings | None = None, chat_model: Any | None = None) -> CrewContext:
        """Open (or create) a run directory: its store, its trace and the configured LLM."""
        settings = settings or Settings()
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        tracer = Tracer(run_dir / "trace.jsonl", run_id=run_id)
        store = ArtifactStore(run_dir, tracer)
        llm = CrewLLM(llm_spec or settings.llm, settings=settings, store=store, tracer=tracer,
                      model=chat_model)
        return cls(run_dir=run_dir, store=store, llm=llm, settings=settings)


_DEFAULT: dict[str, CrewContext] = {}


def crew_context(runtime: Any) -> CrewContext:
    """The invocation's context; under `langgraph dev` (no context given) a default run dir."""
    ctx = getattr(runtime, "context", None)
    if isinstance(ctx, CrewContext):
        return ctx
    if "dev" not in _DEFAULT:
        _DEFAULT["dev"] = CrewContext.create(Settings().runs_dir / "langgraph-dev")
    return _DEFAULT["dev"]


def options_of(state: dict[str, Any]) -> RunOptions:
    return RunOptions.model_validate(state.get("options") or {})


def progress_callback(node: str, shot_id: str | None = None,
                      stage: str = "render") -> Callable[[int, int], None]:
    """A plain `progress(step, total)` that emits LangGraph custom stream events (no-op outside)."""
    try:
        from langgraph.config import get_stream_writer

        writer = get_stream_writer()
    except Exception:  # called outside a graph run (scripts, tests)
        return lambda step, total: None

    last = {"step": -1}

    def progress(step: int, total: int) -> None:
        # throttle: every 1/50 of the work, and the end
        if step == total or step - last["step"] >= max(1, total // 50):
            last["step"] = step
            writer({"type": "progress", "node": node, "shot_id": shot_id, "stage": stage,
                    "step": step, "total": total})

    return progress
