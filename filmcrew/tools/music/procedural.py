"""The procedural composer: a rhythm-aligned score for the cut (MUSIC.md, "The procedural composer").

What a temp track from a library would give an editor, written for this picture: a diatonic
progression chosen for the mood with smooth voice leading, a motif developed across the shots whose
rhythm comes from the rhythm spots, bass on chord roots, percussion hits on cuts and impacts, and
dynamics that follow each shot's energy. Reviewer reasons from a previous round (`feedback`) change
concrete settings (leap size, range, scale strictness, mode, density, snapping to spots).

The score types and the composer/critic vocabulary live in music_score.py, the synthesizer in
music_synth.py; the public names are re-exported here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from filmcrew.schemas import MusicBrief, RhythmSpots
from filmcrew.tools.music.score import (
    FEEDBACK_PHRASES,
    KEY_PC,
    MODE_STEPS,
    PARTS,
    ComposerSettings,
    Note,
    Score,
    composer_settings,
    degree_pitch,
    mood_of,
    scale_pcs,
    strong_beats,
)
from filmcrew.tools.music.synth import render_stems

__all__ = ["FEEDBACK_PHRASES", "KEY_PC", "MODE_STEPS", "PARTS", "Note", "Score", "compose",
           "mood_of", "render_stems", "scale_pcs"]

DRUMS = {"kick": 36, "snare": 38, "hat": 42, "tom": 45, "mid_tom": 47, "crash": 49}
NEAR_S = 0.08  # a beat this close to a strong spot merges into the spot
HARMONY_RANGE = (52, 76)


def _triad(tonic: int, steps: tuple[int, ...], degree: int) -> list[int]:
    """Root-position triad pitches (root near the tonic) on a scale degree."""
    return [degree_pitch(tonic, steps, degree + k) for k in (0, 2, 4)]


def _voice(pcs: list[int], prev: list[int] | None) -> list[int]:
    """The voicing of `pcs` in HARMONY_RANGE that moves least from `prev` (or sits mid-range)."""
    lo, hi = HARMONY_RANGE
    options = [[p for p in range(lo, hi + 1) if p % 12 == pc] for pc in pcs]
    best: tuple[int, list[int]] | None = None
    for combo in itertools.product(*options):
        v = sorted(combo)
        if v[-1] - v[0] > 15:
            continue
        cost = sum(abs(a - b) for a, b in zip(v, prev, strict=True)) if prev else sum(
            abs(p - 64) for p in v)
        if best is None or (cost, v) < best:
            best = (cost, v)
    assert best is not None  # the range spans two octaves, so every triad fits
    return best[1]


@dataclass
class _Grid:
    """The cut's time structure, shared by every part: shots, beats, bars and spots."""

    duration_s: float
    secs: list[tuple[float, float, float]]  # (start, end, energy) per shot
    beats: list[float]
    period: float  # median beat length (s)
    bars: list[tuple[float, float]]
    pickup: int  # 1 when bar 0 is a pickup before the first downbeat
    strong: list[tuple[float, float, str]]  # cuts and impacts: (time, strength, kind)
    moves: list[tuple[float, float]]  # motion peaks

    def energy_at(self, t: float) -> float:
        for a, b, e in self.secs:
            if a <= t < b:
                return e
        return self.secs[-1][2] if t >= self.secs[-1][0] else self.secs[0][2]

    def bar_of(self, t: float) -> int:
        i = int(np.searchsorted([a for a, _ in self.bars], t, side="right")) - 1
        return max(0, min(len(self.bars) - 1, i))

    def beats_in(self, bar: int) -> list[float]:
        a, z = self.bars[bar]
        return [b for b in self.beats if a - 1e-6 <= b < z]

    def near_strong(self, t: float) -> bool:
        return any(abs(t - s) <= NEAR_S for s, _, _ in self.strong)


