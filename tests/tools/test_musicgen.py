"""MusicGen-Melody with rhythm conditioning, on a tiny random model built in code (no downloads)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from filmcrew.artifacts import ArtifactStore
from filmcrew.schemas import MusicBrief, RhythmSpots
from filmcrew.tools.media import read_audio
from filmcrew.tools.music import music_backend
from filmcrew.tools.music.musicgen.composer import feedback_knobs
from filmcrew.tools.music.musicgen.model import (
    ChromaParams,
    MusicgenWeightsMissing,
    describe,
    generate_music,
    load_musicgen,
    rhythm_chroma,
    tiny_musicgen_melody,
)
from filmcrew.tools.music.review import review
from filmcrew.tools.music.score import KEY_PC, Score
from filmcrew.tools.protocols import MusicGenerator

SPOTS = RhythmSpots(times_s=[0.5, 1.6, 2.8, 4.0], strengths=[1.0, 0.4, 1.0, 0.7],
                    kinds=["cut", "motion", "impact", "motion"], tempo_bpm=60)


def brief(**kw) -> MusicBrief:
    base = dict(scene="harbour at dusk", brightness="dim", color_tone="amber", action="boats",
                emotional_tone="tense", shot_scale="wide", theme="storm", description="low strings",
                key="D", mode="minor", tempo_bpm_min=55, tempo_bpm_max=65)
    return MusicBrief(**(base | kw))


@cache
def tiny():
    import torch

    torch.set_num_threads(1)
    return tiny_musicgen_melody(0, window_s=1.0)


def test_rhythm_chroma_hits_the_cuts_and_impacts_over_a_bed_in_the_key() -> None:
    params = ChromaParams()
    chroma = rhythm_chroma(SPOTS, 5.0, "D", params, mode="minor")
    assert chroma.shape == (1 + round(5.0 * params.fps), 12)
    assert np.all(chroma.sum(axis=1) == 1.0)  # one-hot per frame, as MusicGen-Melody's extractor
    tonic, third = KEY_PC["D"], (KEY_PC["D"] + 3) % 12
    frame = lambda t: round(t * params.fps)  # noqa: E731
    for t in (0.5, 2.8):  # the cut and the impact
        assert chroma[frame(t)].argmax() == tonic, t
    for t in (1.6, 4.0, 1.1, 3.5):  # motion peaks and the gaps read as the bed, not as hits
        assert chroma[frame(t)].argmax() == third, t
    # the beat grid is no longer rendered: at most a few tonic frames per hit
    assert (chroma.argmax(1) == tonic).mean() < 0.3
    # a weaker impact is hit on the fifth; below the floor it is left out
    weak = SPOTS.model_copy(update={"strengths": [1.0, 0.4, 0.5, 0.7]})
    assert rhythm_chroma(weak, 5.0, "D", params)[frame(2.8)].argmax() == (tonic + 7) % 12
    floor = rhythm_chroma(weak, 5.0, "D", params, min_strength=0.6)
    assert floor[frame(2.8)].argmax() == third
    # the first version (every spot on the tonic over a drone on the fifth) is still there
    legacy = rhythm_chroma(SPOTS, 5.0, "D", params, legacy=True)
    assert legacy[frame(1.6)].argmax() == tonic


def test_short_windows_repeat_the_chroma_instead_of_padding_with_c() -> None:
    from filmcrew.tools.music.musicgen.model import _window_chroma

    bundle = tiny()
    chroma = np.zeros((40, 12), np.float32)
    chroma[:, 5] = 1.0
    chroma[3, 2] = 1.0
    feats = _window_chroma(bundle, chroma, 0.0, 0.5).numpy()[0]
    assert feats.shape[0] == bundle.chroma_length
    assert feats[:, 0].sum() == 0  # no "no condition" C frames
    old = _window_chroma(bundle, chroma, 0.0, 0.5, pad="c").numpy()[0]
    assert old[-1, 0] == 1.0


def test_description_carries_the_brief() -> None:
    text = describe(brief())
    for word in ("low strings", "D minor", "60 bpm", "tense", "harbour at dusk", "storm"):
        assert word in text
    assert "104 bpm" in describe(brief(), 103.7)  # the tempo fitted to the cut wins


def test_generation_with_and_without_rhythm_has_the_requested_length() -> None:
    bundle = tiny()
    chroma = rhythm_chroma(SPOTS, 0.9, "D", bundle.chroma)
    ticks: list[tuple[int, int]] = []
    with_rhythm, sr = generate_music(bundle, describe(brief()), chroma, 0.9, seed=3,
                                     progress=lambda s, t: ticks.append((s, t)))
    text_only, _ = generate_music(bundle, describe(brief()), None, 0.9, seed=3)
    assert sr == 8000
    assert with_rhythm.shape == text_only.shape == (7200,)
    assert with_rhythm.dtype == np.float32 and np.isfinite(with_rhythm).all()
    assert np.abs(with_rhythm).max() > 1e-4
    assert not np.allclose(with_rhythm, text_only)  # the chroma reaches the decoder
    assert ticks == [(1, 1)]
    again, _ = generate_music(bundle, describe(brief()), chroma, 0.9, seed=3)
    assert np.array_equal(again, with_rhythm)  # seeds are inputs


def test_continuation_past_the_window_is_exact_and_has_no_click_at_the_seams() -> None:
    bundle = tiny()  # 1 s window
    dur, overlap = 3.3, 0.25
    chroma = rhythm_chroma(SPOTS, dur, "D", bundle.chroma)
    ticks: list[int] = []
    audio, sr = generate_music(bundle, describe(brief()), chroma, dur, seed=5, overlap_s=overlap,
                               progress=lambda s, t: ticks.append(s))
    assert audio.shape == (round(dur * sr),)
    assert ticks == [1, 2, 3, 4]
    # Windows: 1 s, then 0.75 s of new audio each; crossfades over the 0.25 s before each seam.
    fade = round(overlap * sr)
    seams = [round(sr * (1.0 + 0.75 * i)) for i in range(3)]
    step = np.abs(np.diff(audio))
    in_fade = np.zeros(step.size, bool)
    for s in seams:
        in_fade[s - fade - 1: s + 1] = True
    bound = step[~in_fade].max() + 2 * np.abs(audio).max() / fade
    print(f"max step at seams {step[in_fade].max():.4f}, elsewhere {step[~in_fade].max():.4f}, "
          f"bound {bound:.4f}")
    assert step[in_fade].max() <= bound
    # No dropout or jump in level either: 20 ms RMS just after each seam is within the range of
    # 20 ms RMS over the rest of the piece.
    win = round(0.02 * sr)
    rms = np.sqrt(np.convolve(audio**2, np.ones(win) / win, mode="valid"))
    at = np.array([rms[s] for s in seams])
    assert rms.min() * 0.999 <= at.min() and at.max() <= rms.max()
    assert at.min() > 0.1 * np.median(rms)


@pytest.fixture
def store(tmp_path) -> ArtifactStore:
    return ArtifactStore(tmp_path)


def test_composer_through_the_store_gives_exact_stems_and_a_score_and_caches(store) -> None:
    composer = music_backend("musicgen", debug_models=True)
    assert isinstance(composer, MusicGenerator) and composer.name == "musicgen"
    sections = [(0.0, 1.5, 0.3), (1.5, 2.5, 0.9)]
    calls: list[int] = []
    score_ref, stems_ref = composer.compose(store, "composer", brief(), SPOTS, sections, 2.5,
                                            seed=1, feedback=[], sample_rate=48000,
                                            progress=lambda s, t: calls.append(s))
    audio, sr = read_audio(store.path(stems_ref))
    assert sr == 48000 and audio.shape == (120000,)  # one stem: a mono WAV
    assert stems_ref.meta["stems"] == ["music"]
    assert calls == [1, 2, 3]
    score = Score.from_json(store.read_json(score_ref))
    assert score.duration_s == pytest.approx(2.5) and score.key in KEY_PC
    assert "X:1" in score.to_abc()
    verdicts = review(score, brief(), SPOTS, audio, sr, sections=sections)
    assert [c.reviewer for c in verdicts] == ["mode", "melody", "harmony", "rhythm", "emotion"]
    calls.clear()
    again = composer.compose(store, "composer", brief(), SPOTS, sections, 2.5, seed=1, feedback=[],
                             sample_rate=48000, progress=lambda s, t: calls.append(s))
    assert again == (score_ref, stems_ref) and calls == []  # served from the store
    # A failing rhythm review changes the next round: other description, guidance, seed, audio.
    fb = ["rhythm: onsets off the spots (40% of cuts/impacts hit); snap onsets to the spots"]
    _, retry = composer.compose(store, "composer", brief(), SPOTS, sections, 2.5, seed=1,
                                feedback=fb, sample_rate=48000)
    assert retry.sha256 != stems_ref.sha256
    assert retry.meta["guidance_scale"] == stems_ref.meta["guidance_scale"]  # no "accent all"
    assert "rhythmic accents" in str(retry.meta["description"])
    assert any("spots >= 0.5" in a for a in retry.meta["feedback_applied"])
    # conform ran and reported the spots hit before and after
    m = stems_ref.meta
    assert m["conform"] and m["conform_spots_hit_after"] >= m["conform_spots_hit_before"]


def test_feedback_knobs() -> None:
    k = feedback_knobs(brief(mode="major"), ["emotion: major mode is too bright; use minor mode",
                                             "melody: leaps too large; use smaller intervals",
                                             "something unrelated"])
    assert k.brief.mode == "minor" and "smooth stepwise melody" in k.extra_words
    assert k.applied[-1] == "ignored: something unrelated" and k.seed_offset > 0
    assert feedback_knobs(brief(), []).seed_offset == 0


def test_missing_weights_name_the_model_and_the_variable(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(MusicgenWeightsMissing, match=r"facebook/musicgen-melody.*FILMCREW_MUSICGEN_MODEL"):
        load_musicgen(None)
    with pytest.raises(MusicgenWeightsMissing, match=r"config\.json"):
        load_musicgen(str(tmp_path))


def test_chroma_matches_the_feature_extractors_torch_computation() -> None:
    """MusicgenMelodyFeatureExtractor needs torchaudio; its math (torchaudio Spectrogram =
    centred reflect-padded torch.stft, periodic Hann, power 2, normalized) is redone here in
    torch and must give the same one-hot frames as our numpy version."""
    import torch
    from transformers.audio_utils import chroma_filter_bank

    from filmcrew.tools.music.musicgen.model import rhythm_waveform, waveform_chroma

    p = ChromaParams()
    wave = rhythm_waveform(SPOTS, 4.5, "F#", p.sample_rate)
    x = torch.from_numpy(wave.astype(np.float32))
    win = torch.hann_window(p.n_fft)
    spec = torch.stft(x, p.n_fft, p.hop_length, window=win, center=True, pad_mode="reflect",
                      return_complex=True).abs() ** 2 / win.pow(2).sum()
    filt = torch.from_numpy(chroma_filter_bank(sampling_rate=p.sample_rate, num_frequency_bins=p.n_fft,
                                               tuning=0, num_chroma=12)).float()
    raw = torch.nn.functional.normalize(filt @ spec, p=float("inf"), dim=0, eps=1e-6).T
    ref = torch.zeros_like(raw).scatter_(1, raw.argmax(1, keepdim=True), 1.0).numpy()
    ours = waveform_chroma(wave, p.sample_rate, p)
    assert ours.shape == ref.shape
    assert (ours.argmax(1) == ref.argmax(1)).mean() >= 0.97  # float32 vs float64 near-ties only
    soft = waveform_chroma(wave, p.sample_rate, p, one_hot=False)
    assert np.allclose(soft, raw.numpy(), atol=1e-3)


def test_load_musicgen_from_a_local_folder(tmp_path) -> None:
    """The real-weights path (from_pretrained, local files only) on a saved tiny checkpoint."""
    saved = tiny_musicgen_melody(4)
    saved.model.save_pretrained(tmp_path)
    saved.tokenizer.save_pretrained(tmp_path)
    bundle = load_musicgen(str(tmp_path), device="cpu")
    assert bundle.melody and bundle.sample_rate == 8000 and bundle.model_id == str(tmp_path)
    assert load_musicgen(str(tmp_path), device="cpu") is bundle  # cached per process
    chroma = rhythm_chroma(SPOTS, 0.5, "D", bundle.chroma)
    audio, sr = generate_music(bundle, describe(brief()), chroma, 0.5, seed=0)
    ref, _ = generate_music(saved, describe(brief()), chroma, 0.5, seed=0)
    assert sr == 8000 and audio.shape == (4000,) and np.allclose(audio, ref, atol=1e-5)


def test_music_backend_reads_the_settings_and_audiocraft_says_what_is_missing(store) -> None:
    from types import SimpleNamespace

    settings = SimpleNamespace(musicgen_model="/models/musicgen-melody", musicgen_rhythm=None)
    composer = music_backend("musicgen", settings=settings)
    assert composer.model_id() == "/models/musicgen-melody"
    assert music_backend("procedural").name == "procedural"
    with pytest.raises(ValueError, match="unknown music backend"):
        music_backend("mystery")
    try:
        import audiocraft  # noqa: F401
    except ImportError:
        backend = music_backend("audiocraft", debug_models=True)
        assert isinstance(backend, MusicGenerator)
        with pytest.raises(ImportError, match=r"audiocraft package.*\.venv-audiocraft"):
            backend.compose(store, "composer", brief(), SPOTS, [(0.0, 1.0, 0.5)], 1.0, seed=0,
                            feedback=[], sample_rate=48000)


def test_generation_sends_every_input_to_the_models_device_and_dtype(monkeypatch) -> None:
    """The model on `meta` (as a GPU stands in on CPU CI): every tensor handed to generate() must
    be on the model's device, the chroma in the model's dtype — a tensor left on the CPU (the
    repeated chroma, the text ids) is caught here, not on the first GPU run."""
    import torch

    bundle = tiny_musicgen_melody(0, window_s=1.0)
    bundle.model.to(device="meta", dtype=torch.float16)
    seen: dict[str, tuple[str, torch.dtype]] = {}

    def fake_generate(**kw):
        for k, v in kw.items():
            if isinstance(v, torch.Tensor):
                seen[k] = (v.device.type, v.dtype)
        n = kw["max_new_tokens"] - bundle.num_codebooks + 1
        return torch.zeros(1, 1, n * round(bundle.sample_rate / bundle.frame_rate))

    monkeypatch.setattr(bundle.model, "generate", fake_generate)
    chroma = rhythm_chroma(SPOTS, 0.8, "D", bundle.chroma, mode="minor")
    audio, _ = generate_music(bundle, describe(brief()), chroma, 0.8, seed=0)
    assert audio.size == round(0.8 * bundle.sample_rate)
    assert seen["input_features"] == ("meta", torch.float16)
    assert {d for d, _ in seen.values()} == {"meta"}, seen
