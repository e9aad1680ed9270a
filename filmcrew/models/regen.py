"""REGEN (METHODS.md §4): a causal 3D-conv encoder to two latent frames and a pixel-space DiT decoder.

A chunk of k+1 frames is encoded into z_c (the content latent: a function of the first frame only,
the encoder is causal in time) and z_m (the motion latent: the k frames after it, compressed), each
8 channels at 1/8 of the frame size. The decoder is a diffusion model in pixel space conditioned by a
*content-aware positional encoding*: for each latent position (x, y) and frame time t_f ∈ [0, 1], a
SIREN over t_f, FiLM-modulated by z_m(x, y), is concatenated with z_c(x, y) and projected (M_s); the
result, upsampled to the DiT token grid, is added to the patch tokens together with the timestep
embedding. The DiT itself has no positional encoding, so the only thing telling a token where and
when it is, is the latent — which is what lets it decode at any size (a multiple of 8) and at any
frame time, fractional ones (in-between frames) included. The decoder's output adds to the DiT's
(zero-initialised) head a zero-initialised linear read-out of x0 from the conditioning, each token
painting a 16x16 window around its patch: the DiT only learns the residual, which is what lets a tiny
model trained for a minute or two on a CPU decode sharp frames in one step.

Parameterisation: v-prediction on a continuous cosine schedule (α = cos πt/2, σ = sin πt/2, t ∈ [0, 1]);
the loss ‖v − v_θ(x_t, t, z)‖² equals the x0 error weighted by 1/σ². Training draws t over the whole
range: a fraction `noise_uniform` of each batch uniformly in [0, 1], the rest biased towards pure noise
(t = 1 − (1 − u)^high_noise_bias), so the decoder is a diffusion model at every noise level and
multi-step sampling means something. The sampler is DDIM (η = 0) from Gaussian noise over `steps`
equal steps of diffusion time.

What is deterministic, plainly: with `steps = 1` the decoder evaluates the model once at t = 1, where
x_t is pure noise that carries nothing about the frames and the x0 estimate is −v_θ: a trained model
returns (close to) the conditional mean of the frames given the latent whatever the noise, so a 1-step
decode is in effect a deterministic regression (an autoencoder), the mode the paper also reports
(higher PSNR, worse rFVD). With more steps the noise matters and the decode is a sample; the result is
deterministic only because the noise comes from a seeded generator. The linear read-out skip
(`cond_skip`) is this project's addition, not the paper's (it lets a tiny CPU-trained model decode
sharp frames); `cond_skip=False` is the paper's decoder.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

FORMAT = "filmcrew-regen"


@dataclass
class RegenConfig:
    """Shape of a REGEN model; the defaults are the paper's decoder size (GPU training only)."""

    k: int = 8  # temporal compression: a chunk is k+1 frames → 2 latent frames (z_c, z_m)
    latent_channels: int = 8  # channels of z_c and of z_m
    downsample: int = 8  # spatial down-sampling of the encoder (the method fixes 8)
    enc_widths: tuple[int, ...] = (128, 256, 512)  # channels of the three stride-2 encoder stages
    siren_width: int = 128  # SIREN M_t hidden width
    siren_depth: int = 3  # SIREN layers, each FiLM-modulated by z_m
    siren_omega: float = 6.0  # first-layer frequency; low keeps in-between frames smooth in time
    dit_hidden: int = 2048  # DiT width
    dit_depth: int = 24  # DiT blocks
    dit_heads: int = 16  # attention heads
    patch: int = 8  # pixel patch per token: equals the spatial down-sampling
    train_size: tuple[int, int] = (256, 256)  # (height, width) of training crops
    high_noise_bias: float = 1.0  # t = 1 − (1 − u)^bias: > 1 trains more at high noise (few-step decoding)
    noise_uniform: float = 1.0  # fraction of each batch at t ~ U(0, 1): the whole noise range is trained
    cond_skip: bool = True  # linear read-out of x0 from the conditioning (overlapping windows) + the DiT's output

    def __post_init__(self) -> None:
        self.enc_widths = tuple(self.enc_widths)
        self.train_size = (int(self.train_size[0]), int(self.train_size[1]))
        if self.k not in (4, 8, 16, 32):
            raise ValueError(f"k={self.k}; REGEN chunks use k in (4, 8, 16, 32)")
        if self.downsample != 8 or self.patch != 8:
            raise ValueError("REGEN uses 8x spatial down-sampling and patch size 8")
        if len(self.enc_widths) != 3:
            raise ValueError(f"enc_widths {self.enc_widths}: three stages make the 8x down-sampling")
        if self.dit_hidden % self.dit_heads:
            raise ValueError(f"dit_hidden {self.dit_hidden} is not divisible by dit_heads {self.dit_heads}")
        if not 0.0 <= self.noise_uniform <= 1.0:
            raise ValueError(f"noise_uniform {self.noise_uniform}: a fraction in [0, 1]")
        if any(s % 8 for s in self.train_size):
            raise ValueError(f"train_size {self.train_size}: both sides must be multiples of 8")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RegenConfig:
        return cls(**json.loads(text))


