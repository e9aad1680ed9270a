"""WISA transformers: a diffusers CogVideoX / Wan transformer plus physics token, MoPA block and classifier.

We do not fork diffusers. Each wrapper owns the unmodified base model and re-composes its public submodules
in its own forward, step by step as the base forward does, inserting WISA's parts (METHODS.md §1.4):
the learned physics token joins the video stream right after patch embedding (with zero rotary cos AND
sin, so its rotated q/k vanish in every RoPE attention), the physical block runs after the last base block,
the classifier reads the token, and the token is dropped before the output norm / unpatchify.
With `physics_token=False` and a physical block that adds nothing, the output is the base output.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from filmcrew.models.wisa.physics import (
    NUM_CATEGORIES,
    NUM_QUANTITIES,
    PhysicalBlock,
    PhysicalClassifier,
    QuantityEmbedding,
    expert_gates,
)

if TYPE_CHECKING:
    from diffusers import CogVideoXTransformer3DModel, WanTransformer3DModel

Rotary = tuple[torch.Tensor, torch.Tensor]

#: Tiny random configurations (METHODS.md §1.7) for tests and `--debug-models`.
TINY_COGVIDEOX_CONFIG: dict[str, Any] = dict(
    num_attention_heads=2, attention_head_dim=16, in_channels=4, out_channels=4, time_embed_dim=32,
    text_embed_dim=32, num_layers=2, sample_width=8, sample_height=8, sample_frames=9, patch_size=2,
    temporal_compression_ratio=4, max_text_seq_length=8, use_rotary_positional_embeddings=True,
)  # fmt: skip
TINY_WAN_CONFIG: dict[str, Any] = dict(
    patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=16, in_channels=4, out_channels=4,
    text_dim=32, freq_dim=32, ffn_dim=64, num_layers=2, rope_max_seq_len=32,
)  # fmt: skip


def prepend_zero_rotary(rotary: Rotary, seq_dim: int) -> Rotary:
    """Prepend an all-zero row (cos AND sin) for the physics token along the sequence axis.

    With cos = sin = 0 the rotated query/key of that token are exactly zero, as in the reference model:
    the token attends uniformly and is read only through the values. CogVideoX tables are (S, d) →
    seq_dim 0; Wan's are (1, S, 1, d) → seq_dim 1.
    """
    cos, sin = (
        torch.cat([torch.zeros_like(t.narrow(seq_dim, 0, 1)), t], dim=seq_dim) for t in rotary
    )
    return cos, sin


def cogvideox_rotary_emb(
    config: Any,
    latent_frames: int,
    latent_height: int,
    latent_width: int,
    device: torch.device | str = "cpu",
) -> Rotary:
    """The (cos, sin) 3-D RoPE tables a CogVideoX pipeline passes as `image_rotary_emb` (latent sizes in)."""
    from diffusers.models.embeddings import get_3d_rotary_pos_embed
    from diffusers.pipelines.cogvideo.pipeline_cogvideox import get_resize_crop_region_for_grid

    p, p_t = config.patch_size, config.patch_size_t
    grid = (latent_height // p, latent_width // p)
    base_w, base_h = config.sample_width // p, config.sample_height // p
    if p_t is None:  # CogVideoX 1.0
        crops = get_resize_crop_region_for_grid(grid, base_w, base_h)
        return get_3d_rotary_pos_embed(
            embed_dim=config.attention_head_dim, crops_coords=crops, grid_size=grid,
            temporal_size=latent_frames, device=device,
        )  # fmt: skip
    return get_3d_rotary_pos_embed(  # CogVideoX 1.5
        embed_dim=config.attention_head_dim, crops_coords=None, grid_size=grid,
        temporal_size=(latent_frames + p_t - 1) // p_t, grid_type="slice", max_size=(base_h, base_w),
        device=device,
    )  # fmt: skip


def _conditions(
    batch: int,
    categories: torch.Tensor | None,
    quantities: torch.Tensor | None,
    gates: torch.Tensor | None,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Default missing conditions to zeros (the CFG "unconditional" physics) and gates to deterministic."""
    if categories is None:
        categories = torch.zeros(batch, NUM_CATEGORIES, device=device)
    if quantities is None:
        quantities = torch.zeros(batch, NUM_QUANTITIES, device=device)
    if categories.shape != (batch, NUM_CATEGORIES):
        raise ValueError(
            f"categories must be ({batch}, {NUM_CATEGORIES}), got {tuple(categories.shape)}"
        )
    if quantities.shape != (batch, NUM_QUANTITIES):
        raise ValueError(
            f"quantities must be ({batch}, {NUM_QUANTITIES}), got {tuple(quantities.shape)}"
        )
    if gates is None:
        gates = expert_gates(categories.to(device), mode="deterministic")
    return quantities.to(device), gates.to(device)