def _grid(spots: RhythmSpots, sections: list[tuple[float, float, float]], duration_s: float) -> _Grid:
    kinds = spots.kinds or ["cut" if s >= 0.99 else "motion" for s in spots.strengths]
    events = [(t, s, k) for t, s, k in zip(spots.times_s, spots.strengths, kinds, strict=True)
              if 0 <= t < duration_s]
    strong = sorted((t, s, k) for t, s, k in events if k in ("cut", "impact"))
    moves = [(t, s) for t, s, k in events if k == "motion"]
    strong_t = np.array([t for t, _, _ in strong])

    raw = [b for b in spots.beat_times_s if 0 <= b < duration_s]
    if len(raw) < 2:
        raw = list(np.arange(0.0, duration_s, 60.0 / spots.tempo_bpm))
    # Beats close to a strong spot move onto it, so every part hits the spot together.
    beats: list[float] = []
    for b in raw:
        if strong_t.size and np.abs(strong_t - b).min() <= NEAR_S:
            b = strong_t[np.argmin(np.abs(strong_t - b))]
        if not beats or b - beats[-1] > 0.05:
            beats.append(float(b))
    period = float(np.median(np.diff(beats))) if len(beats) > 1 else 60.0 / spots.tempo_bpm

    # Bars of four beats, starting on the beat that puts most strong spots on downbeats. Music
    # before the first downbeat is a pickup bar (or joins the first bar when under 3/4 beat); a
    # last bar under two beats joins the one before.
    weight = np.zeros(4)
    for t, s, _ in strong:
        i = int(np.argmin(np.abs(np.asarray(beats) - t)))
        if abs(beats[i] - t) <= NEAR_S:
            weight[i % 4] += s
    starts = beats[int(np.argmax(weight[: min(4, len(beats))])) :: 4] or [0.0]
    pickup = int(starts[0] >= 0.75 * period)
    starts = [0.0, *starts] if pickup else [0.0, *starts[1:]]
    if len(starts) > 1 and duration_s - starts[-1] < 2 * period:
        starts.pop()
    bars = list(zip(starts, [*starts[1:], duration_s], strict=True))
    return _Grid(duration_s, sorted(sections), beats, period, bars, pickup, strong, moves)


def compose(
    brief: MusicBrief,
    spots: RhythmSpots,
    sections: list[tuple[float, float, float]],
    duration_s: float,
    seed: int,
    feedback: list[str] | tuple[str, ...] = (),
) -> Score:
    """Write a score for a cut of `duration_s` seconds; deterministic for a seed.

    `sections` are (start_s, end_s, energy 0..1), one per shot; `spots` supplies the beat grid and
    the cut/impact/motion spots the rhythm lands on. `feedback` holds reviewer reasons from a
    previous round; the settings they changed are recorded in `Score.feedback_applied`.
    """
    if duration_s <= 0:
        raise ValueError(f"duration {duration_s} s; must be > 0")
    for a, b, e in sections:
        if not (0 <= a < b <= duration_s + 1e-6 and 0 <= e <= 1):
            raise ValueError(f"section ({a}, {b}, {e}): need 0 <= start < end <= duration, energy in [0, 1]")
    grid = _grid(spots, list(sections) or [(0.0, duration_s, 0.5)], duration_s)
    cfg = composer_settings(brief, feedback)
    steps = MODE_STEPS[cfg.mode]
    tonic = 60 + KEY_PC[brief.key]  # melody tonic in C4..B4
    chords, triads, raised_bar = _harmony(cfg, grid, tonic, steps)
    notes = _accompaniment(cfg, grid, chords)
    notes += _melody(cfg, np.random.default_rng(seed), grid, tonic, steps, triads, raised_bar)
    notes += _percussion(cfg, grid)
    notes.sort(key=lambda x: (x.start_s, PARTS.index(x.part), x.pitch))
    return Score(
        notes=notes, tempo_bpm=float(spots.tempo_bpm), key=brief.key, mode=cfg.mode,
        duration_s=float(duration_s), sections=[(float(a), float(b)) for a, b, _ in grid.secs],
        chords=chords, beat_times_s=[round(b, 4) for b in grid.beats],
        feedback_applied=list(cfg.applied),
    )


