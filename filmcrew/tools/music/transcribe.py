"""Melody transcription for the critics when the music comes from a model (METHODS.md §5.3).

FilmComposer transcribes the generated melody (MT3) to MIDI and ABC so its reviewers read notes.
Here: basic-pitch when it is importable (it ships its own weights; not a dependency, since on
Python 3.11 it pins tensorflow), else librosa's pYIN monophonic pitch tracker, segmented into notes
at pitch changes and audible onsets. The notes become a `Score` (melody part only) with a key and
mode estimated from the notes (Krumhansl–Kessler profiles), the beat grid fitted to the rhythm
spots (tools/rhythm.fit_tempo) and one diatonic chord per bar, so `Score.to_abc()` and the rule
reviewers work unchanged.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

import numpy as np

from filmcrew.schemas import MusicBrief, RhythmSpots
from filmcrew.tools.music.score import KEY_PC, MODE_STEPS, Note, Score

#: Krumhansl–Kessler key profiles (probe-tone ratings), index 0 = tonic.
MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
PC_NAME = {pc: name for name, pc in KEY_PC.items()}
MIN_NOTE_S = 0.06  # shorter pitch runs are tracker jitter, not notes
KEY_TIE = 0.05  # correlation margin within which the brief's own key is kept (relative keys tie)


def estimate_key(pitches: Sequence[int], durations: Sequence[float], *,
                 prefer: tuple[str, str] | None = None) -> tuple[str, str, float]:
    """(key, "major"|"minor", correlation) whose Krumhansl–Kessler profile correlates best with
    the duration-weighted pitch-class histogram. `prefer` (the brief's key, mode mapped to
    major/minor) wins when it is within KEY_TIE of the best, since relative keys share all notes."""
    hist = np.zeros(12)
    for p, d in zip(pitches, durations, strict=True):
        hist[int(p) % 12] += d
    if hist.sum() == 0:
        return (prefer or ("C", "major")) + (0.0,)  # type: ignore[return-value]
    scores: dict[tuple[str, str], float] = {}
    for mode, prof in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for pc in range(12):
            r = np.corrcoef(hist, np.roll(prof, pc))[0, 1]
            scores[(PC_NAME[pc], mode)] = float(np.nan_to_num(r))
    best = max(scores, key=lambda k: scores[k])
    if prefer is not None and prefer in scores and scores[prefer] >= scores[best] - KEY_TIE:
        best = prefer
    return best[0], best[1], scores[best]


def _pyin_notes(audio: np.ndarray, sr: int) -> list[tuple[float, float, int, float]]:
    """(start_s, dur_s, midi, rms) notes from pYIN: voiced runs of one rounded pitch, split at
    onsets so repeated notes stay separate."""
    import librosa

    from filmcrew.tools.music.metrics import beat_times

    target = 16000
    y = librosa.resample(audio, orig_sr=sr, target_sr=target) if sr != target else audio
    hop = 160  # 10 ms
    # A quarter-semitone pitch grid (default 0.1): the notes are rounded to semitones anyway, and
    # pYIN's Viterbi cost grows with the square of the grid size (~25x faster).
    f0, voiced, _ = librosa.pyin(y, fmin=65.0, fmax=1600.0, sr=target, frame_length=1024,
                                 hop_length=hop, center=True, resolution=0.25)
    rms = librosa.feature.rms(y=y, frame_length=1024, hop_length=hop)[0]
    midi = np.where(voiced & np.isfinite(f0), np.round(librosa.hz_to_midi(np.nan_to_num(f0, nan=1.0))), -1)
    onset_frames = {round(t * target / hop) for t in beat_times(y, target)}
    notes: list[tuple[float, float, int, float]] = []
    start = None
    for i in range(len(midi) + 1):
        cur = midi[i] if i < len(midi) else -1
        boundary = start is not None and (cur != midi[start] or i in onset_frames)
        if boundary:
            dur = (i - start) * hop / target
            if dur >= MIN_NOTE_S and midi[start] >= 0:
                notes.append((start * hop / target, dur, int(midi[start]),
                              float(rms[start:i].mean())))
            start = None
        if start is None and cur >= 0:
            start = i
    return notes


def _basic_pitch_notes(audio: np.ndarray, sr: int) -> list[tuple[float, float, int, float]]:
    """The top line of basic-pitch's polyphonic transcription (the highest note at each onset)."""
    import tempfile

    from basic_pitch.inference import predict

    from filmcrew.tools.media import write_audio

    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        write_audio(f.name, audio, sr)
        _, midi, _ = predict(f.name)
    notes = sorted(((n.start, n.end - n.start, n.pitch, n.velocity / 127.0)
                    for inst in midi.instruments for n in inst.notes), key=lambda n: (n[0], -n[2]))
    top: list[tuple[float, float, int, float]] = []
    for n in notes:  # skyline: drop notes starting under a sounding higher note
        if top and n[0] < top[-1][0] + top[-1][1] - 1e-3 and n[2] <= top[-1][2]:
            continue
        top.append(n)
    return [n for n in top if n[1] >= MIN_NOTE_S]


