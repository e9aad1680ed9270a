"""Rhythm-controlled MusicGen-Melody: FilmComposer's composition model (METHODS.md §5.2–5.3).

The rhythm spots become a chroma (tools/music/musicgen/rhythm.py) that is the model's `input_features`
— the conditioning FilmComposer fine-tunes (tools/music/musicgen/train.py).
The text condition is a description built from the brief's seven visual attributes.

Real weights come from a local folder or the HF cache, never the network; `tiny_musicgen_melody`
builds a random-init model in code for tests and --debug-models. The composer that wraps this
behind the `MusicGenerator` protocol is tools/music/musicgen/composer.py.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from filmcrew.schemas import MusicBrief
from filmcrew.tools.music.musicgen.rhythm import (  # noqa: F401  (re-exported: the public API is here)
    ChromaParams,
    rhythm_chroma,
    rhythm_waveform,
    waveform_chroma,
)
from filmcrew.tools.music.score import mood_of

DEFAULT_MODEL = "facebook/musicgen-melody"
ENV_MODEL = "FILMCREW_MUSICGEN_MODEL"


class MusicgenWeightsMissing(FileNotFoundError):
    """MusicGen weights are not on this machine; the message says what to fetch."""


@dataclass
class MusicgenBundle:
    """A loaded model with what generation needs to know about it."""

    model: Any
    tokenizer: Any
    model_id: str
    melody: bool  # False: plain MusicgenForConditionalGeneration (text only)
    chroma: ChromaParams
    chroma_length: int
    max_window_s: float  # longest single generate() call; longer pieces are continued
    rhythm: str = ""  # path of the fine-tuned rhythm conditioning weights, if any
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sample_rate(self) -> int:
        return int(self.model.config.audio_encoder.sampling_rate)

    @property
    def frame_rate(self) -> float:
        return float(self.model.config.audio_encoder.frame_rate)

    @property
    def num_codebooks(self) -> int:
        return int(self.model.decoder.config.num_codebooks)


def describe(brief: MusicBrief, tempo_bpm: float | None = None) -> str:
    """MusicGen's text condition: the brief's description, its musical decisions and the seven
    visual attributes, in the comma-separated style MusicGen was trained on. The tempo is the one
    fitted to the cut (`tempo_bpm`, the spots' tempo) when given, so text and rhythm agree; else
    the middle of the brief's range."""
    tempo = round(tempo_bpm or (brief.tempo_bpm_min + brief.tempo_bpm_max) / 2)
    mood = mood_of(brief)
    parts = [
        brief.description.strip().rstrip("."),
        f"{mood} film score" if mood != "neutral" else "film score",
        f"{brief.key} {brief.mode}", f"{tempo} bpm",
        ", ".join(brief.instruments),
        f"{brief.emotional_tone} mood", f"{brief.brightness} {brief.color_tone} picture",
        f"{brief.scene}", f"{brief.action}", f"{brief.shot_scale} shot", f"theme: {brief.theme}",
    ]
    return ", ".join(p for p in parts if p.strip())


# -- models ---------------------------------------------------------------------------------------

TINY_WORDS = (
    "a", "an", "and", "the", "of", "with", "in", "on", "at", "for", "to", "by", "from", "film",
    "score", "music", "mood", "picture", "shot", "theme", "bpm", "tense", "sad", "happy", "epic",
    "calm", "neutral", "dark", "dim", "bright", "amber", "blue", "grey", "warm", "cold", "strings",
    "piano", "bass", "percussion", "drums", "synth", "guitar", "brass", "flute", "choir", "major",
    "minor", "dorian", "lydian", "mixolydian", "phrygian", "c", "d", "e", "f", "g", "b", "eb", "ab",
    "bb", "slow", "fast", "low", "high", "soft", "loud", "wide", "close", "medium", "storm",
    "harbour", "dusk", "night", "rhythmic", "accents", "beat", "stepwise", "melody", "diatonic",
    "simple", "consonant", "sparse", "busy", "ending", "tonic", "clear",
)


def tiny_tokenizer() -> Any:
    """A word-level tokenizer built in code (no download) for the tiny model: lower-cased words
    of a fixed vocabulary, unknown words map to one id, `</s>` closes every text like T5's."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for w in dict.fromkeys(TINY_WORDS):
        vocab[w] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>")


def tiny_musicgen_melody(seed: int = 0, *, window_s: float = 2.0) -> MusicgenBundle:
    """A random-init MusicGen-Melody built in code (METHODS §5.3's tiny config: T5 d_model 16,
    EnCodec hidden 8, decoder hidden 16, 4 codebooks of 16 codes). EnCodec runs at 8 kHz with a
    hop of 80 samples (100 frames/s) so a second of audio costs 100 decoder steps on CPU."""
    import torch
    from transformers import (
        EncodecConfig,
        MusicgenMelodyConfig,
        MusicgenMelodyDecoderConfig,
        MusicgenMelodyForConditionalGeneration,
        T5Config,
    )

    tokenizer = tiny_tokenizer()
    t5 = T5Config(vocab_size=len(tokenizer), d_model=16, d_ff=32, d_kv=8, num_layers=1, num_heads=2,
                  pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    enc = EncodecConfig(hidden_size=8, num_filters=4, num_residual_layers=1, upsampling_ratios=[10, 8],
                        codebook_size=16, codebook_dim=8, sampling_rate=8000, target_bandwidths=[1.6],
                        num_lstm_layers=1, audio_channels=1, chunk_length_s=None, overlap=None)
    dec = MusicgenMelodyDecoderConfig(vocab_size=16, hidden_size=16, num_hidden_layers=2,
                                      num_attention_heads=2, ffn_dim=32, num_codebooks=4,
                                      pad_token_id=16, bos_token_id=16, max_position_embeddings=1024)
    chroma = ChromaParams(chunk_s=window_s)
    length = 1 + math.ceil(window_s * chroma.fps)
    config = MusicgenMelodyConfig(text_encoder=t5, audio_encoder=enc, decoder=dec, chroma_length=length)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MusicgenMelodyForConditionalGeneration(config).eval()
        # The default init (std 0.02) gives near-uniform logits, so samples would ignore the
        # conditions; a fan-in scaled init makes text and chroma audibly change the output.
        with torch.no_grad():
            for name, p in model.named_parameters():
                if p.dim() == 2 and not name.startswith(("text_encoder", "audio_encoder")):
                    p.normal_(0.0, 2.0 / p.shape[1] ** 0.5)
            # EnCodec's codebooks start at zero (audiocraft fills them by k-means): random ones
            # make different codes decode to different audio.
            for layer in model.audio_encoder.quantizer.layers:
                layer.codebook.embed.normal_(0.0, 1.0)
                layer.codebook.embed_avg.copy_(layer.codebook.embed)
    gc = model.generation_config
    gc.decoder_start_token_id = gc.pad_token_id = gc.bos_token_id = 16
    gc.do_sample = True
    return MusicgenBundle(model=model, tokenizer=tokenizer, model_id=f"tiny-musicgen-melody@{seed}",
                          melody=True, chroma=chroma, chroma_length=length, max_window_s=window_s)


def random_musicgen_melody(device: Any = "cpu", dtype: Any = None) -> MusicgenBundle:
    """facebook/musicgen-melody's shapes (T5-base text encoder, 32 kHz EnCodec, a 1.5B decoder of
    48 layers x 1536 with 4 codebooks of 2048) with random weights, built directly on `device` in
    `dtype`: what speed, memory and device placement depend on, for benchmarks (no weights needed).
    Text goes through the tiny word tokenizer (its ids fit T5's vocabulary)."""
    import torch
    from transformers import (
        EncodecConfig,
        MusicgenMelodyConfig,
        MusicgenMelodyDecoderConfig,
        MusicgenMelodyForConditionalGeneration,
        T5Config,
    )

    t5 = T5Config(vocab_size=32128, d_model=768, d_ff=3072, d_kv=64, num_layers=12, num_heads=12)
    enc = EncodecConfig(sampling_rate=32000, audio_channels=1, hidden_size=128, num_filters=64,
                        upsampling_ratios=[8, 5, 4, 4], codebook_size=2048, target_bandwidths=[2.2],
                        num_lstm_layers=2, normalize=False, chunk_length_s=None, overlap=None,
                        norm_type="weight_norm", use_causal_conv=False, pad_mode="reflect")
    dec = MusicgenMelodyDecoderConfig(vocab_size=2048, hidden_size=1536, num_hidden_layers=48,
                                      num_attention_heads=24, ffn_dim=6144, num_codebooks=4,
                                      max_position_embeddings=2048, pad_token_id=2048,
                                      bos_token_id=2048)
    config = MusicgenMelodyConfig(text_encoder=t5, audio_encoder=enc, decoder=dec, chroma_length=235)
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype or torch.float32)
    try:
        with torch.device(device):
            model = MusicgenMelodyForConditionalGeneration(config).eval()
    finally:
        torch.set_default_dtype(old)
    gc = model.generation_config
    gc.decoder_start_token_id = gc.pad_token_id = gc.bos_token_id = 2048
    gc.do_sample, gc.top_k = True, 250
    return MusicgenBundle(model=model, tokenizer=tiny_tokenizer(), model_id="musicgen-melody-size-random",
                          melody=True, chroma=ChromaParams(), chroma_length=235, max_window_s=30.0)


