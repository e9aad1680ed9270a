"""The cut opens in an editor: final.fcpxml and final.edl, re-read with OpenTimelineIO, hold the
cut times and source ranges of report.json (and of the edit they were written from)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

otio = pytest.importorskip("opentimelineio")


def _picture(timeline) -> list:
    video = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video]
    assert len(video) == 1
    return [c for c in video[0] if isinstance(c, otio.schema.Clip)]


def _cuts_and_ranges(timeline, fps: int) -> tuple[list[int], list[tuple[int, int]]]:
    clips = _picture(timeline)
    cuts = [round(c.range_in_parent().end_time_exclusive().rescaled_to(fps).value) for c in clips[:-1]]
    ranges = [(round(c.source_range.start_time.rescaled_to(fps).value),
               round(c.source_range.end_time_exclusive().rescaled_to(fps).value)) for c in clips]
    return cuts, ranges


def test_exports_reread_with_the_edit_they_were_written_from(tmp_path):
    from filmcrew.schemas import Transition
    from filmcrew.timing import EditGrid, frames_of, seconds_of
    from filmcrew.tools.edit import write_editor_exports, write_otio

    fps = 24
    spans = [(3, 50), (0, 17), (10, 97)]  # trims with in points, a prime length
    entries = [{"name": f"shot-{i}", "path": f"artifacts/c{i}.mp4", "in_s": seconds_of(a, fps),
                "out_s": seconds_of(b, fps), "frames": b + 5} for i, (a, b) in enumerate(spans)]
    trans = [Transition(kind="cut")] * 2
    tl = write_otio(tmp_path / "timeline.otio", entries, trans, fps,
                    {"name": "score", "path": "artifacts/score.wav", "duration_s": seconds_of(151, fps)})
    paths = write_editor_exports(tl, tmp_path)
    assert {p.name for p in paths.values()} == {"final.fcpxml", "final.edl"}
    grid = EditGrid.from_seconds([(e["in_s"], e["out_s"]) for e in entries], [0, 0], fps)
    for p in paths.values():
        back = otio.adapters.read_from_file(str(p))
        cuts, ranges = _cuts_and_ranges(back, fps)
        assert cuts == grid.cut_frames, p.name
        assert ranges == spans, p.name
        assert [c.name for c in _picture(back)] == ["shot-0", "shot-1", "shot-2"]
    fcp = paths["fcpxml"].read_text()
    assert (tmp_path / "artifacts/c0.mp4").resolve().as_uri() in fcp  # the rendered shot clips
    assert "artifacts/c2.mp4" in paths["edl"].read_text()
    assert frames_of(grid.duration_s, fps) == 151


def test_a_run_writes_exports_that_match_its_report(tmp_path):
    from filmcrew.eval.corpus import run_request

    res = run_request("a steel ball rolls off a table and bounces on the floor", str(tmp_path / "run"),
                      duration_s=2.0)
    assert res["ok"], res["error"]
    run = tmp_path / "run"
    report = json.loads((run / "report.json").read_text())
    fps = report["fps"]
    assert report["exports"] == {"otio": "timeline.otio", "fcpxml": "final.fcpxml", "edl": "final.edl"}
    want_cuts = [round(c * fps) for c in report["edit"]["cuts_s"]]
    want_ranges = [(round(s["in_s"] * fps), round(s["out_s"] * fps)) for s in report["shots"]]
    assert len(want_ranges) >= 2
    for name in ("timeline.otio", "final.fcpxml", "final.edl"):
        back = otio.adapters.read_from_file(str(run / name))
        cuts, ranges = _cuts_and_ranges(back, fps)
        assert cuts == want_cuts, name
        assert ranges == want_ranges, name
    for clip in _picture(otio.adapters.read_from_file(str(run / "final.fcpxml"))):
        assert Path(clip.media_reference.target_url.removeprefix("file://")).is_file()
