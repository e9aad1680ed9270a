"""CrewState: small JSON values and artifact references only, never media.

Per-shot results from parallel `Send` branches merge into dicts keyed by shot id (or
"<shot id>#<candidate>"), because the order of parallel updates is not guaranteed.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages


def merge_by_key(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer: union of two dicts, the newer value winning per key."""
    return {**(old or {}), **(new or {})}


class CrewState(TypedDict, total=False):
    request: str
    run_id: str
    options: dict[str, Any]  # RunOptions as JSON
    auto_approve: bool
    duration_s: float
    plan: dict[str, Any]  # StoryPlan as JSON
    plan_feedback: str
    approved: bool
    annotations: Annotated[dict[str, dict[str, Any]], merge_by_key]  # shot id -> PhysicsAnnotation
    candidates: Annotated[dict[str, dict[str, Any]], merge_by_key]  # "shot#k" -> Candidate
    edit: dict[str, Any]  # EditDecision
    music: dict[str, Any]  # spots/score/stems/mix refs, critiques, round, feedback
    render: dict[str, Any]  # ArtifactRef of the final film
    messages: Annotated[list[AnyMessage], add_messages]
    turn: int  # chat turns so far
    edit_note: str  # what the current chat turn changes, for the reply
    cuts: list[str]  # every chat turn's film, relative to the run dir