#: Tiny configuration for CPU tests, the benchmark and `--debug-models` (METHODS.md §4.5).
#: Measured on 32x32 previz at a fixed CPU time: a narrow encoder and one DiT block make more steps
#: and reconstruct better than wider/deeper ones. Half of each batch trains near t = 1 (what a 1-step
#: decode uses), half uniformly over the whole range (what multi-step sampling uses).
TINY_REGEN_CONFIG = RegenConfig(k=4, enc_widths=(16, 32, 64), siren_width=48, siren_depth=2,
                                dit_hidden=128, dit_depth=1, dit_heads=4, train_size=(64, 64),
                                high_noise_bias=30.0, noise_uniform=0.5)


def default_config(k: int, tiny: bool) -> RegenConfig:
    """The configuration `filmcrew train-regen` uses: tiny (CPU, --debug-models) or full size, at k."""
    return replace(TINY_REGEN_CONFIG if tiny else RegenConfig(), k=k)


# --------------------------------------------------------------------------------------------------
# Encoder


class CausalConv3d(nn.Module):
    """3D convolution padded only towards the past in time: output frame i sees input frames <= i."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: tuple[int, int, int] = (1, 1, 1)):
        super().__init__()
        self.pad_t, self.pad_s = kernel - 1, kernel // 2
        self.conv = nn.Conv3d(cin, cout, kernel, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.pad_s
        return self.conv(F.pad(x, (s, s, s, s, self.pad_t, 0)))


class ChannelNorm(nn.Module):
    """RMS norm over channels at each (t, y, x): a GroupNorm would mix frames and break causality."""

    def __init__(self, c: int):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1, c, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + 1e-6) * self.gain


class CausalResBlock(nn.Module):
    """Two causal convolutions with a residual, each after a per-position channel norm."""

    def __init__(self, c: int):
        super().__init__()
        self.na, self.nb = ChannelNorm(c), ChannelNorm(c)
        self.a, self.b = CausalConv3d(c, c), CausalConv3d(c, c)
        nn.init.zeros_(self.b.conv.weight)
        nn.init.zeros_(self.b.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(F.silu(self.nb(self.a(F.silu(self.na(x))))))


class CausalEncoder(nn.Module):
    """(B, 3, k+1, H, W) → (B, C, 2, H/8, W/8), MAGVIT-v2 style.

    Each stride-2 causal convolution in time maps 1+m frames to 1+m/2 (the first output frame sees only
    the first input frame), so log2(k) of them map k+1 frames to 2: the first three also halve space,
    the rest are temporal only at the latent resolution.
    """

    def __init__(self, config: RegenConfig):
        super().__init__()
        c = config
        temporal = int(math.log2(c.k))
        w = c.enc_widths
        layers: list[nn.Module] = []
        prev = 3
        for i, width in enumerate(w):  # down-sample first: no convolution runs at full resolution
            layers += [CausalConv3d(prev, width, stride=(2 if i < temporal else 1, 2, 2)), CausalResBlock(width)]
            prev = width
        for _ in range(max(0, temporal - len(w))):
            layers += [CausalResBlock(prev), CausalConv3d(prev, prev, stride=(2, 1, 1))]
        layers += [ChannelNorm(prev), nn.SiLU(), CausalConv3d(prev, c.latent_channels)]
        self.net = nn.Sequential(*layers)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.net(video)


# --------------------------------------------------------------------------------------------------
# Content-aware positional encoding


class ContentPE(nn.Module):
    """z_e(x, y, t_f) = M_s(z_c(x, y) ⊕ M_t(t_f | z_m(x, y))), M_t a FiLM-modulated SIREN."""

    def __init__(self, config: RegenConfig):
        super().__init__()
        c = config
        self.omega, self.depth, self.width = c.siren_omega, c.siren_depth, c.siren_width
        self.layers = nn.ModuleList([nn.Linear(1, c.siren_width)] +
                                    [nn.Linear(c.siren_width, c.siren_width) for _ in range(c.siren_depth - 1)])
        with torch.no_grad():  # SIREN initialisation: unit-variance pre-activations at every depth
            self.layers[0].weight.uniform_(-1.0, 1.0)
            bound = math.sqrt(6 / c.siren_width) / c.siren_omega
            for layer in self.layers[1:]:
                layer.weight.uniform_(-bound, bound)
        self.film = nn.Linear(c.latent_channels, 2 * c.siren_depth * c.siren_width)  # z_m → (γ, β) per layer
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.proj = nn.Linear(c.latent_channels + c.siren_width, c.dit_hidden)  # M_s

    def forward(self, z_c: torch.Tensor, z_m: torch.Tensor, t_f: torch.Tensor,
                grid: tuple[int, int]) -> torch.Tensor:
        """(B, C, h, w) latents and (B, T) frame times in [0, 1] → (B, T, gh, gw, D) on the token grid."""
        b, _, h, w = z_c.shape
        zc, zm = z_c.permute(0, 2, 3, 1), z_m.permute(0, 2, 3, 1)  # (B, h, w, C)
        gb = self.film(zm).view(b, 1, h, w, self.depth, 2, self.width)
        x = t_f.view(b, -1, 1, 1, 1).to(z_c.dtype)
        for i, layer in enumerate(self.layers):
            pre = layer(x)
            x = torch.sin(self.omega * ((1 + gb[..., i, 0, :]) * pre + gb[..., i, 1, :]))
        x = x.expand(b, t_f.shape[-1], h, w, self.width)
        e = self.proj(torch.cat([zc[:, None].expand(-1, x.shape[1], -1, -1, -1), x], dim=-1))
        if (h, w) != tuple(grid):  # another output size: resample the encoding to the token grid
            t = e.shape[1]
            e = e.flatten(0, 1).permute(0, 3, 1, 2)
            e = F.interpolate(e, size=grid, mode="bilinear", align_corners=False)
            e = e.permute(0, 2, 3, 1).unflatten(0, (b, t))
        return e


# --------------------------------------------------------------------------------------------------
# DiT decoder


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of the diffusion time t ∈ [0, 1] (scaled to 0..1000 like DDPM steps)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    args = 1000.0 * t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class DiTBlock(nn.Module):
    """Pre-norm transformer block: full self-attention over every token of every frame, then an MLP."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        x = x + self.out(a)
        return x + self.mlp(self.norm2(x))


