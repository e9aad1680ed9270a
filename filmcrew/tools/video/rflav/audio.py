"""RFLAV's representations: normalised log-mel audio and SD-VAE frame latents (METHODS.md §6.2).

Audio: mono 16 kHz → 256-bin log-mel (n_fft 2048, window 1024, hop 160, 0–8 kHz, no centring but a
reflect pad of (n_fft − hop)/2 each side, so a clip of k·160 samples gives exactly k mel frames)
→ log magnitude clipped to [ln 1e-5, ln 200] → [0, 1] → [−1, 1] → × the training set's audio_scale.
The inverse undoes each step exactly; a vocoder turns the log-mel back into samples. 100 mel frames
per second at 10 video frames per second: ten mel frames sit under each video frame.

Video: frames through a frame-wise AutoencoderKL (stabilityai/sd-vae-ft-ema), latents × 0.18215.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

SAMPLE_RATE = 16000
N_FFT, WIN, HOP = 2048, 1024, 160
N_MELS, FMIN, FMAX = 256, 0.0, 8000.0
LOG_MIN, LOG_MAX = math.log(1e-5), math.log(200.0)
#: Per-dataset scale applied after normalising to [−1, 1] (METHODS.md §6.2).
AUDIO_SCALES = {"landscape": 3.0951129410195515, "aist++": 3.5009668382765917}
VAE_SCALE = 0.18215
VAE_REPO = "stabilityai/sd-vae-ft-ema"


class VaeMissing(FileNotFoundError):
    """The SD-VAE is not on this machine; the message says what to fetch."""


def _mel_basis(n_mels: int, sample_rate: int) -> torch.Tensor:
    import librosa

    return torch.from_numpy(librosa.filters.mel(sr=sample_rate, n_fft=N_FFT, n_mels=n_mels,
                                                fmin=FMIN, fmax=FMAX)).float()


def log_mel(wave: np.ndarray | torch.Tensor, *, n_mels: int = N_MELS,
            sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """(N,) samples in [−1, 1] → (n_mels, N // 160) natural-log mel magnitude, clipped."""
    y = torch.as_tensor(np.asarray(wave, dtype=np.float32)).reshape(1, -1)
    if y.shape[1] < HOP:
        raise ValueError(f"audio of {y.shape[1]} samples is shorter than one hop ({HOP})")
    pad = (N_FFT - HOP) // 2
    y = torch.nn.functional.pad(y[:, None], (pad, pad), mode="reflect")[:, 0]
    spec = torch.stft(y, N_FFT, hop_length=HOP, win_length=WIN, window=torch.hann_window(WIN),
                      center=False, return_complex=True).abs()[0]
    mel = _mel_basis(n_mels, sample_rate) @ spec
    return torch.log(mel.clamp(min=1e-5)).clamp(LOG_MIN, LOG_MAX)


def normalize(log_mel_: torch.Tensor, audio_scale: float) -> torch.Tensor:
    """Clipped log-mel → the model's audio values: [0, 1] → [−1, 1] → × audio_scale."""
    unit = (log_mel_.clamp(LOG_MIN, LOG_MAX) - LOG_MIN) / (LOG_MAX - LOG_MIN)
    return (unit * 2 - 1) * audio_scale


def denormalize(values: torch.Tensor, audio_scale: float) -> torch.Tensor:
    """The exact inverse of `normalize` (model values are clipped to the valid range first)."""
    unit = ((values / audio_scale + 1) / 2).clamp(0, 1)
    return unit * (LOG_MAX - LOG_MIN) + LOG_MIN


def model_values_to_log_mel(values: torch.Tensor, audio_scale: float) -> torch.Tensor:
    """Model audio values → log-mel as the official `utils.get_wavs` does it, for a whole batch.

    Divide by audio_scale; then, if the batch's minimum is below 0, map [−1, 1] → [0, 1] and clip,
    else only clip (the official `denormalize` branches on the minimum); then [0, 1] → log range.
    For any batch that reaches below 0 this is `denormalize`.
    """
    x = values / audio_scale
    x = (x / 2 + 0.5).clamp(0, 1) if bool(x.min() < 0) else x.clamp(0, 1)
    return x * (LOG_MAX - LOG_MIN) + LOG_MIN


def mel_to_frames(mel: torch.Tensor, mel_frames: int = 10) -> torch.Tensor:
    """(M, T·F) mel → (T, 1, M, F): the F mel frames under each video frame (leftover dropped)."""
    m, n = mel.shape
    t = n // mel_frames
    return mel[:, : t * mel_frames].reshape(m, t, mel_frames).permute(1, 0, 2).unsqueeze(1)


def frames_to_mel(frames: torch.Tensor) -> torch.Tensor:
    """(T, 1, M, F) audio latents → (M, T·F) mel, the inverse of `mel_to_frames`."""
    t, _, m, f = frames.shape
    return frames[:, 0].permute(1, 0, 2).reshape(m, t * f)


def peak_normalise(wave: np.ndarray, peak: float = 0.95) -> np.ndarray:
    """Scale so the largest |sample| is `peak` (official: librosa.util.normalize(audio) * 0.95).

    Silence (a peak below float32's smallest normal number) is left as it is, as librosa does.
    """
    x = np.asarray(wave, dtype=np.float32)
    top = float(np.abs(x).max()) if x.size else 0.0
    if top < np.finfo(np.float32).tiny:
        return x * peak
    return (x / top * peak).astype(np.float32)


def audio_latents(wave: np.ndarray, dataset: str = "landscape", *, n_mels: int = N_MELS,
                  mel_frames: int = 10) -> torch.Tensor:
    """16 kHz samples → (T, 1, n_mels, mel_frames) normalised audio latents (for A2V's known audio).

    The audio is peak-normalised to 0.95 first, as the official code prepares its input audio.
    """
    mel = log_mel(peak_normalise(wave), n_mels=n_mels)
    return mel_to_frames(normalize(mel, AUDIO_SCALES[dataset]), mel_frames)


@torch.no_grad()
def latents_to_wave(frames: torch.Tensor, vocoder: torch.nn.Module,
                    dataset: str = "landscape") -> np.ndarray:
    """(T, 1, M, F) audio latents → float32 samples via the official get_wavs chain + vocoder."""
    p = next(vocoder.parameters())
    mel = model_values_to_log_mel(frames_to_mel(frames.float()), AUDIO_SCALES[dataset])
    wave = vocoder(mel[None].to(device=p.device, dtype=p.dtype))[0]
    return wave.float().cpu().numpy().clip(-1, 1).astype(np.float32)


# -- frames ↔ SD-VAE latents --------------------------------------------------------------------


def tiny_vae(seed: int = 0) -> Any:
    """A tiny random AutoencoderKL (3 levels → 4× down, 4 latent channels) for tests/debug."""
    from diffusers import AutoencoderKL

    with torch.random.fork_rng():  # seeded without touching the caller's global RNG
        torch.manual_seed(seed)
        vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                            down_block_types=("DownEncoderBlock2D",) * 3,
                            up_block_types=("UpDecoderBlock2D",) * 3,
                            block_out_channels=(8, 8, 8), layers_per_block=1, norm_num_groups=4,
                            sample_size=32, scaling_factor=VAE_SCALE)
    return vae.eval()


