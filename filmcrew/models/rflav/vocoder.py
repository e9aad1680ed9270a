"""A HiFi-GAN-style vocoder: log-mel frames → waveform (RFLAV's 256-mel, 16 kHz, hop 160).

The generator is a stack of transposed-convolution upsamplers (their rates multiply to the hop
size), each followed by a multi-receptive-field fusion: the mean of several residual blocks with
different kernel sizes and dilations, so each stage hears both short and long context. The sizes
come from a HiFi-GAN-style `config.json`; weights from `vocoder.pt` through a key map, with
weight-normalised parameters (g, v) folded into plain weights at load time.

Checked against the official `converter.Generator` (ErgastiAlex/R-FLAV @789e16d) on two tiny official
vocoders (tests/models/test_vocoder_parity.py): an upsampler whose kernel − rate is odd is padded
(k − u)//2 + 1 with output_padding 1, both resblock types, the 0.01 slope before the last conv, the
mean of the resblocks, and int16 by truncation (`Generator.inference`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.1


@dataclass(frozen=True)
class VocoderConfig:
    """Generator sizes; field names follow the HiFi-GAN config.json convention."""

    num_mels: int = 256
    upsample_rates: tuple[int, ...] = (5, 4, 2, 2, 2)  # product = hop size 160
    upsample_kernel_sizes: tuple[int, ...] = (10, 8, 4, 4, 4)
    upsample_initial_channel: int = 1024
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    sampling_rate: int = 16000
    resblock: str = "1"  # "1": dilated + plain conv pairs; "2": one dilated conv per dilation
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def hop(self) -> int:
        h = 1
        for r in self.upsample_rates:
            h *= r
        return h

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VocoderConfig:
        """Config from a HiFi-GAN config.json (resblock type "1" or "2")."""
        if str(data.get("resblock", "1")) not in ("1", "2"):
            raise ValueError(f"vocoder resblock type {data['resblock']!r} unsupported ('1' or '2')")
        names = ("resblock", "num_mels", "upsample_rates", "upsample_kernel_sizes", "upsample_initial_channel",
                 "resblock_kernel_sizes", "resblock_dilation_sizes", "sampling_rate")
        kw: dict[str, Any] = {k: data[k] for k in names if k in data}
        for k in ("upsample_rates", "upsample_kernel_sizes", "resblock_kernel_sizes"):
            if k in kw:
                kw[k] = tuple(kw[k])
        if "resblock" in kw:
            kw["resblock"] = str(kw["resblock"])
        if "resblock_dilation_sizes" in kw:
            kw["resblock_dilation_sizes"] = tuple(tuple(d) for d in kw["resblock_dilation_sizes"])
        cfg = cls(**kw, extra={k: v for k, v in data.items() if k not in names})
        if len(cfg.upsample_rates) != len(cfg.upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes differ in length")
        return cfg


#: A tiny vocoder for tests and --debug-models (16 mels, hop 160).
TINY_VOCODER_CONFIG = VocoderConfig(num_mels=16, upsample_rates=(10, 4, 4),
                                    upsample_kernel_sizes=(20, 8, 8), upsample_initial_channel=32,
                                    resblock_kernel_sizes=(3, 5),
                                    resblock_dilation_sizes=((1, 3), (1, 3)))


class ResBlock(nn.Module):
    """Dilated conv → plain conv pairs with residuals (one receptive field of the MRF)."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]):
        super().__init__()
        self.dilated = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=d, padding=d * (kernel - 1) // 2)
            for d in dilations)
        self.plain = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, padding=(kernel - 1) // 2) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.dilated, self.plain, strict=True):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
        return x


