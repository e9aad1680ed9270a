"""Text–video fidelity and temporal consistency with CLIP: how well a shot's frames match its prompt,
and how alike consecutive frames look to an image encoder.

`load_clip(spec)` returns a `ClipEmbedder` or None: a tiny random-init CLIP built in code
(`debug=True`, for tests and `--debug-models`; its scores are real arithmetic on meaningless
features), a local transformers folder, or a hub id already in the HF cache (never downloaded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: CLIP's image normalisation (the constants of the published processors).
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
DEBUG_SPEC = "debug"


class ClipModelError(FileNotFoundError):
    """A CLIP model was asked for and cannot be loaded here; the message names what to fetch."""


@runtime_checkable
class ClipScorerLike(Protocol):
    """What the evaluation needs of a CLIP model: unit-norm embeddings of frames and of texts."""

    name: str

    def embed_images(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB -> (N, D) float, each row of norm 1."""
        ...

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """N strings -> (N, D) float, each row of norm 1."""
        ...


class ByteTokenizer:
    """A tokenizer that needs no files: UTF-8 bytes + 3 (0 pad, 1 start, 2 end), cut to `max_len`.

    Only for the tiny debug model, whose random text tower has no learned vocabulary anyway.
    """

    vocab_size = 259

    def __init__(self, max_len: int = 32):
        self.max_len = max_len

    def __call__(self, texts: list[str]) -> dict[str, Any]:
        import torch

        ids = np.zeros((len(texts), self.max_len), np.int64)
        mask = np.zeros_like(ids)
        for i, t in enumerate(texts):
            body = [b + 3 for b in t.encode("utf-8")][: self.max_len - 2]
            row = [1, *body, 2]
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}


class ClipEmbedder:
    """A transformers CLIPModel with its tokenizer, embedding frames and prompts on the CPU/GPU."""

    def __init__(self, model: Any, tokenizer: Any, name: str, device: str = "cpu"):
        self.model = model.eval().to(device)
        self.tokenizer = tokenizer
        self.name = name
        self.device = device
        self.image_size = int(model.config.vision_config.image_size)

    def embed_images(self, frames: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(np.ascontiguousarray(frames)).float().div_(255).permute(0, 3, 1, 2)
        # Resize the short side then centre-crop, as CLIP's processor does.
        h, w = x.shape[-2:]
        s = self.image_size / min(h, w)
        x = F.interpolate(x, size=(max(self.image_size, round(h * s)), max(self.image_size, round(w * s))),
                          mode="bicubic", align_corners=False, antialias=True)
        top = (x.shape[-2] - self.image_size) // 2
        left = (x.shape[-1] - self.image_size) // 2
        x = x[..., top:top + self.image_size, left:left + self.image_size]
        x = (x - torch.from_numpy(CLIP_MEAN)[:, None, None]) / torch.from_numpy(CLIP_STD)[:, None, None]
        with torch.no_grad():
            out = self.model.get_image_features(pixel_values=x.to(self.device))
        return _unit(_tensor(out))

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        import torch

        if isinstance(self.tokenizer, ByteTokenizer):
            enc = self.tokenizer(texts)
        else:
            enc = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            out = self.model.get_text_features(input_ids=enc["input_ids"].to(self.device),
                                               attention_mask=enc["attention_mask"].to(self.device))
        return _unit(_tensor(out))


def _tensor(out: Any) -> np.ndarray:
    """Feature tensor from get_*_features (a tensor, or an output object in newer transformers)."""
    t = out if hasattr(out, "detach") else getattr(out, "pooler_output", out[0])
    return t.detach().float().cpu().numpy()


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def tiny_clip(seed: int = 0) -> ClipEmbedder:
    """A random-init CLIP of a few thousand parameters with a byte tokenizer; no files, no hub."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    tok = ByteTokenizer(max_len=32)
    config = CLIPConfig(
        text_config={"vocab_size": tok.vocab_size, "hidden_size": 32, "intermediate_size": 64,
                     "num_hidden_layers": 2, "num_attention_heads": 2,
                     "max_position_embeddings": tok.max_len, "bos_token_id": 1, "eos_token_id": 2,
                     "pad_token_id": 0},
        vision_config={"image_size": 32, "patch_size": 8, "hidden_size": 32,
                       "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2},
        projection_dim=16,
    )
    torch.manual_seed(seed)
    return ClipEmbedder(CLIPModel(config), tok, name="clip-debug")


def load_clip(spec: str | None, *, debug: bool = False, device: str = "cpu") -> ClipEmbedder | None:
    """The CLIP model for fidelity scores, or None when none is configured (the metric is skipped).

    `debug=True` (or spec "debug") builds the tiny random model. Otherwise `spec` is a local folder or
    a hub id that must already be in the HF cache (`local_files_only=True`); a missing one raises
    `ClipModelError` naming the model to fetch, rather than silently skipping what was asked for.
    """
    if debug or spec == DEBUG_SPEC:
        return tiny_clip()
    if not spec:
        return None
    from transformers import AutoTokenizer, CLIPModel

    local = Path(spec).expanduser()
    source = str(local) if local.is_dir() else spec
    try:
        model = CLIPModel.from_pretrained(source, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as e:
        raise ClipModelError(
            f"CLIP model {spec!r} is not a local folder nor in the HF cache; fetch it first "
            f"(huggingface-cli download {spec}) or unset FILMCREW_CLIP_MODEL ({type(e).__name__})"
        ) from None
    return ClipEmbedder(model, tokenizer, name=spec, device=device)


def sample_indices(n: int, k: int) -> np.ndarray:
    """Up to `k` frame indices spread evenly over `n` frames (centres of equal parts)."""
    if n <= 0:
        return np.zeros(0, int)
    k = min(k, n)
    return np.unique(((np.arange(k) + 0.5) * n / k).astype(int))


def clip_score(clip: ClipScorerLike, frames: np.ndarray, prompt: str, *, max_frames: int = 8) -> float:
    """CLIP score of a shot: 100 × mean cosine similarity of its (sampled) frames to its prompt."""
    if len(frames) == 0:
        raise ValueError("clip_score: no frames")
    img = clip.embed_images(frames[sample_indices(len(frames), max_frames)])
    txt = clip.embed_texts([prompt])
    return float(100.0 * np.mean(img @ txt[0]))


def clip_temporal_consistency(clip: ClipScorerLike, frames: np.ndarray, *, max_frames: int = 16) -> float:
    """Mean cosine similarity of CLIP embeddings of consecutive (sampled) frames; 1 = no change."""
    if len(frames) < 2:
        raise ValueError("temporal consistency needs >= 2 frames")
    emb = clip.embed_images(frames[sample_indices(len(frames), max_frames)])
    if len(emb) < 2:
        return 1.0
    return float(np.mean(np.sum(emb[1:] * emb[:-1], axis=1)))
