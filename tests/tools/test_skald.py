"""SKALD beam search against exact search, and the continuity scorer on synthetic moving squares."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from filmcrew.tools.edit.skald import (
    ClipFeatures,
    ContinuityScorer,
    beam_search,
    brute_force,
    clip_features,
)

# --------------------------------------------------------------------------------------------------
# Scores with known optima


def table_score(n: int, k: int, seed: int):
    """An arbitrary score: an independent random value for every prefix of every length."""
    rng = np.random.default_rng(seed)
    table = {
        idx: float(rng.normal())
        for m in range(1, n + 1)
        for idx in itertools.product(range(k), repeat=m)
    }
    return [list(range(k)) for _ in range(n)], lambda seqs: [table[tuple(s)] for s in seqs]


def separable_score(n: int, k: int, seed: int):
    """score = sum of one value per (position, candidate): greedy is exact."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, k))
    cands = [[(i, j) for j in range(k)] for i in range(n)]
    return cands, lambda seqs: [sum(values[i, j] for i, j in s) for s in seqs], values


def markov_score(n: int, k: int, seed: int):
    """score = sum of unary terms + sum of pairwise terms between consecutive positions."""
    rng = np.random.default_rng(seed)
    unary, pair = rng.random((n, k)), rng.random((n - 1, k, k))

    def score(seqs):
        return [
            sum(unary[i, j] for i, j in s)
            + sum(pair[a[0], a[1], b[1]] for a, b in itertools.pairwise(s))
            for s in seqs
        ]

    return [[(i, j) for j in range(k)] for i in range(n)], score, unary, pair


def viterbi(unary: np.ndarray, pair: np.ndarray) -> float:
    """Exact optimum of a chain score, O(n·k²)."""
    best = unary[0].copy()
    for i in range(1, len(unary)):
        best = np.max(best[:, None] + pair[i - 1], axis=0) + unary[i]
    return float(best.max())


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("beam", [27, 64])
def test_beam_equals_brute_force_when_beam_holds_all_prefixes(seed, beam):
    cands, score = table_score(n=4, k=3, seed=seed)  # k^(n-1) = 27 prefixes at the last step
    exact = brute_force(cands, score)
    found = beam_search(cands, score, beam=beam)
    assert found.indices == exact.indices
    assert found.score == exact.score
    assert exact.calls == 81


def test_narrow_beam_can_miss_an_arbitrary_optimum():
    # The reason the wide-beam test above is meaningful: with B=1 some instances are missed.
    missed = 0
    for seed in range(20):
        cands, score = table_score(n=4, k=3, seed=seed)
        missed += beam_search(cands, score, beam=1).score < brute_force(cands, score).score
    assert missed > 0


@pytest.mark.parametrize("beam", [1, 2, 5])
@pytest.mark.parametrize("seed", range(4))
def test_separable_score_is_exact_for_any_beam(beam, seed):
    cands, score, values = separable_score(n=5, k=4, seed=seed)
    found = beam_search(cands, score, beam=beam)
    assert found.indices == list(np.argmax(values, axis=1))
    assert found.indices == brute_force(cands, score).indices


def test_markov_score_against_viterbi():
    hits, trials = 0, 0
    for seed in range(40):
        n, k = 3 + seed % 4, 2 + seed % 3
        cands, score, unary, pair = markov_score(n, k, seed)
        optimum = viterbi(unary, pair)
        assert brute_force(cands, score).score == pytest.approx(optimum)
        for beam in (1, 2, k, k + 1):
            assert beam_search(cands, score, beam=beam).score <= optimum + 1e-9
        # B >= k keeps as many prefixes as Viterbi keeps states, but not necessarily the same ones
        # (two kept prefixes may end in one state), so it reaches the optimum on most, not all.
        hits += beam_search(cands, score, beam=k).score == pytest.approx(optimum)
        trials += 1
        assert beam_search(cands, score, beam=k ** (n - 1)).score == pytest.approx(optimum)
    assert hits / trials >= 0.8


def test_best_score_grows_with_beam_on_average():
    beams = [1, 2, 3, 5, 9, 27]
    totals = np.zeros(len(beams))
    for seed in range(30):
        cands, score, _, _ = markov_score(4, 3, 100 + seed)
        totals += [beam_search(cands, score, beam=b).score for b in beams]
    assert np.all(np.diff(totals) >= -1e-9)
    assert totals[-1] > totals[0]


