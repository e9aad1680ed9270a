"""WISA's physical module: quantity embedding, expert gates, MoPA block, classifier, loss.

These are the parts WISA adds to a frozen video diffusion transformer (METHODS.md §1.4): an embedding of
the 18 quantitative properties that modulates the physical block (AdaLN), a Mixture-of-Physical-Experts
attention (MoPA) whose 58 heads are gated two by two by the 29 qualitative categories, a classifier on the
physics token, and the self-normalised loss balance. They are written from the paper's description and
shaped so the released `phys_weights.safetensors` can be mapped onto them (see `wisa_keys.py`).
The transformers that carry them live in `wisa_transformer.py`.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

NUM_CATEGORIES = 29  # qualitative vector P_c, groups of 7, 7, 6, 2, 7
NUM_QUANTITIES = 18  # P_p: 5 density ranges + sci() of t_min, t_max, T_min, T_max
EXPERT_HEADS = 2 * NUM_CATEGORIES  # two MoPA heads per category, adjacent: [c0, c0, c1, c1, ...]

GateMode = Literal["reference", "deterministic"]


def sincos_scalars(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Embed each of the B×18 scalars with k = (dim//2)//18 sinusoids, as [cos, sin], zero-padded to dim.

    Each scalar gets its own block of 2k features (frequencies exp(-ln(10000)·j/k), j < k), laid out
    scalar after scalar; this is the layout the released weights were trained with.
    """
    if x.ndim != 2:
        raise ValueError(f"sincos_scalars: expected (B, n) scalars, got shape {tuple(x.shape)}")
    n = x.shape[1]
    k = (dim // 2) // n
    if k < 1:
        raise ValueError(f"sincos_scalars: dim {dim} too small for {n} scalars (need >= {2 * n})")
    j = torch.arange(k, dtype=torch.float32, device=x.device)
    freqs = torch.exp(-math.log(10000.0) * j / k)
    angles = x.float()[..., None] * freqs  # (B, n, k)
    emb = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1).flatten(1)  # (B, n·2k)
    return F.pad(emb, (0, dim - emb.shape[1]))


def expert_gates(
    categories: torch.Tensor,
    *,
    mode: GateMode = "reference",
    generator: torch.Generator | None = None,
    flip_p: float = 0.2,
    low: float = 0.1,
) -> torch.Tensor:
    """Turn (B, 29) binary categories into (B, 58) MoPA head gates, each category gating two adjacent heads.

    Active experts get 1.0 and inactive ones `low` (attenuated, not silenced). In "reference" mode each
    head independently flips with probability `flip_p`, as the released model does at training *and*
    inference (robustness to annotation noise); we draw the flips from `generator`, so the same generator
    state gives the same gates. "deterministic" mode never flips.
    """
    if categories.ndim != 2 or categories.shape[1] != NUM_CATEGORIES:
        raise ValueError(
            f"expert_gates: categories must be (B, {NUM_CATEGORIES}), got {tuple(categories.shape)}"
        )
    if not bool(((categories == 0) | (categories == 1)).all()):
        raise ValueError("expert_gates: categories must be 0/1")
    if mode not in ("reference", "deterministic"):
        raise ValueError(f"expert_gates: unknown mode {mode!r}; use 'reference' or 'deterministic'")
    active = categories.repeat_interleave(2, dim=1) > 0.5  # (B, 58), pairs [c0, c0, c1, c1, ...]
    if mode == "reference":
        gen_device = generator.device if generator is not None else categories.device
        u = torch.rand(active.shape, generator=generator, device=gen_device).to(categories.device)
        active = active ^ (u < flip_p)
    one = torch.ones((), dtype=torch.float32, device=categories.device)
    return torch.where(active, one, one * low)


