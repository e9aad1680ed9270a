"""The film's one time grid: whole frames at the film's fps, converted to seconds in one place.

Every length in the crew is a whole number of frames: a shot's planned length, a clip's trim, a
crossfade, the film. Times in seconds (cut times, music section bounds, the film's duration, the
start of each shot on the timeline) are derived from those integers by `seconds_of` and by nothing
else, so a sum of seconds can never disagree with the film's length: the last section ends at
exactly `seconds_of(total, fps)`, the same float the composer, the mixer and the renderer are given.

Seconds go back to frames only through `frames_of` (nearest frame). For a time made by `seconds_of`
the round trip is exact: ``frames_of(seconds_of(n, fps), fps) == n``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise


def _check_fps(fps: int) -> int:
    if isinstance(fps, bool) or int(fps) != fps or fps <= 0:
        raise ValueError(f"fps {fps!r}; must be a whole number > 0")
    return int(fps)


def frames_of(seconds: float, fps: int) -> int:
    """The nearest whole number of frames to `seconds` at `fps` (the one seconds → frames)."""
    fps = _check_fps(fps)
    x = float(seconds)
    if not math.isfinite(x):
        raise ValueError(f"time {seconds!r} s; must be finite")
    return round(x * fps)


def frames_within(seconds: float, fps: int) -> int:
    """Whole frames at `fps` that fit inside `seconds` (a clip's usable length on the film's grid).

    Equals `frames_of` for a time made by `seconds_of`; never rounds up past the clip's end.
    """
    fps = _check_fps(fps)
    x = float(seconds)
    if not math.isfinite(x):
        raise ValueError(f"time {seconds!r} s; must be finite")
    n = round(x * fps)
    return n if n / fps <= x + 1e-9 else n - 1


def seconds_of(frames: int, fps: int) -> float:
    """The time of `frames` whole frames at `fps` (the one frames → seconds)."""
    fps = _check_fps(fps)
    if int(frames) != frames:
        raise ValueError(f"frames {frames!r}; must be whole")
    return int(frames) / fps


def samples_of(frames: int, fps: int, sample_rate: int) -> int:
    """Audio samples that last as long as `frames` frames: round(frames · sr / fps), exactly."""
    fps = _check_fps(fps)
    return round(Fraction(int(frames) * int(sample_rate), fps))


def split_frames(weights: Sequence[float], total: int) -> list[int]:
    """Whole frame counts proportional to `weights`, each ≥ 1, summing to exactly `total`.

    Largest remainders: each share is floored (at least 1), then the frames still missing go to the
    largest remainders, and frames over (from 1-frame floors) come off the most over-served shares.
    """
    n = len(weights)
    if n == 0:
        raise ValueError("no shots to split the film into")
    if any(not math.isfinite(w) or w <= 0 for w in weights):
        raise ValueError(f"shot lengths {list(weights)}; each must be > 0")
    if total < n:
        raise ValueError(f"{total} frames cannot hold {n} shots of at least one frame each; "
                         "make the film longer, the frame rate higher or the shots fewer")
    wsum = math.fsum(weights)
    exact = [w * total / wsum for w in weights]
    frames = [max(1, math.floor(x)) for x in exact]
    diff = total - sum(frames)
    if diff > 0:
        for i in sorted(range(n), key=lambda i: (frames[i] - exact[i], i))[:diff]:
            frames[i] += 1
    while diff < 0:
        i = min((j for j in range(n) if frames[j] > 1), key=lambda j: (exact[j] - frames[j], j))
        frames[i] -= 1
        diff += 1
    return frames


@dataclass(frozen=True)
class EditGrid:
    """An edit on the frame grid: each clip's source span and each junction's crossfade, in frames.

    A crossfade of d frames overlaps the last d frames of one clip with the first d of the next, so
    the film is d frames shorter; the cut lies inside the overlap, d // 2 frames before its end (as
    the OTIO timeline shows it): cut i = start of clip i + length of clip i - overlap_i // 2.
    """

    fps: int
    spans: tuple[tuple[int, int], ...]
    overlaps: tuple[int, ...]

    def __post_init__(self) -> None:
        _check_fps(self.fps)
        if not self.spans:
            raise ValueError("an edit needs at least one clip")
        if len(self.overlaps) != len(self.spans) - 1:
            raise ValueError(f"{len(self.spans)} clips need {len(self.spans) - 1} junctions, "
                             f"got {len(self.overlaps)}")
        for i, (a, b) in enumerate(self.spans):
            if a < 0 or b - a < 1:
                raise ValueError(f"clip {i}: frames [{a}, {b}) hold no frame")
        for i, d in enumerate(self.overlaps):
            if d < 0:
                raise ValueError(f"junction {i}: crossfade of {d} frames")
        for i, n in enumerate(self.lengths):
            head = self.overlaps[i - 1] if i > 0 else 0
            tail = self.overlaps[i] if i < len(self.overlaps) else 0
            if head + tail > n:
                raise ValueError(f"clip {i}: {n} frames cannot hold crossfades of {head} + {tail} frames")
        b = self.bound_frames
        if any(y <= x for x, y in pairwise(b)):
            raise ValueError(f"cuts at frames {b[1:-1]} of {b[-1]}: each shot needs a frame of its own")

    @classmethod
    def from_seconds(cls, spans_s: Sequence[tuple[float, float]], crossfades_s: Sequence[float],
                     fps: int) -> EditGrid:
        """Snap (in_s, out_s) trims and crossfade lengths (0 for a cut) to the grid."""
        spans = tuple((frames_of(a, fps), frames_of(b, fps)) for a, b in spans_s)
        fades = list(crossfades_s) + [0.0] * (len(spans) - 1 - len(crossfades_s))
        return cls(int(fps), spans, tuple(frames_of(d, fps) for d in fades))

    @classmethod
    def of_edit(cls, edit: object, fps: int) -> EditGrid:
        """The grid of an EditDecision (its order's trims and its transitions)."""
        order = edit.order  # type: ignore[attr-defined]
        trans = list(edit.transitions)  # type: ignore[attr-defined]
        fades = [t.duration_s if t.kind == "crossfade" else 0.0 for t in trans]
        return cls.from_seconds([(e.in_s, e.out_s) for e in order], fades[: max(0, len(order) - 1)], fps)

    # -- frames -------------------------------------------------------------------------------------
    @property
    def lengths(self) -> list[int]:
        return [b - a for a, b in self.spans]

    @property
    def total_frames(self) -> int:
        return sum(self.lengths) - sum(self.overlaps)

    @property
    def start_frames(self) -> list[int]:
        """Film frame where each clip's first frame shows (inside the previous crossfade, if any)."""
        out, t = [], 0
        for i, n in enumerate(self.lengths):
            out.append(t)
            t += n - (self.overlaps[i] if i < len(self.overlaps) else 0)
        return out

    @property
    def cut_frames(self) -> list[int]:
        """Film frame of each cut (n - 1 of them), strictly increasing inside (0, total)."""
        return [s + n - d // 2
                for s, n, d in zip(self.start_frames, self.lengths, self.overlaps, strict=False)]

    @property
    def bound_frames(self) -> list[int]:
        """0, every cut, total: the per-shot sections tile the film exactly."""
        return [0, *self.cut_frames, self.total_frames]

    # -- seconds (all through seconds_of) -------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        return seconds_of(self.total_frames, self.fps)

    @property
    def cut_times_s(self) -> list[float]:
        return [seconds_of(c, self.fps) for c in self.cut_frames]

    @property
    def start_times_s(self) -> list[float]:
        return [seconds_of(s, self.fps) for s in self.start_frames]

    @property
    def sections_s(self) -> list[tuple[float, float]]:
        """(start, end) of each shot's section of the film, from cut to cut."""
        b = self.bound_frames
        return [(seconds_of(x, self.fps), seconds_of(y, self.fps)) for x, y in pairwise(b)]
