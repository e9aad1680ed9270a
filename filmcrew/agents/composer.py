"""The composer: spots the cut for rhythm, then writes the score (FilmComposer, METHODS.md §5).

Rhythm spots come from the picture after the cut is decided: cut times (strongest), impacts the
physics produced (collisions, explosions), and peaks of optical-flow motion; a tempo in the brief's
range is fitted so beats land near the strong spots. A critic's reasons from the previous round are
passed to the generator as feedback.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from filmcrew.artifacts import ArtifactStore, derive_seed
from filmcrew.context import crew_context, options_of, progress_callback
from filmcrew.schemas import Candidate, EditDecision, RhythmSpots, StoryPlan
from filmcrew.tools.music import clip_motion, music_backend


def spot_rhythm(store: ArtifactStore, plan: StoryPlan, edit: EditDecision,
                chosen: list[Candidate]) -> tuple[RhythmSpots, list[tuple[float, float, float]]]:
    """Rhythm spots of the cut and one (start, end, energy) section per shot."""
    from filmcrew.tools.music import motion_peaks, rhythm_spots

    motion: list[tuple[float, float]] = []
    impacts: list[tuple[float, float]] = []
    sections: list[tuple[float, float, float]] = []
    energies = []
    t0 = 0.0
    for entry, cand in zip(edit.order, chosen, strict=True):
        fps = cand.clip.fps or 24.0
        energy = np.asarray(clip_motion(store, "composer", cand.clip))
        lo, hi = round(entry.in_s * fps), round(entry.out_s * fps)
        motion += motion_peaks(energy[lo:hi], fps, offset_s=t0)
        meta = cand.clip.meta
        for t, s in zip(meta.get("event_times", []), meta.get("event_strengths", []), strict=False):
            if entry.in_s <= float(t) < entry.out_s:
                impacts.append((t0 + float(t) - entry.in_s, float(s)))
        length = entry.out_s - entry.in_s
        energies.append(float(energy[lo:hi].mean()) if hi > lo else 0.0)
        sections.append((round(t0, 4), round(t0 + length, 4), 0.0))
        t0 += length
    top = max(energies) or 1.0
    sections = [(a, b, round(0.3 + 0.7 * e / top, 3)) for (a, b, _), e in zip(sections, energies, strict=True)]
    brief = plan.music_brief
    spots = rhythm_spots(t0, edit.cut_times_s, motion, impacts,
                         (brief.tempo_bpm_min, brief.tempo_bpm_max))
    return spots, sections


def compose_node(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Write (or rewrite, with the critics' reasons) the score for the cut."""
    ctx = crew_context(runtime)
    opts = options_of(state)
    plan = StoryPlan.model_validate(state["plan"])
    edit = EditDecision.model_validate(state["edit"])
    music = dict(state.get("music") or {})
    if "spots" not in music:
        chosen = [Candidate.model_validate(state["candidates"][f"{e.shot_id}#{e.candidate}"])
                  for e in edit.order]
        spots, sections = spot_rhythm(ctx.store, plan, edit, chosen)
        spots_ref = ctx.store.get_or_create(
            "composer", "rhythm_spots", "1", spots.model_dump(mode="json"), ext="json",
            media_type="application/json", make=ArtifactStore.json_writer(spots.model_dump(mode="json")))
        music.update(spots=spots_ref.model_dump(mode="json"), sections=sections, round=0)
    spots = RhythmSpots.model_validate(ctx.store.read_json(_ref(music["spots"])))
    duration = sum(e.out_s - e.in_s for e in edit.order)
    backend = music_backend(opts.music_backend, debug_models=opts.debug_models, settings=ctx.settings)
    score_ref, stems_ref = backend.compose(
        ctx.store, "composer", plan.music_brief, spots, [tuple(s) for s in music["sections"]],
        duration, seed=derive_seed(opts.seed, "music"), feedback=list(music.get("feedback", [])),
        sample_rate=opts.sample_rate, progress=progress_callback("composer", None, "compose"),
    )
    music.update(score=score_ref.model_dump(mode="json"), stems=stems_ref.model_dump(mode="json"),
                 duration_s=duration)
    return {"music": music}


def _ref(d: dict[str, Any]) -> Any:
    from filmcrew.schemas import ArtifactRef

    return ArtifactRef.model_validate(d)
