"""The film graph: interpret → planner → review_plan → physics (per shot) → generate (per shot × candidate)
→ shot editor → music subgraph → renderer → reply.

A scripted run goes straight to the planner; in a conversation `interpret` reads each new message as a
new film (planner), an edit of the plan (straight to review), or talk (an answer, nothing rendered).

`graph` (compiled without a checkpointer) is what `langgraph.json` exports; the runner compiles its
own with the run directory's SQLite checkpointer.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send, interrupt

from filmcrew.agents.director import interpret_node, reply_node
from filmcrew.agents.generator import generate_node
from filmcrew.agents.physics import annotate_node
from filmcrew.agents.planner import plan_node, snap_to_frames
from filmcrew.agents.renderer import render_node
from filmcrew.agents.shot_editor import edit_node
from filmcrew.artifacts import derive_seed
from filmcrew.context import CrewContext, options_of
from filmcrew.graphs.music import build_music_graph
from filmcrew.graphs.state import CrewState
from filmcrew.schemas import StoryPlan


def approval_request(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan-approval interrupt, in Agent Chat UI's HITLRequest shape."""
    return {
        "action_requests": [{"name": "approve_plan", "args": {"plan": plan},
                             "description": "Approve, edit or reject the shot plan."}],
        "review_configs": [{"action_name": "approve_plan",
                            "allowed_decisions": ["approve", "edit", "reject"]}],
    }


def review_plan_node(state: CrewState) -> dict[str, Any]:
    """Ask a human to approve, edit or reject the plan (skipped with auto-approve)."""
    if state.get("auto_approve"):
        return {"approved": True}
    answer = interrupt(approval_request(state["plan"]))
    decision = answer["decisions"][0] if isinstance(answer, dict) and "decisions" in answer else answer
    if isinstance(decision, str):
        decision = {"type": decision}
    kind = decision.get("type")
    if kind == "approve":
        return {"approved": True}
    if kind == "edit":
        plan = snap_to_frames(StoryPlan.model_validate(decision["edited_action"]["args"]["plan"]),
                              options_of(state).fps)
        return {"approved": True, "plan": plan.model_dump(mode="json"),
                "duration_s": round(plan.duration_s, 2)}
    if kind == "reject":
        return {"approved": False, "plan_feedback": str(decision.get("message", "")).strip()}
    raise ValueError(f"unknown plan decision {kind!r}; use approve, edit or reject")


def after_review(state: CrewState) -> list[Send] | str:
    """Approved: one physics branch per shot. Rejected with notes: re-plan. Rejected: stop."""
    if not state.get("approved"):
        return "planner" if state.get("plan_feedback") else END
    return [Send("physics", {"shot": s, "plan": state["plan"]}) for s in state["plan"]["shots"]]


def dispatch_generation(state: CrewState) -> list[Send]:
    """One generate branch per shot × candidate, with seeds derived from the run seed."""
    opts = options_of(state)
    plan = StoryPlan.model_validate(state["plan"])
    sends = []
    for position, shot in enumerate(plan.shots, 1):
        number = slate_number(shot.id, position)
        for index in range(opts.candidates):
            sends.append(Send("generate", {
                "shot": shot.model_dump(mode="json"),
                "annotation": state["annotations"].get(shot.id),
                "index": index,
                "seed": derive_seed(opts.seed, shot.id, index),
                "shot_number": number,
                "style": plan.style,
                "global_prompt": plan.global_prompt,
                "options": opts.model_dump(mode="json"),
            }))
    return sends


def slate_number(shot_id: str, position: int) -> int:
    """The shot's number on the slate: from its id ("shot-3" → 3), so dropping a shot in a chat
    edit renumbers nothing (and re-renders nothing); the position for ids without a number."""
    tail = shot_id.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else position


def build_film_graph() -> StateGraph:
    g = StateGraph(CrewState, context_schema=CrewContext)
    g.add_node("interpret", interpret_node, destinations=("planner", "review_plan", END))
    g.add_node("planner", plan_node)
    g.add_node("review_plan", review_plan_node)
    g.add_node("physics", annotate_node)
    g.add_node("physics_done", lambda state: {})
    g.add_node("generate", generate_node)
    g.add_node("shot_editor", edit_node)
    g.add_node("music", build_music_graph().compile())
    g.add_node("renderer", render_node)
    g.add_node("reply", reply_node)
    g.add_edge(START, "interpret")
    g.add_edge("planner", "review_plan")
    g.add_conditional_edges("review_plan", after_review, ["physics", "planner", END])
    g.add_edge("physics", "physics_done")
    g.add_conditional_edges("physics_done", dispatch_generation, ["generate"])
    g.add_edge("generate", "shot_editor")
    g.add_edge("shot_editor", "music")
    g.add_edge("music", "renderer")
    g.add_edge("renderer", "reply")
    g.add_edge("reply", END)
    return g


graph = build_film_graph().compile()