class _WisaParts(nn.Module):
    """What both wrappers share: the base handle, the physics token, the classifier and small accessors."""

    base: nn.Module
    _phys_blocks_attr: str

    def _init_parts(self, base: nn.Module, dim: int) -> None:
        self.base = base
        self.config = base.config
        self.phys_token = nn.Parameter(torch.randn(dim))
        self.phys_classifier = PhysicalClassifier(dim)

    def _match_base(self) -> None:
        ref = self.base.proj_out.weight
        for name, child in self.named_children():
            if name != "base":
                child.to(device=ref.device, dtype=ref.dtype)
        self.phys_token.data = self.phys_token.data.to(device=ref.device, dtype=ref.dtype)

    @property
    def physical_block(self) -> PhysicalBlock:
        """The single MoPA block (after the last base block)."""
        return getattr(self, self._phys_blocks_attr)[str(self.config.num_layers - 1)]

    @property
    def dtype(self) -> torch.dtype:
        return self.base.proj_out.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.base.proj_out.weight.device

    def physical_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters WISA adds (token, quantity embedding, physical block, classifier), not the base's."""
        return (p for n, p in self.named_parameters() if not n.startswith("base."))

    def _with_token(self, x: torch.Tensor) -> torch.Tensor:
        token = self.phys_token.to(x.dtype).expand(x.shape[0], 1, -1)
        return torch.cat([token, x], dim=1)

    def _split_token(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x[:, 1:], self.phys_classifier(x[:, 0])


class WisaCogVideoXTransformer(_WisaParts):
    """CogVideoX transformer with WISA's physical module (qk LayerNorm per head, AdaLN from temb + quantities)."""

    _phys_blocks_attr = "phys_transformer_blocks"

    def __init__(self, base: CogVideoXTransformer3DModel) -> None:
        super().__init__()
        cfg = base.config
        dim = cfg.num_attention_heads * cfg.attention_head_dim
        self._init_parts(base, dim)
        self.phys_quantify_embedder = QuantityEmbedding(
            dim, variant="cogvideox", time_embed_dim=cfg.time_embed_dim
        )
        block = PhysicalBlock(
            dim, cfg.attention_head_dim, qk_norm="layer_norm", eps=1e-6,
            norm_affine=cfg.norm_elementwise_affine, norm_eps=cfg.norm_eps,
        )  # fmt: skip
        self.phys_transformer_blocks = nn.ModuleDict({str(cfg.num_layers - 1): block})
        self._match_base()

    def forward(
        self,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        timestep: torch.Tensor | int | float,
        *,
        categories: torch.Tensor | None = None,
        quantities: torch.Tensor | None = None,
        gates: torch.Tensor | None = None,
        image_rotary_emb: Rotary | None = None,
        physics_token: bool = True,
        return_logits: bool = False,
        timestep_cond: torch.Tensor | None = None,
        ofs: torch.Tensor | int | float | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Latents (B, F, C, H, W) -> prediction of the same shape [, (B, 29) category logits]."""
        if return_logits and not physics_token:
            raise ValueError(
                "return_logits needs physics_token=True (the classifier reads the token)"
            )
        base = self.base
        batch, num_frames, _, height, width = hidden_states.shape
        quantities, gates = _conditions(batch, categories, quantities, gates, hidden_states.device)

        # 1. Time embedding (+ ofs for CogVideoX 1.5 I2V), then the physical AdaLN from it.
        emb = base.time_embedding(base.time_proj(timestep).to(hidden_states.dtype), timestep_cond)
        if base.ofs_embedding is not None:
            emb = emb + base.ofs_embedding(base.ofs_proj(ofs).to(hidden_states.dtype))
        mod = self.phys_quantify_embedder(quantities, emb)

        # 2. Patch embedding of text and video together, then split the streams.
        x = base.embedding_dropout(base.patch_embed(encoder_hidden_states, hidden_states))
        text_len = encoder_hidden_states.shape[1]
        enc, x = x[:, :text_len], x[:, text_len:]
        rotary = image_rotary_emb
        if physics_token:
            x = self._with_token(x)
            rotary = prepend_zero_rotary(rotary, seq_dim=0) if rotary is not None else None

        # 3. Base blocks (text and video concatenated inside each block's own processor), physical block.
        for block in base.transformer_blocks:
            if torch.is_grad_enabled() and base.gradient_checkpointing:
                x, enc = base._gradient_checkpointing_func(block, x, enc, emb, rotary, None)
            else:
                x, enc = block(
                    hidden_states=x, encoder_hidden_states=enc, temb=emb, image_rotary_emb=rotary
                )
        x = self.physical_block(x, mod, gates, rotary)
        logits = None
        if physics_token:
            x, logits = self._split_token(x)

        # 4. Output norm and projection, 5. unpatchify — as the base does.
        x = base.proj_out(base.norm_out(base.norm_final(x), temb=emb))
        p, p_t = self.config.patch_size, self.config.patch_size_t
        if p_t is None:
            out = x.reshape(batch, num_frames, height // p, width // p, -1, p, p)
            out = out.permute(0, 1, 4, 2, 5, 3, 6).flatten(5, 6).flatten(3, 4)
        else:
            out = x.reshape(
                batch, (num_frames + p_t - 1) // p_t, height // p, width // p, -1, p_t, p, p
            )
            out = out.permute(0, 1, 5, 4, 2, 6, 3, 7).flatten(6, 7).flatten(4, 5).flatten(1, 2)
        return (out, logits) if return_logits else out


class WisaWanTransformer(_WisaParts):
    """Wan transformer with WISA's physical module (qk RMSNorm across heads, AdaLN on Wan's 6-way projection)."""

    _phys_blocks_attr = "phys_blocks"

    def __init__(self, base: WanTransformer3DModel) -> None:
        super().__init__()
        cfg = base.config
        dim = cfg.num_attention_heads * cfg.attention_head_dim
        self._init_parts(base, dim)
        # The released Wan module embeds the quantities with twice Wan's time frequency width.
        self.phys_quantify_embedder = QuantityEmbedding(
            dim, variant="wan", freq_dim=2 * cfg.freq_dim
        )
        block = PhysicalBlock(
            dim, cfg.attention_head_dim, qk_norm="rms_norm_across_heads", eps=cfg.eps
        )
        self.phys_blocks = nn.ModuleDict({str(cfg.num_layers - 1): block})
        self._match_base()

    def forward(
        self,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        timestep: torch.Tensor,
        *,
        categories: torch.Tensor | None = None,
        quantities: torch.Tensor | None = None,
        gates: torch.Tensor | None = None,
        physics_token: bool = True,
        return_logits: bool = False,
        encoder_hidden_states_image: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Latents (B, C, F, H, W) -> prediction of the same shape [, (B, 29) category logits]."""
        if return_logits and not physics_token:
            raise ValueError(
                "return_logits needs physics_token=True (the classifier reads the token)"
            )
        if timestep.ndim != 1:
            raise ValueError(
                "WISA-Wan takes one timestep per sample (B,); per-token timesteps are not supported"
            )
        base = self.base
        batch, _, num_frames, height, width = hidden_states.shape
        p_t, p_h, p_w = self.config.patch_size
        quantities, gates = _conditions(batch, categories, quantities, gates, hidden_states.device)

        # 1. RoPE tables and patch embedding.
        rotary = base.rope(hidden_states)
        x = base.patch_embedding(hidden_states).flatten(2).transpose(1, 2).contiguous()

        # 2. Time/text (/image) conditions; the physical AdaLN = Wan's self-attention chunks 0..2 + quantities.
        temb, tproj, enc, enc_img = base.condition_embedder(
            timestep, encoder_hidden_states, encoder_hidden_states_image
        )
        tproj = tproj.unflatten(1, (6, -1))
        if enc_img is not None:
            enc = torch.concat([enc_img, enc], dim=1)
        mod = tproj[:, :3].float() + self.phys_quantify_embedder(quantities).float()
        if physics_token:
            x = self._with_token(x)
            rotary = prepend_zero_rotary(rotary, seq_dim=1)

        # 3. Base blocks, physical block, classifier.
        for block in base.blocks:
            if torch.is_grad_enabled() and base.gradient_checkpointing:
                x = base._gradient_checkpointing_func(block, x, enc, tproj, rotary)
            else:
                x = block(x, enc, tproj, rotary)
        x = self.physical_block(x, mod, gates, rotary)
        logits = None
        if physics_token:
            x, logits = self._split_token(x)

        # 4. Output norm, projection and unpatchify — as the base does.
        shift, scale = (base.scale_shift_table.to(temb.device) + temb.unsqueeze(1)).chunk(2, dim=1)
        x = (base.norm_out(x.float()) * (1 + scale) + shift).type_as(x)
        x = base.proj_out(x)
        x = x.reshape(batch, num_frames // p_t, height // p_h, width // p_w, p_t, p_h, p_w, -1)
        out = x.permute(0, 7, 1, 4, 2, 5, 3, 6).flatten(6, 7).flatten(4, 5).flatten(2, 3)
        return (out, logits) if return_logits else out


def tiny_cogvideox(seed: int = 0) -> WisaCogVideoXTransformer:
    """A tiny random WISA-CogVideoX (dim 32, 2 layers, 4 latent channels) for tests and debug runs."""
    from diffusers import CogVideoXTransformer3DModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return WisaCogVideoXTransformer(CogVideoXTransformer3DModel(**TINY_COGVIDEOX_CONFIG)).eval()


def tiny_wan(seed: int = 0) -> WisaWanTransformer:
    """A tiny random WISA-Wan (dim 32, 2 layers, 4 latent channels) for tests and debug runs."""
    from diffusers import WanTransformer3DModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return WisaWanTransformer(WanTransformer3DModel(**TINY_WAN_CONFIG)).eval()
