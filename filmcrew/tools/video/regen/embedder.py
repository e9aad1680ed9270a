"""REGEN as a video embedder: clips to compact latents and back, at any frame time.

A clip of T frames is cut into chunks of k+1 frames that share their boundary frame (chunk j holds
frames jk .. jk+k), so n = ceil((T−1)/k) chunks cover it; the last chunk is padded by repeating the
last frame. Frame sizes that are not multiples of 8 are edge-padded up to one and cropped back after
decoding. On decode, a boundary frame is taken from the later chunk, whose content latent z_c encodes
exactly that frame. Frame time τ (in frames of the clip) belongs to chunk j = min(⌊τ/k⌋, n−1) at local
time τ − jk, so fractional times decode in-between frames (frame-rate interpolation) with the same
model. All frames of one decode share one noise draw (one seed for the clip, not one per chunk).

Compression, counted as stored latent frames (each C channels at 1/8 × 1/8 of the frame):
REGEN stores 2 latent frames (z_c, z_m) per chunk: 2·ceil((T−1)/k) with shared boundary frames (as
here), 2·ceil(T/(k+1)) with disjoint chunks of k+1 frames; a standard causal 8×8×k tokenizer (one
first frame, then one latent frame per k frames) stores 1 + ceil((T−1)/k). So "8×8×4" on 17 frames is
8 latent frames (64 channel-frames at C = 8) here, 8 with disjoint chunks (ceil(17/5) = 4 chunks),
against 5 (40) for the standard tokenizer: REGEN's temporal compression is about k/2, not k
(`compression`). Not implemented: the paper's latent extension at chunk boundaries (chunks are
decoded from their own latents only).

The comparison baseline, `keyframe_baseline`, stores a given budget (numbers or bytes): one keyframe
per chunk boundary, area-downsampled until the budget is met, stored as uint8, rebuilt by bilinear
upsampling and linear interpolation in time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from filmcrew.models.regen import TINY_REGEN_CONFIG, RegenConfig, RegenModel, load_regen

LATENTS_FORMAT = "filmcrew-regen-latents"
_CHUNK_BATCH = 8  # chunks encoded per forward pass


@dataclass
class RegenLatents:
    """The latents of one clip: z (n_chunks, 2, C, h, w) — [:, 0] is z_c, [:, 1] z_m — and what rebuilds it."""

    z: torch.Tensor
    k: int
    num_frames: int  # T of the original clip
    height: int  # original frame size (before padding to multiples of 8)
    width: int
    fps: float = 0.0  # 0 when unknown

    @property
    def numbers(self) -> int:
        """How many numbers the latents hold (what the keyframe baseline is given)."""
        return int(self.z.numel())

    @property
    def latent_frames(self) -> int:
        """Stored latent frames: 2 per chunk (z_c, z_m)."""
        return 2 * int(self.z.shape[0])

    def nbytes(self, dtype: torch.dtype = torch.float16) -> int:
        """Bytes of the stored numbers at `dtype` (what `save` writes, header aside)."""
        return self.numbers * torch.empty((), dtype=dtype).element_size()

    def save(self, path: str | Path, dtype: torch.dtype = torch.float16) -> Path:
        """Write the latents as safetensors (float16 by default: 2 bytes per number)."""
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": LATENTS_FORMAT, "k": str(self.k), "num_frames": str(self.num_frames),
                "height": str(self.height), "width": str(self.width), "fps": repr(float(self.fps))}
        save_file({"z": self.z.detach().cpu().to(dtype).contiguous()}, str(path), metadata=meta)
        _sort_header(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> RegenLatents:
        """Read latents written by `save` (as float32)."""
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"latents file {path} does not exist")
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            if meta.get("format") != LATENTS_FORMAT:
                raise ValueError(f"{path} is not a REGEN latents file (format={meta.get('format')!r})")
            z = f.get_tensor("z").float()
        return cls(z=z, k=int(meta["k"]), num_frames=int(meta["num_frames"]), height=int(meta["height"]),
                   width=int(meta["width"]), fps=float(meta["fps"]))


def compression(num_frames: int, k: int, channels: int = 8) -> dict[str, float]:
    """Latent frames and pixel-values-per-stored-value of a T-frame clip, three ways (module docstring).

    "shared": REGEN here (chunks share boundary frames), "disjoint": chunks of k+1 frames that share
    none, "standard": a causal 8×8×k tokenizer with the same channels; "*_ratio" = 3·T·64 / stored
    values per pixel block (the spatial 8×8 is the same for all three).
    """
    if num_frames < 1 or k < 1 or channels < 1:
        raise ValueError(f"num_frames={num_frames}, k={k}, channels={channels}; all must be >= 1")
    shared = 2 * max(1, math.ceil((num_frames - 1) / k))
    disjoint = 2 * math.ceil(num_frames / (k + 1))
    standard = 1 + math.ceil((num_frames - 1) / k)
    pixels = 3 * num_frames * 64
    return {"shared": shared, "disjoint": disjoint, "standard": standard,
            "shared_ratio": pixels / (channels * shared), "disjoint_ratio": pixels / (channels * disjoint),
            "standard_ratio": pixels / (channels * standard)}


def _default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _check_frames(frames: np.ndarray) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError("frames must be a (T, H, W, 3) uint8 array")
    if len(frames) < 1:
        raise ValueError("frames: the clip has no frame")


class RegenEmbedder:
    """A REGEN model behind the `VideoEmbedder` protocol (numpy uint8 frames in and out)."""

    name = "regen"

    def __init__(self, model: RegenModel, device: str | torch.device | None = None,
                 meta: dict[str, str] | None = None, dtype: torch.dtype | None = None):
        """`device`: where the model runs (default CUDA when present, else CPU); `dtype`: its compute
        dtype (default float32). Frames go in and come out as uint8 on the CPU whatever these are."""
        self.device = torch.device(device) if device is not None else _default_device()
        self.dtype = dtype or torch.float32
        self.model = model.to(device=self.device, dtype=self.dtype).eval()
        self.meta = meta or {}

    @property
    def k(self) -> int:
        return self.model.config.k

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device | None = None,
                        dtype: torch.dtype | None = None) -> RegenEmbedder:
        """Load a checkpoint written by `train_regen` (`filmcrew train-regen`) onto `device`
        (default: CUDA when present) in `dtype` (default float32)."""
        model, meta = load_regen(path, "cpu")
        return cls(model, device, meta, dtype)

    @classmethod
    def tiny(cls, seed: int = 0, k: int = 4, device: str | torch.device | None = None,
             dtype: torch.dtype | None = None) -> RegenEmbedder:
        """A random-init tiny model (tests, `--debug-models`): right shapes, meaningless pixels."""
        from dataclasses import replace

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            config: RegenConfig = replace(TINY_REGEN_CONFIG, k=k)
            model = RegenModel(config)
        return cls(model, device, {"tiny": "1"}, dtype)

    # ----------------------------------------------------------------------------------------------
    # encode / decode

    @torch.no_grad()
    def encode(self, frames: np.ndarray, fps: float | None = None) -> RegenLatents:
        """Latents of a (T, H, W, 3) uint8 clip: one (z_c, z_m) pair per chunk of k+1 frames."""
        _check_frames(frames)
        t, h, w = frames.shape[:3]
        k = self.k
        n = max(1, math.ceil((t - 1) / k))
        idx = np.minimum(np.arange(n * k + 1), t - 1)  # pad the last chunk with the last frame
        ph, pw = -h % 8, -w % 8
        x = torch.from_numpy(frames[idx]).to(self.device).permute(0, 3, 1, 2).float() / 127.5 - 1
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        x = x.to(self.dtype)
        zs = []
        for j0 in range(0, n, _CHUNK_BATCH):  # a few chunks at a time bounds memory on long clips
            chunks = torch.stack([x[j * k: j * k + k + 1] for j in range(j0, min(n, j0 + _CHUNK_BATCH))])
            z_c, z_m = self.model.encode(chunks.transpose(1, 2))  # (b, 3, k+1, H, W) in
            zs.append(torch.stack([z_c, z_m], dim=1).float())
        # the latents stay on the embedder's device (save() writes them from the CPU)
        return RegenLatents(z=torch.cat(zs), k=k, num_frames=t, height=h, width=w, fps=float(fps or 0.0))

    def _decode_chunks(self, latents: RegenLatents, local: list[torch.Tensor], steps: int,
                       noise: list[torch.Tensor]) -> list[torch.Tensor]:
        """Decode chunk j at its local times local[j] (frame units) from noise[j]; (T_j, 3, H, W) in
        [-1, 1] each, float32 on the embedder's device."""
        if latents.k != self.k:
            raise ValueError(f"latents were made with k={latents.k}; this model has k={self.k}")
        size = (latents.height + (-latents.height % 8), latents.width + (-latents.width % 8))
        z = latents.z.to(self.device, self.dtype)
        out = []
        for j, times in enumerate(local):
            if len(times) == 0:
                out.append(torch.empty(0, 3, *size, device=self.device))
                continue
            # at most k+1 frames per call: attention cost stays that of one training chunk
            parts = [self.model.decode(z[j:j + 1, 0], z[j:j + 1, 1], group.to(self.device), steps, size,
                                       noise=eps[None])[0].float()
                     for group, eps in zip(times.split(self.k + 1), noise[j].split(self.k + 1), strict=True)]
            out.append(torch.cat(parts))
        return out

    def _to_uint8(self, x: torch.Tensor, latents: RegenLatents) -> np.ndarray:
        x = x[:, :, :latents.height, :latents.width].float()
        return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()

    def decode(self, latents: RegenLatents, *, steps: int = 1, seed: int = 0) -> np.ndarray:
        """The clip's T frames back, (T, H, W, 3) uint8; `steps` DDIM steps (1: a deterministic
        regression, the sharpest in PSNR; more: a sample from the generative decoder)."""
        return self.decode_at(latents, np.arange(latents.num_frames, dtype=np.float64), steps=steps, seed=seed)

    def decode_tensor(self, latents: RegenLatents, times: Sequence[float], *, steps: int = 1,
                      seed: int = 0) -> torch.Tensor:
        """Frames at `times` (frame indices, fractional = in between) as a float tensor
        (N, 3, H8, W8) in [-1, 1] on the embedder's device (sizes padded to multiples of 8)."""
        tau = np.asarray(times, dtype=np.float64).reshape(-1)
        last = latents.num_frames - 1
        if tau.size and (tau.min() < -1e-6 or tau.max() > last + 1e-6):
            raise ValueError(f"times span frames {tau.min():.3f}..{tau.max():.3f}; the clip has frames 0..{last}")
        tau = np.clip(tau, 0, last)
        n, k = latents.z.shape[0], latents.k
        size = (latents.height + (-latents.height % 8), latents.width + (-latents.width % 8))
        # one noise draw for the whole decode (CPU generator: the same frames on every device)
        gen = torch.Generator().manual_seed(seed)
        noise = torch.randn((len(tau), 3, *size), generator=gen)
        chunk = np.minimum(np.floor(tau / k).astype(int), n - 1)
        rows = [torch.from_numpy(np.flatnonzero(chunk == j)) for j in range(n)]
        local = [torch.tensor(tau[r.numpy()] - j * k, dtype=torch.float32) for j, r in enumerate(rows)]
        decoded = self._decode_chunks(latents, local, steps, [noise[r] for r in rows])
        frames = torch.empty(len(tau), 3, *size, device=self.device)
        for j in range(n):
            frames[rows[j].to(self.device)] = decoded[j]
        return frames

    def decode_at(self, latents: RegenLatents, times: Sequence[float], *,
                  unit: Literal["frames", "seconds"] = "frames", steps: int = 1, seed: int = 0) -> np.ndarray:
        """Frames at arbitrary times: frame indices (fractional = in between) or seconds (needs latents.fps).

        Times must lie in [0, T−1] frames; returns (len(times), H, W, 3) uint8 in the order given.
        """
        tau = np.asarray(times, dtype=np.float64).reshape(-1)
        if unit == "seconds":
            if latents.fps <= 0:
                raise ValueError("latents have no fps: pass frame indices (unit='frames') or encode with fps")
            tau = tau * latents.fps
        elif unit != "frames":
            raise ValueError(f"unit={unit!r}; use 'frames' or 'seconds'")
        return self._to_uint8(self.decode_tensor(latents, tau, steps=steps, seed=seed).cpu(), latents)

    def interpolate(self, frames: np.ndarray, fps_in: float, fps_out: float, *, steps: int = 1,
                    seed: int = 0, keep_originals: bool = True) -> np.ndarray:
        """The clip at `fps_out` (> fps_in): round(T·fps_out/fps_in) frames.

        Output frame i shows time i/fps_out s (held at the last frame past the end). Frames that fall
        exactly on an input frame are the input frame itself; only the in-between frames are decoded
        (`keep_originals=False` decodes every frame, so sharpness does not alternate between them).
        """
        _check_frames(frames)
        if fps_in <= 0 or fps_out <= 0:
            raise ValueError(f"fps_in={fps_in}, fps_out={fps_out}; both must be > 0")
        count = max(1, round(len(frames) * fps_out / fps_in))
        tau = np.minimum(np.arange(count) * fps_in / fps_out, len(frames) - 1)
        exact = np.isclose(tau, np.round(tau), atol=1e-9) if keep_originals else np.zeros(count, bool)
        out = np.empty((count, *frames.shape[1:]), dtype=np.uint8)
        out[exact] = frames[np.round(tau[exact]).astype(int)]
        if not exact.all():
            latents = self.encode(frames, fps_in)
            out[~exact] = self.decode_at(latents, tau[~exact], steps=steps, seed=seed)
        return out

    def save_latents(self, latents: RegenLatents, path: str | Path) -> Path:
        """What `--store-latents` keeps: the latents as float16 safetensors."""
        return latents.save(path)

    def load_latents(self, path: str | Path) -> RegenLatents:
        return RegenLatents.load(path)

    @staticmethod
    def keyframe_baseline(frames: np.ndarray, k: int, numbers_budget: int) -> tuple[np.ndarray, int]:
        return keyframe_baseline(frames, k, numbers_budget)


