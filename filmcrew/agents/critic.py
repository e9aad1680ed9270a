"""The critic: FilmComposer's five reviewers (mode, melody, harmony, rhythm, emotion).

Each reviewer reads the melody as ABC text plus measured facts (onset-spot alignment, key
consistency). Offline, the reviewers are rules; with an LLM they are prompts over the same text and
facts. Any failure sends the composer back with the reasons, a bounded number of rounds.
"""

from __future__ import annotations

from typing import Any

from filmcrew.context import crew_context, options_of
from filmcrew.llm.prompts import render
from filmcrew.schemas import ArtifactRef, Critique, RhythmSpots, StoryPlan

CRITERIA = {
    "mode": "the notes belong to the key and mode of the brief; the mode suits the mood.",
    "melody": "a singable line: range within about an octave and a half, mostly steps and small "
              "leaps, a motif that returns, an ending that resolves to the tonic.",
    "harmony": "chord tones on strong beats, a progression that fits the key and mood, smooth "
               "voice leading.",
    "rhythm": "note onsets and accents fall on the rhythm spots of the cut (cuts and impacts).",
    "emotion": "tempo, mode, register and dynamics express the emotional tone and brightness.",
}


def critic_node(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Review the current score; record the critiques and the reasons for the next round."""
    from filmcrew.tools.media import read_audio
    from filmcrew.tools.music import Score, review_music

    ctx = crew_context(runtime)
    plan = StoryPlan.model_validate(state["plan"])
    music = dict(state["music"])
    brief = plan.music_brief
    score = Score.from_json(ctx.store.read_json(ArtifactRef.model_validate(music["score"])))
    spots = RhythmSpots.model_validate(
        ctx.store.read_json(ArtifactRef.model_validate(music["spots"])))
    stems, sr = read_audio(ctx.store.path(ArtifactRef.model_validate(music["stems"])))
    audio = stems.sum(axis=1) if stems.ndim == 2 else stems
    sections = [tuple(x) for x in music.get("sections", [])] or None
    rules = {c.reviewer: c for c in review_music(score, brief, spots, audio, sr, sections=sections)}
    abc = score.to_abc()
    critiques: list[Critique] = []
    for reviewer, criteria in CRITERIA.items():
        rule = rules[reviewer]
        prompt = render("critic", reviewer=reviewer, criteria=criteria, brief=brief,
                        measured=rule.measured, abc=abc)
        critiques.append(ctx.llm.structured(
            f"critic:{reviewer}", Critique, prompt, offline=lambda rule=rule: rule,
            role=f"the {reviewer} reviewer",
        ))
    music["round"] = int(music.get("round", 0)) + 1
    music["critiques"] = [c.model_dump(mode="json") for c in critiques]
    music["feedback"] = [f"{c.reviewer}: {r}" for c in critiques if not c.passed for r in c.reasons]
    return {"music": music}


def route_after_critic(state: dict[str, Any]) -> str:
    """Accept when every reviewer passes or the rounds are used up; else compose again."""
    music = state["music"]
    passed = all(c["passed"] for c in music.get("critiques", []))
    if passed or music.get("round", 0) > options_of(state).max_critic_rounds:
        return "mixer"
    return "composer"