def test_wider_beam_is_not_always_better():
    # Beam search is not monotone in B: here B=2 keeps two prefixes through B and evicts (A, p),
    # the only prefix that leads to the big final bonus; B=1 and B=3 keep it.
    unary = {0: {0: 1.0, 1: 0.9, 2: 0.0}}
    pair01 = {(0, 0): 0.0, (0, 1): -1.0, (0, 2): -1.0, (1, 0): -1.0, (1, 1): 0.5, (1, 2): 0.4}
    pair12 = {(0, 0): 10.0}

    def score(seqs):
        out = []
        for s in seqs:
            v = unary[0][s[0]]
            if len(s) > 1:
                v += pair01.get((s[0], s[1]), 0.0)
            if len(s) > 2:
                v += pair12.get((s[1], s[2]), 0.0)
            out.append(v)
        return out

    cands = [[0, 1, 2]] * 3
    assert beam_search(cands, score, beam=1).score == pytest.approx(11.0)
    assert beam_search(cands, score, beam=2).score == pytest.approx(1.4)
    assert beam_search(cands, score, beam=3).score == pytest.approx(11.0)


def test_ties_break_by_smallest_indices():
    cands = [list(range(4))] * 4
    assert beam_search(cands, lambda s: [0.0] * len(s), beam=3).indices == [0, 0, 0, 0]

    # Every sequence using only candidates 1 and 2 is optimal; the smallest is all ones.
    def score(seqs):
        return [float(sum(j in (1, 2) for j in s)) for s in seqs]

    for beam in (1, 2, 7):
        assert beam_search(cands, score, beam=beam).indices == [1, 1, 1, 1]
    assert brute_force(cands, score).indices == [1, 1, 1, 1]


def test_evaluations_are_bounded_and_batched_per_position():
    n, k, beam = 6, 5, 3
    cands, score, _, _ = markov_score(n, k, seed=7)
    batches: list[list[list]] = []

    def counting(seqs):
        batches.append(seqs)
        return score(seqs)

    result = beam_search(cands, counting, beam=beam)
    assert len(batches) == n == result.batches
    assert [len(b) for b in batches] == [k] + [beam * k] * (n - 1)
    assert all(len(s) == i + 1 for i, b in enumerate(batches) for s in b)
    assert result.calls == sum(len(b) for b in batches) <= n * beam * k


def test_uneven_candidate_counts():
    rng = np.random.default_rng(3)
    sizes = [2, 5, 1, 3]
    values = [rng.normal(size=s) for s in sizes]
    cands = [[(i, j) for j in range(s)] for i, s in enumerate(sizes)]

    def score(seqs):
        return [sum(values[i][j] for i, j in s) for s in seqs]

    assert beam_search(cands, score, beam=2).indices == [int(np.argmax(v)) for v in values]


def test_keep_first_reaches_a_first_take_beyond_the_beam():
    # A scorer that cannot judge one clip (every single clip ties, as the LCA's do) and rewards one
    # pair: without keep_first the first step keeps indices 0..B-1 and never sees take 4 of shot 1.
    k, beam = 5, 3
    cands = [list(range(k)), list(range(k)), list(range(k))]

    def score(seqs):
        return [0.0 if len(s) == 1 else float(s[0] == 4 and s[1] == 1) + 0.1 * (s[-1] == 2) for s in seqs]

    assert beam_search(cands, score, beam).indices[0] < beam  # today's tie-break: take 4 unreachable
    res = beam_search(cands, score, beam, keep_first=True)
    assert res.indices == brute_force(cands, score).indices == [4, 1, 2]
    assert res.calls == k * k + beam * k <= len(cands) * beam * k  # k <= 2B keeps the n·B·k budget
    assert beam_search([list(range(k))], score, beam, keep_first=True).calls == k  # one shot: scored


def test_bad_input_raises():
    with pytest.raises(ValueError, match="empty"):
        beam_search([], lambda s: [0.0] * len(s), beam=2)
    with pytest.raises(ValueError, match="position 1 has no candidates"):
        beam_search([[1], []], lambda s: [0.0] * len(s), beam=2)
    with pytest.raises(ValueError, match="beam must be >= 1"):
        beam_search([[1]], lambda s: [0.0] * len(s), beam=0)
    with pytest.raises(ValueError, match="returned 1 scores for 2"):
        beam_search([[1, 2]], lambda s: [0.0], beam=2)
    with pytest.raises(ValueError, match="NaN"):
        beam_search([[1, 2]], lambda s: [float("nan")] * len(s), beam=2)
    with pytest.raises(ValueError, match="max_sequences"):
        brute_force([list(range(10))] * 6, lambda s: [0.0] * len(s))