def find_musicgen(model: str | None) -> Path:
    """The local folder of a MusicGen checkpoint: a path, or a hub id already in the HF cache."""
    from filmcrew.models.hub import cached_snapshots, is_repo_id

    spec = model or os.environ.get(ENV_MODEL) or DEFAULT_MODEL
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise MusicgenWeightsMissing(f"MusicGen folder {path} has no config.json")
        return path
    if is_repo_id(spec):
        for snap in cached_snapshots(spec):
            if (snap / "config.json").exists():
                return snap
    fetch = spec if is_repo_id(spec) else DEFAULT_MODEL
    raise MusicgenWeightsMissing(
        f"MusicGen model {spec} not found locally (`huggingface-cli download {fetch}`, or set "
        f"{ENV_MODEL} to its folder); or run with --debug-models")


def _load(model: str | None, debug: bool, rhythm: str | None, device: str | None) -> MusicgenBundle:
    if debug:
        bundle = tiny_musicgen_melody(0)
    else:
        import json

        import torch
        from transformers import (
            AutoTokenizer,
            MusicgenForConditionalGeneration,
            MusicgenMelodyForConditionalGeneration,
        )

        folder = find_musicgen(model)
        kind = json.loads((folder / "config.json").read_text())["model_type"]
        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.float16 if dev.startswith("cuda") else torch.float32
        cls = {"musicgen_melody": MusicgenMelodyForConditionalGeneration,
               "musicgen": MusicgenForConditionalGeneration}.get(kind)
        if cls is None:
            raise ValueError(f"{folder}: model_type {kind!r} is not musicgen or musicgen_melody")
        net = cls.from_pretrained(folder, local_files_only=True, torch_dtype=dtype).to(dev).eval()
        pre = folder / "preprocessor_config.json"
        fe = json.loads(pre.read_text()) if pre.exists() else {}
        chroma = ChromaParams(sample_rate=fe.get("sampling_rate", 32000), n_fft=fe.get("n_fft", 16384),
                              hop_length=fe.get("hop_length", 4096),
                              chunk_s=float(fe.get("chunk_length", 30)))
        melody = kind == "musicgen_melody"
        length = int(getattr(net.config, "chroma_length", 0)) if melody else 0
        max_pos = int(net.decoder.config.max_position_embeddings)
        window = min(chroma.chunk_s, (max_pos - 8) / float(net.config.audio_encoder.frame_rate))
        if melody:  # the chroma covers at most chroma_length frames: no window beyond it
            window = min(window, (length - 1) / chroma.fps)
        bundle = MusicgenBundle(model=net, tokenizer=AutoTokenizer.from_pretrained(
            folder, local_files_only=True), model_id=str(model or os.environ.get(ENV_MODEL)
                                                         or DEFAULT_MODEL),
            melody=melody, chroma=chroma, chroma_length=length, max_window_s=window)
    if rhythm:

        load_rhythm(bundle, Path(rhythm))
    return bundle


