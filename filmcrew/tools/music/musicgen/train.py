"""Fine-tuning MusicGen-Melody's rhythm conditioning (FilmComposer, METHODS.md §5.2).

FilmComposer replaces the melody chroma with the chroma of a rendered rhythm track and fine-tunes
on (music, rhythm spots, description) triples. Here: teacher-forced cross-entropy on the EnCodec
codes of the music (MusicGen's delay pattern, all four codebooks averaged), conditioned on the
description (T5, frozen) and the rhythm chroma; Adam, cosine schedule, grad-clip 1.0.

What trains: always `audio_enc_to_dec_proj` (the chroma → decoder projection, 12×d + d weights —
the rhythm conditioner proper); with `train_decoder=True` also the decoder (FilmComposer's
full fine-tune). T5 and EnCodec stay frozen. `save_rhythm` writes only what trained, so the file
is small for the projection alone, and `load_musicgen(rhythm=path)` puts it back on the base.

Pair layout on disk (`load_pairs(folder)`): for every `NAME.json` there is an audio file
`NAME.wav` (or .flac/.ogg/.mp3, any rate, mono or stereo) next to it; the JSON is
`{"description": "...", "spots": {"times_s": [...], "strengths": [...], "tempo_bpm": 100, ...},
"tonic": "D"}` — `spots` is a RhythmSpots record, `tonic` (optional, default C) the key the rhythm
hits are rendered on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from filmcrew.schemas import RhythmSpots
from filmcrew.tools.music.score import KEY_PC

AUDIO_EXTS = (".wav", ".flac", ".ogg", ".mp3")
PROJECTION = "audio_enc_to_dec_proj"


@dataclass
class Pair:
    """One training example: music, the rhythm spots it should follow, and its description."""

    audio: Path
    description: str
    spots: RhythmSpots
    tonic: str = "C"


def load_pairs(folder: Path) -> list[Pair]:
    """Every `NAME.json` + `NAME.<audio>` pair in `folder` (sorted by name); see the module doc."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"training folder {folder} does not exist")
    pairs = []
    for meta in sorted(folder.glob("*.json")):
        audio = next((meta.with_suffix(e) for e in AUDIO_EXTS if meta.with_suffix(e).exists()), None)
        if audio is None:
            raise FileNotFoundError(f"{meta.name}: no audio file {meta.stem}{{{','.join(AUDIO_EXTS)}}}")
        d = json.loads(meta.read_text(encoding="utf-8"))
        if "description" not in d or "spots" not in d:
            raise ValueError(f"{meta.name}: needs 'description' and 'spots'")
        tonic = d.get("tonic", "C")
        if tonic not in KEY_PC:
            raise ValueError(f"{meta.name}: tonic {tonic!r}; must be one of {sorted(KEY_PC)}")
        pairs.append(Pair(audio=audio, description=str(d["description"]),
                          spots=RhythmSpots.model_validate(d["spots"]), tonic=tonic))
    if not pairs:
        raise ValueError(f"no training pairs (NAME.json + NAME.wav) in {folder}")
    return pairs


def _batch(bundle: Any, pair: Pair, max_seconds: float, cache: dict[Path, Any]) -> dict[str, Any]:
    """Model inputs for one pair: text ids, the window's rhythm chroma, delayed code labels."""
    import torch

    from filmcrew.tools.media import read_audio, resample
    from filmcrew.tools.music.musicgen.model import _window_chroma, rhythm_chroma

    if pair.audio in cache:
        return cache[pair.audio]
    model = bundle.model
    audio, sr = read_audio(pair.audio)
    x = audio.reshape(audio.shape[0], -1).mean(axis=1)
    x = resample(x, sr, bundle.sample_rate)
    seconds = min(max_seconds, bundle.max_window_s, x.size / bundle.sample_rate)
    x = x[: round(seconds * bundle.sample_rate)].astype(np.float32)
    dev, k = model.device, bundle.num_codebooks
    with torch.no_grad():
        codes = model.audio_encoder.encode(torch.from_numpy(x).to(dev)[None, None]).audio_codes
    codes = codes[0, 0, :k]  # (K, T)
    start = bundle.model.generation_config.decoder_start_token_id
    ids = torch.cat([torch.full((k, 1), start, device=dev), codes], dim=1)
    _, delayed = model.decoder.build_delay_pattern_mask(ids, pad_token_id=start,
                                                        max_length=ids.shape[1] + k - 1)
    text = bundle.tokenizer([pair.description], return_tensors="pt")
    chroma = rhythm_chroma(pair.spots, seconds, pair.tonic, bundle.chroma)
    batch = {"input_ids": text.input_ids.to(dev), "attention_mask": text.attention_mask.to(dev),
             "input_features": _window_chroma(bundle, chroma, 0.0, seconds).to(dev),
             "decoder_input_ids": delayed[:, :-1], "labels": delayed[:, 1:].T[None]}
    cache[pair.audio] = batch
    return batch


