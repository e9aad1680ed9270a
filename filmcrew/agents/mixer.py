"""The mixer: stems → a stereo mix at the loudness target with fades, exactly as long as the picture."""

from __future__ import annotations

from typing import Any

from filmcrew.context import crew_context, options_of
from filmcrew.schemas import ArtifactRef, MixPlan, Stem

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
    ref = mix_stems(ctx.store, "mixer", stems, plan, music["duration_s"], opts.sample_rate)
    music["mix"] = ref.model_dump(mode="json")
    return {"music": music}
