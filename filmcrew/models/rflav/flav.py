"""FLAV: the joint audio+video flow-matching transformer of RFLAV (METHODS.md §6.3).

Two branches share depth: video tokens (one per latent patch, per frame) and audio tokens (one per mel
frame, ten per video frame). Every frame carries its own timestep, so the AdaLN modulation is
per-frame: shift/scale/gate are (B, T, D) and broadcast over the tokens of that frame — that is what
lets the rolling sampler hold frames at different noise levels in one window. The branches meet in
the feed-forward half of each block (cross-modal block "c"): each modality's per-frame token mean,
plus the other branch's timestep/class embedding, modulates the other modality's MLP.

All modulation outputs and both final projections start at zero (adaLN-Zero), so a fresh model is
the identity in every block and predicts zero velocity.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class FLAVConfig:
    """Sizes of a FLAV model; the defaults are FLAV-B/1 as released (324M parameters)."""

    depth: int = 12  # FLAV blocks
    hidden_size: int = 768
    num_heads: int = 12
    mlp_ratio: float = 4.0
    patch_size: int = 1  # video patch: 1 → one token per latent pixel (1024 per 32×32 frame)
    latent_channels: int = 4  # SD-VAE latent channels
    latent_size: int = 32  # latent height = width (256 px / 8)
    n_mels: int = 256  # mel bins per audio token
    mel_frames: int = 10  # mel frames (audio tokens) per video frame: 100 mel frames/s at 10 fps
    window: int = 10  # W: frames the model sees at once (predict_frames)
    num_classes: int = 0  # 0 = unconditional; else class embedders with one extra null class for CFG
    causal_attn: bool = True  # a frame attends only to itself and earlier (cleaner) frames
    freq_dim: int = 256  # sinusoidal timestep features fed to the timestep MLP

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by "
                             f"num_heads {self.num_heads}")
        if self.latent_size % self.patch_size:
            raise ValueError(f"latent_size {self.latent_size} is not divisible by "
                             f"patch_size {self.patch_size}")

    @property
    def video_tokens(self) -> int:
        """Tokens per video frame."""
        return (self.latent_size // self.patch_size) ** 2

    def to_dict(self) -> dict:
        return asdict(self)


#: FLAV-B/1 as released (MaverickAlex/R-FLAV-B-1-LS / -AIST).
FLAV_B1_CONFIG = FLAVConfig()
#: A tiny model for CPU tests and --debug-models.
TINY_FLAV_CONFIG = FLAVConfig(depth=2, hidden_size=64, num_heads=2, latent_size=8, n_mels=16,
                              window=4, num_classes=9)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Per-frame AdaLN: x (B, T, N, D) with shift/scale (B, T, D), broadcast over a frame's N tokens."""
    return x * (1 + scale.unsqueeze(2)) + shift.unsqueeze(2)


def _adaln(hidden: int, chunks: int) -> nn.Sequential:
    return nn.Sequential(nn.SiLU(), nn.Linear(hidden, chunks * hidden))


class TimestepEmbedder(nn.Module):
    """Scalar model time (1..1000) → sinusoidal features → MLP (one per modality)."""

    def __init__(self, hidden: int, freq_dim: int = 256):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.freq_dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device,
                                                            dtype=torch.float32) / half)
        args = t.float()[..., None] * freqs
        feats = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        return self.mlp(feats.to(self.mlp[0].weight.dtype))


