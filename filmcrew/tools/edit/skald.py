"""SKALD shot assembly: beam search over candidate clips, and the continuity scorer (CPU default).

The shot editor has k candidates per shot and wants the one sequence that plays most coherently.
Exhaustive search is k^n; SKALD's beam search (METHODS.md §3.4) scores at most n·B·k sequences,
each step's B·k extensions in one batched scorer call so a learned scorer (LCA) runs one forward per
step. The continuity scorer needs no weights: it compares the tail of each clip with the head of the
next (colour, luminance, motion direction, edge layout) and adds how consistent the look of the
whole sequence is, normalised so sequences of different lengths compare.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")

# --------------------------------------------------------------------------------------------------
# Search


@dataclass
class BeamResult:
    """The best sequence found: one candidate index per position, its score, and the work done."""

    indices: list[int]
    score: float
    calls: int  # sequences scored
    batches: int = 0  # score_batch invocations


def _check_candidates(candidates: Sequence[Sequence[T]]) -> None:
    if len(candidates) == 0:
        raise ValueError("no positions to fill: candidates is empty")
    for i, c in enumerate(candidates):
        if len(c) == 0:
            raise ValueError(f"position {i} has no candidates")


def _scored(
    score_batch: Callable[[list[list[T]]], list[float]], seqs: list[list[T]]
) -> list[float]:
    scores = [float(s) for s in score_batch(seqs)]
    if len(scores) != len(seqs):
        raise ValueError(f"score_batch returned {len(scores)} scores for {len(seqs)} sequences")
    if not all(math.isfinite(s) for s in scores):
        raise ValueError("score_batch returned a NaN or infinite score")
    return scores


def beam_search(
    candidates: Sequence[Sequence[T]],
    score_batch: Callable[[list[list[T]]], list[float]],
    beam: int,
    *,
    keep_first: bool = False,
) -> BeamResult:
    """Pick one candidate per position maximising score_batch, keeping the best `beam` prefixes.

    Step i extends each kept prefix with every candidate of position i and scores all of them in one
    score_batch call. Equal scores rank by candidate indices, lexicographically smallest first, so
    the result never depends on set or dict order.

    keep_first: for scorers that cannot judge a single clip (the LCA: no cut yet), every candidate
    of the first position is kept unscored and the first ranking happens at the first junction
    (k_1·k_2 pairs). Calls stay <= n·B·k whenever k <= 2B.
    """
    _check_candidates(candidates)
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    beams: list[tuple[int, ...]] = [()]
    best_scores: list[float] = [0.0]
    calls = batches = 0
    steps = list(candidates)
    if keep_first and len(candidates) > 1:
        beams = [(j,) for j in range(len(candidates[0]))]
        steps = steps[1:]
    for options in steps:
        extended = [(*prefix, j) for prefix in beams for j in range(len(options))]
        seqs = [[candidates[p][j] for p, j in enumerate(idx)] for idx in extended]
        scores = _scored(score_batch, seqs)
        calls += len(seqs)
        batches += 1
        ranked = sorted(zip(scores, extended, strict=True), key=lambda t: (-t[0], t[1]))[:beam]
        best_scores = [s for s, _ in ranked]
        beams = [idx for _, idx in ranked]
    return BeamResult(indices=list(beams[0]), score=best_scores[0], calls=calls, batches=batches)


def brute_force(
    candidates: Sequence[Sequence[T]],
    score_batch: Callable[[list[list[T]]], list[float]],
    *,
    max_sequences: int = 100_000,
    batch_size: int = 4096,
) -> BeamResult:
    """Score every full sequence (k^n of them) and return the best; ties go to the smallest indices.

    The exact answer beam search approximates; for tests and tiny edits.
    """
    _check_candidates(candidates)
    total = math.prod(len(c) for c in candidates)
    if total > max_sequences:
        raise ValueError(f"{total} sequences exceed max_sequences={max_sequences}; use beam_search")
    best: tuple[float, tuple[int, ...]] | None = None
    calls = batches = 0
    all_idx = itertools.product(*(range(len(c)) for c in candidates))
    while chunk := list(itertools.islice(all_idx, batch_size)):
        seqs = [[candidates[p][j] for p, j in enumerate(idx)] for idx in chunk]
        scores = _scored(score_batch, seqs)
        calls += len(seqs)
        batches += 1
        for s, idx in zip(scores, chunk, strict=True):
            if best is None or s > best[0]:  # strict: the first (smallest) index keeps a tie
                best = (s, idx)
    assert best is not None
    return BeamResult(indices=list(best[1]), score=best[0], calls=calls, batches=batches)


# --------------------------------------------------------------------------------------------------
# Continuity features

_GRID = 4  # edge-layout grid is GRID x GRID cells
_LUMA_BINS = 16
_COLOR_BINS = 4  # per channel: a 64-bin joint RGB histogram
_FLOW_WIDTH = 96  # optical flow on frames downscaled to this width (speed; motion is coarse anyway)
_MOVING_PX = 0.25  # px/frame at flow width: slower pixels count as still
_FEATURE_VERSION = 1


@dataclass
class ClipFeatures:
    """What the continuity scorer knows of a clip: its look and motion at the head and at the tail.

    Colours are mean RGB in [0, 1]; histograms sum to 1; motion is the mean flow of the moving
    pixels in frame widths per second (x right, y down); layout is a 4x4 grid of Sobel edge energy
    summing to 1.
    """

    n_frames: int
    fps: float
    head_color: list[float]
    tail_color: list[float]
    head_luma: list[float]
    tail_luma: list[float]
    head_motion: list[float]
    tail_motion: list[float]
    head_layout: list[float]
    tail_layout: list[float]
    color_hist: list[float]
    version: int = field(default=_FEATURE_VERSION)

    def to_dict(self) -> dict:
        """Plain JSON-able dict (for caching features next to the clip artifact)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ClipFeatures:
        """Inverse of to_dict; refuses features computed by another feature version."""
        if data.get("version", _FEATURE_VERSION) != _FEATURE_VERSION:
            raise ValueError(
                f"features version {data.get('version')} != {_FEATURE_VERSION}; recompute"
            )
        return cls(**data)


