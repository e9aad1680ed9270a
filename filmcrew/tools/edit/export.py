"""The cut for an editor: the run's OTIO timeline written as FCPXML and as a CMX 3600 EDL.

Both go through OpenTimelineIO's maintained adapter packages from PyPI, `otio-fcpx-xml-adapter`
(Final Cut Pro X XML, `.fcpxml`; also read by DaVinci Resolve) and `otio-cmx3600-adapter`
(CMX 3600 EDL, `.edl`; read by every NLE), the adapters that left the OpenTimelineIO core in 0.17.
They reference the rendered shot clips: the FCPXML by absolute `file://` URLs (what Final Cut and
Resolve relink from), the EDL by clip name with the clip's run-relative path in its comments. The
picture track carries the cut; the FCPXML also carries the score on a connected audio lane.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

#: Run-directory file names of the exports (documented in the README).
FCPXML_NAME = "final.fcpxml"
EDL_NAME = "final.edl"


def write_editor_exports(timeline: Any, run_dir: str | Path, *, fcpxml_name: str = FCPXML_NAME,
                         edl_name: str = EDL_NAME) -> dict[str, Path]:
    """Write `timeline` (an otio Timeline whose media paths are relative to `run_dir`) as FCPXML and
    CMX 3600 EDL in `run_dir`; returns {"fcpxml": path, "edl": path}."""
    import opentimelineio as otio

    run_dir = Path(run_dir)
    out = {"fcpxml": run_dir / fcpxml_name, "edl": run_dir / edl_name}

    _fcpx_knows_rate(_rate(timeline))
    fcp = copy.deepcopy(timeline)
    for clip in fcp.find_clips():
        ref = clip.media_reference
        if isinstance(ref, otio.schema.ExternalReference) and "://" not in ref.target_url:
            ref.target_url = (run_dir / ref.target_url).resolve().as_uri()
    _write(otio, fcp, out["fcpxml"], "fcpx_xml")

    edl = copy.deepcopy(timeline)
    edl.tracks[:] = [t for t in edl.tracks if t.kind == otio.schema.TrackKind.Video][:1]
    fps = _rate(timeline)
    if not otio.opentime.RationalTime.is_valid_timecode_rate(fps):
        _retime(otio, edl, edl_timecode_rate(fps))
    _write(otio, edl, out["edl"], "cmx_3600")
    return out


def _rate(timeline: Any) -> float:
    clips = list(timeline.find_clips())
    return float(clips[0].source_range.duration.rate) if clips else 24.0


def _fcpx_knows_rate(fps: float) -> None:
    """The FCPXML adapter knows only the broadcast rates (23.976 ... 60) and writes an empty, unreadable
    frameDuration for others (the crew's 8 or 12 fps films); teach it the rate as 1/fps s, which is
    valid FCPXML (Resolve imports it; Final Cut itself conforms to its own project rates)."""
    import opentimelineio as otio

    # the module the adapter plugin itself loaded (OTIO imports plugins on its own)
    table = otio.adapters.from_name("fcpx_xml").module().FRAMERATE_FRAMEDURATION
    if fps == int(fps) and int(fps) not in table:
        table[int(fps)] = f"1/{int(fps)}s"


def edl_timecode_rate(fps: float) -> int:
    """The SMPTE rate an EDL of a film at `fps` is written in: the smallest of 24, 25, 30, 48, 50, 60
    that is a whole multiple of fps (every frame boundary stays exact: 8 fps -> 24), else the
    nearest (then times round to its frames)."""
    rates = (24, 25, 30, 48, 50, 60)
    for r in rates:
        if fps > 0 and r % fps == 0:
            return r
    return min(rates, key=lambda r: (abs(r - fps), r))


def _retime(otio: Any, timeline: Any, rate: int) -> None:
    """Express every time of the timeline's clips and transitions at `rate` (SMPTE timecode needs
    one of the broadcast rates), rounding to whole frames of that rate."""

    def rt(t: Any) -> Any:
        return otio.opentime.RationalTime(round(t.rescaled_to(rate).value), rate)

    def tr(r: Any) -> Any:
        return otio.opentime.TimeRange(rt(r.start_time), rt(r.duration))

    for track in timeline.tracks:
        for item in track:
            if isinstance(item, otio.schema.Transition):
                item.in_offset, item.out_offset = rt(item.in_offset), rt(item.out_offset)
                continue
            if item.source_range is not None:
                item.source_range = tr(item.source_range)
            ref = getattr(item, "media_reference", None)
            if ref is not None and ref.available_range is not None:
                ref.available_range = tr(ref.available_range)
    if timeline.global_start_time is not None:
        timeline.global_start_time = rt(timeline.global_start_time)


def _write(otio: Any, timeline: Any, path: Path, adapter: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    otio.adapters.write_to_file(timeline, str(tmp), adapter_name=adapter)
    tmp.replace(path)
