"""Property tests of the film's frame grid (filmcrew.timing) and everything that times from it:
plan snapping, music sections, rhythm spots, the mix and the render.

Shot counts, frame rates (1 fps included) and lengths (1-frame shots, prime frame counts, 600 s
films) are drawn by hypothesis; example counts are modest and the render cases tiny.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from filmcrew.timing import (  # noqa: E402
    EditGrid,
    frames_of,
    frames_within,
    samples_of,
    seconds_of,
    split_frames,
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
fps_s = st.sampled_from([1, 2, 7, 8, 12, 23, 24, 25, 30, 60, 97, 120]) | st.integers(1, 120)
PRIMES = [2, 3, 5, 7, 11, 13, 97, 101, 1009, 7919, 14389]


def _plan(weights: list[float]):
    from filmcrew.schemas import StoryPlan

    brief = {"scene": "s", "brightness": "bright", "color_tone": "c", "action": "a",
             "emotional_tone": "calm", "shot_scale": "wide", "theme": "t", "description": "d"}
    return StoryPlan.model_validate({"global_prompt": "g", "music_brief": brief, "shots": [
        {"id": f"s{i}", "local_prompt": "x", "duration_s": w} for i, w in enumerate(weights)]})


def test_round_trip_and_samples():
    for fps in (1, 7, 24, 25, 30, 97, 120):
        for n in [0, 1, *PRIMES, 600 * fps]:
            assert frames_of(seconds_of(n, fps), fps) == n
            assert frames_within(seconds_of(n, fps), fps) == n
    assert samples_of(1, 8, 44100) == 5512  # 5512.5 rounds to even, as round() does
    assert samples_of(287, 24, 48000) == 574000
    with pytest.raises(ValueError):
        frames_of(float("nan"), 24)
    with pytest.raises(ValueError):
        seconds_of(3, 0)
    assert frames_within(1.0 / 24 * 2.5, 24) == 2  # never past the end of a clip


@FAST
@given(weights=st.lists(st.floats(0.01, 100), min_size=1, max_size=12), extra=st.integers(0, 20000))
@example(weights=[4 / 3] * 3, extra=0)
@example(weights=[1.0, 1000.0, 1.0], extra=0)
def test_split_frames_keeps_the_total(weights, extra):
    total = len(weights) + extra
    frames = split_frames(weights, total)
    assert sum(frames) == total
    assert all(n >= 1 for n in frames)
    exact = [w * total / sum(weights) for w in weights]
    assert all(abs(n - x) < 2 for n, x in zip(frames, exact, strict=True))


def test_split_frames_refuses_too_few_frames():
    with pytest.raises(ValueError, match="cannot hold 3 shots"):
        split_frames([1, 1, 1], 2)


@FAST
@given(weights=st.lists(st.floats(0.05, 30), min_size=1, max_size=8), fps=fps_s,
       duration=st.floats(0.1, 600) | st.sampled_from([600.0, 12.0, 0.5]))
@example(weights=[3.2, 5.6, 3.2], fps=24, duration=12.0)  # the paper-plane request of issue 14
def test_plan_snapping_is_whole_frames_adding_up(weights, fps, duration):
    from filmcrew.agents.planner import snap_to_frames

    total = frames_of(duration, fps)
    plan = _plan(weights)
    if total < len(weights):
        with pytest.raises(ValueError):
            snap_to_frames(plan, fps, duration)
        return
    snapped = snap_to_frames(plan, fps, duration)
    frames = [frames_of(s.duration_s, fps) for s in snapped.shots]
    assert sum(frames) == total
    assert all(n >= 1 and s.duration_s == seconds_of(n, fps) for s, n in zip(snapped.shots, frames, strict=True))


def _grids(max_clips: int = 10, max_len: int = 3000):
    @st.composite
    def build(draw):
        fps = draw(fps_s)
        n = draw(st.integers(1, max_clips))
        lengths = draw(st.lists(st.integers(1, max_len) | st.sampled_from(PRIMES[:6]), min_size=n, max_size=n))
        ins = draw(st.lists(st.integers(0, 50), min_size=n, max_size=n))
        fades = []
        for i in range(n - 1):
            room = min(lengths[i] - (fades[-1] if fades else 0), lengths[i + 1]) - 1
            fades.append(draw(st.integers(0, max(0, room // 2))) if room > 1 else 0)
        spans = [(seconds_of(a, fps), seconds_of(a + m, fps)) for a, m in zip(ins, lengths, strict=True)]
        return EditGrid.from_seconds(spans, [seconds_of(d, fps) for d in fades], fps)

    return build()


@FAST
@given(grid=_grids())
def test_sections_tile_the_film_exactly(grid):
    secs = grid.sections_s
    assert len(secs) == len(grid.spans)
    assert secs[0][0] == 0.0
    assert secs[-1][1] == grid.duration_s  # the same float the composer gets: no tolerance needed
    for (_, b), (c, _) in itertools.pairwise(secs):
        assert b == c
    assert all(0 <= a < b <= grid.duration_s for a, b in secs)
    cuts = grid.cut_times_s
    assert all(0 < c < grid.duration_s for c in cuts)
    assert cuts == sorted(set(cuts))
    assert grid.total_frames == sum(grid.lengths) - sum(grid.overlaps)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grid=_grids(max_clips=8, max_len=600))
@example(grid=EditGrid(24, ((0, 77), (0, 134), (0, 77)), (0, 0)))
@example(grid=EditGrid(1, ((0, 300), (0, 1), (0, 299)), (0, 0)))  # a 600 s film at 1 fps
def test_sections_and_spots_pass_the_composer(grid):
    from filmcrew.schemas import MusicBrief
    from filmcrew.tools.music import rhythm_spots
    from filmcrew.tools.music.procedural import compose

    spots = rhythm_spots(grid.duration_s, grid.cut_times_s, [], [], (80, 110))
    assert all(0 <= t < grid.duration_s for t in spots.times_s)
    assert sum(k == "cut" for k in spots.kinds) == len(grid.cut_times_s)
    sections = [(a, b, 0.5) for a, b in grid.sections_s]
    brief = MusicBrief(scene="s", brightness="neutral", color_tone="c", action="a",
                       emotional_tone="calm", shot_scale="wide", theme="t", description="d")
    score = compose(brief, spots, sections, grid.duration_s, seed=0)
    assert score.duration_s == grid.duration_s


@settings(max_examples=20, deadline=None)
@given(frames=st.integers(1, 2000) | st.sampled_from(PRIMES[:8]), fps=fps_s,
       sr=st.sampled_from([8000, 22050, 44100, 48000]))
def test_the_mix_is_as_long_as_the_picture(frames, fps, sr):
    from filmcrew.tools.music.mixer import mix

    duration = seconds_of(frames, fps)
    n = samples_of(frames, fps, sr)
    if n < 64:
        return  # under a loudness block; the mixer's own tests cover tiny buffers
    rng = np.random.default_rng(frames)
    out = mix({"melody": 0.1 * rng.standard_normal(n // 2 + 1)}, sr, duration)
    assert abs(out.audio.shape[0] - n) <= 1
    assert abs(out.audio.shape[0] / sr - duration) <= 1 / sr


def _clip(path, n: int, fps: int, size=(16, 16), shade=0):
    from filmcrew.tools.media import write_video

    frames = np.full((n, size[1], size[0], 3), shade, np.uint8)
    frames[:, :, :, 0] = (np.arange(n) * 7 % 255)[:, None, None]
    write_video(path, frames, fps)
    return path


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lengths=st.lists(st.integers(1, 7) | st.just(1), min_size=1, max_size=4),
       fps=st.sampled_from([1, 5, 8, 24]), cross=st.booleans())
@example(lengths=[1, 1, 1], fps=1, cross=False)
def test_render_frame_count_and_audio_are_exact(tmp_path_factory, lengths, fps, cross):
    from filmcrew.schemas import Transition
    from filmcrew.tools.edit import assemble_frames, expected_frame_count
    from filmcrew.tools.media import mux, probe

    d = tmp_path_factory.mktemp("render")
    clips = [(_clip(d / f"c{i}.mp4", m + 2, fps, shade=40 * i), seconds_of(1, fps), seconds_of(1 + m, fps))
             for i, m in enumerate(lengths)]
    trans = [Transition(kind="crossfade", duration_s=seconds_of(1, fps))
             if cross and min(lengths[i], lengths[i + 1]) >= 3 else Transition(kind="cut")
             for i in range(len(lengths) - 1)]
    grid = EditGrid.from_seconds([(a, b) for _, a, b in clips],
                                 [t.duration_s if t.kind == "crossfade" else 0.0 for t in trans], fps)
    total = expected_frame_count(clips, trans, fps)
    assert total == grid.total_frames
    sr = 8000
    audio = np.zeros(samples_of(total, fps, sr), np.float32)
    info = mux(d / "film.mp4", assemble_frames(clips, trans, fps, (16, 16)), fps, audio, sr)
    assert info.video_frames == total
    assert math.isclose(info.audio_duration_s, grid.duration_s, abs_tol=1 / fps)
    assert probe(d / "film.mp4").video_frames == total
