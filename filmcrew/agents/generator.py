"""The camera department: renders one candidate clip of one shot with the run's video backend."""

from __future__ import annotations

from typing import Any

from filmcrew.context import crew_context, progress_callback
from filmcrew.schemas import Candidate, PhysicsAnnotation, Shot
from filmcrew.tools.video import video_backend


def generate_node(payload: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Render candidate `index` of the shot in the `Send` payload; merge by "<shot id>#<index>"."""
    ctx = crew_context(runtime)
    shot = Shot.model_validate(payload["shot"])
    ann = payload.get("annotation")
    annotation = PhysicsAnnotation.model_validate(ann) if ann else None
    opts = payload["options"]
    backend_name = shot.backend or opts["video_backend"]
    backend = video_backend(backend_name, overlay=opts["overlay"], debug_models=opts["debug_models"],
                            settings=ctx.settings)
    index, seed = payload["index"], payload["seed"]
    clip = backend.generate(
        ctx.store, f"generate:{shot.id}#{index}", shot, annotation, seed=seed,
        width=opts["width"], height=opts["height"], fps=opts["fps"],
        shot_number=payload["shot_number"], style=payload.get("style", ""),
        global_prompt=payload.get("global_prompt", ""),
        progress=progress_callback("generate", f"{shot.id}#{index}"),
    )
    cand = Candidate(shot_id=shot.id, index=index, seed=seed, backend=backend.name, clip=clip)
    return {"candidates": {f"{shot.id}#{index}": cand.model_dump(mode="json")}}