def _harmony(cfg: ComposerSettings, grid: _Grid, tonic: int, steps: tuple[int, ...]
             ) -> tuple[list[tuple[float, list[int]]], list[list[int]], int | None]:
    """One chord per bar: the mood's progression, a cadence into the final tonic, voiced for the
    smallest motion. Returns (chords as (start, [bass root, voicing...]), triads, raised bar)."""
    n = len(grid.bars)
    prog = cfg.progression
    degrees = [prog[(i - grid.pickup) % len(prog)] for i in range(n)]
    degrees[0] = 0
    # Dominant -> tonic; where the fifth-degree triad is diminished (phrygian), bII -> i instead.
    dominant = 4 if _triad(0, steps, 4)[2] - _triad(0, steps, 4)[0] == 7 else 1
    if n >= 2:
        degrees[-2] = dominant
    degrees[-1] = 0
    chords: list[tuple[float, list[int]]] = []
    triads: list[list[int]] = []
    raised_bar = None
    voicing: list[int] | None = None
    for i, ((a, _), d) in enumerate(zip(grid.bars, degrees, strict=True)):
        tri = _triad(tonic, steps, d)
        if cfg.mode == "minor" and not cfg.strict_scale and d == 4 and n >= 2 and i == n - 2:
            tri[1] += 1  # harmonic-minor V: the raised seventh pulls to the tonic
            raised_bar = i
        triads.append(tri)
        voicing = _voice([p % 12 for p in tri], voicing)
        chords.append((round(a, 4), [36 + tri[0] % 12, *voicing]))
    return chords, triads, raised_bar


def _accompaniment(cfg: ComposerSettings, grid: _Grid, chords: list[tuple[float, list[int]]]) -> list[Note]:
    """Harmony and bass: chords struck once, twice or on every beat as the shot's energy rises;
    the bass also hits every cut and impact; the last two bars are held."""
    notes: list[Note] = []
    n = len(grid.bars)
    for i, ((a, z), (_, voicing)) in enumerate(zip(grid.bars, chords, strict=True)):
        e = grid.energy_at(a)
        bb = grid.beats_in(i)
        if i >= n - 2 or e < 0.35 or not bb:
            hits = [a]
        elif e < 0.7:
            hits = [a, *bb[2:3]]
        else:
            hits = [a, *bb[1:]]
        hits = sorted({round(h, 4) for h in hits})
        extra = [t for t, _, _ in grid.strong if a <= t < z and all(abs(t - h) > NEAR_S for h in hits)]
        bass_hits = sorted(hits + extra)
        if cfg.snap_to_spots:
            hits = bass_hits
        for part, times, pitches, vel in (
            ("harmony", hits, voicing[1:], 40 + 45 * e),
            ("bass", bass_hits, voicing[:1], 55 + 50 * e),
        ):
            for k, t in enumerate(times):
                end = times[k + 1] if k + 1 < len(times) else z
                for p in pitches:
                    notes.append(Note(t, max(0.05, end - t), p, int(np.clip(vel, 1, 127)), part))
    return notes


def _motif(rng: np.random.Generator) -> list[int]:
    """Scale-step positions of a motif: an opening leap, then steps that fill the gap."""
    up = rng.random() < 0.7
    leap = int(rng.choice([3, 4])) * (1 if up else -1)
    fill = [int(rng.choice([1, 1, 2])) * (-1 if up else 1) for _ in range(int(rng.integers(3, 5)))]
    return [int(x) for x in np.cumsum([0, leap, *fill])]


