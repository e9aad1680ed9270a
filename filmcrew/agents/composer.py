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
from filmcrew.timing import EditGrid
from filmcrew.tools.music import clip_motion, music_backend


def spot_rhythm(store: ArtifactStore, plan: StoryPlan, edit: EditDecision,
                chosen: list[Candidate], fps: int | None = None,
                ) -> tuple[RhythmSpots, list[tuple[float, float, float]]]:
    """Rhythm spots of the cut and one (start, end, energy) section per shot.

    Times come from the edit on the film's frame grid (`filmcrew.timing.EditGrid` at `fps`, else
    the first clip's rate): sections run from cut to cut and the last ends at the film's duration.
    """
    from filmcrew.timing import frames_of
    from filmcrew.tools.music import motion_peaks, rhythm_spots

    film_fps = int(fps or round(chosen[0].clip.fps or 24))
    grid = EditGrid.of_edit(edit, film_fps)
    motion: list[tuple[float, float]] = []
    impacts: list[tuple[float, float]] = []
    energies = []
    for entry, cand, t0 in zip(edit.order, chosen, grid.start_times_s, strict=True):
        clip_fps = cand.clip.fps or film_fps
        energy = np.asarray(clip_motion(store, "composer", cand.clip))
        lo, hi = frames_of(entry.in_s, round(clip_fps)), frames_of(entry.out_s, round(clip_fps))
        motion += motion_peaks(energy[lo:hi], clip_fps, offset_s=t0)
        meta = cand.clip.meta
        for t, s in zip(meta.get("event_times", []), meta.get("event_strengths", []), strict=False):
            if entry.in_s <= float(t) < entry.out_s:
                impacts.append((t0 + float(t) - entry.in_s, float(s)))
        energies.append(float(energy[lo:hi].mean()) if hi > lo else 0.0)
    top = max(energies) or 1.0
    sections = [(a, b, round(0.3 + 0.7 * e / top, 3))
                for (a, b), e in zip(grid.sections_s, energies, strict=True)]
    brief = plan.music_brief
    spots = rhythm_spots(grid.duration_s, grid.cut_times_s, motion, impacts,
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
        spots, sections = spot_rhythm(ctx.store, plan, edit, chosen, opts.fps)
        spots_ref = ctx.store.get_or_create(
            "composer", "rhythm_spots", "1", spots.model_dump(mode="json"), ext="json",
            media_type="application/json", make=ArtifactStore.json_writer(spots.model_dump(mode="json")))
        music.update(spots=spots_ref.model_dump(mode="json"), sections=sections, round=0)
    spots = RhythmSpots.model_validate(ctx.store.read_json(_ref(music["spots"])))
    duration = EditGrid.of_edit(edit, opts.fps).duration_s
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
