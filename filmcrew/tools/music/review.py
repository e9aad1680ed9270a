"""Measured checks and FilmComposer's five reviewers as rules (MUSIC.md, "Reviewers").

The measures read the score (key consistency) and the rendered audio (librosa onsets against the
rhythm spots; FilmComposer's Rhythm and Dynamic metrics from filmcrew.tools.music.metrics).
The reviewers — mode, melody, harmony, rhythm, emotion — turn them into pass/fail with short reasons
written in the composer's vocabulary ("use smaller intervals", "snap onsets to the spots", ...), so a
failing round changes something concrete in the next one.
"""

from __future__ import annotations

import itertools

import numpy as np

from filmcrew.schemas import Critique, MusicBrief, RhythmSpots
from filmcrew.tools.music.score import (
    KEY_PC,
    MODE_BRIGHTNESS,
    Score,
    key_pcs,
    mood_of,
    strong_beats,
)

STRONG_KINDS = ("cut", "impact")
HIT_S = 0.05  # an onset this close to a spot lands on it
MIN_KEY_FRACTION = 0.9
MAX_RANGE = 19  # semitones: about an octave and a half
MAX_LARGE_LEAPS = 0.1  # fraction of melodic intervals allowed beyond a fifth
MIN_CHORD_TONES = 0.75
MIN_HIT_RATE = 0.8
#: Melody notes per second each mood tolerates (the tempo is fixed by the cut; density is not).
PACE = {"tense": (1.3, 6.0), "epic": (1.2, 6.0), "happy": (1.2, 6.0), "sad": (0.3, 2.2),
        "calm": (0.3, 2.2), "neutral": (0.5, 5.0)}


def _strong_times(spots: RhythmSpots) -> np.ndarray:
    if spots.kinds:
        return np.array([t for t, k in zip(spots.times_s, spots.kinds, strict=True) if k in STRONG_KINDS])
    return np.array([t for t, s in zip(spots.times_s, spots.strengths, strict=True) if s >= 0.99])


def detect_onsets(audio: np.ndarray, sr: int) -> np.ndarray:
    """Onset times (s) with librosa's spectral-flux detector at a ~10 ms hop (the beat points of
    FilmComposer's Rhythm metric; see filmcrew.tools.music.metrics.beat_times)."""
    from filmcrew.tools.music.metrics import beat_times

    return beat_times(audio, sr)


def onset_alignment(audio: np.ndarray, sr: int, spots: RhythmSpots) -> dict[str, float]:
    """How well audible onsets land on the strong spots (cuts and impacts).

    Returns hit_rate (fraction of strong spots with an onset within 50 ms), mean_abs_offset_s
    (mean distance from each strong spot to its nearest onset), n_spots and n_onsets.
    """
    onsets = detect_onsets(audio, sr)
    strong = _strong_times(spots)
    if strong.size == 0:
        return {"hit_rate": 1.0, "mean_abs_offset_s": 0.0, "n_spots": 0.0, "n_onsets": float(onsets.size)}
    if onsets.size == 0:
        return {"hit_rate": 0.0, "mean_abs_offset_s": float("inf"), "n_spots": float(strong.size),
                "n_onsets": 0.0}
    d = np.abs(strong[:, None] - onsets[None, :]).min(axis=1)
    return {"hit_rate": float((d <= HIT_S).mean()), "mean_abs_offset_s": float(d.mean()),
            "n_spots": float(strong.size), "n_onsets": float(onsets.size)}


def rhythm_xcorr(
    audio: np.ndarray, sr: int, spots: RhythmSpots, *, fps: int = 100, max_lag_s: float = 0.05,
    sigma_s: float = 0.02,
) -> float:
    """FilmComposer's Rhythm metric (0..1) of `audio` against the cuts and impacts, weighted by
    strength; kept for callers of the old name — the metric is tools.music.metrics.rhythm_score."""
    from filmcrew.tools.music.metrics import rhythm_score

    return rhythm_score(audio, sr, spots, fps=fps, max_lag_s=max_lag_s, sigma_s=sigma_s)


