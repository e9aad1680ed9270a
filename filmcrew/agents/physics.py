"""The physics annotator: one shot → PhysicsAnnotation in the WISA format (METHODS.md §1.2-1.3).

The qualitative (29) and quantitative (18) vectors are derived from the parsed lists and values by the
schema, so they always agree with them.
"""

from __future__ import annotations

from typing import Any

from filmcrew.context import crew_context
from filmcrew.llm.prompts import render
from filmcrew.scene import describe_scene
from filmcrew.schemas import (
    DYNAMICS,
    OPTICS,
    STATE_CHANGES,
    THERMODYNAMICS,
    PhysicsAnnotation,
    Shot,
    StoryPlan,
)


def annotate_node(payload: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Annotate the shot in the `Send` payload {"shot", "plan"}; merge into state by shot id."""
    from filmcrew.llm.offline_physics import annotate_shot

    ctx = crew_context(runtime)
    shot = Shot.model_validate(payload["shot"])
    plan = StoryPlan.model_validate(payload["plan"])
    prompt = render("physics", global_prompt=plan.global_prompt, shot=shot, scene=describe_scene(shot),
                    dynamics=DYNAMICS,
                    thermodynamics=THERMODYNAMICS, optics=OPTICS, state_changes=STATE_CHANGES)

    def check(a: PhysicsAnnotation) -> None:
        if a.shot_id != shot.id:
            raise ValueError(f"shot_id is {a.shot_id!r}; it must be {shot.id!r}")

    ann = ctx.llm.structured(
        f"physics:{shot.id}", PhysicsAnnotation, prompt,
        offline=lambda: annotate_shot(shot, plan), check=check, role="the physics consultant",
    )
    return {"annotations": {shot.id: ann.model_dump(mode="json", exclude={"qualitative",
                                                                          "quantitative"})}}
