"""The LCA (Learned Clip Assembly) model of SKALD: a transformer that scores how coherent a clip sequence is.

Each clip enters as one token: its feature vector (standardised with statistics stored in the model)
next to the size of its jump from the previous clip, so a cut that jumps shows up in the token itself and
the attention layers need not discover subtraction from a few thousand sequences. A learned [CLS]
token reads the sequence; two heads read [CLS] (METHODS.md §3.3): a projection for the shot-coherence
contrastive task and an MLP giving the raw LCA score. The raw score is standardised per sequence
length with mean/std measured after training (length decorrelation), so partial beams of different
lengths compare on one scale. Checkpoints are safetensors: weights, buffers and the config as metadata.
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
        self.embed = nn.Sequential(nn.Linear(2 * c.feature_dim, c.d_model), nn.GELU(),
                                   nn.Linear(c.d_model, c.d_model))
        self.cls = nn.Parameter(torch.zeros(1, 1, c.d_model))
        self.pos = nn.Parameter(torch.randn(1, c.max_len, c.d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(c.d_model, c.n_heads, 4 * c.d_model, c.dropout,
                                           batch_first=True, norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, c.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(c.d_model)
        self.proj = nn.Linear(c.d_model, c.proj_dim)
        self.head = nn.Sequential(nn.Linear(c.d_model, c.d_model), nn.GELU(), nn.Linear(c.d_model, 1))
        # Feature standardisation (from the training set) and the per-length score statistics.
        self.register_buffer("feat_mean", torch.zeros(c.feature_dim))
        self.register_buffer("feat_std", torch.ones(c.feature_dim))
        self.register_buffer("length_mean", torch.zeros(c.max_len + 1))
        self.register_buffer("length_std", torch.ones(c.max_len + 1))

    def tokens(self, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Clip tokens [|x_i − x_{i−1}|, mean_j |x_i − x_j|]: the jump at the cut and the distance to the rest.

        Relative features only: the model judges how clips fit together, never which clips they are, so
        what it learns on a few dozen films carries to films it has not seen.
        """
        x = (feats - self.feat_mean) / self.feat_std
        m = mask[..., None]
        x = x * m
        prev = torch.cat([x[:, :1], x[:, :-1]], dim=1)
        jump = (x - prev).abs() * m
        pair = (x[:, :, None] - x[:, None]).abs() * mask[:, None, :, None]  # (B, m, m, F)
        spread = pair.sum(2) / (mask.sum(1)[:, None, None] - 1).clamp_min(1) * m
        return torch.cat([jump, spread], dim=-1)

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
        """(z, s): unit contrastive embeddings (B, proj_dim) and raw coherence scores (B,)."""
        h = self.encode(feats, mask)
        return F.normalize(self.proj(h), dim=-1), self.head(h).squeeze(-1)

    def standardise(self, raw: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Raw scores as z-scores of their sequence length (length decorrelation)."""
        idx = lengths.clamp(1, self.config.max_len)
        return (raw - self.length_mean[idx]) / self.length_std[idx]

    def score(self, feats: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Length-standardised LCA scores (B,) of a batch of sequences."""
        _, raw = self(feats, mask)
        lengths = (mask.sum(1) if mask is not None
                   else torch.full_like(raw, feats.shape[1], dtype=torch.long))
        return self.standardise(raw, lengths.long())


def save_lca(model: LCAModel, path: str | Path, meta: dict[str, str] | None = None) -> Path:
    """Write weights and buffers to a safetensors file; the config and `meta` go in its metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    header = {"format": "filmcrew-lca", "config": json.dumps(asdict(model.config)), **(meta or {})}
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
    model = LCAModel(LCAConfig(**json.loads(meta["config"])))
    model.load_state_dict(load_file(str(path)), strict=True)
    return model.to(device).eval(), meta
