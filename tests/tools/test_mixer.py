"""The mixer: a master at the target loudness, under the peak ceiling, as long as the picture."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from scipy.signal import butter, sosfilt

from filmcrew.schemas import ArtifactRef, MixPlan, Stem
from filmcrew.tools.media import true_peak_db
from filmcrew.tools.music.mixer import mix

SR = 48_000


def tone(f: float, seconds: float, amp: float = 0.3, start: float = 0.0) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    x = amp * np.sin(2 * np.pi * f * t) * (1 + 0.3 * np.sin(2 * np.pi * 2 * t))
    x[t < start] = 0
    return x.astype(np.float32)


def stems(seconds: float = 8.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(round(seconds * SR)) / SR
    hits = np.zeros_like(t)
    for s in np.arange(0.25, seconds, 0.5):  # sharp drum-like transients: a limiter's workout
        i = round(s * SR)
        n = min(2400, hits.size - i)
        hits[i : i + n] += rng.standard_normal(n) * np.exp(-np.arange(n) / 300)
    return {"melody": tone(660, seconds, 0.2), "bass": tone(110, seconds, 0.5),
            "percussion": (0.9 * hits).astype(np.float32)}


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


@pytest.mark.parametrize("target", [-14.0, -20.0])
def test_loudness_true_peak_and_exact_length(target):
    plan = MixPlan(stems=[], target_lufs=target)
    res = mix(stems(8.0), SR, 7.5031, plan=plan)
    assert res.audio.shape == (round(7.5031 * SR), 2) and res.audio.dtype == np.float32
    measured = pyloudnorm.Meter(SR).integrated_loudness(res.audio.astype(np.float64))
    assert abs(measured - target) < 0.5
    assert abs(res.lufs - measured) < 0.05
    assert true_peak_db(res.audio, SR) <= -1.0 + 1e-3
    assert res.true_peak_db <= -1.0 + 1e-3


def test_short_stems_are_padded_to_the_picture():
    res = mix(stems(3.0), SR, 5.0)
    assert res.audio.shape == (5 * SR, 2)
    assert rms(res.audio[round(4.0 * SR) :]) < 1e-6  # silence after the music ends


def test_ambience_ducks_under_the_score():
    rng = np.random.default_rng(1)
    seconds = 8.0
    # Ambience: high-band noise all along. Score: a low tone that starts at 4 s.
    sos_hi = butter(4, 5000, "highpass", fs=SR, output="sos")
    rain = (0.05 * sosfilt(sos_hi, rng.standard_normal(round(seconds * SR)))).astype(np.float32)
    score = {"bass": tone(110, seconds, 0.4, start=4.0)}
    res = mix(score, SR, seconds, plan=MixPlan(stems=[], duck_db=-9.0, fade_in_s=0.1, fade_out_s=0.1),
              ambience={"rain": rain})
    hi = sosfilt(sos_hi, res.audio[:, 0].astype(np.float64))
    before = rms(hi[round(1.0 * SR) : round(3.5 * SR)])
    during = rms(hi[round(5.0 * SR) : round(7.5 * SR)])
    drop_db = 20 * np.log10(before / during)
    assert 6.0 < drop_db < 12.0  # about the plan's 9 dB


def test_fades_make_the_edges_quieter():
    res = mix(stems(8.0), SR, 8.0)  # MixPlan defaults: 0.5 s in, 1.5 s out
    edge = round(0.05 * SR)
    mid = rms(res.audio[3 * SR : 5 * SR])
    assert rms(res.audio[:edge]) < 0.1 * mid
    assert rms(res.audio[-edge:]) < 0.1 * mid


def test_pans_and_plan_gains_place_the_stems():
    ref = ArtifactRef(uri="a.wav", sha256="0", media_type="audio/wav", params_hash="0", producer="t")
    plan = MixPlan(stems=[Stem(name="melody", audio=ref, pan=-1.0),
                          Stem(name="bass", audio=ref, gain_db=-60.0)])
    s = {"melody": tone(660, 4.0), "bass": tone(110, 4.0)}
    res = mix(s, SR, 4.0, plan=plan)
    left, right = res.audio[SR : 3 * SR, 0], res.audio[SR : 3 * SR, 1]
    assert rms(right) < 0.01 * rms(left)  # melody hard left, bass 60 dB down
    res = mix(s, SR, 4.0, plan=plan, pans={"melody": 1.0})  # explicit pans override the plan
    assert rms(res.audio[SR : 3 * SR, 0]) < 0.01 * rms(res.audio[SR : 3 * SR, 1])


def test_bad_input_raises():
    with pytest.raises(ValueError, match="pan"):
        mix({"melody": tone(440, 1.0)}, SR, 1.0, pans={"melody": 2.0})
    with pytest.raises(ValueError, match="duration"):
        mix({"melody": tone(440, 1.0)}, SR, 0.0)
    with pytest.raises(ValueError, match="no stems"):
        mix({}, SR, 1.0)
