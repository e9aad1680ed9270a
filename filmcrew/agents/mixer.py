"""The mixer: stems → a stereo mix at the loudness target with fades, exactly as long as the picture.

Shots that carry their own sound (RFLAV ambience) become an ambience stem on the film's timeline,
ducked under the score.
"""

from __future__ import annotations

from typing import Any

from filmcrew.context import crew_context, options_of
from filmcrew.schemas import ArtifactRef, Candidate, EditDecision, MixPlan, Stem
from filmcrew.timing import EditGrid

# Gains and pans of a small film orchestra: the melody leads, harmony sits wide and under it.
BALANCE = {"melody": (0.0, 0.1), "harmony": (-5.0, -0.3), "bass": (-3.0, 0.0),
           "percussion": (-4.0, 0.15)}


def mix_node(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    from filmcrew.tools.music import mix_stems

    ctx = crew_context(runtime)
    opts = options_of(state)
    music = dict(state["music"])
    stems = ArtifactRef.model_validate(music["stems"])
    names = stems.meta.get("stems", list(BALANCE))
    plan = MixPlan(
        stems=[Stem(name=str(n), audio=stems, gain_db=BALANCE.get(str(n), (0.0, 0.0))[0],
                    pan=BALANCE.get(str(n), (0.0, 0.0))[1]) for n in names],
        target_lufs=opts.target_lufs,
    )
    ambience = _ambience(ctx, state, music["duration_s"], opts.sample_rate, opts.fps)
    ref = mix_stems(ctx.store, "mixer", stems, plan, music["duration_s"], opts.sample_rate,
                    ambience=ambience)
    music["mix"] = ref.model_dump(mode="json")
    if ambience is not None:
        music["ambience"] = ambience.model_dump(mode="json")
    return {"music": music}


def _ambience(ctx: Any, state: dict[str, Any], duration_s: float, sample_rate: int,
              fps: int) -> ArtifactRef | None:
    """The chosen clips' own sound (RFLAV shots) on the film's timeline, or None if none has any."""
    from filmcrew.tools.music import ambience_stem

    edit = EditDecision.model_validate(state["edit"])
    starts = EditGrid.of_edit(edit, fps).start_times_s  # where each clip's sound begins
    pieces = []
    for start, entry in zip(starts, edit.order, strict=True):
        clip = Candidate.model_validate(state["candidates"][f"{entry.shot_id}#{entry.candidate}"]).clip
        uri = clip.meta.get("ambience_uri")
        if isinstance(uri, str):
            pieces.append((ctx.store.ref_at(uri), start, entry.in_s, entry.out_s))
    if not pieces:
        return None
    return ambience_stem(ctx.store, "mixer", pieces, duration_s, sample_rate)
