"""The exported graph: loadable from langgraph.json, no custom checkpointer, chat-ready state."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from filmcrew.graphs.film import approval_request
from filmcrew.graphs.state import CrewState, merge_by_key

ROOT = Path(__file__).resolve().parents[2]


def test_langgraph_json_points_at_a_compiled_graph_without_checkpointer():
    spec = json.loads((ROOT / "langgraph.json").read_text())
    assert spec["dependencies"] == ["."]
    assert spec["checkpointer"]["serde"]["pickle_fallback"] is False
    path, var = spec["graphs"]["filmcrew"].split(":")
    module = importlib.import_module(path.removeprefix("./").removesuffix(".py").replace("/", "."))
    graph = getattr(module, var)
    assert graph.checkpointer is None  # the server brings its own persistence
    assert {"planner", "review_plan", "physics", "generate", "shot_editor", "music",
            "renderer"} <= set(graph.nodes)
    assert "messages" in CrewState.__annotations__


def test_parallel_results_merge_by_key():
    assert merge_by_key({"shot-1": 1}, {"shot-2": 2}) == {"shot-1": 1, "shot-2": 2}
    assert merge_by_key(None, {"a": 1}) == {"a": 1}


def test_plan_approval_is_an_agent_chat_ui_interrupt():
    payload = approval_request({"shots": []})
    assert payload["action_requests"][0]["name"] == "approve_plan"
    assert payload["review_configs"][0]["allowed_decisions"] == ["approve", "edit", "reject"]


def test_review_gate_interrupts_before_any_fan_out():
    """With an in-memory checkpointer: the run stops at review_plan, nothing was annotated."""
    # the real review gate behind a fixed plan, so this test needs no model and no rendering
    plan = {"global_prompt": "g", "style": "", "shots": [
        {"id": "shot-1", "local_prompt": "a ball falls", "duration_s": 1.0}],
        "music_brief": {"scene": "s", "brightness": "bright", "color_tone": "c", "action": "a",
                        "emotional_tone": "calm", "shot_scale": "wide", "theme": "t",
                        "description": "d"}}
    app = _with_planner(plan).compile(checkpointer=InMemorySaver())
    cfg = {"configurable": {"thread_id": "t"}}
    out = app.invoke({"request": "x", "options": {}, "annotations": {}, "candidates": {}}, cfg)
    assert "__interrupt__" in out
    state = app.get_state(cfg)
    assert state.next == ("review_plan",) and state.values.get("annotations") == {}
    final = app.invoke(Command(resume={"decisions": [{"type": "reject"}]}), cfg)
    assert final.get("approved") is False and not final.get("annotations")


def _with_planner(plan):
    from langgraph.graph import END, START, StateGraph

    from filmcrew.graphs.film import after_review, review_plan_node

    g = StateGraph(CrewState)
    g.add_node("planner", lambda state: {"plan": plan})
    g.add_node("review_plan", review_plan_node)
    g.add_node("physics", lambda payload: {"annotations": {"x": {}}})
    g.add_edge(START, "planner")
    g.add_edge("planner", "review_plan")
    g.add_conditional_edges("review_plan", after_review, ["physics", "planner", END])
    g.add_edge("physics", END)
    return g