def _small(frames: np.ndarray) -> np.ndarray:
    """Frames downscaled to the flow width, as float32 RGB in [0, 1]."""
    import cv2

    h, w = frames.shape[1:3]
    sw = min(_FLOW_WIDTH, w)
    sh = max(2, round(h * sw / w))
    small = [cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA) for f in frames]
    return np.stack(small).astype(np.float32) / 255.0


def _grey(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32)


def _luma_hist(grey: np.ndarray) -> np.ndarray:
    h, _ = np.histogram(grey, bins=_LUMA_BINS, range=(0.0, 1.0))
    return h / max(h.sum(), 1)


def _layout(grey: np.ndarray) -> np.ndarray:
    """Where the edges are: Sobel magnitude summed over a 4x4 grid, averaged over the frames."""
    import cv2

    acc = np.zeros((_GRID, _GRID), np.float64)
    for g in grey:
        mag = np.hypot(
            cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
        )
        rows = np.array_split(np.arange(g.shape[0]), _GRID)
        cols = np.array_split(np.arange(g.shape[1]), _GRID)
        for r, rr in enumerate(rows):
            for c, cc in enumerate(cols):
                acc[r, c] += mag[rr[0] : rr[-1] + 1, cc[0] : cc[-1] + 1].sum()
    total = acc.sum()
    # A flat picture has no layout: uniform, so it neither matches nor mismatches anything strongly.
    return (acc / total).ravel() if total > 1e-9 else np.full(_GRID * _GRID, 1.0 / _GRID**2)


def _motion(grey: np.ndarray, fps: float, max_pairs: int = 6) -> np.ndarray:
    """Mean Farneback flow of the moving pixels, in frame widths per second."""
    import cv2

    if len(grey) < 2:
        return np.zeros(2)
    u8 = np.clip(grey * 255.0, 0, 255).astype(np.uint8)
    starts = np.unique(np.linspace(0, len(u8) - 2, min(max_pairs, len(u8) - 1)).round().astype(int))
    vectors = []
    for s in starts:
        flow = cv2.calcOpticalFlowFarneback(u8[s], u8[s + 1], None, 0.5, 2, 9, 3, 5, 1.1, 0)
        mag = np.hypot(flow[..., 0], flow[..., 1])
        moving = mag > _MOVING_PX
        if moving.mean() < 0.005:  # nothing (or only noise) moves
            vectors.append(np.zeros(2))
        else:
            # Averaged over the whole frame, a small moving subject would dilute to nothing.
            vectors.append(flow[moving].mean(axis=0))
    return np.mean(vectors, axis=0) * fps / u8.shape[2]


def clip_features(frames: np.ndarray, fps: float, *, window_s: float = 0.5) -> ClipFeatures:
    """Compute continuity features from a clip's (T, H, W, 3) uint8 frames.

    Head and tail are the first and last window_s seconds (at least 2 frames, at most the clip).
    """
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"frames must be (T, H, W, 3) with T >= 1, got {frames.shape}")
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    n = len(frames)
    w = min(n, max(2, round(window_s * fps)))
    head, tail = _small(frames[:w]), _small(frames[n - w :])
    overall = _small(frames[np.unique(np.linspace(0, n - 1, min(n, 16)).round().astype(int))])

    def part(rgb: np.ndarray) -> tuple[list[float], list[float], list[float], list[float]]:
        grey = _grey(rgb)
        some = grey[np.unique(np.linspace(0, len(grey) - 1, min(len(grey), 4)).round().astype(int))]
        return (
            rgb.mean(axis=(0, 1, 2)).tolist(),
            _luma_hist(grey).tolist(),
            _motion(grey, fps).tolist(),
            _layout(some).tolist(),
        )

    hc, hl, hm, hg = part(head)
    tc, tl, tm, tg = part(tail)
    q = np.clip((overall * _COLOR_BINS).astype(int), 0, _COLOR_BINS - 1)
    codes = (q[..., 0] * _COLOR_BINS + q[..., 1]) * _COLOR_BINS + q[..., 2]
    hist = np.bincount(codes.ravel(), minlength=_COLOR_BINS**3).astype(np.float64)
    return ClipFeatures(
        n_frames=n,
        fps=float(fps),
        head_color=hc,
        tail_color=tc,
        head_luma=hl,
        tail_luma=tl,
        head_motion=hm,
        tail_motion=tm,
        head_layout=hg,
        tail_layout=tg,
        color_hist=(hist / hist.sum()).tolist(),
    )