def vae_downscale(vae: Any) -> int:
    """Pixels per latent pixel."""
    return 2 ** (len(vae.config.block_out_channels) - 1)


def load_vae(spec: str | None, *, device: str | torch.device = "cpu",
             dtype: torch.dtype = torch.float32) -> Any:
    """The SD-VAE from a local folder or the HF cache (local_files_only); VaeMissing otherwise."""
    from diffusers import AutoencoderKL

    spec = spec or VAE_REPO
    try:
        vae = AutoencoderKL.from_pretrained(spec, local_files_only=True, torch_dtype=dtype)
    except (OSError, ValueError) as e:
        where = spec if Path(spec).expanduser().is_dir() else f"the HF cache ({spec})"
        raise VaeMissing(f"SD-VAE not found in {where} (`huggingface-cli download {VAE_REPO}`, or "
                         f"set FILMCREW_RFLAV_VAE to its folder); or run with --debug-models "
                         f"[{type(e).__name__}]") from None
    return vae.to(device).eval()


@torch.no_grad()
def encode_frames(vae: Any, frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 RGB → (T, C, H/s, W/s) scaled latents (posterior mean)."""
    p = next(vae.parameters())
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    x = x.to(device=p.device, dtype=p.dtype) / 127.5 - 1
    return vae.encode(x).latent_dist.mean * vae.config.scaling_factor


@torch.no_grad()
def decode_latents(vae: Any, latents: torch.Tensor) -> np.ndarray:
    """(T, C, h, w) scaled latents → (T, h·s, w·s, 3) uint8 RGB frames."""
    p = next(vae.parameters())
    x = vae.decode(latents.to(device=p.device, dtype=p.dtype) / vae.config.scaling_factor).sample
    x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()
