"""Evaluating a finished run measures what a viewer would notice, from final.mp4 itself.

One small film (a dropped steel ball) is rendered once for the module; the evaluation must report its
exact frame count, its A/V alignment, its loudness at the mixer's target, CLIP scores per shot with the
tiny model, and g recovered from the pixels of the falling ball; a damaged copy of the film must fail.
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from filmcrew import runner
from filmcrew.config import RunOptions
from filmcrew.eval.fidelity import load_clip
from filmcrew.eval.metrics import evaluate_run, shot_segments

REQUEST = "A steel ball is dropped from a shelf and bounces on the wooden floor. Calm piano."
FPS = 24


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("evalrun")
    opts = RunOptions(duration_s=4.0, width=160, height=96, fps=FPS, candidates=1, beam=1, seed=1)
    result = runner.start(REQUEST, opts, d)
    assert result.status == "done"
    return d


@pytest.fixture(scope="module")
def evaluated(run_dir):
    return evaluate_run(run_dir, clip=load_clip(None, debug=True))


def test_frame_count_and_av_offset_are_exact(evaluated, run_dir):
    film = evaluated["film"]
    report = json.loads((run_dir / "report.json").read_text())
    assert film["frames"]["decoded"] == round(4.0 * FPS) == report["frames"]
    assert film["frames"]["passed"]
    assert abs(film["av_offset"]["ms"]) <= 1000 / FPS
    assert evaluated["checks"]["frames_exact"] and evaluated["checks"]["av_offset"]


def test_loudness_is_measured_at_the_mixer_target(evaluated, run_dir):
    from filmcrew.tools.media import read_audio

    film = evaluated["film"]
    assert film["loudness"]["target"] == -14.0
    assert abs(film["loudness"]["lufs"] + 14.0) <= 0.5
    assert film["true_peak"]["dbtp"] <= -0.5
    # the number is the film's own: pyloudnorm on the decoded AAC track
    import pyloudnorm

    audio, sr = read_audio(run_dir / "final.mp4")
    assert film["loudness"]["lufs"] == pytest.approx(pyloudnorm.Meter(sr).integrated_loudness(audio),
                                                     abs=0.01)
    assert film["dynamics"]["range_db"] > 1.0  # a score, not a flat tone


def test_cut_beat_alignment_is_the_rhythm_metric_of_the_mix(evaluated, run_dir):
    from filmcrew.tools.media import read_audio
    from filmcrew.tools.music.metrics import rhythm_score

    rhythm = evaluated["film"]["rhythm"]
    assert rhythm["spots"] >= 2
    assert 0.5 < rhythm["score"] <= 1.0
    audio, sr = read_audio(run_dir / "final.mp4")
    spots = np.array(evaluated["film"]["series"]["spots_s"])
    assert rhythm_score(audio, sr, spots + 0.3) < rhythm["score"]  # the music sits on these spots


def test_clip_scores_every_shot_with_the_tiny_model(evaluated, run_dir):
    scores = [s["clip"]["score"] for s in evaluated["shots"]]
    assert len(scores) == len(json.loads((run_dir / "plan.json").read_text())["shots"])
    assert all(math.isfinite(v) and -100 <= v <= 100 for v in scores)
    assert all(0.0 < s["clip"]["temporal_consistency"] <= 1.0 + 1e-6 for s in evaluated["shots"])
    assert all(s["clip"]["model"] == "clip-debug" for s in evaluated["shots"])


def test_without_clip_the_metric_is_skipped_with_a_reason(run_dir):
    result = evaluate_run(run_dir, physics=False)
    assert all("skipped" in s["clip"] and "CLIP" in s["clip"]["skipped"] for s in result["shots"])
    assert all(0.5 < s["temporal_consistency"]["mean"] <= 1.0 for s in result["shots"])


def test_falling_ball_accelerates_at_g_measured_from_pixels(evaluated):
    measured = [s["physics"] for s in evaluated["shots"] if s["physics"]["measurable"]]
    assert measured, [s["physics"] for s in evaluated["shots"]]
    best = max(measured, key=lambda p: p["frames"])
    assert "ball" in best["subject"]
    assert abs(best["g_measured"] - 9.81) / 9.81 < 0.08, best
    assert best["frames"] >= 10 and best["passed"]
    for s in evaluated["shots"]:  # the others say why not
        assert s["physics"]["measurable"] or s["physics"]["reason"]


def test_cost_comes_from_the_trace(evaluated, run_dir):
    report = json.loads((run_dir / "report.json").read_text())
    cost = evaluated["cost"]
    assert cost["calls"] == report["calls"]
    assert {"planner", "generate", "composer", "renderer"} <= set(cost["nodes"])
    assert cost["wall_s"] > 0 and cost["tool_s"] > 0
    assert cost["tokens_total"] == 0  # the offline rules use no tokens


def _remux(video_from, audio_from, out) -> None:
    """Copy the picture of one MP4 and the sound of another into `out`, as a bad edit would."""
    import av

    with av.open(str(video_from)) as vin, av.open(str(audio_from)) as ain, av.open(str(out), "w") as o:
        vs = o.add_stream_from_template(vin.streams.video[0])
        aus = o.add_stream_from_template(ain.streams.audio[0])
        for src, dst, stream in ((vin, vs, vin.streams.video[0]), (ain, aus, ain.streams.audio[0])):
            for packet in src.demux(stream):
                if packet.dts is None:
                    continue
                packet.stream = dst
                o.mux(packet)


def test_a_damaged_film_fails_frames_and_av_checks(run_dir, tmp_path):
    from filmcrew.tools.media import read_video, write_video

    bad = tmp_path / "bad"
    shutil.copytree(run_dir, bad, ignore=shutil.ignore_patterns("checkpoints.sqlite"))
    frames = read_video(run_dir / "final.mp4")
    write_video(tmp_path / "short.mp4", frames[:-6], FPS)  # 6 frames lost in the picture only
    (bad / "final.mp4").unlink()
    _remux(tmp_path / "short.mp4", run_dir / "final.mp4", bad / "final.mp4")
    result = evaluate_run(bad, physics=False)
    assert result["film"]["frames"]["decoded"] == len(frames) - 6
    assert not result["checks"]["frames_exact"]
    assert result["film"]["av_offset"]["ms"] == pytest.approx(6000 / FPS, abs=25)
    assert not result["checks"]["av_offset"]
    assert not result["passed"]


def test_shot_segments_match_the_assembled_length_with_crossfades():
    from filmcrew.schemas import EditDecision, EditEntry, Transition
    from filmcrew.tools.edit.assembly import expected_frame_count

    edit = EditDecision(
        order=[EditEntry(shot_id=f"s{i}", candidate=0, in_s=0.0, out_s=d)
               for i, d in enumerate((1.0, 1.5, 1.25))],
        transitions=[Transition(kind="crossfade", duration_s=0.25), Transition(kind="cut")])
    shots = [{"in_s": e.in_s, "out_s": e.out_s} for e in edit.order]
    segs = shot_segments(shots, edit.cut_times_s, FPS)
    total = expected_frame_count([("x", e.in_s, e.out_s) for e in edit.order], edit.transitions, FPS)
    assert sum(s["frames"] - s["tail"] for s in segs) == total
    assert [s["head"] for s in segs] == [0, 6, 0] and [s["tail"] for s in segs] == [6, 0, 0]
    assert [s["start"] for s in segs] == [0, 18, 54]


def test_a_missing_clip_model_is_an_error_naming_it():
    from filmcrew.eval.fidelity import ClipModelError

    assert load_clip(None) is None  # none configured: the metric is skipped
    with pytest.raises(ClipModelError, match="no-such-org/clip-model"):
        load_clip("no-such-org/clip-model")