def clip_features_from_video(path: str | Path, *, width: int = 160) -> ClipFeatures:
    """Features of a video file, decoded at a small width (features are coarse; memory stays low)."""
    from filmcrew.tools.media import probe, read_video

    info = probe(path)
    if info.video_frames == 0:
        raise ValueError(f"{path}: no video frames")
    height = max(2, round(info.height * width / info.width))
    return clip_features(read_video(path, size=(width, height)), info.fps)


# --------------------------------------------------------------------------------------------------
# Continuity scorer


def _intersection(a: Sequence[float], b: Sequence[float]) -> float:
    return float(np.minimum(np.asarray(a), np.asarray(b)).sum())


@dataclass
class ContinuityScorer:
    """Coherence of a clip sequence in [0, 1] from continuity features; the no-weights default.

    score = (mean over junctions of match(tail_i, head_i+1) + alpha * identity) / (1 + alpha), with
    identity the mean pairwise intersection of the clips' colour histograms (the same world
    throughout). Means make sequences of different lengths comparable. A single clip has no
    junction: its head-to-tail match stands in (how steady the clip is), and identity is 1.
    """

    w_color: float = 0.35  # mean colour across the junction
    w_luma: float = 0.2  # exposure / brightness distribution
    w_motion: float = 0.25  # motion carries on in the same direction at a similar speed
    w_layout: float = 0.2  # edges where they were: framing and subject position
    alpha: float = 0.5  # weight of global identity consistency
    still_speed: float = 0.05  # frame widths per second below which a difference in motion is noise

    def __post_init__(self) -> None:
        weights = (self.w_color, self.w_luma, self.w_motion, self.w_layout, self.alpha)
        if min(weights) < 0 or sum(weights[:4]) <= 0:
            raise ValueError("scorer weights must be >= 0 with a positive junction weight")
        if self.still_speed <= 0:
            raise ValueError("still_speed must be > 0")

    def junction(
        self,
        color: tuple[Sequence[float], Sequence[float]],
        luma: tuple[Sequence[float], Sequence[float]],
        motion: tuple[Sequence[float], Sequence[float]],
        layout: tuple[Sequence[float], Sequence[float]],
    ) -> float:
        """How well one picture continues into the next, in [0, 1] (1 = seamless)."""
        c1, c2 = np.asarray(color[0]), np.asarray(color[1])
        s_color = 1.0 - float(np.linalg.norm(c1 - c2)) / math.sqrt(3.0)
        s_luma = _intersection(*luma)
        v1, v2 = np.asarray(motion[0]), np.asarray(motion[1])
        # 1 when the motion carries on, ~0 when it reverses or starts/stops abruptly; both still = 1.
        denom = float(np.linalg.norm(v1) + np.linalg.norm(v2)) + self.still_speed
        s_motion = 1.0 - float(np.linalg.norm(v1 - v2)) / denom
        s_layout = _intersection(*layout)
        w = (self.w_color, self.w_luma, self.w_motion, self.w_layout)
        s = (s_color, s_luma, s_motion, s_layout)
        return float(np.dot(w, s) / sum(w))

    def _pair(self, a: ClipFeatures, b: ClipFeatures) -> float:
        return self.junction(
            (a.tail_color, b.head_color),
            (a.tail_luma, b.head_luma),
            (a.tail_motion, b.head_motion),
            (a.tail_layout, b.head_layout),
        )

    def score(self, sequence: Sequence[ClipFeatures]) -> float:
        """Coherence of one sequence (see the class docstring)."""
        if len(sequence) == 0:
            raise ValueError("cannot score an empty sequence")
        if len(sequence) == 1:
            c = sequence[0]
            steady = self.junction(
                (c.tail_color, c.head_color),
                (c.tail_luma, c.head_luma),
                (c.tail_motion, c.head_motion),
                (c.tail_layout, c.head_layout),
            )
            return (steady + self.alpha) / (1.0 + self.alpha)
        flow = float(np.mean([self._pair(a, b) for a, b in itertools.pairwise(sequence)]))
        hists = np.asarray([c.color_hist for c in sequence])
        pairs = itertools.combinations(range(len(sequence)), 2)
        identity = float(np.mean([np.minimum(hists[i], hists[j]).sum() for i, j in pairs]))
        return (flow + self.alpha * identity) / (1.0 + self.alpha)

    def score_batch(self, sequences: Sequence[Sequence[ClipFeatures]]) -> list[float]:
        """Scores of many sequences (the beam search's one call per step)."""
        return [self.score(s) for s in sequences]
