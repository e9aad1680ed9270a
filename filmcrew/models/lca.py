"""The LCA (Learned Clip Assembly) model of SKALD: a transformer that scores how coherent a clip sequence is.

A clip's feature vector is laid out [head | tail | rest]: the first `junction_dim` values describe its
first moments, the next `junction_dim` its last moments (the same quantities in the same order), the
rest the whole clip. Each clip enters as one token that carries the cut into it explicitly: the clip's
own (standardised) features, the previous clip's tail, the signed and absolute difference between that
tail and this clip's head, and the clip's mean distance to the rest of the sequence. A cut that jumps in
colour, light, screen position or motion direction therefore shows up in the token of the clip after
it, and the attention layers need not discover which values face each other across the cut. A learned
[CLS] token reads the sequence; two heads read [CLS] (METHODS.md §3.3): a projection for the
shot-coherence contrastive task and an MLP giving the LCA score. The beam search only ever compares
sequences of one length, so the score is used as it is (no per-length standardisation). Checkpoints are
safetensors: weights, buffers and the config as metadata, with the token layout's version.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class LCAConfig:
    """Shape of an LCA model; the defaults are METHODS.md §3.3's full size."""

    feature_dim: int = 138  # per-clip feature vector (138 = the continuity features, flattened)
    d_model: int = 512  # transformer width
    n_layers: int = 4  # transformer encoder layers
    n_heads: int = 8  # attention heads
    max_len: int = 16  # longest sequence scored (n_max); positions beyond it are refused
    proj_dim: int = 128  # contrastive embedding size
    dropout: float = 0.1  # only active while training
    junction_dim: int = 37  # values of the head (and of the tail) block; 0 = the whole vector is both


#: Version of the clip-token layout; a checkpoint with another one is refused (retrain it).
TOKENS_VERSION = "junction-2"

#: Tiny configuration for tests and `--debug-models` (METHODS.md §7.2).
TINY_LCA_CONFIG = LCAConfig(d_model=32, n_layers=2, n_heads=2, proj_dim=16, dropout=0.0)


class LCAModel(nn.Module):
    """Transformer over clip tokens with a contrastive head and a coherence-score head."""

    def __init__(self, config: LCAConfig) -> None:
        super().__init__()
        if config.d_model % config.n_heads:
            raise ValueError(f"d_model {config.d_model} is not divisible by n_heads {config.n_heads}")
        self.config = config
        c = config
        if not 0 <= 2 * c.junction_dim <= c.feature_dim:
            raise ValueError(f"junction_dim {c.junction_dim}: head and tail blocks must fit in "
                             f"feature_dim {c.feature_dim}")
        self.embed = nn.Sequential(nn.Linear(self.token_dim, c.d_model), nn.GELU(),
                                   nn.Linear(c.d_model, c.d_model))
        self.cls = nn.Parameter(torch.zeros(1, 1, c.d_model))
        self.pos = nn.Parameter(torch.randn(1, c.max_len, c.d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(c.d_model, c.n_heads, 4 * c.d_model, c.dropout,
                                           batch_first=True, norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, c.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(c.d_model)
        self.proj = nn.Linear(c.d_model, c.proj_dim)
        self.head = nn.Sequential(nn.Linear(c.d_model, c.d_model), nn.GELU(), nn.Linear(c.d_model, 1))
        # Feature standardisation (from the training set).
        self.register_buffer("feat_mean", torch.zeros(c.feature_dim))
        self.register_buffer("feat_std", torch.ones(c.feature_dim))

    @property
    def token_dim(self) -> int:
        """Width of a clip token: own features, previous tail, signed and absolute cut, spread, a flag."""
        f, j = self.config.feature_dim, self.config.junction_dim or self.config.feature_dim
        return 2 * f + 3 * j + 1

    def head_tail(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The head and tail blocks of (standardised) clip vectors."""
        j = self.config.junction_dim
        return (x, x) if j == 0 else (x[..., :j], x[..., j : 2 * j])

    def tokens(self, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Clip tokens [x_i, tail_{i−1}, tail_{i−1} − head_i, |tail_{i−1} − head_i|, mean_j |x_i − x_j|, cut_i].

        The junction into clip i is the previous clip's tail against this clip's head (the frames
        that meet at the cut); the first clip has no cut (zeros, flag cut_i = 0).
        """
        x = (feats - self.feat_mean) / self.feat_std
        m = mask[..., None]
        x = x * m
        head, tail = self.head_tail(x)
        cut = torch.zeros_like(m)
        cut[:, 1:] = m[:, 1:] * m[:, :-1]
        prev_tail = torch.cat([torch.zeros_like(tail[:, :1]), tail[:, :-1]], dim=1) * cut
        diff = (prev_tail - head) * cut
        pair = (x[:, :, None] - x[:, None]).abs() * mask[:, None, :, None]  # (B, m, m, F)
        spread = pair.sum(2) / (mask.sum(1)[:, None, None] - 1).clamp_min(1) * m
        return torch.cat([x, prev_tail, diff, diff.abs(), spread, cut], dim=-1)

    def encode(self, feats: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """[CLS] representation of (B, m, feature_dim) sequences; mask (B, m) is True on real clips."""
        if feats.ndim != 3 or feats.shape[-1] != self.config.feature_dim:
            raise ValueError(f"features must be (B, m, {self.config.feature_dim}), got {tuple(feats.shape)}")
        b, m, _ = feats.shape
        if not 1 <= m <= self.config.max_len:
            raise ValueError(f"sequence length {m}; the model takes 1..{self.config.max_len} clips")
        if mask is None:
            mask = torch.ones(b, m, dtype=torch.bool, device=feats.device)
        h = self.embed(self.tokens(feats, mask.to(feats.dtype))) + self.pos[:, :m]
        h = torch.cat([self.cls.expand(b, -1, -1), h], dim=1)
        pad = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=feats.device), ~mask], dim=1)
        return self.norm(self.encoder(h, src_key_padding_mask=pad)[:, 0])

    def forward(
        self, feats: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(z, s): unit contrastive embeddings (B, proj_dim) and coherence scores (B,)."""
        h = self.encode(feats, mask)
        return F.normalize(self.proj(h), dim=-1), self.head(h).squeeze(-1)

    def score(self, feats: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """LCA scores (B,) of a batch of sequences (higher = more coherent)."""
        return self(feats, mask)[1]


def save_lca(model: LCAModel, path: str | Path, meta: dict[str, str] | None = None) -> Path:
    """Write weights and buffers to a safetensors file; the config and `meta` go in its metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    header = {"format": "filmcrew-lca", "tokens": TOKENS_VERSION, "config": json.dumps(asdict(model.config)),
              **(meta or {})}
    save_file(tensors, str(path), metadata=header)
    return path


def load_lca(path: str | Path, device: str = "cpu") -> tuple[LCAModel, dict[str, str]]:
    """Read a checkpoint written by save_lca; returns the model (eval mode) and its metadata."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LCA checkpoint {path} does not exist")
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
    if meta.get("format") != "filmcrew-lca":
        raise ValueError(f"{path} is not an LCA checkpoint (metadata format={meta.get('format')!r})")
    if meta.get("tokens") != TOKENS_VERSION:
        raise ValueError(f"{path} was trained by an older filmcrew (clip tokens {meta.get('tokens')!r}, "
                         f"not {TOKENS_VERSION!r}); retrain it with `filmcrew train-lca`")
    model = LCAModel(LCAConfig(**json.loads(meta["config"])))
    model.load_state_dict(load_file(str(path)), strict=True)
    return model.to(device).eval(), meta