def load_musicgen(model: str | None = None, *, debug: bool = False, rhythm: Path | None = None,
                  device: str | None = None) -> MusicgenBundle:
    """MusicGen(-Melody) from a local folder or the HF cache (default facebook/musicgen-melody,
    or $FILMCREW_MUSICGEN_MODEL), with fine-tuned rhythm weights on top when `rhythm` is given;
    the tiny random model when `debug`. Kept among the process's resident models
    (tools/resident.py); never downloads."""
    from filmcrew.tools.resident import RESIDENT

    key = (model, debug, str(rhythm) if rhythm else None, device)
    return RESIDENT.get(("musicgen", *key), lambda: _load(*key))



# -- generation -----------------------------------------------------------------------------------


def load_rhythm(bundle: Any, path: Path) -> None:
    """Put fine-tuned rhythm weights from `save_rhythm` onto the loaded model (in place)."""
    import torch
    from safetensors.torch import load_file

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"rhythm weights {path} not found (FILMCREW_MUSICGEN_RHYTHM)")
    weights = load_file(str(path))
    state = dict(bundle.model.named_parameters())
    for name, w in weights.items():
        if name not in state or state[name].shape != w.shape:
            have = tuple(state[name].shape) if name in state else "missing"
            raise ValueError(f"{path.name}: {name} {tuple(w.shape)} does not fit the model ({have}); "
                             "were these weights trained on another base model?")
        with torch.no_grad():
            state[name].copy_(w.to(state[name].dtype))
    bundle.rhythm = str(path)


