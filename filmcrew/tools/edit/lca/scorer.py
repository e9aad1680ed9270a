"""SKALD's learned scorer at inference: clip feature vectors, the LCA scorer, and cut detection.

A clip becomes one vector: the continuity features flattened (no weights needed), or the pooled
embedding of a frozen CLIP/SigLIP image encoder when its weights are on disk (METHODS.md §3.3).
`LCAScorer.score_batch` is the ClipScorer the shot editor's beam search calls once per step with all
B·k extensions; it runs them through the LCA model in one forward. SKALD-text adds λ times the mean
similarity of each clip to its shot's prompt when the caller supplies one. Cut detection splits
edited videos into shots for `filmcrew train-lca`: a cut is where the colour histogram of the
picture jumps between two frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from filmcrew.tools.edit.skald import ClipFeatures

if TYPE_CHECKING:
    from filmcrew.models.lca import LCAModel

#: The continuity features in a clip vector: the head block, the tail block (same quantities), the rest.
_HEAD = (("head_color", 3), ("head_luma", 16), ("head_motion", 2), ("head_layout", 16))
_TAIL = tuple((name.replace("head_", "tail_"), n) for name, n in _HEAD)
_REST = (("color_hist", 64),)
#: Values of the head block (= of the tail block): the model's junction_dim for continuity features.
CONTINUITY_JUNCTION = sum(n for _, n in _HEAD)
#: Length of `feature_vector` (the model's feature_dim for continuity features).
CONTINUITY_DIM = 2 * CONTINUITY_JUNCTION + sum(n for _, n in _REST)
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")

# --------------------------------------------------------------------------------------------------
# Clip vectors


def feature_vector(features: ClipFeatures) -> np.ndarray:
    """The continuity features of a clip as one float32 vector [head | tail | colour histogram]."""
    parts = [getattr(features, name) for name, _ in (*_HEAD, *_TAIL, *_REST)]
    v = np.concatenate([np.asarray(p, np.float32) for p in parts])
    if v.shape != (CONTINUITY_DIM,):
        raise ValueError(f"continuity features flatten to {v.shape}, expected ({CONTINUITY_DIM},)")
    return v


def features_from_vector(v: np.ndarray, fps: float = 8.0, n_frames: int = 10) -> ClipFeatures:
    """The ClipFeatures a feature_vector was flattened from (the continuity scorer's input)."""
    v = np.asarray(v, np.float64)
    if v.shape != (CONTINUITY_DIM,):
        raise ValueError(f"vector of shape {v.shape}; continuity vectors have ({CONTINUITY_DIM},)")
    parts, i = {}, 0
    for name, n in (*_HEAD, *_TAIL, *_REST):
        parts[name] = v[i : i + n].tolist()
        i += n
    return ClipFeatures(n_frames=n_frames, fps=fps, **parts)


class ImageEncoder:
    """A frozen CLIP/SigLIP model (transformers) turning clips and prompts into unit vectors.

    A clip's vector is [head | tail | whole]: means of its first, last and all sampled frames' image
    embeddings, each L2-normalised: the look at each cut and of the whole clip.
    """

    def __init__(self, model: Any, tokenizer: Any = None, *, image_size: int = 224,
                 mean: Sequence[float] = (0.481, 0.458, 0.408),
                 std: Sequence[float] = (0.269, 0.261, 0.276), device: str = "cpu",
                 name: str = "custom") -> None:
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.image_size = image_size
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.device = device
        self.name = name

    @classmethod
    def from_pretrained(cls, name_or_path: str, device: str = "cpu") -> ImageEncoder:
        """Load a CLIP or SigLIP model from a local folder or the HF cache (never downloads)."""
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        try:
            model = AutoModel.from_pretrained(name_or_path, local_files_only=True)
            proc = AutoImageProcessor.from_pretrained(name_or_path, local_files_only=True)
        except OSError as e:
            raise FileNotFoundError(f"image encoder {name_or_path!r} is not available locally") from e
        try:
            tok = AutoTokenizer.from_pretrained(name_or_path, local_files_only=True)
        except (OSError, ValueError):
            tok = None  # image-only: SKALD without text
        size = proc.size.get("shortest_edge") or proc.size.get("height") or 224
        return cls(model, tok, image_size=int(size), mean=proc.image_mean, std=proc.image_std,
                   device=device, name=name_or_path)

    @classmethod
    def tiny(cls, seed: int = 0) -> ImageEncoder:
        """A tiny random CLIP (tests, --debug-models): the real code path, meaningless vectors."""
        import torch
        from transformers import CLIPConfig, CLIPModel

        torch.manual_seed(seed)
        cfg = CLIPConfig(
            text_config=dict(vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                             num_attention_heads=2, max_position_embeddings=64),
            vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                               num_attention_heads=2, image_size=32, patch_size=8),
            projection_dim=16,
        )
        return cls(CLIPModel(cfg), None, image_size=32, name="tiny-clip")

    def clip_vector(self, frames: np.ndarray, n_frames: int = 8) -> np.ndarray:
        """[head | tail | whole] unit embeddings (3·D values) of a (T, H, W, 3) uint8 clip.

        n_frames are sampled uniformly; head is the mean of the first quarter of them, tail of the
        last quarter, whole of all (each frame L2-normalised, each mean normalised again): the LCA's
        junction blocks (junction_dim = D) and the look of the whole clip.
        """
        import cv2
        import torch

        if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
            raise ValueError(f"frames must be (T, H, W, 3) with T >= 1, got {frames.shape}")
        idx = np.unique(np.linspace(0, len(frames) - 1, min(n_frames, len(frames))).round().astype(int))
        s = self.image_size
        pics = np.stack([cv2.resize(frames[i], (s, s), interpolation=cv2.INTER_AREA) for i in idx])
        x = (pics.astype(np.float32) / 255.0 - self.mean) / self.std
        pixels = torch.from_numpy(x).permute(0, 3, 1, 2).to(self.device)
        with torch.no_grad():
            emb = self.model.get_image_features(pixel_values=pixels)
        emb = getattr(emb, "pooler_output", emb)
        emb = torch.nn.functional.normalize(emb.float(), dim=-1)
        q = max(1, len(idx) // 4)
        parts = [emb[:q].mean(0), emb[-q:].mean(0), emb.mean(0)]
        return torch.cat([torch.nn.functional.normalize(p, dim=0) for p in parts]).cpu().numpy()

    @staticmethod
    def whole(vector: np.ndarray) -> np.ndarray:
        """The whole-clip block of a clip_vector (what SKALD-text compares with the prompt)."""
        d = len(vector) // 3
        return np.asarray(vector)[2 * d :]

    def text_vectors(self, prompts: Sequence[str]) -> np.ndarray:
        """Unit text embeddings (len(prompts), D) for SKALD-text."""
        import torch

        if self.tokenizer is not None:
            batch = self.tokenizer(list(prompts), padding=True, truncation=True, return_tensors="pt")
            ids = batch["input_ids"]
        else:  # tiny model: bytes as token ids, enough to exercise the path
            rows = [list(p.encode()[:60]) or [0] for p in prompts]
            width = max(len(r) for r in rows)
            ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
        with torch.no_grad():
            emb = self.model.get_text_features(input_ids=ids.to(self.device))
        emb = getattr(emb, "pooler_output", emb)
        return torch.nn.functional.normalize(emb.float(), dim=-1).cpu().numpy()


# --------------------------------------------------------------------------------------------------
# Scorer


class LCAScorer:
    """LCA score of clip sequences (the ClipScorer protocol), batched.

    Items are ClipFeatures or ready feature vectors. With `relevance(position, item) -> cos` and
    text_weight λ > 0 this is SKALD-text: score + λ · mean_i relevance(i, item_i).

    keep_first: a single clip has no cut for the LCA to judge (training never scores one), so the
    beam search keeps every candidate of the first shot and ranks them at the first junction (no
    candidate is unreachable).
    """

    name = "lca"
    keep_first = True

    def __init__(self, model: LCAModel, *, device: str = "cpu", features: str = "continuity",
                 relevance: Callable[[int, Any], float] | None = None, text_weight: float = 0.0) -> None:
        if text_weight < 0:
            raise ValueError(f"text_weight {text_weight}; must be >= 0")
        self.model = model.to(device).eval()
        self.device = device
        self.features = features  # "continuity" or the image encoder's id
        self.relevance = relevance
        self.text_weight = text_weight

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu") -> LCAScorer:
        """Scorer from a safetensors checkpoint written by `filmcrew train-lca`."""
        from filmcrew.models.lca import load_lca

        model, meta = load_lca(path, device)
        scorer = cls(model, device=device, features=meta.get("features", "continuity"))
        scorer.default_text_weight = float(meta.get("text_weight", "0.0"))
        return scorer

    #: SKALD-text weight the checkpoint was trained for (its metadata); used when the run sets none.
    default_text_weight: float = 0.0
    #: The ImageEncoder that makes this scorer's clip vectors (None: continuity features); set by the editor.
    encoder: Any = None

    def with_text(self, relevance: Callable[[int, Any], float] | None, text_weight: float) -> LCAScorer:
        """A scorer on the same model with SKALD-text set (the loaded scorer itself stays plain)."""
        return LCAScorer(self.model, device=self.device, features=self.features, relevance=relevance,
                         text_weight=text_weight)

    @classmethod
    def debug(cls, seed: int = 0, feature_dim: int = CONTINUITY_DIM, junction_dim: int | None = None,
              ) -> LCAScorer:
        """A tiny random LCA (`--debug-models`): runs the whole learned path, scores are arbitrary."""
        import torch

        from filmcrew.models.lca import TINY_LCA_CONFIG, LCAConfig, LCAModel

        torch.manual_seed(seed)
        junction = junction_dim if junction_dim is not None else \
            (CONTINUITY_JUNCTION if feature_dim == CONTINUITY_DIM else 0)
        cfg = LCAConfig(**{**TINY_LCA_CONFIG.__dict__, "feature_dim": feature_dim, "junction_dim": junction})
        return cls(LCAModel(cfg))

    def vector(self, item: Any) -> np.ndarray:
        """The feature vector of one sequence item."""
        v = feature_vector(item) if isinstance(item, ClipFeatures) else np.asarray(item, np.float32)
        if v.shape != (self.model.config.feature_dim,):
            raise ValueError(f"clip vector of shape {v.shape}; the LCA model takes "
                             f"({self.model.config.feature_dim},)")
        return v

    def score_batch(self, sequences: Sequence[Sequence[Any]]) -> list[float]:
        """Scores of many sequences in one forward pass (shorter ones padded and masked)."""
        import torch

        if not sequences:
            return []
        if any(len(s) == 0 for s in sequences):
            raise ValueError("cannot score an empty sequence")
        m = max(len(s) for s in sequences)
        x = np.zeros((len(sequences), m, self.model.config.feature_dim), np.float32)
        mask = np.zeros((len(sequences), m), bool)
        for i, seq in enumerate(sequences):
            for j, item in enumerate(seq):
                x[i, j] = self.vector(item)
            mask[i, : len(seq)] = True
        with torch.no_grad():
            s = self.model.score(torch.from_numpy(x).to(self.device),
                                 torch.from_numpy(mask).to(self.device))
        scores = s.cpu().double().numpy()
        if self.relevance is not None and self.text_weight > 0:
            text = [np.mean([self.relevance(i, it) for i, it in enumerate(seq)]) for seq in sequences]
            scores = scores + self.text_weight * np.asarray(text)
        return [float(v) for v in scores]


# --------------------------------------------------------------------------------------------------
# Cut detection


def frame_histograms(frames: np.ndarray, bins: int = 4) -> np.ndarray:
    """(T, bins³) joint RGB histograms of (T, H, W, 3) uint8 frames, each summing to 1."""
    q = (frames.astype(np.int32) * bins) // 256
    codes = ((q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]).reshape(len(frames), -1)
    hist = np.stack([np.bincount(c, minlength=bins**3) for c in codes]).astype(np.float64)
    return hist / hist.sum(axis=1, keepdims=True)


def detect_cuts(frames: np.ndarray, *, threshold: float = 0.35, min_shot_frames: int = 3) -> list[int]:
    """Indices of the frames that start a new shot (never 0).

    The distance between consecutive frames is half the L1 difference of their colour histograms
    (0 = same colours, 1 = disjoint); a cut is a distance above `threshold`. Motion inside a shot
    moves pixels but barely changes the histogram; a cut replaces it. A cut closer than
    min_shot_frames to the previous one is a flash or a dissolve frame and is ignored.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3), got {frames.shape}")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold {threshold}; must be in (0, 1)")
    if len(frames) < 2:
        return []
    h = frame_histograms(frames)
    dist = 0.5 * np.abs(np.diff(h, axis=0)).sum(axis=1)
    cuts: list[int] = []
    for i in np.flatnonzero(dist > threshold) + 1:
        if i - (cuts[-1] if cuts else 0) >= min_shot_frames:
            cuts.append(int(i))
    return cuts


def _histogram(frame: np.ndarray) -> np.ndarray:
    """frame_histograms' 4³-bin joint RGB histogram of one (H, W, 3) uint8 frame, summing to 1."""
    q = (frame >> 6).astype(np.int16)  # 256 / 4 = 2^6
    h = np.bincount(((q[..., 0] * 4 + q[..., 1]) * 4 + q[..., 2]).ravel(), minlength=64).astype(np.float64)
    return h / h.sum()


def iter_shots(path: str | Path, *, width: int = 160, threshold: float = 0.35,
               min_shot_s: float = 0.3) -> Iterator[tuple[np.ndarray, float]]:
    """Stream a video's shots as ((T, H, W, 3) frames, fps): decoded at a small width, cut where
    detect_cuts would cut; only the current shot's frames are held, never the whole film."""
    from filmcrew.tools.media import iter_frames, probe

    if not 0 < threshold < 1:
        raise ValueError(f"threshold {threshold}; must be in (0, 1)")
    info = probe(path)
    if info.video_frames == 0 or not info.width:
        raise ValueError(f"{path}: no video frames")
    height = max(2, round(info.height * width / info.width / 2) * 2)
    min_frames = max(2, round(min_shot_s * info.fps))
    shot: list[np.ndarray] = []
    prev = None
    for frame in iter_frames(path, size=(width, height)):
        hist = _histogram(frame)
        if prev is not None and 0.5 * np.abs(hist - prev).sum() > threshold and len(shot) >= min_frames:
            yield np.stack(shot), float(info.fps)
            shot = []
        shot.append(frame)
        prev = hist
    if len(shot) >= min_frames:
        yield np.stack(shot), float(info.fps)


def split_shots(path: str | Path, *, width: int = 160, threshold: float = 0.35,
                min_shot_s: float = 0.3) -> tuple[list[np.ndarray], float]:
    """Decode a video at a small width and cut it into shots: (list of (T, H, W, 3) frames, fps)."""
    shots = list(iter_shots(path, width=width, threshold=threshold, min_shot_s=min_shot_s))
    return [f for f, _ in shots], (shots[0][1] if shots else 0.0)


def list_videos(folder: str | Path) -> list[Path]:
    """Video files under folder (recursively), sorted for a deterministic order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