def key_consistency(score: Score) -> float:
    """Fraction of melody and harmony notes whose pitch class belongs to the score's key
    (its scale; in minor also the raised leading tone)."""
    pcs = key_pcs(score.key, score.mode)
    notes = [n for n in score.notes if n.part in ("melody", "harmony")]
    if not notes:
        return 1.0
    return sum(n.pitch % 12 in pcs for n in notes) / len(notes)


def _want(brief: MusicBrief) -> int:
    """+1 if the picture/mood asks for a bright mode, -1 for a dark one, 0 if either fits."""
    mood = mood_of(brief)
    if mood in ("tense", "sad"):
        return -1
    if mood == "happy":
        return 1
    return {"dark": -1, "bright": 1}.get(brief.brightness, 0)


def _mode_review(score: Score, brief: MusicBrief) -> Critique:
    frac = key_consistency(score)
    reasons = []
    if frac < MIN_KEY_FRACTION:
        reasons.append(f"notes outside the key ({frac:.0%} in {score.key} {score.mode}); "
                       "keep to a stricter scale")
    bright = MODE_BRIGHTNESS[score.mode]
    if brief.brightness in ("dark", "dim") and bright > 0 and _want(brief) <= 0:
        reasons.append(f"{score.mode} mode is too bright for a {brief.brightness} picture; use minor mode")
    if brief.brightness == "bright" and bright < 0 and _want(brief) >= 0:
        reasons.append(f"{score.mode} mode is too dark for a bright picture; use major mode")
    return Critique(reviewer="mode", passed=not reasons, reasons=reasons,
                    measured={"key_consistency": round(frac, 4), "mode_brightness": float(bright)})


def _melody_review(score: Score) -> Critique:
    mel = score.part("melody")
    if len(mel) < 2:
        return Critique(reviewer="melody", passed=False, measured={"n_notes": float(len(mel))},
                        reasons=["the melody has fewer than two notes; use denser rhythm"])
    p = np.array([n.pitch for n in mel])
    leaps = np.abs(np.diff(p))
    span = int(p.max() - p.min())
    large = float((leaps > 7).mean())
    tonic = KEY_PC[score.key]
    ends = int(p[-1] % 12 == tonic)
    reasons = []
    if span > MAX_RANGE:
        reasons.append(f"range too wide ({span} semitones); keep within an octave and a half")
    if large > MAX_LARGE_LEAPS or leaps.max() > 12:
        reasons.append(f"leaps too large (largest {leaps.max()} semitones, {large:.0%} beyond a "
                       "fifth); use smaller intervals")
    if not ends:
        reasons.append("does not end on the tonic; resolve to the tonic")
    return Critique(reviewer="melody", passed=not reasons, reasons=reasons, measured={
        "n_notes": float(len(mel)), "range_semitones": float(span),
        "max_leap_semitones": float(leaps.max()), "large_leap_fraction": round(large, 4),
        "ends_on_tonic": float(ends)})


def _harmony_review(score: Score) -> Critique:
    mel = score.part("melody")
    checked = hits = 0
    for b in strong_beats([t for t, _ in score.chords], score.beat_times_s, score.duration_s):
        on = [n for n in mel if abs(n.start_s - b) <= HIT_S]
        if not on:
            continue
        checked += 1
        hits += on[0].pitch % 12 in {p % 12 for p in score.chord_at(b)}
    frac = hits / checked if checked else 1.0
    voicings = [sorted(p[1:]) for _, p in score.chords if len(p) > 1]
    moves = [np.abs(np.subtract(a, b)).mean() for a, b in itertools.pairwise(voicings)
             if len(a) == len(b)]
    motion = float(np.mean(moves)) if moves else 0.0
    reasons = []
    if frac < MIN_CHORD_TONES:
        reasons.append(f"non-chord tones on strong beats ({frac:.0%} chord tones); "
                       "put chord tones on strong beats")
    if motion > 3.0:
        reasons.append(f"voice leading too jumpy ({motion:.1f} semitones per voice); move voices by step")
    return Critique(reviewer="harmony", passed=not reasons, reasons=reasons, measured={
        "chord_tone_fraction": round(frac, 4), "strong_beats_checked": float(checked),
        "voice_motion_semitones": round(motion, 3)})