class DiTDecoder(nn.Module):
    """ε/v network on patch tokens; it has NO positional encoding: positions come from the conditioning."""

    def __init__(self, config: RegenConfig):
        super().__init__()
        c = config
        p3 = 3 * c.patch * c.patch
        self.embed = nn.Linear(p3, c.dit_hidden)
        self.t_mlp = nn.Sequential(nn.Linear(c.dit_hidden, c.dit_hidden), nn.SiLU(),
                                   nn.Linear(c.dit_hidden, c.dit_hidden))
        self.blocks = nn.ModuleList([DiTBlock(c.dit_hidden, c.dit_heads) for _ in range(c.dit_depth)])
        self.norm = nn.LayerNorm(c.dit_hidden)
        self.head = nn.Linear(c.dit_hidden, p3)
        nn.init.zeros_(self.head.weight)  # DiT practice: the blocks start as the identity on the output
        nn.init.zeros_(self.head.bias)

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """(B, N, 3p²) noisy patches, (B, N, D) conditioning, (B,) times → (B, N, 3p²) v-prediction.

        Permutation-equivariant in N: permuting tokens and conditioning together permutes the output.
        """
        temb = self.t_mlp(timestep_embedding(t, self.embed.out_features).to(self.embed.weight.dtype))
        x = self.embed(tokens) + cond + temb[:, None]
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """(B, T, 3, H, W) → (B, T·H/p·W/p, 3p²), tokens in (t, y, x) order."""
    b, t, c, h, w = x.shape
    x = x.view(b, t, c, h // p, p, w // p, p).permute(0, 1, 3, 5, 2, 4, 6)
    return x.reshape(b, t * (h // p) * (w // p), c * p * p)


def unpatchify(tokens: torch.Tensor, t: int, h: int, w: int, p: int) -> torch.Tensor:
    """Inverse of patchify: (B, N, 3p²) → (B, T, 3, H, W)."""
    b = tokens.shape[0]
    x = tokens.view(b, t, h // p, w // p, 3, p, p).permute(0, 1, 4, 2, 5, 3, 6)
    return x.reshape(b, t, 3, h, w)


# --------------------------------------------------------------------------------------------------
# The model


def alpha_sigma(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine schedule: signal and noise scales at diffusion time t ∈ [0, 1] (t = 1 is pure noise)."""
    return torch.cos(t * math.pi / 2), torch.sin(t * math.pi / 2)


class RegenModel(nn.Module):
    """Encoder + content-aware PE + DiT decoder, trained end to end with the diffusion loss."""

    def __init__(self, config: RegenConfig):
        super().__init__()
        self.config = config
        self.encoder = CausalEncoder(config)
        self.cpe = ContentPE(config)
        self.dit = DiTDecoder(config)
        # The conditioning's linear read-out of x0: each token paints a 16x16 window centred on its 8x8
        # patch (overlap-add, a transposed convolution), so neighbouring tokens blend like a bilinear
        # upsampling instead of meeting at block edges. Zero-initialised, translation-equivariant (no
        # absolute position), trained by the same diffusion loss; the DiT learns the residual.
        self.skip = nn.ConvTranspose2d(config.dit_hidden, 3, 16, stride=8) if config.cond_skip else None
        if self.skip is not None:
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)

    def encode(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, k+1, H, W) in [-1, 1] → (z_c, z_m), each (B, C, H/8, W/8)."""
        k = self.config.k
        if video.ndim != 5 or video.shape[1] != 3 or video.shape[2] != k + 1:
            raise ValueError(f"video must be (B, 3, {k + 1}, H, W), got {tuple(video.shape)}")
        if video.shape[-1] % 8 or video.shape[-2] % 8:
            raise ValueError(f"frame size {video.shape[-1]}x{video.shape[-2]}; sides must be multiples of 8")
        z = self.encoder(video)
        return z[:, :, 0], z[:, :, 1]

    def condition(self, z_c: torch.Tensor, z_m: torch.Tensor, times: torch.Tensor,
                  size: tuple[int, int]) -> torch.Tensor:
        """Conditioning tokens (B, T·gh·gw, D) for frame times in frame units (0..k) at size (H, W)."""
        h, w = size
        if h % 8 or w % 8 or h <= 0 or w <= 0:
            raise ValueError(f"decode size {w}x{h}; both sides must be positive multiples of 8")
        times = times.to(z_c.device, torch.float32)
        if times.ndim == 1:
            times = times[None].expand(z_c.shape[0], -1)
        e = self.cpe(z_c, z_m, times / self.config.k, (h // 8, w // 8))
        return e.flatten(1, 3)

    def velocity(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """v-prediction for noisy frames (B, T, 3, H, W) at diffusion times t (B,)."""
        b, n, h, w = x_t.shape[0], x_t.shape[1], x_t.shape[3], x_t.shape[4]
        p = self.config.patch
        v = unpatchify(self.dit(patchify(x_t, p), cond, t), n, h, w, p)
        if self.skip is not None:  # v = α ε − σ x0: the read-out's x0 enters with the weight σ(t)
            grid = cond.view(b * n, h // p, w // p, -1).permute(0, 3, 1, 2)
            x0 = self.skip(F.pad(grid, (1, 1, 1, 1), mode="replicate"))[..., 12:12 + h, 12:12 + w]
            v = v - torch.sin(t * math.pi / 2).view(b, 1, 1, 1, 1).to(v.dtype) * x0.view(b, n, 3, h, w)
        return v

    def train_times(self, n: int, generator: torch.Generator | None = None,
                    device: torch.device | str = "cpu") -> torch.Tensor:
        """n diffusion times for training: a `noise_uniform` share uniform on [0, 1], the rest biased
        towards t = 1 by `high_noise_bias`."""
        u = torch.rand(n, generator=generator, device=device)
        uniform = torch.rand(n, generator=generator, device=device) < self.config.noise_uniform
        return torch.where(uniform, u, 1 - (1 - u) ** self.config.high_noise_bias)

    def loss(self, video: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Diffusion loss ‖v − v_θ(x_t, t, z)‖² of a batch (B, 3, k+1, H, W) in [-1, 1], end to end."""
        b, _, n, h, w = video.shape
        z_c, z_m = self.encode(video)
        x0 = video.transpose(1, 2)  # (B, T, 3, H, W)
        t = self.train_times(b, generator, video.device)
        eps = torch.randn(x0.shape, generator=generator, device=video.device)
        a, s = (v.view(b, 1, 1, 1, 1) for v in alpha_sigma(t))
        x_t = a * x0 + s * eps
        target = a * eps - s * x0
        cond = self.condition(z_c, z_m, torch.arange(n, device=video.device, dtype=torch.float32), (h, w))
        return F.mse_loss(self.velocity(x_t, t, cond), target)

    @torch.no_grad()
    def decode(self, z_c: torch.Tensor, z_m: torch.Tensor, times: torch.Tensor, steps: int,
               size: tuple[int, int], generator: torch.Generator | None = None,
               noise: torch.Tensor | None = None) -> torch.Tensor:
        """Frames (B, T, 3, H, W) in [-1, 1] at `times` (frame units, 0..k; fractional = in between).

        DDIM (η = 0) from Gaussian noise over `steps` (>= 1) equal steps of diffusion time. The noise
        is `noise` (B, T, 3, H, W) when given, else drawn from `generator` on the generator's device
        and moved to the latents' device; a seeded generator gives the same frames every time.
        """
        if steps < 1:
            raise ValueError(f"steps={steps}; decoding needs at least 1 step")
        h, w = size
        cond = self.condition(z_c, z_m, times, size)
        b, n = z_c.shape[0], times.shape[-1]
        if noise is None:
            gen_device = generator.device if generator is not None else torch.device("cpu")
            noise = torch.randn((b, n, 3, h, w), generator=generator, device=gen_device)
        x = noise.to(z_c.device, cond.dtype)
        grid = torch.linspace(1.0, 0.0, steps + 1, device=z_c.device, dtype=cond.dtype)
        x0 = x
        for i in range(steps):
            t, t_next = grid[i], grid[i + 1]
            v = self.velocity(x, t.expand(b), cond)
            a, s = alpha_sigma(t)
            x0 = (a * x - s * v).clamp(-1, 1)
            eps = s * x + a * v
            a_n, s_n = alpha_sigma(t_next)
            x = a_n * x0 + s_n * eps
        return x0


# --------------------------------------------------------------------------------------------------
# Checkpoints


def save_regen(model: RegenModel, path: str | Path, meta: dict[str, str] | None = None) -> Path:
    """Write the weights to safetensors; the config and `meta` (e.g. the optimiser step) go in its metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": FORMAT, "config": model.config.to_json(), **(meta or {})})
    return path


def read_regen_meta(path: str | Path) -> dict[str, str]:
    """The metadata of a REGEN checkpoint (format, config JSON, step, ...) without loading weights."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"REGEN checkpoint {path} does not exist")
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a REGEN checkpoint (metadata format={meta.get('format')!r})")
    return meta


def load_regen(path: str | Path, device: str | torch.device = "cpu",
               dtype: torch.dtype | None = None) -> tuple[RegenModel, dict[str, str]]:
    """Read a checkpoint written by save_regen; returns the model (eval mode, on `device`, in `dtype`
    when given) and its metadata."""
    from safetensors.torch import load_file

    meta = read_regen_meta(path)
    model = RegenModel(RegenConfig.from_json(meta["config"]))
    model.load_state_dict(load_file(str(path)), strict=True)
    return model.to(device=device, dtype=dtype).eval(), meta


__all__ = ["FORMAT", "TINY_REGEN_CONFIG", "RegenConfig", "RegenModel", "default_config",
           "load_regen", "read_regen_meta", "save_regen"]
