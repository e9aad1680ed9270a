"""The run context every node receives through LangGraph's `Runtime`: store, LLM, tracer, options.

The context is built by the runner for each invocation (it holds live objects, so it is never
checkpointed); everything a resumed run needs to rebuild it is in the run directory. Graph state holds
only plain JSON values and references.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filmcrew.artifacts import ArtifactStore
from filmcrew.config import RunOptions, Settings
from filmcrew.executor import executor_for
from filmcrew.llm.chat import CrewLLM
from filmcrew.relay import StreamProgress
from filmcrew.tracing import Tracer


def _default_run_dir() -> Path:
    return Settings().runs_dir / "langgraph-dev"


@dataclass
class CrewContext:
    """Where a run writes and who answers its agents.

    Built with no arguments (as `langgraph dev` does from an empty context), it opens the default
    run directory and the configured LLM on first use, inside a node (no file I/O on the server's
    event loop).
    """

    run_dir: Path = field(default_factory=_default_run_dir)
    settings: Settings = field(default_factory=Settings)
    run_id: str = ""  # thread id stamped on every trace record
    llm_spec: str | None = None  # "provider:model"; None = the settings' FILMCREW_LLM
    chat_model: Any | None = None  # a ready LangChain chat model (tests, custom clients)
    store: ArtifactStore = None  # type: ignore[assignment]  # set by opened()
    llm: CrewLLM = None  # type: ignore[assignment]  # set by opened()

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)

    def opened(self) -> CrewContext:
        """Open the run directory's store and trace, and the LLM, if not open yet."""
        if self.store is None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.store = ArtifactStore(self.run_dir,
                                       Tracer(self.run_dir / "trace.jsonl", run_id=self.run_id),
                                       executor=executor_for(self.settings))
        if self.llm is None:
            self.llm = CrewLLM(self.llm_spec or self.settings.llm, settings=self.settings,
                               store=self.store, model=self.chat_model)
        return self

    @classmethod
    def create(cls, run_dir: Path, *, run_id: str = "", llm_spec: str | None = None,
               settings: Settings | None = None, chat_model: Any | None = None) -> CrewContext:
        """Open (or create) a run directory: its store, its trace and the configured LLM."""
        return cls(run_dir=Path(run_dir), settings=settings or Settings(), run_id=run_id,
                   llm_spec=llm_spec, chat_model=chat_model).opened()


_DEFAULT: list[CrewContext] = []


def crew_context(runtime: Any) -> CrewContext:
    """The invocation's context, or a default one (scripts that give none)."""
    ctx = getattr(runtime, "context", None)
    if isinstance(ctx, CrewContext):
        return ctx.opened()
    if not _DEFAULT:
        _DEFAULT.append(CrewContext())
    return _DEFAULT[0].opened()


def options_of(state: dict[str, Any]) -> RunOptions:
    return RunOptions.model_validate(state.get("options") or {})


def progress_callback(node: str, shot_id: str | None = None,
                      stage: str = "render") -> Callable[[int, int], None]:
    """A plain `progress(step, total)` that emits LangGraph custom stream events (no-op outside);
    it reaches the driver's stream from a Ray worker too (filmcrew/executor.py)."""
    return StreamProgress(node, shot_id, stage)