def _rhythm_review(score: Score, spots: RhythmSpots, audio: np.ndarray | None, sr: int,
                   sections: list[tuple[float, float, float]] | None = None) -> Critique:
    strong = _strong_times(spots)
    starts = np.array(sorted({round(n.start_s, 4) for n in score.notes}))
    sym = 1.0
    if strong.size and starts.size:
        sym = float((np.abs(strong[:, None] - starts[None, :]).min(axis=1) <= HIT_S).mean())
    grid = np.array(sorted({*spots.times_s, *score.beat_times_s,
                            *(np.add(score.beat_times_s[1:], score.beat_times_s[:-1]) / 2)}))
    mel = np.array([n.start_s for n in score.part("melody")])
    on_grid = 1.0
    if grid.size and mel.size:
        on_grid = float((np.abs(mel[:, None] - grid[None, :]).min(axis=1) <= HIT_S).mean())
    measured = {"score_hit_rate": round(sym, 4), "melody_on_grid": round(on_grid, 4)}
    rate = sym
    if audio is not None:
        al = onset_alignment(audio, sr, spots)
        rate = al["hit_rate"]
        xcorr = round(rhythm_xcorr(audio, sr, spots), 4)
        measured |= {"audio_hit_rate": round(rate, 4),
                     "mean_abs_offset_s": round(al["mean_abs_offset_s"], 4),
                     "rhythm_xcorr": xcorr, "rhythm_score": xcorr}
        if sections:
            # Measured only (no verdict): how far the music's loudness changes are from the
            # picture's energy changes; the arranger's dynamics act on it, the composer cannot.
            from filmcrew.tools.music.metrics import dynamic_distance, energy_db_curve

            target = energy_db_curve(sections, len(audio) / sr)
            if target.size >= 2:
                measured["dynamic_distance"] = round(dynamic_distance(audio, sr, target), 4)
    reasons = []
    if rate < MIN_HIT_RATE or on_grid < MIN_HIT_RATE:
        reasons.append(f"onsets off the spots ({rate:.0%} of cuts/impacts hit, {on_grid:.0%} of "
                       "melody notes on the grid); snap onsets to the spots")
    return Critique(reviewer="rhythm", passed=not reasons, reasons=reasons, measured=measured)


def _emotion_review(score: Score, brief: MusicBrief) -> Critique:
    mood = mood_of(brief)
    mel = score.part("melody")
    pace = len(mel) / score.duration_s
    lo, hi = PACE[mood]
    bright = MODE_BRIGHTNESS[score.mode]
    reasons = []
    if mood in ("tense", "sad") and bright > 0:
        reasons.append(f"{score.mode} mode is too bright for this {mood} mood; use minor mode")
    if mood == "happy" and bright < 0:
        reasons.append(f"{score.mode} mode is too dark for this happy mood; use major mode")
    if pace < lo:
        reasons.append(f"too slow for this {mood} mood ({pace:.1f} notes/s at "
                       f"{score.tempo_bpm:.0f} BPM); use denser rhythm")
    if pace > hi:
        reasons.append(f"too busy for this {mood} mood ({pace:.1f} notes/s at "
                       f"{score.tempo_bpm:.0f} BPM); use sparser rhythm")
    return Critique(reviewer="emotion", passed=not reasons, reasons=reasons, measured={
        "notes_per_s": round(pace, 3), "tempo_bpm": float(score.tempo_bpm),
        "mode_brightness": float(bright)})


def review(
    score: Score, brief: MusicBrief, spots: RhythmSpots, audio: np.ndarray | None, sr: int, *,
    sections: list[tuple[float, float, float]] | None = None,
) -> list[Critique]:
    """The five reviewers in FilmComposer's order: mode, melody, harmony, rhythm, emotion.

    `audio` (the summed stems or the mix) makes the rhythm reviewer measure onsets instead of
    reading them from the score; with `sections` (start_s, end_s, energy) too, it also measures
    FilmComposer's Dynamic (`dynamic_distance` against the sections' energy curve). Reasons carry
    no reviewer prefix; the critic node adds it.
    """
    return [
        _mode_review(score, brief),
        _melody_review(score),
        _harmony_review(score),
        _rhythm_review(score, spots, audio, sr, sections),
        _emotion_review(score, brief),
    ]