# --------------------------------------------------------------------------------------------------
# Continuity scorer on synthetic clips

W, H, FPS, N = 160, 90, 24, 30
BLUE, RED, GREEN, YELLOW = (30, 40, 160), (220, 40, 40), (40, 150, 60), (230, 220, 40)


def square_clip(bg, fg, x0: float, vx: float, n: int = N, side: int = 20) -> np.ndarray:
    """A square of colour fg moving at vx px/frame across a background bg; x0 is its left edge."""
    frames = np.empty((n, H, W, 3), np.uint8)
    frames[:] = bg
    y = H // 2 - side // 2
    for i in range(n):
        x = round(x0 + vx * i)
        frames[i, y : y + side, max(0, x) : max(0, x + side)] = fg
    return frames


def chain(i: int) -> np.ndarray:
    """Shot i of a continuous take: the red square keeps moving right at 1 px/frame."""
    return square_clip(BLUE, RED, 5 + i * N, 1.0)


def test_motion_and_colour_features_are_measured():
    f = clip_features(chain(0), FPS)
    # 1 px/frame at 160 px wide and 24 fps is 0.15 frame widths per second, to the right.
    assert f.tail_motion[0] == pytest.approx(0.15, rel=0.2)
    assert abs(f.tail_motion[1]) < 0.02
    assert f.head_color[2] > f.head_color[0]  # mostly blue background
    still = clip_features(square_clip(BLUE, RED, 70, 0.0), FPS)
    assert np.hypot(*still.head_motion) < 0.01
    assert sum(f.color_hist) == pytest.approx(1.0)
    assert sum(f.head_layout) == pytest.approx(1.0)


def test_features_round_trip_through_json():
    f = clip_features(chain(1), FPS)
    back = ClipFeatures.from_dict(json.loads(json.dumps(f.to_dict())))
    assert back == f
    with pytest.raises(ValueError, match="version"):
        ClipFeatures.from_dict({**f.to_dict(), "version": 999})


def test_continuing_sequence_beats_mismatched_ones():
    scorer = ContinuityScorer()
    a, b, c = (clip_features(chain(i), FPS) for i in range(3))
    reversed_b = clip_features(square_clip(BLUE, RED, 5 + N, -1.0), FPS)
    recoloured_b = clip_features(square_clip(GREEN, YELLOW, 5 + N, 1.0), FPS)
    good = scorer.score([a, b])
    assert good > scorer.score([a, reversed_b])  # motion turns around at the cut
    assert good > scorer.score([a, recoloured_b])  # another world after the cut
    assert good > scorer.score([b, a])  # played backwards: the square jumps back
    # Lengths compare: a longer continuous take scores like a shorter one, above a mismatch.
    three = scorer.score([a, b, c])
    assert three > scorer.score([a, recoloured_b, c])
    assert abs(three - good) < 0.05
    one = scorer.score([a])
    assert 0.0 <= one <= 1.0
    assert scorer.score_batch([[a], [a, b], [a, b, c]]) == [one, good, three]


def test_beam_search_with_continuity_scorer_recovers_the_take():
    rng = np.random.default_rng(0)
    scorer = ContinuityScorer()
    looks = [(GREEN, YELLOW), (YELLOW, BLUE), (RED, GREEN)]  # a different world in every shot
    candidates, truth = [], []
    for i in range(3):
        options = [
            chain(i),
            square_clip(BLUE, RED, 5 + (i + 1) * N, -1.0),  # the shot played in reverse
            square_clip(*looks[i], 5 + i * N, 1.0),  # same motion, another look
        ]
        order = rng.permutation(len(options))
        candidates.append([clip_features(options[j], FPS) for j in order])
        truth.append(int(np.argmin(order)))  # where option 0 landed
    result = beam_search(candidates, scorer.score_batch, beam=3)
    assert result.indices == truth
    assert result.indices == brute_force(candidates, scorer.score_batch).indices


def test_scorer_rejects_bad_settings_and_input():
    with pytest.raises(ValueError, match="weights"):
        ContinuityScorer(w_color=-1.0)
    with pytest.raises(ValueError, match="empty"):
        ContinuityScorer().score([])
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        clip_features(np.zeros((4, 8, 8), np.uint8), FPS)
