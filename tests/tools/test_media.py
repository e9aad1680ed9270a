"""Media I/O: what lands in the file is what a player shows and hears, frame- and sample-exact."""

from __future__ import annotations

import numpy as np
import pytest

from filmcrew.tools.media import (
    iter_frames,
    loudness_lufs,
    mux,
    probe,
    read_audio,
    read_video,
    true_peak_db,
    write_audio,
    write_video,
)

W, H, FPS, SR = 160, 90, 24, 48_000


def gradient_frames(n: int, w: int = W, h: int = H) -> np.ndarray:
    """Smooth frames that change with time: a moving colour gradient (compresses faithfully)."""
    y, x = np.mgrid[0:h, 0:w]
    out = np.empty((n, h, w, 3), np.uint8)
    for t in range(n):
        out[t, ..., 0] = (x * 255 // (w - 1) + 4 * t) % 256
        out[t, ..., 1] = y * 255 // (h - 1)
        out[t, ..., 2] = 40 + (6 * t) % 200
    return out


def sine(freq: float, seconds: float, amplitude: float = 0.3, channels: int = 2) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    x = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def test_write_read_round_trip(tmp_path):
    frames = gradient_frames(30)
    path = tmp_path / "v.mp4"
    assert write_video(path, iter(frames), FPS) == 30  # a generator is enough
    back = read_video(path)
    assert back.shape == frames.shape
    assert np.abs(back.astype(int) - frames).mean() < 3.0
    # Colours stay put (BT.709 both ways): a mid-frame pixel within a few levels.
    assert np.abs(back[15, 45, 80].astype(int) - frames[15, 45, 80]).max() <= 6
    assert read_video(path, max_frames=7).shape[0] == 7
    assert read_video(path, size=(80, 46)).shape == (30, 46, 80, 3)
    assert sum(1 for _ in iter_frames(path)) == 30


def test_bad_frames_raise(tmp_path):
    with pytest.raises(ValueError, match="even width and height; got 161x90"):
        write_video(tmp_path / "odd.mp4", [np.zeros((90, 161, 3), np.uint8)], FPS)
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "f.mp4", [np.zeros((90, 160, 3), np.float32)], FPS)
    with pytest.raises(ValueError, match="frame 1: shape"):
        write_video(
            tmp_path / "s.mp4",
            [np.zeros((90, 160, 3), np.uint8), np.zeros((90, 162, 3), np.uint8)],
            FPS,
        )
    assert not (tmp_path / "s.mp4").exists()  # no half-written file left behind
    with pytest.raises(ValueError, match="no frames"):
        write_video(tmp_path / "e.mp4", [], FPS)


@pytest.mark.parametrize("n", [1, 24, 49, 73])
def test_mux_exact_frames_and_audio_length(tmp_path, n):
    # 3 s of tone for every n: the track is trimmed to the picture (and padded below).
    info = mux(tmp_path / "m.mp4", gradient_frames(n), FPS, sine(440, 3.0), SR)
    assert info.video_frames == n
    assert info.codecs == {"video": "h264", "audio": "aac"}
    assert (info.width, info.height, info.fps) == (W, H, FPS)
    assert info.duration_s == pytest.approx(n / FPS)
    assert abs(info.audio_duration_s - n / FPS) <= 1 / FPS  # the contract
    assert abs(info.audio_duration_s - n / FPS) <= 0.002  # what we deliver: priming/padding gone
    assert info.audio_sample_rate == SR and info.audio_channels == 2


