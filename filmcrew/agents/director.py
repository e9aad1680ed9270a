"""The director in a conversation: reads each chat message as a new film, an edit of the cut, or talk.

An edit changes only what it names (one shot's timing, a dropped shot, the music brief) and keeps
every other shot exactly as it was, ids included, so the artifact store serves their annotations and
clips and only the touched parts re-render. After the render the director answers with the new cut,
which is also kept as `cuts/cut-<turn>.mp4`.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END
from langgraph.types import Command, Overwrite

from filmcrew.agents.planner import snap_to_frames
from filmcrew.context import crew_context, options_of
from filmcrew.llm.prompts import render
from filmcrew.schemas import ChatTurn, SceneEdit, Shot, StoryPlan


def pending_message(state: dict[str, Any]) -> str | None:
    """The text of the user's latest message if the crew has not answered it yet."""
    messages = state.get("messages") or []
    if messages and isinstance(messages[-1], HumanMessage):
        content = messages[-1].content
        return content if isinstance(content, str) else " ".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict))
    return None


def apply_turn(plan: StoryPlan, turn: ChatTurn, fps: int) -> StoryPlan:
    """The plan with the turn's shot and music edits applied; untouched shots stay identical."""
    shots = list(plan.shots)
    for e in turn.shot_edits:
        i = len(shots) - 1 if e.shot == -1 else e.shot - 1
        if not 0 <= i < len(shots):
            raise ValueError(f"there is no shot {e.shot}; the cut has {len(shots)} shots")
        s = shots[i]
        if e.op == "drop":
            if len(shots) == 1:
                raise ValueError("the cut has one shot; describe a new film instead of dropping it")
            del shots[i]
            continue
        factor = {"slower": e.factor, "longer": e.factor, "faster": 1 / e.factor,
                  "shorter": 1 / e.factor}.get(e.op, 1.0)
        update: dict[str, Any] = {"duration_s": s.duration_s * factor}
        if e.op in ("slower", "faster"):  # slower = the world runs slower on screen, for longer
            update["camera"] = s.camera.model_copy(update={"time_scale": s.camera.time_scale / factor})
        if e.op == "reprompt" and e.prompt.strip():
            update |= {"local_prompt": e.prompt.strip(), "events": [e.prompt.strip()]}
        shots[i] = s.model_copy(update=update)
    drifters = {a.subject for s in shots for a in s.actions if a.verb in ("drift", "float")}
    shots = [apply_scene_edits(s, turn.scene_edits, drifters) for s in shots]
    brief = plan.music_brief
    if turn.music is not None:
        m = turn.music
        update = {k: v for k, v in m.model_dump(exclude={"tempo_factor"}).items() if v is not None}
        if m.description is None and (m.emotional_tone or m.brightness):
            update["description"] = f"{m.emotional_tone or m.brightness} {brief.description}"
        if m.tempo_factor:
            lo = min(max(brief.tempo_bpm_min * m.tempo_factor, 40), 240)
            hi = min(max(brief.tempo_bpm_max * m.tempo_factor, lo), 240)
            update |= {"tempo_bpm_min": round(lo, 1), "tempo_bpm_max": round(hi, 1)}
        brief = brief.model_validate({**brief.model_dump(), **update})
    edited = plan.model_copy(update={"shots": shots, "music_brief": brief})
    return snap_to_frames(edited, fps, sum(s.duration_s for s in shots))


def apply_scene_edits(shot: Shot, edits: list[SceneEdit], drifters: set[str] | None = None) -> Shot:
    """The shot with subjects' paces and counts changed; a shot without the subject is returned as is.

    A faster (slower) subject's actions get a higher (lower) pace, and a river or stream it drifts or
    floats on (in this shot, or anywhere in the film: `drifters`) flows faster (slower) with it; a
    count edit sets the subject's count.
    """
    for e in edits:
        names = {s.name for s in shot.subjects}
        name = e.subject if e.subject in names else next(
            (n for n in names if n.split()[-1] == e.subject.split()[-1]), None)
        if name is None:
            continue
        if e.op == "count" and e.count is not None:
            subjects = [s.model_copy(update={"count": e.count}) if s.name == name else s for s in shot.subjects]
            shot = shot.model_copy(update={"subjects": subjects})
            continue
        k = e.factor if e.op == "faster" else 1 / e.factor
        actions = [a.model_copy(update={"pace": round(min(10.0, a.pace * k), 3)}) if a.subject == name else a
                   for a in shot.actions]
        drifts = name in (drifters or set()) or any(
            a.subject == name and a.verb in ("drift", "float") for a in shot.actions)
        carried = {sc.name for sc in shot.scenery if drifts}  # the current carries it: it runs faster too
        scenery = [sc.model_copy(update={"speed_m_s": round(sc.speed_m_s * k, 3)})
                   if sc.name in carried and sc.kind in ("river", "stream") and sc.speed_m_s else sc
                   for sc in shot.scenery]
        shot = shot.model_copy(update={"actions": actions, "scenery": scenery})
    return shot