def _window_chroma(bundle: MusicgenBundle, chroma: np.ndarray, start_s: float, end_s: float,
                   *, pad: str = "repeat") -> Any:
    """The chroma frames of [start_s, end_s), filled to the model's chroma length by repeating
    them, as transformers and audiocraft do for a short melody (`pad="c"`: one-hot C, the
    processor's zero padding, which is also the model's own "no condition" input for guidance —
    the first version's behaviour, kept for the benchmark)."""
    import logging

    import torch

    # transformers warns "exceeds the maximum chroma duration" when the length is exactly the
    # maximum (its check is `<`); the frames here never exceed it.
    logging.getLogger("transformers.models.musicgen_melody.modeling_musicgen_melody").setLevel(
        logging.ERROR)
    fps = bundle.chroma.fps
    a, b = round(start_s * fps), max(round(start_s * fps) + 1, round(end_s * fps))
    part = chroma[a:b]
    if part.shape[0] == 0:
        part = chroma[-1:]
    n = max(bundle.chroma_length, part.shape[0])
    if pad == "repeat":
        out = np.resize(part, (n, 12)).astype(np.float32)  # np.resize repeats the rows
    else:
        out = np.zeros((n, 12), np.float32)
        out[:, 0] = 1.0
        out[: part.shape[0]] = part
    return torch.from_numpy(out[: bundle.chroma_length or n])[None]


class _StepCounter:
    """A transformers streamer that only counts decoder steps, to report progress per second."""

    def __init__(self, on_step: Any):
        self.first, self.on_step = True, on_step

    def put(self, value: Any) -> None:
        if self.first:  # the first put is the prompt, not a generated step
            self.first = False
            return
        self.on_step()

    def end(self) -> None:
        pass