class ResBlock2(nn.Module):
    """One dilated conv per dilation, each with a residual (HiFi-GAN's lighter resblock)."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=d, padding=d * (kernel - 1) // 2)
            for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c in self.convs:
            x = x + c(F.leaky_relu(x, LRELU_SLOPE))
        return x


def upsample_padding(kernel: int, rate: int) -> tuple[int, int]:
    """(padding, output_padding) of an upsampler: odd kernel − rate pads one more and adds one."""
    if (kernel - rate) % 2 == 0:
        return (kernel - rate) // 2, 0
    return (kernel - rate) // 2 + 1, 1


class Vocoder(nn.Module):
    """(B, num_mels, frames) natural-log mel → (B, frames·hop) waveform in [−1, 1]."""

    def __init__(self, cfg: VocoderConfig = VocoderConfig()):
        super().__init__()
        self.config = cfg
        ch = cfg.upsample_initial_channel
        self.input_conv = nn.Conv1d(cfg.num_mels, ch, 7, padding=3)
        self.upsample = nn.ModuleList()
        self.mrf = nn.ModuleList()
        for i, (rate, k) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes,
                                          strict=True)):
            c_in, c_out = ch // 2 ** i, ch // 2 ** (i + 1)
            pad, out_pad = upsample_padding(k, rate)
            self.upsample.append(nn.ConvTranspose1d(c_in, c_out, k, rate, padding=pad,
                                                    output_padding=out_pad))
            block = ResBlock2 if cfg.resblock == "2" else ResBlock
            for rk, dil in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes, strict=True):
                self.mrf.append(block(c_out, rk, dil))
        self.output_conv = nn.Conv1d(ch // 2 ** len(cfg.upsample_rates), 1, 7, padding=3)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        if mel.ndim != 3 or mel.shape[1] != self.config.num_mels:
            raise ValueError(f"mel must be (B, {self.config.num_mels}, frames); got "
                             f"{tuple(mel.shape)}")
        x = self.input_conv(mel)
        k = len(self.config.resblock_kernel_sizes)
        for i, up in enumerate(self.upsample):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            x = sum(self.mrf[i * k + j](x) for j in range(k)) / k  # multi-receptive-field fusion
        x = torch.tanh(self.output_conv(F.leaky_relu(x)))  # default slope 0.01 here (official)
        return x[:, 0, : mel.shape[-1] * self.config.hop]


def fold_weight_norm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace weight-norm pairs (…weight_g/…weight_v, or parametrizations original0/1) by weights.

    w = g · v / ‖v‖, the norm taken over every axis where g has size 1 (HiFi-GAN uses dim 0).
    """
    out, pairs = {}, {}
    for k, v in state.items():
        m = re.match(r"^(.*)\.(weight_g|weight_v)$", k) or re.match(
            r"^(.*)\.parametrizations\.weight\.(original0|original1)$", k)
        if m:
            part = "g" if m.group(2) in ("weight_g", "original0") else "v"
            pairs.setdefault(m.group(1), {})[part] = v
        else:
            out[k] = v
    for name, gv in pairs.items():
        if set(gv) != {"g", "v"}:
            raise ValueError(f"vocoder weight norm of {name} lacks its {'g' if 'v' in gv else 'v'}")
        g, v = gv["g"], gv["v"]
        dims = [d for d in range(v.ndim) if g.shape[d] == 1]
        out[f"{name}.weight"] = g * v / torch.linalg.vector_norm(v, dim=dims, keepdim=True)
    return out


#: (HiFi-GAN generator prefix, our prefix); {n} stands for a block index
_NAMES = (("conv_pre.", "input_conv."), ("conv_post.", "output_conv."), ("ups.", "upsample."),
          ("resblocks.{n}.convs1.", "mrf.{n}.dilated."), ("resblocks.{n}.convs2.", "mrf.{n}.plain."),
          ("resblocks.{n}.convs.", "mrf.{n}.convs."))


def _rename(key: str, published_to_ours: bool) -> str:
    """A key's name in the other layout (the first matching prefix of `_NAMES`)."""
    for pair in _NAMES:
        src, dst = pair if published_to_ours else pair[::-1]
        pattern = "^" + re.escape(src).replace(re.escape("{n}"), r"(\d+)")
        renamed, hits = re.subn(pattern, dst.replace("{n}", r"\1"), key)
        if hits:
            return renamed
    return key


def _our_key(key: str) -> str:
    """HiFi-GAN generator names → ours (conv_pre, ups.i, resblocks.n.convs1/2.k, conv_post)."""
    return _rename(key, published_to_ours=True)


def _published_key(key: str) -> str:
    return _rename(key, published_to_ours=False)


def to_published(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our vocoder state dict in HiFi-GAN generator names (plain weights, no weight norm)."""
    return {_published_key(k): v for k, v in state.items()}


def load_state(model: Vocoder, checkpoint: dict[str, Any]) -> None:
    """Load a HiFi-GAN generator checkpoint ({"generator": sd} or a bare sd) into `model`, strictly."""
    state = checkpoint.get("generator", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ValueError("vocoder checkpoint is not a state dict")
    ours = {_our_key(k.removeprefix("module.")): v for k, v in fold_weight_norm(state).items()}
    missing, unexpected = model.load_state_dict(ours, strict=False)
    if missing or unexpected:
        raise ValueError(f"vocoder checkpoint does not fit: missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}")


def to_int16(wave: np.ndarray) -> np.ndarray:
    """Float samples → int16 as the official `Generator.inference`: × 32768, truncated toward zero.

    (Clipped first, so a sample of exactly 1.0 gives 32767 instead of wrapping round.)
    """
    return np.clip(np.asarray(wave, dtype=np.float32) * 32768.0, -32768, 32767).astype(np.int16)


def load_vocoder(spec: str | Path, *, device: str | torch.device = "cpu") -> Vocoder:
    """A vocoder from a folder with config.json + vocoder.pt, or the vocoder.pt file itself."""
    path = Path(spec).expanduser()
    weights = path / "vocoder.pt" if path.is_dir() else path
    config = weights.parent / "config.json"
    if not weights.exists() or not config.exists():
        raise FileNotFoundError(
            f"vocoder needs vocoder.pt and config.json in {weights.parent} (they ship in the "
            "RFLAV repo's vocoder/ folder; set FILMCREW_RFLAV_VOCODER to it)")
    cfg = VocoderConfig.from_json(json.loads(config.read_text(encoding="utf-8")))
    model = Vocoder(cfg)
    load_state(model, torch.load(weights, map_location="cpu", weights_only=True))
    return model.to(device).eval()


def tiny_vocoder(seed: int = 0) -> Vocoder:
    """TINY_VOCODER_CONFIG with seeded random weights (CPU tests, --debug-models)."""
    with torch.random.fork_rng():  # seeded without touching the caller's global RNG
        torch.manual_seed(seed)
        return Vocoder(TINY_VOCODER_CONFIG).eval()
