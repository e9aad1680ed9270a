"""The picture edit: exact frames from each clip, real dissolves, and a timeline editors can open."""

from __future__ import annotations

import numpy as np
import opentimelineio as otio
import pytest

from filmcrew.schemas import Transition
from filmcrew.tools.edit.assembly import assemble_frames, expected_frame_count, write_otio
from filmcrew.tools.media import mux, probe, write_video

W, H, FPS = 160, 90, 24
CUT = Transition(kind="cut")
# Each clip is a flat colour; its green channel counts frames (8 levels per frame) so a decoded frame
# tells which source frame it is, even after H.264.
RED_BASE = {0: 230, 1: 30, 2: 130}


def counted_clip(path, clip: int, n: int, fps: int = FPS, size=(W, H)):
    w, h = size
    frames = [
        np.broadcast_to(np.array([RED_BASE[clip], 8 * i, 60], np.uint8), (h, w, 3)).copy()
        for i in range(n)
    ]
    write_video(path, frames, fps)
    return path


def frame_id(frame: np.ndarray) -> tuple[int, int]:
    """(clip, source frame index) read back from a flat frame."""
    r, g, _ = frame[H // 2, W // 2].astype(int)
    clip = min(RED_BASE, key=lambda c: abs(RED_BASE[c] - r))
    return clip, round(g / 8)


@pytest.fixture
def clips(tmp_path):
    return [counted_clip(tmp_path / f"c{i}.mp4", i, 30) for i in range(3)]


def test_cuts_take_exactly_the_trimmed_frames(clips):
    edit = [(clips[0], 0.0, 1.0), (clips[1], 0.25, 0.75), (clips[2], 0.5, 1.25)]
    out = list(assemble_frames(edit, [CUT, CUT], FPS, (W, H)))
    assert len(out) == expected_frame_count(edit, [CUT, CUT], FPS) == 24 + 12 + 18
    want = (
        [(0, i) for i in range(0, 24)]
        + [(1, i) for i in range(6, 18)]
        + [(2, i) for i in range(12, 30)]
    )
    assert [frame_id(f) for f in out] == want
    assert all(f.shape == (H, W, 3) and f.dtype == np.uint8 for f in out)
    # No transitions given means all cuts.
    assert len(list(assemble_frames(edit, [], FPS, (W, H)))) == 54


def test_crossfade_blends_and_shortens(clips):
    edit = [(clips[0], 0.0, 1.25), (clips[1], 0.0, 1.25)]
    fade = [Transition(kind="crossfade", duration_s=0.5)]  # 12 frames overlap
    out = list(assemble_frames(edit, fade, FPS, (W, H)))
    assert len(out) == expected_frame_count(edit, fade, FPS) == 30 + 30 - 12
    assert frame_id(out[17]) == (0, 17)  # last frame before the overlap is clip 0 alone
    assert frame_id(out[30]) == (1, 12)  # first frame after it is clip 1 alone
    reds = np.array([f[H // 2, W // 2, 0] for f in out[18:30]], float)
    assert np.all(np.diff(reds) < 0)  # 230 -> 30 across the dissolve, every frame a mix
    assert reds.min() > 30 + 5 and reds.max() < 230 - 5
    # The middle of the overlap is an even mix of both clips' colours.
    middle = (reds[5] + reds[6]) / 2
    assert middle == pytest.approx((230 + 30) / 2, abs=6)


def test_mixed_transitions_count(clips):
    edit = [(clips[0], 0.0, 1.0), (clips[1], 0.0, 1.0), (clips[2], 0.0, 1.0)]
    trans = [Transition(kind="crossfade", duration_s=0.25), CUT]
    out = list(assemble_frames(edit, trans, FPS, (W, H)))
    assert len(out) == expected_frame_count(edit, trans, FPS) == 72 - 6
    assert frame_id(out[-1]) == (2, 23)


def test_resizes_and_converts_frame_rate(tmp_path):
    big = counted_clip(tmp_path / "big.mp4", 0, 24, size=(320, 180))
    slow = counted_clip(tmp_path / "slow.mp4", 1, 12, fps=12)  # 1 s at 12 fps
    edit = [(big, 0.0, 1.0), (slow, 0.0, 1.0)]
    out = list(assemble_frames(edit, [], FPS, (W, H)))
    assert len(out) == expected_frame_count(edit, [], FPS) == 48
    assert out[0].shape == (H, W, 3)
    # 12 fps shown at 24 fps: every source frame twice, in order.
    assert [frame_id(f)[1] for f in out[24:]] == [i // 2 for i in range(24)]


def test_streams_into_mux_with_exact_length(clips, tmp_path):
    edit = [(clips[0], 0.0, 1.0), (clips[1], 0.0, 1.0)]
    fade = [Transition(kind="crossfade", duration_s=0.25)]
    n = expected_frame_count(edit, fade, FPS)
    audio = np.zeros((48_000 * 3, 2), np.float32)
    info = mux(tmp_path / "film.mp4", assemble_frames(edit, fade, FPS, (W, H)), FPS, audio, 48_000)
    assert info.video_frames == n == 42
    assert abs(info.audio_duration_s - n / FPS) <= 1 / FPS


def test_bad_edits_raise(clips):
    with pytest.raises(ValueError, match="past the end"):
        list(assemble_frames([(clips[0], 0.0, 2.0)], [], FPS, (W, H)))
    with pytest.raises(ValueError, match="need 1 transitions"):
        expected_frame_count([(clips[0], 0, 1), (clips[1], 0, 1)], [CUT, CUT], FPS)
    with pytest.raises(ValueError, match="cannot hold crossfades"):
        expected_frame_count(
            [(clips[0], 0, 0.25), (clips[1], 0, 1)],
            [Transition(kind="crossfade", duration_s=0.5)],
            FPS,
        )
    with pytest.raises(ValueError, match="gives no frames"):
        expected_frame_count([(clips[0], 0.5, 0.5)], [], FPS)
    with pytest.raises(ValueError, match="no clips"):
        expected_frame_count([], [], FPS)
    # Validation happens at the call, before any frame is decoded.
    with pytest.raises(ValueError, match="size"):
        assemble_frames([(clips[0], 0, 1)], [], FPS, (0, 90))


def test_otio_round_trip(clips, tmp_path):
    entries = [
        {"name": "shot-1", "media": str(clips[0]), "in_s": 0.0, "out_s": 1.0},
        {"name": "shot-2", "media": str(clips[1]), "in_s": 0.25, "out_s": 1.25},
        {"name": "shot-3", "media": str(clips[2]), "in_s": 0.0, "out_s": 0.5},
    ]
    # 11 frames: an odd overlap, so the cut sits off-centre and in/out offsets differ (6 and 5).
    trans = [Transition(kind="crossfade", duration_s=11 / FPS), CUT]
    edit = [(e["media"], e["in_s"], e["out_s"]) for e in entries]
    n = expected_frame_count(edit, trans, FPS)
    path = tmp_path / "film.otio"
    write_otio(
        path, entries, trans, FPS, {"name": "score", "media": "score.wav", "duration_s": n / FPS}
    )

    timeline = otio.adapters.read_from_file(str(path))
    video = next(t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video)
    audio = next(t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Audio)
    shots = list(video.find_clips())
    dissolves = [c for c in video if isinstance(c, otio.schema.Transition)]
    assert [c.name for c in shots] == ["shot-1", "shot-2", "shot-3"]
    assert len(dissolves) == 1
    # The track plays as long as the assembled film; each clip's media (handles included) is its edit.
    assert video.duration().to_frames() == n == 24 + 24 + 12 - 11
    assert audio.duration().to_seconds() == pytest.approx(n / FPS)
    d = dissolves[0]
    assert (d.in_offset + d.out_offset).to_frames() == 11
    used = [
        shots[0].source_range.duration + d.out_offset,
        shots[1].source_range.duration + d.in_offset,
        shots[2].source_range.duration,
    ]
    assert [u.to_frames() for u in used] == [24, 24, 12]
    assert shots[1].source_range.start_time.to_frames() - d.in_offset.to_frames() == 6  # in 0.25 s
    assert shots[1].metadata["filmcrew"]["in_s"] == 0.25
    assert shots[0].media_reference.target_url == str(clips[0])


def test_probe_of_assembled_clip_source(clips):
    # The fixture clips themselves are what the edit assumes: 30 frames at 24 fps.
    info = probe(clips[0])
    assert (info.video_frames, info.fps, info.width, info.height) == (30, FPS, W, H)