def generate_music(
    bundle: MusicgenBundle, description: str, chroma: np.ndarray | None, duration_s: float, *,
    seed: int, guidance_scale: float = 3.0, window_s: float | None = None,
    overlap_s: float | None = None, progress: Any | None = None, chroma_pad: str = "repeat",
) -> tuple[np.ndarray, int]:
    """Generate `duration_s` seconds of music (mono float32 at the model's rate): text-conditioned,
    and rhythm-conditioned when `chroma` (frames, 12 at `bundle.chroma.fps`) is given.

    Pieces longer than one window (the model's 30 s, or `window_s`) are continued window by
    window: each new window is prompted with the EnCodec codes of the last `overlap_s` seconds
    (default a quarter window, at most 5 s) and conditioned on its own slice of the chroma; the
    overlap, which the model re-decodes, is linearly crossfaded with the previous audio, so a
    seam's sample-to-sample step is at most the larger step of the two signals plus
    2·peak/overlap_samples. `progress(seconds_done, total_seconds)` is called per generated second.
    """
    import torch

    if duration_s <= 0:
        raise ValueError(f"duration {duration_s} s; must be > 0")
    if chroma is not None and not bundle.melody:
        raise ValueError(f"{bundle.model_id} is text-only; it cannot take rhythm conditioning")
    if chroma is not None and (chroma.ndim != 2 or chroma.shape[1] != 12):
        raise ValueError(f"chroma: expected (frames, 12), got shape {chroma.shape}")
    window = min(window_s or bundle.max_window_s, bundle.max_window_s)
    overlap = min(5.0, window / 4) if overlap_s is None else overlap_s
    if not 0 < overlap < window:
        raise ValueError(f"overlap {overlap} s; must be in (0, window {window} s)")
    model, sr, fr, k = bundle.model, bundle.sample_rate, bundle.frame_rate, bundle.num_codebooks
    hop = round(sr / fr)
    total = round(duration_s * sr)
    total_s = math.ceil(duration_s)
    dev = model.device
    text = bundle.tokenizer([description], return_tensors="pt", padding=True)
    state = {"steps": 0, "done_s": 0.0, "reported": 0}

    def report(sec: int) -> None:
        while progress and state["reported"] < min(sec, total_s):
            state["reported"] += 1
            progress(state["reported"], total_s)

    def on_step() -> None:
        state["steps"] += 1
        report(int(state["done_s"] + max(0, state["steps"] - k + 1) / fr))

    out = np.zeros(0, np.float32)
    index = 0
    while out.size < total:
        p = 0 if index == 0 else round(overlap * fr)
        start_s = (out.size - p * hop) / sr
        new = min(round(window * fr) - p, math.ceil((total - out.size) / hop))
        kwargs: dict[str, Any] = {}
        if p:
            tail = torch.from_numpy(out[-p * hop:]).to(dev, model.audio_encoder.dtype)[None, None]
            with torch.no_grad():
                codes = model.audio_encoder.encode(tail).audio_codes[0, :, :k, :p]
            kwargs["decoder_input_ids"] = codes.reshape(k, p).long()
        if chroma is not None:
            feats = _window_chroma(bundle, chroma, start_s, start_s + (p + new) / fr, pad=chroma_pad)
            kwargs["input_features"] = feats.to(dev, model.dtype)
        state["steps"] = 0
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(seed * 1009 + index)
            with torch.no_grad():
                wav = model.generate(input_ids=text.input_ids.to(dev),
                                     attention_mask=text.attention_mask.to(dev),
                                     max_new_tokens=new + k - 1, do_sample=True,
                                     guidance_scale=guidance_scale, streamer=_StepCounter(on_step),
                                     **kwargs)
        audio = wav[0, 0].float().cpu().numpy()
        if not np.isfinite(audio).all():
            raise RuntimeError(f"{bundle.model_id}: generated audio has NaN/inf (window {index})")
        if p:
            n = min(p * hop, audio.size)
            w = (np.arange(n, dtype=np.float32) + 0.5) / n
            out[out.size - n:] = out[out.size - n:] * (1 - w) + audio[:n] * w
            audio = audio[n:]
        out = np.concatenate([out, audio.astype(np.float32)])
        state["done_s"] = out.size / sr
        index += 1
    report(total_s)
    out = out[:total]
    peak = float(np.abs(out).max()) if out.size else 0.0
    return (out / peak * 0.89 if peak > 0.89 else out).astype(np.float32), sr
