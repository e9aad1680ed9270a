"""The renderer's picture edit: trimmed clips joined by cuts and crossfades, and its OTIO timeline.

A clip entry is (path, in_s, out_s) and contributes the frames round(in_s*fps) .. round(out_s*fps) - 1
of its source, counted at the output fps. A crossfade of d seconds overlaps the last round(d*fps)
frames of one clip with the first as many frames of the next, so the film is that much shorter; the
cut point of the edit (EditDecision.cut_times_s, the OTIO cut) is the middle of the overlap.
Frames stream through: memory holds one crossfade's tail at most, never a whole clip.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from filmcrew.schemas import Transition


def _plan(
    clips: Sequence[tuple[Path, float, float]], transitions: Sequence[Transition], fps: int
) -> tuple[list[tuple[int, int]], list[int]]:
    """Validate the edit; return each clip's frame span and each junction's overlap in frames.

    Seconds are snapped to the film's frame grid by `filmcrew.timing` (the one place that converts).
    """
    from filmcrew.timing import EditGrid, frames_of

    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    if not clips:
        raise ValueError("no clips to assemble")
    if transitions and len(transitions) != len(clips) - 1:
        raise ValueError(
            f"{len(clips)} clips need {len(clips) - 1} transitions (or none for all cuts), "
            f"got {len(transitions)}"
        )
    for i, (path, in_s, out_s) in enumerate(clips):
        if in_s < 0 or frames_of(out_s, fps) - frames_of(in_s, fps) < 1:
            raise ValueError(
                f"clip {i} ({Path(path).name}): in {in_s} s, out {out_s} s gives no frames at {fps} fps"
            )
    fades = [t.duration_s if t.kind == "crossfade" else 0.0 for t in transitions]
    grid = EditGrid.from_seconds([(a, b) for _, a, b in clips], fades, fps)
    return list(grid.spans), list(grid.overlaps)


def expected_frame_count(
    clips: Sequence[tuple[Path, float, float]], transitions: Sequence[Transition], fps: int
) -> int:
    """The exact number of frames assemble_frames yields for this edit."""
    spans, overlaps = _plan(clips, transitions, fps)
    return sum(b - a for a, b in spans) - sum(overlaps)


def _clip_frames(
    path: Path, a: int, b: int, fps: int, size: tuple[int, int]
) -> Iterator[np.ndarray]:
    """Frames a..b-1 of the output timeline of one clip, taken from its source by nearest time.

    A source at the output fps maps frame for frame; another rate takes the source frame showing at
    each output frame's time (repeats or drops), so the count stays exact.
    """
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        src_fps = float(rate) if rate else float(fps)
        wanted = a
        src_index = -1
        for frame in container.decode(stream):
            src_index += 1
            # Output frame j shows the source frame whose time interval contains j / fps.
            while wanted < b and math.floor(wanted * src_fps / fps + 1e-6) == src_index:
                kwargs = {}
                if (frame.width, frame.height) != tuple(size):
                    kwargs = {"width": size[0], "height": size[1], "interpolation": "AREA"}
                image = frame.to_ndarray(format="rgb24", **kwargs)
                yield image
                wanted += 1
                while wanted < b and math.floor(wanted * src_fps / fps + 1e-6) == src_index:
                    yield image
                    wanted += 1
            if wanted >= b:
                return
        raise ValueError(
            f"{path}: has {src_index + 1} frames; the edit needs frames up to {b} at {fps} fps "
            f"(out point {b / fps:.3f} s is past the end of the clip)"
        )


def _blend(out_frame: np.ndarray, in_frame: np.ndarray, weight_in: float) -> np.ndarray:
    mixed = (1.0 - weight_in) * out_frame.astype(np.float32) + weight_in * in_frame.astype(
        np.float32
    )
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def assemble_frames(
    clips: Sequence[tuple[Path, float, float]],
    transitions: Sequence[Transition],
    fps: int,
    size: tuple[int, int],
) -> Iterator[np.ndarray]:
    """Yield the frames of the edited film: trimmed clips joined by cuts or crossfades.

    size is (width, height) of the output; sources of another size are rescaled (no letterbox).
    Transition i joins clip i and clip i+1; an empty list means all cuts. The edit is validated
    before the first frame is yielded, and a clip shorter than its out point raises.
    """
    if len(size) != 2 or size[0] <= 0 or size[1] <= 0:
        raise ValueError(f"size must be (width, height) > 0, got {size}")
    spans, overlaps = _plan(clips, transitions, fps)
    return _assemble(clips, spans, overlaps, fps, (int(size[0]), int(size[1])))


def _assemble(
    clips: Sequence[tuple[Path, float, float]],
    spans: list[tuple[int, int]],
    overlaps: list[int],
    fps: int,
    size: tuple[int, int],
) -> Iterator[np.ndarray]:
    tail: list[np.ndarray] = []  # the outgoing clip's last frames, waiting for the next clip's head
    for i, ((path, _, _), (a, b)) in enumerate(zip(clips, spans, strict=True)):
        head_n = overlaps[i - 1] if i > 0 else 0
        tail_n = overlaps[i] if i < len(overlaps) else 0
        n = b - a
        new_tail: list[np.ndarray] = []
        for k, frame in enumerate(_clip_frames(Path(path), a, b, fps, size)):
            if k < head_n:
                # Linear dissolve; weights (k+1)/(d+1) never reach 0 or 1, so every overlap frame mixes.
                yield _blend(tail[k], frame, (k + 1) / (head_n + 1))
            elif k >= n - tail_n:
                new_tail.append(frame)
            else:
                yield frame
        tail = new_tail
    if tail:  # unreachable: the last clip has no outgoing transition
        raise RuntimeError("dangling crossfade tail")


# --------------------------------------------------------------------------------------------------
# OpenTimelineIO


def _media(entry: dict) -> str:
    media = entry.get("media", entry.get("path"))
    if media is None:
        raise ValueError(f"timeline entry {entry.get('name', '?')!r} has no 'media' path")
    return str(media)


def write_otio(
    path: str | Path,
    entries: list[dict],
    transitions: Sequence[Transition],
    fps: int,
    audio: dict | None = None,
    *,
    name: str = "filmcrew",
) -> Any:
    """Write the edit as an OpenTimelineIO timeline (and return it): a video track and, if given, the score.

    entries: dicts with name, media (or path), in_s, out_s (the media each clip uses, overlaps
    included) and optionally frames (the clip's whole length on the film's grid). A crossfade becomes an SMPTE dissolve centred on the cut: each clip's trimmed range
    stops (or starts) at the middle of the overlap and the dissolve's offsets reach into the media
    beyond it, so the track's duration equals the assembled film's. audio: dict with name, media,
    duration_s (and optional start_s), placed from time 0 on an audio track.
    """
    import opentimelineio as otio

    clips = [(Path(_media(e)), float(e["in_s"]), float(e["out_s"])) for e in entries]
    spans, overlaps = _plan(clips, transitions, fps)

    def rt(frames: float) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(frames, fps)

    timeline = otio.schema.Timeline(name=name, global_start_time=rt(0))
    video = otio.schema.Track(name="picture", kind=otio.schema.TrackKind.Video)
    for i, (entry, (a, b)) in enumerate(zip(entries, spans, strict=True)):
        # The outgoing clip owns the first half of an overlap, the incoming one the second.
        before = overlaps[i - 1] - overlaps[i - 1] // 2 if i > 0 else 0
        after = overlaps[i] // 2 if i < len(overlaps) else 0
        if i > 0 and overlaps[i - 1]:
            d = overlaps[i - 1]
            video.append(
                otio.schema.Transition(
                    name=f"dissolve-{i}",
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=rt(before),  # the incoming clip's media before the cut
                    out_offset=rt(d // 2),  # the outgoing clip's media after the cut
                )
            )
        clip = otio.schema.Clip(
            name=str(entry.get("name", f"clip-{i}")),
            media_reference=otio.schema.ExternalReference(
                target_url=_media(entry),
                # the whole clip (editors' exports need it): its frames on the film's grid
                available_range=otio.opentime.TimeRange(rt(0), rt(max(b, int(entry.get("frames", b))))),
            ),
            source_range=otio.opentime.TimeRange(rt(a + before), rt(b - a - before - after)),
        )
        clip.metadata["filmcrew"] = {"in_s": float(entry["in_s"]), "out_s": float(entry["out_s"])}
        video.append(clip)
    timeline.tracks.append(video)

    if audio is not None:
        sound = otio.schema.Track(name="score", kind=otio.schema.TrackKind.Audio)
        start = float(audio.get("start_s", 0.0))
        if start > 0:
            sound.append(
                otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0), rt(start * fps)))
            )
        sound.append(
            otio.schema.Clip(
                name=str(audio.get("name", "score")),
                media_reference=otio.schema.ExternalReference(
                    target_url=_media(audio),
                    available_range=otio.opentime.TimeRange(rt(0), rt(float(audio["duration_s"]) * fps)),
                ),
                source_range=otio.opentime.TimeRange(rt(0), rt(float(audio["duration_s"]) * fps)),
            )
        )
        timeline.tracks.append(sound)
    otio.adapters.write_to_file(timeline, str(path))
    return timeline
