"""The camera department: renders one candidate clip of one shot with the run's video backend.

Ambient shots whose sound matters (fire, rain, waterfall, …) go to RFLAV when the run asks for it
(`--video-backend rflav`) or, with the previz default, when real RFLAV weights and a GPU are here; a
shot that is none of RFLAV's classes is rendered by previz instead.
"""

from __future__ import annotations

from typing import Any

from filmcrew.context import crew_context, progress_callback
from filmcrew.schemas import Candidate, PhysicsAnnotation, Shot
from filmcrew.tools.video import NoAmbientClass, rflav_available, video_backend


def generate_node(payload: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Render candidate `index` of the shot in the `Send` payload; merge by "<shot id>#<index>"."""
    ctx = crew_context(runtime)
    shot = Shot.model_validate(payload["shot"])
    ann = payload.get("annotation")
    annotation = PhysicsAnnotation.model_validate(ann) if ann else None
    opts = payload["options"]
    index, seed = payload["index"], payload["seed"]
    backend_name = shot.backend or opts["video_backend"]
    st = ctx.settings
    if backend_name == "previz" and not shot.backend and rflav_available(
            st.rflav_model, st.rflav_vae, st.rflav_vocoder):
        backend_name = "rflav"
    kwargs = {"seed": seed, "width": opts["width"], "height": opts["height"], "fps": opts["fps"],
              "shot_number": payload["shot_number"], "style": payload.get("style", ""),
              "global_prompt": payload.get("global_prompt", ""),
              "progress": progress_callback("generate", f"{shot.id}#{index}")}
    node = f"generate:{shot.id}#{index}"
    backend = video_backend(backend_name, overlay=opts["overlay"], debug_models=opts["debug_models"],
                            settings=ctx.settings)
    try:
        clip = backend.generate(ctx.store, node, shot, annotation, **kwargs)
    except NoAmbientClass:
        backend = video_backend("previz", overlay=opts["overlay"])
        clip = backend.generate(ctx.store, node, shot, annotation, **kwargs)
    if opts.get("store_latents"):  # keep the clip as REGEN latents; the crew reads their decode
        from filmcrew.tools.video import regen_spec, store_as_latents

        regen = regen_spec(ctx.settings.regen_checkpoint, debug_models=opts["debug_models"])
        clip = store_as_latents(ctx.store, node, clip, regen, steps=opts.get("regen_steps", 1))
    cand = Candidate(shot_id=shot.id, index=index, seed=seed, backend=backend.name, clip=clip)
    return {"candidates": {f"{shot.id}#{index}": cand.model_dump(mode="json")}}