def drop_conditions(
    categories: torch.Tensor,
    quantities: torch.Tensor,
    *,
    p: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero each sample's categories and, independently, its quantities with probability p (CFG training).

    The unconditional branch at inference uses zeros, so the model must see zeros during training.
    """
    if categories.shape[0] != quantities.shape[0]:
        raise ValueError(
            f"drop_conditions: batch sizes differ ({categories.shape[0]} vs {quantities.shape[0]})"
        )
    b = categories.shape[0]
    gen_device = generator.device if generator is not None else categories.device
    u = torch.rand((2, b), generator=generator, device=gen_device).to(categories.device)
    keep_c = (u[0] >= p).to(categories.dtype)[:, None]
    keep_q = (u[1] >= p).to(quantities.dtype)[:, None]
    return categories * keep_c, quantities * keep_q


def wisa_loss(
    diffusion_loss: torch.Tensor, logits: torch.Tensor, categories: torch.Tensor
) -> torch.Tensor:
    """Add the physical classifier's BCE to the diffusion loss with WISA's self-normalised weight.

    The classifier term is divided by its own detached value, so its gradient keeps a roughly fixed share
    (0.10 while the BCE is above 1, 0.05·BCE below) whatever the scale of the diffusion loss.
    """
    l_pc = F.binary_cross_entropy_with_logits(logits.float(), categories.float())
    norm = (1 + l_pc) / (1 + l_pc.detach() + 1e-5)
    aux = 0.10 * norm if l_pc.item() > 1 else 0.05 * l_pc.detach() * norm
    return diffusion_loss + aux


class QuantityEmbedding(nn.Module):
    """Embed the 18 quantities into the (shift, scale, gate) modulation of the physical block.

    cogvideox: added to the base timestep embedding `temb` (time_embed_dim) before the AdaLN projection,
    plus a learned (3, dim) table. wan: projected on its own to (3, dim), plus the table; the transformer
    adds Wan's timestep projection chunks 0..2 (self-attention shift/scale/gate). The AdaLN projection is a
    Linear, or an MLP through 512 when its input is wider than 1024 (as in the released weights).
    """

    def __init__(
        self,
        dim: int,
        *,
        variant: Literal["cogvideox", "wan"],
        time_embed_dim: int | None = None,
        freq_dim: int = 256,
        adaln_mlp: bool | None = None,
        hidden: int | None = None,
    ) -> None:
        super().__init__()
        if variant == "cogvideox":
            if time_embed_dim is None:
                raise ValueError("QuantityEmbedding(cogvideox) needs time_embed_dim")
            hidden, self.freq_dim = time_embed_dim, 2 * time_embed_dim
        elif variant == "wan":  # hidden: the official `dim` (= the model width in released files)
            hidden, self.freq_dim = hidden or dim, freq_dim
        else:
            raise ValueError(f"QuantityEmbedding: unknown variant {variant!r}")
        if self.freq_dim < 2 * NUM_QUANTITIES:
            raise ValueError(
                f"QuantityEmbedding: sincos width {self.freq_dim} < {2 * NUM_QUANTITIES} (one cos/sin per quantity)"
            )
        self.variant, self.dim = variant, dim
        self.quantify_proj = nn.Linear(self.freq_dim, hidden)
        if adaln_mlp is None:
            adaln_mlp = hidden > 1024
        self.linear_adaln: nn.Module = (
            nn.Sequential(nn.Linear(hidden, 512), nn.SiLU(), nn.Linear(512, 3 * dim))
            if adaln_mlp
            else nn.Linear(hidden, 3 * dim)
        )
        self.scale_shift_table = nn.Parameter(torch.randn(3, dim) / dim**0.5)

    def forward(self, quantities: torch.Tensor, temb: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 18) quantities [+ (B, time_embed_dim) temb for cogvideox] -> (B, 3, dim) [shift, scale, gate]."""
        if quantities.ndim != 2 or quantities.shape[1] != NUM_QUANTITIES:
            raise ValueError(
                f"quantities must be (B, {NUM_QUANTITIES}), got {tuple(quantities.shape)}"
            )
        w = self.quantify_proj.weight
        q = self.quantify_proj(sincos_scalars(quantities, self.freq_dim).to(w.dtype))
        if self.variant == "cogvideox":
            if temb is None:
                raise ValueError("QuantityEmbedding(cogvideox) needs the timestep embedding temb")
            q = temb.to(q.dtype) + q
        m = self.linear_adaln(q).unflatten(1, (3, self.dim))
        return m + self.scale_shift_table.to(m.dtype)


class _ExpertAttention(nn.Module):
    """Holds the MoPA projections under diffusers-style names (to_q, to_k, to_v, norm_q, norm_k, to_out)."""

    def __init__(self, dim: int, head_dim: int, heads: int, qk_norm: str, eps: float) -> None:
        super().__init__()
        from diffusers.models.normalization import RMSNorm

        inner = heads * head_dim
        self.heads, self.head_dim, self.qk_norm = heads, head_dim, qk_norm
        self.to_q = nn.Linear(dim, inner)
        self.to_k = nn.Linear(dim, inner)
        self.to_v = nn.Linear(dim, inner)
        if qk_norm == "layer_norm":  # CogVideoX: per head
            self.norm_q: nn.Module = nn.LayerNorm(head_dim, eps=eps)
            self.norm_k: nn.Module = nn.LayerNorm(head_dim, eps=eps)
        elif qk_norm == "rms_norm_across_heads":  # Wan: over all heads at once
            self.norm_q = RMSNorm(inner, eps=eps)
            self.norm_k = RMSNorm(inner, eps=eps)
        else:
            raise ValueError(f"qk_norm {qk_norm!r}: use 'layer_norm' or 'rms_norm_across_heads'")
        self.to_out = nn.ModuleList([nn.Linear(inner, dim)])


class PhysicalBlock(nn.Module):
    """MoPA: AdaLN-modulated self-attention over the video tokens whose heads are gated category experts.

    The heads are computed as usual, then each head's output is multiplied by its gate before the output
    projection, so an inactive category's experts still speak, at a tenth of the volume. The residual is
    scaled by the AdaLN gate, so a zero gate makes the block an identity.
    """

    def __init__(
        self,
        dim: int,
        head_dim: int,
        *,
        heads: int = EXPERT_HEADS,
        qk_norm: Literal["layer_norm", "rms_norm_across_heads"],
        eps: float = 1e-6,
        norm_affine: bool = False,
        norm_eps: float | None = None,
    ) -> None:
        super().__init__()
        from diffusers.models.normalization import FP32LayerNorm

        # CogVideoX's released block has an affine norm1 (eps 1e-5), Wan's has none (eps 1e-6).
        self.norm1 = FP32LayerNorm(
            dim, eps if norm_eps is None else norm_eps, elementwise_affine=norm_affine
        )
        self.attn = _ExpertAttention(dim, head_dim, heads, qk_norm, eps)

    def forward(
        self,
        hidden: torch.Tensor,
        mod: torch.Tensor,
        gates: torch.Tensor,
        rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """hidden (B, N, dim), mod (B, 3, dim) = [shift, scale, gate], gates (B, heads) -> (B, N, dim).

        rotary_emb = (cos, sin) for all N tokens, (N, head_dim) or Wan's (1, N, 1, head_dim); the caller
        gives zero rows for the physics token, whose rotated q/k then vanish as in the reference.
        """
        from diffusers.models.embeddings import apply_rotary_emb

        a = self.attn
        b, n, _ = hidden.shape
        if gates.shape != (b, a.heads):
            raise ValueError(f"gates must be ({b}, {a.heads}), got {tuple(gates.shape)}")
        shift, scale, gate = mod.float().unbind(1)
        x = (self.norm1(hidden.float()) * (1 + scale[:, None]) + shift[:, None]).type_as(hidden)
        q, k, v = a.to_q(x), a.to_k(x), a.to_v(x)
        if a.qk_norm == "rms_norm_across_heads":
            q, k = a.norm_q(q), a.norm_k(k)
        # (B, N, H·d) -> (B, H, N, d)
        q, k, v = (t.unflatten(2, (a.heads, a.head_dim)).transpose(1, 2) for t in (q, k, v))
        if a.qk_norm == "layer_norm":
            q, k = a.norm_q(q), a.norm_k(k)
        if rotary_emb is not None:
            cos, sin = (t.reshape(-1, t.shape[-1]) for t in rotary_emb)
            if cos.shape != (n, a.head_dim):
                raise ValueError(
                    f"rotary_emb rows {tuple(cos.shape)} do not match ({n}, {a.head_dim})"
                )
            q, k = apply_rotary_emb(q, (cos, sin)), apply_rotary_emb(k, (cos, sin))
        o = F.scaled_dot_product_attention(q, k, v).transpose(1, 2)  # (B, N, H, d)
        o = o * gates.to(o.dtype)[:, None, :, None]
        out = a.to_out[0](o.flatten(2))
        return (hidden.float() + gate[:, None] * out.float()).type_as(hidden)


class PhysicalClassifier(nn.Module):
    """Predicts the 29 category logits from the physics token; trains the token to summarise the physics."""

    def __init__(self, dim: int, hidden: int = 512, num_categories: int = NUM_CATEGORIES) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, num_categories)
        )

    def forward(self, token: torch.Tensor) -> torch.Tensor:
        """(B, dim) physics token -> (B, 29) logits."""
        return self.net(token)
