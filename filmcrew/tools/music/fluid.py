"""Real instruments for the procedural score: FluidSynth with a General MIDI SoundFont (issue 20).

The brief names instruments ("playful piano", "pizzicato strings", "jazz drums"); they are mapped to
GM programs per part (melody, harmony, bass) and a GM drum kit, each part is written as a one-track
MIDI file (pretty_midi) and rendered offline by the `fluidsynth` command-line program. FluidSynth and
a GM SoundFont are Debian packages (`fluidsynth`, `fluid-soundfont-gm`; `make instruments`); where
they are missing the numpy synthesizer (music/synth.py) renders the stems instead, with a one-line
note in the log and in the stems' metadata.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from filmcrew.tools.music.score import PARTS, Score

log = logging.getLogger(__name__)

ENV_SOUNDFONT = "FILMCREW_SOUNDFONT"
SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",  # Debian fluid-soundfont-gm
    "/usr/share/soundfonts/FluidR3_GM.sf2",  # Fedora/Arch
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",  # Debian timgm6mb-soundfont
)
FALLBACK_NOTE = ("numpy synth: no fluidsynth + GM SoundFont here (`make instruments`, or set "
                 "FILMCREW_SOUNDFONT), so the brief's instruments are approximated")

#: words in an instrument name -> (GM program, 0-based; its register: "lead", "pad" or "bass").
#: Longer phrases are matched first ("electric piano" before "piano").
GM: dict[str, tuple[int, str]] = {
    "grand piano": (0, "lead"), "piano": (0, "lead"), "electric piano": (4, "pad"),
    "rhodes": (4, "pad"), "harpsichord": (6, "lead"), "celesta": (8, "lead"),
    "glockenspiel": (9, "lead"), "music box": (10, "lead"), "vibraphone": (11, "lead"),
    "vibes": (11, "lead"), "marimba": (12, "lead"), "xylophone": (13, "lead"),
    "organ": (19, "pad"), "accordion": (21, "pad"), "harmonica": (22, "lead"),
    "guitar": (24, "pad"), "acoustic guitar": (25, "pad"), "electric guitar": (27, "lead"),
    "distorted guitar": (30, "lead"), "upright bass": (32, "bass"), "double bass": (32, "bass"),
    "bass": (32, "bass"), "electric bass": (33, "bass"), "synth bass": (38, "bass"),
    "violin": (40, "lead"), "viola": (41, "pad"), "cello": (42, "bass"), "contrabass": (43, "bass"),
    "tremolo strings": (44, "pad"), "pizzicato": (45, "lead"), "pizzicato strings": (45, "lead"),
    "harp": (46, "lead"), "strings": (48, "pad"),
    "string ensemble": (48, "pad"), "slow strings": (49, "pad"), "low strings": (48, "pad"),
    "synth strings": (50, "pad"), "choir": (52, "pad"), "voice": (53, "lead"),
    "orchestra hit": (55, "lead"), "trumpet": (56, "lead"), "trombone": (57, "bass"),
    "tuba": (58, "bass"), "muted trumpet": (59, "lead"), "horn": (60, "pad"),
    "french horn": (60, "pad"), "horns": (60, "pad"), "brass": (61, "pad"),
    "saxophone": (65, "lead"), "sax": (65, "lead"), "oboe": (68, "lead"),
    "english horn": (69, "lead"), "bassoon": (70, "bass"), "clarinet": (71, "lead"),
    "piccolo": (72, "lead"), "flute": (73, "lead"), "recorder": (74, "lead"),
    "pan flute": (75, "lead"), "whistle": (78, "lead"), "synth": (81, "lead"),
    "synth lead": (81, "lead"), "synth pad": (89, "pad"), "pad": (89, "pad"),
}
#: GM drum kits (program on the drum bank): words -> kit (timpani count as orchestral percussion)
KITS: dict[str, int] = {"jazz": 32, "brush": 40, "orchestral": 48, "orchestra": 48, "timpani": 48,
                        "electronic": 24, "synth": 24, "room": 8, "rock": 16, "power": 16}
DEFAULT = {"melody": 73, "harmony": 48, "bass": 42}  # flute over strings and cello
PERCUSSIVE_WORDS = ("drum", "drums", "percussion", "kit", "taiko", "snare", "cymbal")


def _program_of(name: str) -> tuple[int, str] | None:
    text = f" {name.lower().replace('-', ' ')} "
    for words in sorted(GM, key=len, reverse=True):
        if f" {words} " in text or f" {words}s " in text:
            return GM[words]
    return None


def gm_programs(instruments: list[str]) -> dict[str, int]:
    """GM programs for the score's parts from the brief's instrument names: melody, harmony, bass
    (0-based programs) and "kit" (the drum kit's program on the percussion bank).

    The first lead (or any) instrument plays the melody, the next pitched one the harmony (else the
    melody's own instrument, as a pianist's left hand), a bass-register one the bass (else a cello
    under strings, an upright bass otherwise; a solo piano keeps its own bass). Unnamed parts get
    flute, strings and cello.
    """
    found = [p for p in (_program_of(i) for i in instruments) if p is not None]
    out = dict(DEFAULT)
    leads = [p for p, r in found if r == "lead"] or [p for p, r in found if r == "pad"]
    pads = [p for p, r in found if r in ("pad", "lead") and p not in leads[:1]]
    basses = [p for p, r in found if r == "bass"]
    if leads:
        out["melody"] = leads[0]
        out["harmony"] = pads[0] if pads else leads[0]
    elif basses:
        out["melody"] = out["harmony"] = basses[0]
    if basses:
        out["bass"] = basses[0]
    elif leads and out["melody"] == out["harmony"] and out["melody"] < 8:
        out["bass"] = out["melody"]  # piano alone: its own left hand
    else:
        out["bass"] = 42 if 40 <= out["harmony"] <= 51 else 32
    text = " ".join(instruments).lower()
    out["kit"] = next((k for w, k in KITS.items() if w in text.split() or f"{w} " in text), 0)
    return out


def find_fluidsynth(soundfont: str | None = None) -> tuple[str, Path] | None:
    """(fluidsynth executable, GM SoundFont) when both exist here; None otherwise."""
    exe = shutil.which("fluidsynth")
    candidates = [soundfont] if soundfont else [os.environ.get(ENV_SOUNDFONT), *SOUNDFONTS]
    sf = next((Path(c) for c in candidates if c and Path(c).is_file()), None)
    return (exe, sf) if exe and sf else None


def _part_midi(score: Score, part: str, program: int, path: Path) -> None:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=float(score.tempo_bpm))
    drums = part == "percussion"
    inst = pretty_midi.Instrument(program=program, is_drum=drums, name=part)
    for n in score.part(part):
        end = n.start_s + (0.3 if drums else n.dur_s)
        inst.notes.append(pretty_midi.Note(velocity=int(np.clip(n.velocity, 1, 127)),
                                           pitch=int(n.pitch), start=float(n.start_s),
                                           end=float(end)))
    pm.instruments.append(inst)
    pm.write(str(path))


def render_fluidsynth(score: Score, sample_rate: int, programs: dict[str, int], exe: str,
                      soundfont: Path) -> dict[str, np.ndarray]:
    """Each part of `score` rendered by FluidSynth (one process per part, no audio device) to a
    float32 mono stem of exactly round(duration * sample_rate) samples, peak <= 0.99."""
    import soundfile as sf

    n = round(score.duration_s * sample_rate)
    out: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="filmcrew-fluid-") as tmp:
        for part in PARTS:
            if not score.part(part):
                out[part] = np.zeros(n, np.float32)
                continue
            mid, wav = Path(tmp) / f"{part}.mid", Path(tmp) / f"{part}.wav"
            _part_midi(score, part, programs["kit" if part == "percussion" else part], mid)
            cmd = [exe, "-ni", "-q", "-g", "0.6", "-r", str(sample_rate), "-O", "float",
                   "-T", "wav", "-F", str(wav), str(soundfont), str(mid)]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
            if done.returncode != 0 or not wav.exists():
                raise RuntimeError(f"fluidsynth failed on {part}: {done.stderr.strip()[-300:]}")
            audio, sr = sf.read(str(wav), dtype="float32", always_2d=True)
            if sr != sample_rate:
                raise RuntimeError(f"fluidsynth wrote {sr} Hz, asked {sample_rate}")
            x = audio.mean(axis=1)
            x = np.pad(x, (0, max(0, n - x.size)))[:n]
            peak = float(np.abs(x).max()) if x.size else 0.0
            out[part] = (x * (0.99 / peak) if peak > 0.99 else x).astype(np.float32)
    return out


def render_score_stems(score: Score, sample_rate: int, instruments: list[str], *,
                       soundfont: str | None = None, use_fluidsynth: bool = True
                       ) -> tuple[dict[str, np.ndarray], str, dict[str, int]]:
    """(stems by part, what rendered them, the GM programs): FluidSynth with a GM SoundFont when
    there is one (and `use_fluidsynth`), else the numpy synthesizer with FALLBACK_NOTE."""
    programs = gm_programs(list(instruments))
    found = find_fluidsynth(soundfont) if use_fluidsynth else None
    if found:
        exe, sf2 = found
        return render_fluidsynth(score, sample_rate, programs, exe, sf2), f"fluidsynth:{sf2.name}", \
            programs
    from filmcrew.tools.music.synth import render_stems

    if use_fluidsynth:
        log.warning(FALLBACK_NOTE)
    return render_stems(score, sample_rate=sample_rate), FALLBACK_NOTE, programs


def synth_id(soundfont: str | None = None) -> str:
    """What would render the stems here (part of the stems' cache key)."""
    found = find_fluidsynth(soundfont)
    return f"fluidsynth:{found[1].name}" if found else "numpy"