def _bar_chords(notes: list[Note], key: str, mode: str, bars: list[float],
                duration_s: float) -> list[tuple[float, list[int]]]:
    """One diatonic triad per bar: the one covering most of the bar's melody (duration-weighted)."""
    steps = MODE_STEPS[mode]
    tonic = KEY_PC[key]
    chords = []
    for i, a in enumerate(bars):
        z = bars[i + 1] if i + 1 < len(bars) else duration_s
        weight = np.zeros(12)
        for n in notes:
            overlap = min(z, n.start_s + n.dur_s) - max(a, n.start_s)
            if overlap > 0:
                weight[n.pitch % 12] += overlap
        best, best_w = 0, -1.0
        for deg in (0, 4, 3, 5, 1, 6, 2):  # ties go to the tonic, dominant, subdominant first
            pcs = [(tonic + steps[(deg + j) % 7]) % 12 for j in (0, 2, 4)]
            w = float(weight[pcs].sum())
            if w > best_w + 1e-9:
                best, best_w = deg, w
        pcs = [(tonic + steps[(best + j) % 7]) % 12 for j in (0, 2, 4)]
        voicing = [48 + pcs[0]]
        for pc in pcs[1:]:  # stack the third and fifth upwards from the root
            voicing.append(voicing[-1] + (pc - voicing[-1]) % 12)
        chords.append((round(a, 4), [voicing[0] - 12, *voicing]))
    return chords


def transcribe(audio: np.ndarray, sr: int, *, brief: MusicBrief, spots: RhythmSpots,
               sections: Sequence[tuple[float, float]] | None = None,
               use_basic_pitch: bool | None = None) -> Score:
    """A `Score` of the melody heard in `audio` (mono or (N, C)), for the reviewers.

    Notes from basic-pitch if importable (or `use_basic_pitch`), else pYIN; key/mode estimated
    from the notes (the brief's key wins near-ties); tempo and beat grid fitted to the spots in the
    brief's tempo range; bars every 4 beats with one diatonic chord each.
    """
    from filmcrew.tools.music.rhythm import beat_grid, fit_tempo

    x = np.asarray(audio, np.float32)
    x = x.mean(axis=1) if x.ndim == 2 else x
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"audio: expected non-empty (N,) or (N, C), got shape {np.shape(audio)}")
    duration = x.size / sr
    if use_basic_pitch is None:
        use_basic_pitch = importlib.util.find_spec("basic_pitch") is not None
    raw = _basic_pitch_notes(x, sr) if use_basic_pitch else _pyin_notes(x, sr)
    loud = max((r for *_, r in raw), default=1.0) or 1.0
    notes = [Note(start_s=round(s, 4), dur_s=round(min(d, duration - s), 4), pitch=p,
                  velocity=int(np.clip(round(40 + 80 * r / loud), 1, 127)), part="melody")
             for s, d, p, r in raw if 0 <= p <= 127 and duration - s > 1e-3]
    prefer = (brief.key, "minor" if brief.mode in ("minor", "dorian", "phrygian") else "major")
    key, mode, _ = estimate_key([n.pitch for n in notes], [n.dur_s for n in notes], prefer=prefer)
    bpm, phase = fit_tempo(list(zip(spots.times_s, spots.strengths, strict=True)),
                           (brief.tempo_bpm_min, brief.tempo_bpm_max), duration)
    beats = beat_grid(bpm, phase, 0.0, duration)
    first = phase % (60.0 / bpm)
    bars = sorted({0.0, *beat_grid(bpm / 4, first, 0.0, duration)})
    return Score(notes=notes, tempo_bpm=bpm, key=key, mode=mode, duration_s=round(duration, 4),
                 sections=list(sections) if sections else [(0.0, round(duration, 4))],
                 chords=_bar_chords(notes, key, mode, bars, duration), beat_times_s=beats,
                 feedback_applied=[f"transcribed with {'basic-pitch' if use_basic_pitch else 'pyin'}"])