def _melody_onsets(cfg: ComposerSettings, rng: np.random.Generator, grid: _Grid) -> list[tuple[float, int]]:
    """(time, priority) of melody notes: every cut and impact (0), strong motion peaks (1), beats
    (2) and off-beats (3) kept at the density the shot's energy asks for, then the final tonic on
    the last downbeat. Onsets closer than 110 ms keep the higher priority."""
    beats, period = grid.beats, grid.period
    if len(grid.bars) > 1:
        final_t = grid.bars[-1][0]
    else:  # one bar only: the last beat that leaves a beat to ring
        final_t = max([b for b in beats if b <= grid.duration_s - period] or [beats[0]])
    halves = [(a + b) / 2 for a, b in itertools.pairwise(beats)]
    onsets: list[tuple[float, int]] = []
    for j, (a, b, e) in enumerate(grid.secs):
        keep = cfg.density * period * (0.45 + 1.1 * e)  # notes per beat: > 1 adds off-beats
        cand = [(t, 0) for t, _, _ in grid.strong if a <= t < b]
        cand += [(t, 1) for t, s in grid.moves if a <= t < b and (s >= 0.3 or cfg.snap_to_spots)]
        cand += [(t, 2) for t in beats if a <= t < b and rng.random() < keep]
        if not cfg.snap_to_spots:
            cand += [(t, 3) for t in halves if a <= t < b and rng.random() < keep - 1.0]
        if j == 0 and beats[0] < b:
            cand.append((beats[0], 2))  # the melody enters on the first beat
        if not cand:  # a shot with no spot and no kept beat still gets one note, on the grid
            on_grid = [t for t in [*beats, *(t for t, _, _ in grid.strong), *(t for t, _ in grid.moves)]
                       if a <= t < b]
            cand += [(min(on_grid), 2)] if on_grid else []
        onsets += cand
    onsets = sorted([(t, p) for t, p in onsets if t < final_t - 0.12] + [(final_t, 0)])
    merged: list[tuple[float, int]] = []
    for t, p in onsets:
        if merged and t - merged[-1][0] < 0.11:
            if p < merged[-1][1] and merged[-1][0] != final_t:
                merged[-1] = (t, p)
            continue
        merged.append((t, p))
    return merged


def _melody(cfg: ComposerSettings, rng: np.random.Generator, grid: _Grid, tonic: int,
            steps: tuple[int, ...], triads: list[list[int]], raised_bar: int | None) -> list[Note]:
    """The melody: a motif developed across the shots, sung on the onsets from the spots, chord
    tones on strong beats, leaps within the limit, resolving to the tonic."""
    motif = _motif(rng)
    onsets = _melody_onsets(cfg, rng, grid)
    times = [t for t, _ in onsets]
    hi = cfg.range_steps
    accents = np.asarray(grid.beats if cfg.chord_tones_every_beat else
                         strong_beats([a for a, _ in grid.bars], grid.beats, grid.duration_s))

    def strong_beat(k: int) -> bool:
        return onsets[k][1] == 0 or float(np.abs(accents - times[k]).min()) <= 0.03

    def pc_of(idx: int) -> int:
        return degree_pitch(tonic, steps, idx) % 12

    def chord_pcs(k: int) -> set[int]:
        return {p % 12 for p in triads[grid.bar_of(times[k])]}

    def pick(lo: int, up: int, target: int, k: int) -> int:
        """The position in [lo, up] (and the range) nearest target; a chord tone on strong beats."""
        options = list(range(max(0, lo), min(hi, up) + 1)) or [int(np.clip(target, 0, hi))]
        if strong_beat(k):
            options = [c for c in options if pc_of(c) in chord_pcs(k)] or options
        return min(options, key=lambda c: (abs(c - target), c))

    idxs: list[int] = []  # scale positions: 0 = tonic, 7 = the octave
    count, prev_section = 0, -1
    for k, t in enumerate(times):
        j = next(j for j, (_, b, _) in enumerate(grid.secs) if t < b or j == len(grid.secs) - 1)
        count = 0 if j != prev_section else count
        prev_section = j
        rep, pos = divmod(count, len(motif))
        count += 1
        # Development across shots: sequence up, inversion, then the motif a step lower.
        shift = (0, 2, 0, -1)[j % 4] + (rep % 2)
        m = -motif[pos] if j % 4 == 2 else motif[pos]
        desired = 2 + m + shift + (2 if grid.energy_at(t) > 0.75 else 0)
        desired = abs(desired) if desired < 0 else min(desired, 2 * hi - desired)
        x = idxs[-1] if idxs else desired
        idxs.append(pick(x - cfg.max_leap, x + cfg.max_leap, desired, k))

    # Resolve: the last note is the tonic nearest the line, approached by step (the leading tone
    # when the range allows), then earlier notes move where a leap would exceed the limit.
    before = idxs[-2] if len(idxs) > 1 else idxs[-1]
    idxs[-1] = min(range(0, hi + 1, 7), key=lambda c: (abs(c - before), c))
    if len(idxs) > 1:
        near = idxs[-3] if len(idxs) > 2 else idxs[-2]
        approach = [c for c in (idxs[-1] - 1, idxs[-1] + 1)
                    if 0 <= c <= hi and abs(c - near) <= cfg.max_leap]
        if strong_beat(len(idxs) - 2):
            approach = [c for c in approach if pc_of(c) in chord_pcs(len(idxs) - 2)]
        if approach:
            idxs[-2] = approach[0]
    for k in range(len(idxs) - 2, -1, -1):
        if abs(idxs[k] - idxs[k + 1]) > cfg.max_leap:
            x = idxs[k + 1]
            idxs[k] = pick(x - cfg.max_leap, x + cfg.max_leap, idxs[k], k)

    notes = []
    for k, (t, idx) in enumerate(zip(times, idxs, strict=True)):
        pitch = degree_pitch(tonic, steps, idx)
        if raised_bar is not None and grid.bar_of(t) == raised_bar and idx % 7 == 6:
            pitch += 1  # harmonic minor: match the dominant's raised seventh
        if k == len(times) - 1:
            dur = grid.duration_s - t
        else:
            dur = min(times[k + 1] - t, 2 * grid.period) * 0.92
        vel = 62 + 45 * grid.energy_at(t) + (12 if onsets[k][1] == 0 else 0)
        notes.append(Note(t, max(0.05, dur), pitch, int(np.clip(vel, 1, 127)), "melody"))
    return notes


