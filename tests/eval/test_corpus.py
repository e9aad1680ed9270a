"""The request corpus (filmcrew.eval.corpus) and a CI subset of it through the whole crew.

40 requests, round-robin over the corpus's kinds, each made into a film at the tiny format
(96x64 at 8 fps, one candidate, 16 kHz): no exception, and a valid MP4 each (frame count exactly the
plan's, audio as long as the picture, H.264 + AAC). Requests are used as generated; only films the
request asks to be longer than 3 s are cut to 3 s (`duration_s`), to keep CI fast. The whole
corpus at its stated durations runs with `make soak` (benchmarks/soak.py).
"""

from __future__ import annotations

import collections

import pytest

from filmcrew.eval.corpus import ACTIONS, corpus, run_request, subset

SEED = 0
CI_REQUESTS = subset(corpus(340, SEED), 40)
MAX_CI_S = 3.0


def test_the_corpus_is_large_varied_and_reproducible():
    a, b = corpus(340, SEED), corpus(340, SEED)
    assert [r.text for r in a] == [r.text for r in b]
    assert [r.text for r in corpus(340, SEED + 1)] != [r.text for r in a]
    texts = [r.text for r in a]
    assert len(set(texts)) >= 300
    kinds = collections.Counter(r.kinds[0] for r in a)
    assert set(kinds) == {"story", "count", "duration", "music", "short", "long", "foreign", "emoji",
                          "punct", "typo", "camera", "mixed"}
    assert {k.split(":", 1)[1] for r in a for k in r.kinds if k.startswith("phenomenon:")} == set(ACTIONS)
    beats = {int(k.split(":")[1]) for r in a for k in r.kinds if k.startswith("beats:")}
    assert beats == set(range(1, 9))
    assert min(map(len, texts)) <= 3 and max(map(len, texts)) > 1000
    assert any(not t.isascii() for t in texts) and any("\n\n" in t for t in texts)
    assert collections.Counter(r.kinds[0] for r in CI_REQUESTS).keys() == kinds.keys()


@pytest.mark.parametrize("req", CI_REQUESTS, ids=[f"{r.index}-{r.kinds[0]}" for r in CI_REQUESTS])
def test_the_crew_makes_a_valid_film_of_every_ci_request(req, tmp_path):
    from filmcrew.agents.planner import target_duration

    stated = target_duration(req.text, None)
    duration = None if stated <= MAX_CI_S else MAX_CI_S
    res = run_request(req.text, str(tmp_path / "run"), duration_s=duration)
    assert res["ok"], f"{req.text[:80]!r}: {res['error']}\n{res.get('traceback', '')}"
    assert res["frames"] == res["planned_frames"] >= 1
