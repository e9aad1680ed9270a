"""filmcrew: an agentic film crew that turns a request into a multi-shot film with a score.

`import filmcrew` stays light (no torch, no LangGraph); the public functions import what they need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from filmcrew.config import RunOptions
    from filmcrew.runner import RunResult

__version__ = "0.1.0"
__all__ = ["build_graph", "run"]


def run(request: str, run_dir: str, options: RunOptions | None = None, **kwargs: Any) -> RunResult:
    """Make a film from `request` in `run_dir` with the plan approved (see `filmcrew.runner`)."""
    from pathlib import Path

    from filmcrew.config import RunOptions
    from filmcrew.runner import start

    return start(request, options or RunOptions(), Path(run_dir), **kwargs)


def build_graph() -> Any:
    """The uncompiled film StateGraph (compile it with your own checkpointer)."""
    from filmcrew.graphs.film import build_film_graph

    return build_film_graph()