def _percussion(cfg: ComposerSettings, grid: _Grid) -> list[Note]:
    """Hits on cuts (kick + crash) and impacts (kick + tom + snare), toms on strong motion, and a
    groove that grows with energy: kick on downbeats, then backbeat snare, then eighth hats."""
    events: dict[tuple[int, int], Note] = {}

    def hit(t: float, drum: str, vel: float, dur: float = 0.3) -> None:
        key = (DRUMS[drum], round(t * 20))  # one hit per drum per 50 ms
        v = int(np.clip(vel, 1, 127))
        if key not in events or events[key].velocity < v:
            events[key] = Note(round(t, 4), dur, DRUMS[drum], v, "percussion")

    last_crash = -1.0
    for t, s, kind in grid.strong:
        hit(t, "kick", 90 + 30 * s)
        # A crash still ringing masks the next one; a quick second cut gets a snare instead.
        if kind == "cut" and t - last_crash > 0.5:
            hit(t, "crash", 80 + 30 * s, 1.2)
            last_crash = t
        elif kind == "cut":
            hit(t, "snare", 90 + 30 * s, 0.3)
        else:
            hit(t, "tom", 85 + 35 * s, 0.5)
            hit(t, "snare", 70 + 40 * s, 0.3)
    for t, s in grid.moves:
        if s >= 0.5 or cfg.snap_to_spots:
            hit(t, "mid_tom", 50 + 50 * s, 0.4)
    for k, b in enumerate(grid.beats):
        if grid.near_strong(b):
            continue
        e = grid.energy_at(b)
        pos = grid.beats_in(grid.bar_of(b)).index(b)
        if pos == 0 and e >= 0.3:
            hit(b, "kick", 60 + 50 * e)
        if e >= 0.55 and pos % 2 == 1:
            hit(b, "snare", 45 + 50 * e, 0.2)
        if e >= 0.75:
            hit(b, "hat", 35 + 40 * e, 0.08)
            if k + 1 < len(grid.beats):
                hit((b + grid.beats[k + 1]) / 2, "hat", 25 + 30 * e, 0.08)
    return list(events.values())
