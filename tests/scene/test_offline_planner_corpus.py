"""The offline planner keeps its own scene rules on every request of the corpus (issue 17 x issue 14).

Planning only (no rendering): each of the corpus generator's 340 requests (long, multi-sentence,
punctuation-heavy, other-language, emoji, typo'd, one-character ones) is planned at its stated
length and cut to 3 s as the CI corpus test does, and the plan must pass the planner's business
rules: shot durations add up, beats numbered 1..N each performed in exactly one shot, every name a
subject or scenery of its shot, action times inside the shot.
"""

from __future__ import annotations

import re

import pytest

from filmcrew.agents.planner import MIN_SHOTS, check_plan, target_duration
from filmcrew.eval.corpus import corpus
from filmcrew.llm.offline_planner import plan_request
from filmcrew.scene import plan_problems

REQUESTS = corpus(340, 0)


def _problems(text: str, duration: float) -> list[str]:
    try:
        plan = plan_request(text, duration, min_shots=MIN_SHOTS)
        check_plan(plan, duration)
    except Exception as e:  # any failure is a finding, reported with its request
        return [f"{type(e).__name__}: {e}"]
    out = plan_problems(plan)
    numbers = sorted({a.beat for s in plan.shots if s.kind != "replay" for a in s.actions
                      if a.beat is not None})
    if numbers != list(range(1, len(plan.beats) + 1)):
        out.append(f"beats {numbers} performed; the plan lists {len(plan.beats)}")
    out += [f"beat {i + 1} has no text of its own: {t!r}" for i, t in enumerate(plan.beats)
            if not t.strip() or re.fullmatch(r"beat \d+", t)]
    return out


@pytest.mark.parametrize("cap", [None, 3.0], ids=["stated", "cut-to-3s"])
def test_every_corpus_request_gets_a_plan_that_keeps_the_scene_rules(cap):
    assert len(REQUESTS) >= 300
    bad = {}
    for r in REQUESTS:
        stated = target_duration(r.text, None)
        duration = stated if cap is None else min(stated, cap)
        problems = _problems(r.text, duration)
        if problems:
            bad[f"{r.index}-{r.kinds[0]}: {r.text[:60]!r}"] = problems[:3]
    assert not bad, f"{len(bad)} of {len(REQUESTS)} plans break the rules: " + "\n".join(
        f"{k}: {v}" for k, v in list(bad.items())[:10])


@pytest.mark.parametrize("text", [
    "!!!.", "?", "...", "x", "Лёд тает на солнце, капли падают на стол. 🔥",
    # a pan and a pot: both the catalog's pot, named once
    "Butter turns liquid in a pan. Water boils away in a pot beside a cat. A kite bends under a weight.",
    # more beats than shots, a replay between them: each beat in one shot, numbered 1..N
    "the sky turns red. a glass falls off a table. the sky turns blue. a ball rolls across the floor. "
    "a cat jumps. a kite flies",
    # replays between the beats, 3 s: the replay is dropped, never joined to (and doubling) a beat
    "a glass falls off a table, slow-motion replay of the fall. then a ball rolls across the floor, "
    "slow-motion replay. finally a cat jumps onto the table",
])
def test_odd_requests_plan_within_the_rules(text):
    for duration in (3.0, 12.0):
        assert _problems(text, duration) == []