def trainable(bundle: Any, train_decoder: bool) -> list[str]:
    """Names of the parameters that fine-tuning updates (the rest is frozen)."""
    names = [n for n, _ in bundle.model.named_parameters() if n.startswith(PROJECTION)]
    if train_decoder:
        names += [n for n, _ in bundle.model.named_parameters() if n.startswith("decoder.")]
    return names


def train_rhythm(bundle: Any, pairs: list[Pair], *, steps: int, lr: float = 1e-4,
                 max_seconds: float = 30.0, seed: int = 0, train_decoder: bool = False,
                 log: Any | None = None) -> list[float]:
    """Fine-tune the rhythm conditioning on `pairs` for `steps` steps (one pair per step, in a
    seeded shuffled order); returns the loss of every step. Crops each piece to its first
    `max_seconds` (and the model's window). Leaves the model in eval mode."""
    import torch

    if steps <= 0 or lr <= 0 or not pairs:
        raise ValueError(f"steps {steps}, lr {lr}, {len(pairs)} pairs; all must be > 0")
    if not bundle.melody:
        raise ValueError(f"{bundle.model_id} is text-only; rhythm conditioning needs MusicGen-Melody")
    model = bundle.model
    names = set(trainable(bundle, train_decoder))
    # fp32 master weights: a half-precision model (the GPU load path) trains its trainable
    # parameters in float32 under autocast (a loss scaler for fp16), then casts them back so
    # generation sees one dtype. Adam on raw fp16 weights loses small updates and diverges.
    run_dtype = next(model.parameters()).dtype
    half = run_dtype in (torch.float16, torch.bfloat16)
    params = []
    for n, p in model.named_parameters():
        p.requires_grad_(n in names)
        if n in names:
            p.data = p.data.float()
            params.append(p)
    bundle.extra["trained"] = sorted(names)
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    dev_type = model.device.type
    scaler = torch.amp.GradScaler(dev_type, enabled=run_dtype == torch.float16 and dev_type == "cuda")
    rng = np.random.default_rng(seed)
    cache: dict[Path, Any] = {}
    history: list[float] = []
    model.train()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for step in range(steps):
                pair = pairs[int(rng.integers(len(pairs)))]
                with torch.autocast(dev_type, dtype=run_dtype, enabled=half):
                    out = model(**_batch(bundle, pair, max_seconds, cache))
                opt.zero_grad()
                scaler.scale(out.loss.float()).backward()
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                scaler.step(opt)
                scaler.update()
                sched.step()
                history.append(float(out.loss.detach()))
                if log and (step % 10 == 0 or step == steps - 1):
                    log(f"step {step + 1}/{steps} loss {history[-1]:.4f} "
                        f"lr {sched.get_last_lr()[0]:.2e}")
    finally:
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        bundle.extra["master_dtype"] = str(params[0].dtype).removeprefix("torch.")
        for p in params:
            p.data = p.data.to(run_dtype)
    if math.isnan(history[-1]):
        raise RuntimeError("rhythm fine-tuning diverged (loss is NaN); lower lr")
    return history


def save_rhythm(bundle: Any, path: Path) -> Path:
    """Write the fine-tuned parameters (what the last train_rhythm updated, else the projection)
    as safetensors, with the base model id in the metadata."""
    from safetensors.torch import save_file

    names = bundle.extra.get("trained") or trainable(bundle, False)
    state = dict(bundle.model.named_parameters())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({n: state[n].detach().float().cpu().contiguous() for n in names}, str(path),
              metadata={"base_model": bundle.model_id, "format": "filmcrew-musicgen-rhythm"})
    return path