def test_mux_tone_survives_and_stays_in_sync(tmp_path):
    n = 48
    audio = sine(440, 2.0, amplitude=0.2)
    audio[SR : SR + 48] = 0.9  # a click exactly at frame 24 (t = 1.0 s)
    path = tmp_path / "m.mp4"
    mux(path, gradient_frames(n), FPS, audio, SR)
    decoded, sr = read_audio(path)
    assert sr == SR and decoded.shape == (n * SR // FPS, 2)
    spectrum = np.abs(np.fft.rfft(decoded[: SR // 2, 0] * np.hanning(SR // 2)))
    assert np.fft.rfftfreq(SR // 2, 1 / SR)[np.argmax(spectrum)] == pytest.approx(440, abs=4)
    onset = int(np.argmax(np.abs(decoded[:, 0]) > 0.6))
    assert abs(onset / SR - 1.0) < 0.002  # AAC priming removed: sound lines up with picture


def test_mux_pads_short_audio_with_silence(tmp_path):
    info = mux(tmp_path / "m.mp4", gradient_frames(48), FPS, sine(440, 0.5), SR)
    assert info.audio_duration_s == pytest.approx(2.0, abs=0.002)
    decoded, _ = read_audio(tmp_path / "m.mp4")
    assert np.sqrt(np.mean(decoded[: SR // 4] ** 2)) > 0.1
    assert np.sqrt(np.mean(decoded[SR:] ** 2)) < 1e-3


def test_mux_mono_and_bad_audio(tmp_path):
    info = mux(tmp_path / "m.mp4", gradient_frames(24), FPS, sine(440, 1.0, channels=1), SR)
    assert info.audio_channels == 1
    with pytest.raises(ValueError, match="NaN"):
        mux(tmp_path / "n.mp4", gradient_frames(2), FPS, np.full((100, 2), np.nan, np.float32), SR)
    with pytest.raises(ValueError, match="floating point"):
        mux(tmp_path / "i.mp4", gradient_frames(2), FPS, np.zeros((100, 2), np.int16), SR)


@pytest.mark.parametrize("subtype,tol", [("FLOAT", 0.0), ("PCM_24", 2**-22)])
def test_wav_round_trip(tmp_path, subtype, tol):
    stereo = sine(220, 0.25)
    write_audio(tmp_path / "s.wav", stereo, SR, subtype=subtype)
    back, sr = read_audio(tmp_path / "s.wav")
    assert sr == SR and back.shape == stereo.shape and back.dtype == np.float32
    assert np.abs(back - stereo).max() <= tol
    write_audio(tmp_path / "m.wav", stereo[:, 0], SR)
    assert read_audio(tmp_path / "m.wav")[0].shape == (stereo.shape[0],)
    info = probe(tmp_path / "m.wav")
    assert info.video_frames == 0 and info.audio_duration_s == pytest.approx(0.25)


def test_loudness_of_reference_sine():
    # BS.1770: a 1 kHz sine peaking at -20 dBFS in one channel reads -23 LUFS (0 dBFS -> -3.01).
    tone = sine(1000, 3.0, amplitude=0.1, channels=1)
    assert loudness_lufs(tone, SR) == pytest.approx(-23.0, abs=0.1)
    # The same tone in both channels sums the channel powers: +3 dB.
    assert loudness_lufs(sine(1000, 3.0, amplitude=0.1), SR) == pytest.approx(-20.0, abs=0.1)
    assert loudness_lufs(np.zeros(SR, np.float32), SR) == -np.inf
    with pytest.raises(ValueError, match=r"0\.4 s"):
        loudness_lufs(np.zeros(SR // 10, np.float32), SR)


def test_true_peak_finds_inter_sample_peaks():
    # A quarter-rate sine sampled 45° off its crest: every sample is at 0.707, the wave reaches 1.0.
    n = np.arange(SR)
    x = np.sin(np.pi * n / 2 + np.pi / 4).astype(np.float32)
    assert 20 * np.log10(np.abs(x).max()) == pytest.approx(-3.01, abs=0.01)
    assert true_peak_db(x, SR) == pytest.approx(0.0, abs=0.3)
    assert true_peak_db(np.zeros(100, np.float32), SR) == -np.inf


def test_encode_speed_is_reported(tmp_path):
    # Reported, not asserted: shared CI cores vary (speed belongs in benchmarks/).
    import time

    frames = gradient_frames(48, 640, 360)
    start = time.perf_counter()
    write_video(tmp_path / "speed.mp4", iter(frames), FPS)
    print(f"640x360 encode at {48 / (time.perf_counter() - start):.1f} frames/s")
    assert (tmp_path / "speed.mp4").stat().st_size > 0