# --------------------------------------------------------------------------------------------------
# Baseline and metrics


def keyframe_baseline(frames: np.ndarray, k: int, numbers_budget: int) -> tuple[np.ndarray, int]:
    """The clip rebuilt from keyframes holding at most `numbers_budget` numbers in all; (frames, numbers used).

    Keyframes are frames 0, k, 2k, … and the last one (the chunk boundaries of the latents), each
    area-downsampled to the largest size of the same aspect whose 3·h·w fits the budget share; the
    clip is rebuilt by bilinear upsampling and linear interpolation in time between keyframes.
    """
    _check_frames(frames)
    if k < 1 or numbers_budget < 1:
        raise ValueError(f"k={k}, numbers_budget={numbers_budget}; both must be >= 1")
    t, h, w = frames.shape[:3]
    keys = sorted(set(range(0, t, k)) | {t - 1})
    per = numbers_budget / (3 * len(keys))
    s = math.sqrt(per / (h * w))
    kh, kw = max(1, math.floor(h * s)), max(1, math.floor(w * s))
    while 3 * kh * kw * len(keys) > numbers_budget and (kh > 1 or kw > 1):
        kh, kw = max(1, kh - (kh >= kw)), max(1, kw - (kw > kh))
    x = torch.from_numpy(frames[keys]).permute(0, 3, 1, 2).float()
    small = F.interpolate(x, size=(kh, kw), mode="area").round().clamp(0, 255)  # stored as uint8
    big = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    out = torch.empty(t, 3, h, w)
    for a, b, fa, fb in zip(keys, keys[1:], big, big[1:], strict=False):
        for i in range(a, b + 1):
            u = (i - a) / (b - a)
            out[i] = (1 - u) * fa + u * fb
    if len(keys) == 1:
        out[0] = big[0]
    frames_out = out.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return frames_out, 3 * kh * kw * len(keys)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 videos over all pixels (one MSE for the whole clip)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two uint8 videos (Gaussian window σ = 1.5, on luma), frame by frame."""
    def luma(v: np.ndarray) -> torch.Tensor:
        v = torch.from_numpy(v).double()
        return (0.299 * v[..., 0] + 0.587 * v[..., 1] + 0.114 * v[..., 2])[:, None]

    x, y = luma(a), luma(b)
    r = 5
    g = torch.exp(-(torch.arange(-r, r + 1, dtype=torch.float64) ** 2) / (2 * 1.5**2))
    g = g / g.sum()

    def blur(v: torch.Tensor) -> torch.Tensor:
        v = F.conv2d(F.pad(v, (r, r, 0, 0), mode="replicate"), g.view(1, 1, 1, -1))
        return F.conv2d(F.pad(v, (0, 0, r, r), mode="replicate"), g.view(1, 1, -1, 1))

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(s.mean())


def _sort_header(path: Path) -> None:
    """Rewrite a safetensors file's JSON header with sorted keys: safetensors writes its metadata in
    a random order, so the same latents would otherwise give different bytes (and artifact hashes)."""
    import json

    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8:8 + n]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)  # the tensor data stays 8-byte aligned
    path.write_bytes(len(header).to_bytes(8, "little") + header + data[8 + n:])
