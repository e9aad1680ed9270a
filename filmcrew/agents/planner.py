"""The planner: request → StoryPlan (global prompt, shots with events, music brief).

Business rules are checked in code after parsing, and a violation goes back to the LLM as a repair
message: shot durations add up to the target, ids are unique, and the scene fields hold together
(names, counts, action times, one shot per story beat: `filmcrew.scene`).
"""

from __future__ import annotations

from typing import Any

from filmcrew.context import crew_context, options_of
from filmcrew.llm.prompts import render
from filmcrew.scene import check_scene
from filmcrew.schemas import StoryPlan

DEFAULT_DURATION_S = 12.0
MIN_SHOTS = 3


def target_duration(request: str, duration_s: float | None) -> float:
    """The film's length: the flag, else what the request states, else the default."""
    from filmcrew.llm.offline_planner import stated_duration

    target = duration_s or stated_duration(request)[0] or DEFAULT_DURATION_S
    if not 0 < target <= 600:
        raise ValueError(f"duration {target:g} s; must be > 0 and ≤ 600")
    return round(target, 2)


def check_plan(plan: StoryPlan, duration_s: float) -> None:
    """Raise ValueError (sent back to the LLM) when the plan breaks a rule."""
    ids = [s.id for s in plan.shots]
    if len(set(ids)) != len(ids):
        raise ValueError(f"shot ids must be unique; got {ids}")
    total = sum(s.duration_s for s in plan.shots)
    if abs(total - duration_s) > 0.05:
        raise ValueError(
            f"shot durations add up to {total:.2f} s; they must add up to {duration_s:.2f} s"
        )
    check_scene(plan)


def snap_to_frames(plan: StoryPlan, fps: int, duration_s: float | None = None) -> StoryPlan:
    """Make every shot a whole number of frames, the total exactly round(duration · fps) frames.

    Per-shot rounding alone can lose or gain a frame per shot; largest remainders keep the total.
    """
    total = round((duration_s if duration_s is not None else plan.duration_s) * fps)
    exact = [s.duration_s * fps * total / (plan.duration_s * fps) for s in plan.shots]
    frames = [max(1, int(x)) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - int(exact[i]), reverse=True)
    for i in by_remainder[: max(0, total - sum(frames))]:
        frames[i] += 1
    shots = [s.model_copy(update={"duration_s": n / fps}) for s, n in zip(plan.shots, frames, strict=True)]
    return plan.model_copy(update={"shots": shots})


def plan_node(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Write the plan for the request in state (or re-plan with the director's feedback)."""
    from filmcrew.llm.offline_planner import plan_request

    ctx = crew_context(runtime)
    opts = options_of(state)
    request = state["request"]
    duration = target_duration(request, opts.duration_s)
    feedback = state.get("plan_feedback", "")
    prompt = render("planner", request=request, duration_s=duration, min_shots=MIN_SHOTS,
                    feedback=feedback)
    plan = ctx.llm.structured(
        "planner", StoryPlan, prompt,
        offline=lambda: plan_request(request, duration, min_shots=MIN_SHOTS, seed=opts.seed),
        check=lambda p: check_plan(p, duration),
        role="the director and planner",
    )
    plan = snap_to_frames(plan, opts.fps, duration)
    return {"plan": plan.model_dump(mode="json"), "duration_s": duration}