def interpret_node(state: dict[str, Any], runtime: Any) -> Command:
    """Route a scripted run to the planner; read a chat message and act on it."""
    from filmcrew.llm.offline_chat import interpret

    message = pending_message(state)
    if message is None:
        return Command(goto="planner")
    ctx = crew_context(runtime)
    opts = options_of(state)
    plan = StoryPlan.model_validate(state["plan"]) if state.get("plan") else None
    prompt = render("chat", message=message, plan=plan, duration_s=state.get("duration_s", 0.0))
    turn_no = int(state.get("turn", 0)) + 1
    fresh = {"turn": turn_no, "run_id": ctx.run_id or state.get("run_id", ""), "music": {},
             "plan_feedback": "", "approved": False}
    try:
        turn = ctx.llm.structured(f"director:{turn_no}", ChatTurn, prompt,
                                  offline=lambda: interpret(message, plan),
                                  check=lambda t: _check(t, plan, opts.fps),
                                  role="the director")
    except ValueError as e:  # an edit the cut cannot take ("drop shot 9"): say so, change nothing
        return Command(goto=END, update={**fresh, "messages": [AIMessage(f"I can't do that: {e}.")]})
    if turn.kind == "talk":
        return Command(goto=END, update={**fresh, "messages": [AIMessage(turn.reply or "OK.")]})
    if turn.kind == "new" or plan is None:
        return Command(goto="planner", update={**fresh, "request": turn.request or message,
                                               "annotations": Overwrite({}),
                                               "candidates": Overwrite({})})
    edited = apply_turn(plan, turn, opts.fps)
    return Command(goto="review_plan", update={**fresh, "plan": edited.model_dump(mode="json"),
                                               "duration_s": round(edited.duration_s, 2),
                                               "edit_note": turn.reply})


def _check(turn: ChatTurn, plan: StoryPlan | None, fps: int) -> None:
    if turn.kind == "edit":
        if plan is None:
            raise ValueError("there is no film to edit yet; use kind new")
        if not turn.shot_edits and turn.music is None and not turn.scene_edits:
            raise ValueError("an edit needs shot_edits, scene_edits or music")
        names = {x.name for s in plan.shots for x in s.subjects}
        for e in turn.scene_edits:
            if e.subject not in names and not any(n.split()[-1] == e.subject.split()[-1] for n in names):
                raise ValueError(f"scene edit names {e.subject!r}, which is not a subject of the plan "
                                 f"(they are: {', '.join(sorted(names))})")
        apply_turn(plan, turn, fps)  # raises for a shot that does not exist


def reply_node(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """After a chat turn's render: keep the cut as cuts/cut-<turn>.mp4 and say what changed."""
    if pending_message(state) is None:
        return {}
    from langgraph.config import get_config

    ctx = crew_context(runtime)
    turn = int(state.get("turn", 1))
    folder = ctx.run_dir / "cuts"
    if not ctx.run_id:  # a server (langgraph dev) shares one run dir among its threads
        folder = folder / str(get_config().get("configurable", {}).get("thread_id", "default"))
    cut = folder / f"cut-{turn}.mp4"
    cut.parent.mkdir(parents=True, exist_ok=True)
    tmp = cut.with_suffix(".mp4.tmp")
    shutil.copyfile(ctx.run_dir / "final.mp4", tmp)
    os.replace(tmp, cut)
    plan = StoryPlan.model_validate(state["plan"])
    b = plan.music_brief
    text = (f"{state.get('edit_note') or 'Here is the film.'} Cut {turn}: {cut} — "
            f"{len(plan.shots)} shots, {plan.duration_s:.2f} s "
            f"({', '.join(f'{s.duration_s:.2f}' for s in plan.shots)} s), music {b.key} {b.mode}, "
            f"{b.emotional_tone}.")
    cuts = [*state.get("cuts", []), str(cut.relative_to(ctx.run_dir))]
    return {"messages": [AIMessage(text)], "cuts": cuts, "edit_note": ""}