class Attention(nn.Module):
    """Multi-head self-attention over the second-to-last axis (fused qkv)."""

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, hidden: int, ratio: float):
        super().__init__()
        inner = int(hidden * ratio)
        self.fc1 = nn.Linear(hidden, inner)
        self.fc2 = nn.Linear(inner, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class FLAVBlock(nn.Module):
    """Video spatial + temporal attention, token-causal audio window attention, cross-modulated FFNs."""

    def __init__(self, cfg: FLAVConfig):
        super().__init__()
        d, h = cfg.hidden_size, cfg.num_heads
        self.causal = cfg.causal_attn

        def norm() -> nn.LayerNorm:
            return nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)

        self.video_norm_spatial, self.video_norm_temporal, self.video_norm_mlp = norm(), norm(), norm()
        self.audio_norm_attn, self.audio_norm_mlp = norm(), norm()
        self.video_spatial_attn = Attention(d, h)
        self.video_temporal_attn = Attention(d, h)
        self.audio_attn = Attention(d, h)
        self.video_mod = _adaln(d, 6)  # (shift, scale, gate) × (spatial, temporal)
        self.audio_mod = _adaln(d, 3)
        # cross-modal block (c): the other modality's frame mean + this branch's t/class embedding
        self.audio_to_video = nn.Linear(d, d)
        self.video_to_audio = nn.Linear(d, d)
        self.video_mlp_mod = _adaln(d, 3)
        self.audio_mlp_mod = _adaln(d, 3)
        self.video_mlp = Mlp(d, cfg.mlp_ratio)
        self.audio_mlp = Mlp(d, cfg.mlp_ratio)

    def forward(self, v: torch.Tensor, a: torch.Tensor, c_v: torch.Tensor,
                c_a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """v (B, T, N, D) video tokens, a (B, T, F, D) audio tokens, c_v/c_a (B, T, D) conditions."""
        b, t, n, d = v.shape
        f = a.shape[2]
        s1, sc1, g1, s2, sc2, g2 = self.video_mod(c_v).chunk(6, dim=-1)
        x = modulate(self.video_norm_spatial(v), s1, sc1).reshape(b * t, n, d)
        v = v + g1.unsqueeze(2) * self.video_spatial_attn(x).reshape(b, t, n, d)
        x = modulate(self.video_norm_temporal(v), s2, sc2).permute(0, 2, 1, 3).reshape(b * n, t, d)
        x = self.video_temporal_attn(x, causal=self.causal)
        v = v + g2.unsqueeze(2) * x.reshape(b, n, t, d).permute(0, 2, 1, 3)

        s3, sc3, g3 = self.audio_mod(c_a).chunk(3, dim=-1)
        x = modulate(self.audio_norm_attn(a), s3, sc3).reshape(b, t * f, d)
        # one attention over all T·F mel tokens of the window, causal token by token (official)
        a = a + g3.unsqueeze(2) * self.audio_attn(x, causal=self.causal).reshape(b, t, f, d)

        a_bar = self.audio_to_video(a.mean(dim=2)) + c_v  # audio drives the video feed-forward
        v_bar = self.video_to_audio(v.mean(dim=2)) + c_a  # video drives the audio feed-forward
        # the official order here is (scale, shift, gate), unlike every other modulation (shift first)
        scv, sv, gv = self.video_mlp_mod(a_bar).chunk(3, dim=-1)
        sca, sa, ga = self.audio_mlp_mod(v_bar).chunk(3, dim=-1)
        v = v + gv.unsqueeze(2) * self.video_mlp(modulate(self.video_norm_mlp(v), sv, scv))
        a = a + ga.unsqueeze(2) * self.audio_mlp(modulate(self.audio_norm_mlp(a), sa, sca))
        return v, a


class FinalLayer(nn.Module):
    """Per-frame AdaLN (shift, scale) then a linear projection back to latent values."""

    def __init__(self, hidden: int, out: int):
        super().__init__()
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.mod = _adaln(hidden, 2)
        self.linear = nn.Linear(hidden, out)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.mod(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


class FLAV(nn.Module):
    """The joint audio-video velocity model: (video, audio, per-frame times, class) → velocities."""

    def __init__(self, cfg: FLAVConfig = FLAV_B1_CONFIG):
        super().__init__()
        self.config = cfg
        d, p, w = cfg.hidden_size, cfg.patch_size, cfg.window
        self.video_patch = nn.Conv2d(cfg.latent_channels, d, kernel_size=p, stride=p)
        self.video_pos_spatial = nn.Parameter(torch.zeros(1, 1, cfg.video_tokens, d))
        self.video_pos_temporal = nn.Parameter(torch.zeros(1, w, 1, d))
        self.audio_proj = nn.Linear(cfg.n_mels, d)
        self.audio_pos_spatial = nn.Parameter(torch.zeros(1, 1, cfg.mel_frames, d))
        self.audio_pos_temporal = nn.Parameter(torch.zeros(1, w, 1, d))
        self.video_time = TimestepEmbedder(d, cfg.freq_dim)
        self.audio_time = TimestepEmbedder(d, cfg.freq_dim)
        if cfg.num_classes:
            # index num_classes is the null class: the unconditional branch of CFG
            self.video_class = nn.Embedding(cfg.num_classes + 1, d)
            self.audio_class = nn.Embedding(cfg.num_classes + 1, d)
        self.blocks = nn.ModuleList(FLAVBlock(cfg) for _ in range(cfg.depth))
        self.video_final = FinalLayer(d, p * p * cfg.latent_channels)
        self.audio_final = FinalLayer(d, cfg.n_mels)
        self.reset_parameters()

    @property
    def null_class(self) -> int:
        return self.config.num_classes

    def reset_parameters(self) -> None:
        """DiT initialisation: xavier linears, small position tables, adaLN-Zero outputs."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        w = self.video_patch.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.video_patch.bias)
        for pos in (self.video_pos_spatial, self.video_pos_temporal, self.audio_pos_spatial,
                    self.audio_pos_temporal):
            nn.init.normal_(pos, std=0.02)
        for emb in (self.video_time, self.audio_time):
            nn.init.normal_(emb.mlp[0].weight, std=0.02)
            nn.init.normal_(emb.mlp[2].weight, std=0.02)
        if self.config.num_classes:
            nn.init.normal_(self.video_class.weight, std=0.02)
            nn.init.normal_(self.audio_class.weight, std=0.02)
        zero: list[nn.Linear] = []
        for blk in self.blocks:
            zero += [blk.video_mod[1], blk.audio_mod[1], blk.video_mlp_mod[1],
                     blk.audio_mlp_mod[1]]
        for fin in (self.video_final, self.audio_final):
            zero += [fin.mod[1], fin.linear]
        for lin in zero:
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def _conditions(self, t_video: torch.Tensor, t_audio: torch.Tensor,
                    y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        c_v, c_a = self.video_time(t_video), self.audio_time(t_audio)  # (B, T, D)
        if self.config.num_classes:
            if y is None:
                y = torch.full((t_video.shape[0],), self.null_class, device=t_video.device)
            c_v = c_v + self.video_class(y)[:, None]
            c_a = c_a + self.audio_class(y)[:, None]
        elif y is not None:
            raise ValueError("this FLAV model is unconditional (num_classes=0); pass y=None")
        return c_v, c_a

    def forward(self, video: torch.Tensor, audio: torch.Tensor, t_video: torch.Tensor,
                t_audio: torch.Tensor, y: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Velocities for video (B, T, C, H, W) and audio (B, T, 1, M, F) at model times (B, T).

        Times are the model's scale (1..1000, see tools/rflav.t_model), one per frame.
        """
        cfg = self.config
        b, t, c, h, w = video.shape
        if t > cfg.window:
            raise ValueError(f"{t} frames exceed the model's window of {cfg.window}")
        if audio.shape != (b, t, 1, cfg.n_mels, cfg.mel_frames):
            raise ValueError(f"audio shape {tuple(audio.shape)}; expected "
                             f"{(b, t, 1, cfg.n_mels, cfg.mel_frames)}")
        if t_video.shape != (b, t) or t_audio.shape != (b, t):
            raise ValueError(f"timesteps must be (B, T) = {(b, t)}; got {tuple(t_video.shape)} "
                             f"and {tuple(t_audio.shape)}")
        p = cfg.patch_size
        v = self.video_patch(video.reshape(b * t, c, h, w)).flatten(2).transpose(1, 2)
        v = v.reshape(b, t, -1, cfg.hidden_size) + self.video_pos_spatial \
            + self.video_pos_temporal[:, :t]
        a = self.audio_proj(audio[:, :, 0].transpose(-1, -2))  # (B, T, F, D): one token per mel frame
        a = a + self.audio_pos_spatial + self.audio_pos_temporal[:, :t]
        c_v, c_a = self._conditions(t_video, t_audio, y)
        for blk in self.blocks:
            v, a = blk(v, a, c_v, c_a)
        v = self.video_final(v, c_v)  # (B, T, N, p·p·C)
        gh, gw = h // p, w // p
        v = v.reshape(b, t, gh, gw, p, p, c).permute(0, 1, 6, 2, 4, 3, 5).reshape(b, t, c, h, w)
        a = self.audio_final(a, c_a).transpose(-1, -2).unsqueeze(2)  # (B, T, 1, M, F)
        return v, a

    def forward_with_cfg(self, video: torch.Tensor, audio: torch.Tensor, t_video: torch.Tensor,
                         t_audio: torch.Tensor, y: torch.Tensor, cfg_scale: float
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Classifier-free guidance in one batched call: rows [y ; null], uncond + s·(cond − uncond)."""
        null = torch.full_like(y, self.null_class)
        vv, va = self(torch.cat([video, video]), torch.cat([audio, audio]),
                      torch.cat([t_video, t_video]), torch.cat([t_audio, t_audio]),
                      torch.cat([y, null]))
        (cv, uv), (ca, ua) = vv.chunk(2), va.chunk(2)
        return uv + cfg_scale * (cv - uv), ua + cfg_scale * (ca - ua)
