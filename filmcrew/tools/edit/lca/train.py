"""Training the LCA model: sequences from edited scenes, the two SKALD tasks, length statistics.

A scene is an edited run of clips (consecutive shots of one film); each clip has one or more
variants, vectors of near-duplicate takes (another seed, a slightly shifted trim) of the same shot.
Coherent sequences are consecutive runs of a scene; slightly perturbed runs (variants swapped in,
small feature noise) are extra positives. Negatives are the incoherent sequences an editor must not
pick: order shuffles, one clip replaced from another scene, and mixtures of two scenes (METHODS.md
§3.3). Task 1 is InfoNCE over sequence embeddings (anchor ↔ its perturbed positive, against all
negatives of the batch); task 2 regresses the score head onto a coherence label (the fraction of
junctions that are true consecutive cuts) with the encoder at a lower learning rate. Afterwards
the raw score's mean and std per sequence length are measured and stored in the model.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from filmcrew.models.lca import LCAConfig, LCAModel

#: A clip of a scene as (scene index, clip index, variant index).
Ref = tuple[int, int, int]
#: scenes[s][c][v]: feature vector of variant v of clip c of scene s.
Scenes = Sequence[Sequence[Sequence[np.ndarray]]]


@dataclass
class TrainConfig:
    """How to train an LCA model (CPU-sized defaults)."""

    steps: int = 2000  # optimiser steps over both tasks
    max_seconds: float | None = None  # stop early when this much wall time has passed
    batch: int = 32  # anchors per step (each brings a positive and three negatives)
    contrastive_frac: float = 0.5  # share of the steps spent on task 1 before task 2
    lr: float = 1e-3
    encoder_lr_scale: float = 0.1  # task 2 fine-tunes the encoder this much slower than the head
    temperature: float = 0.1  # InfoNCE temperature
    noise: float = 0.02  # std of the feature noise of perturbed positives, in feature units
    seed: int = 0


# --------------------------------------------------------------------------------------------------
# Sequences


def _check_scenes(scenes: Scenes) -> None:
    if len(scenes) < 2:
        raise ValueError(f"{len(scenes)} scene(s); training needs at least 2 (negatives mix scenes)")
    for s, scene in enumerate(scenes):
        if len(scene) < 2:
            raise ValueError(f"scene {s} has {len(scene)} clip(s); a scene needs at least 2")
        if any(len(variants) == 0 for variants in scene):
            raise ValueError(f"scene {s} has a clip without any feature vector")


def anchor(rng: np.random.Generator, scenes: Scenes, max_len: int, length: int | None = None) -> list[Ref]:
    """A coherent sequence: a consecutive run of 2..max_len clips of one scene (original takes)."""
    fits = [s for s in range(len(scenes)) if len(scenes[s]) >= (length or 2)]
    if not fits:
        raise ValueError(f"no scene has {length} clips")
    s = int(rng.choice(fits))
    m = length or int(rng.integers(2, min(len(scenes[s]), max_len) + 1))
    start = int(rng.integers(0, len(scenes[s]) - m + 1))
    return [(s, c, 0) for c in range(start, start + m)]


def perturbed(rng: np.random.Generator, seq: list[Ref], scenes: Scenes) -> list[Ref]:
    """The same shots with other takes swapped in where a clip has any (a slightly perturbed edit)."""
    return [(s, c, int(rng.integers(0, len(scenes[s][c])))) for s, c, _ in seq]


def shuffled(rng: np.random.Generator, seq: list[Ref]) -> list[Ref]:
    """The same clips out of order (never the original order)."""
    order = list(range(len(seq)))
    while order == sorted(order):
        order = [int(i) for i in rng.permutation(len(seq))]
    return [seq[i] for i in order]


def _other_scene(rng: np.random.Generator, s: int, n: int) -> int:
    return int((s + rng.integers(1, n)) % n)


def replaced(rng: np.random.Generator, seq: list[Ref], scenes: Scenes) -> list[Ref]:
    """One clip swapped for a random clip of another scene."""
    t = _other_scene(rng, seq[0][0], len(scenes))
    out = list(seq)
    out[int(rng.integers(0, len(seq)))] = (t, int(rng.integers(0, len(scenes[t]))), 0)
    return out


def mixed(rng: np.random.Generator, seq: list[Ref], scenes: Scenes) -> list[Ref]:
    """A run of this scene continued by a run of another: two films cut together."""
    t = _other_scene(rng, seq[0][0], len(scenes))
    cut = int(rng.integers(1, len(seq)))
    tail = len(seq) - cut
    if len(scenes[t]) >= tail:
        start = int(rng.integers(0, len(scenes[t]) - tail + 1))
        rest = [(t, c, 0) for c in range(start, start + tail)]
    else:
        rest = [(t, int(rng.integers(0, len(scenes[t]))), 0) for _ in range(tail)]
    return seq[:cut] + rest


def coherence_label(seq: Sequence[Ref]) -> float:
    """Coherence label in [0, 1]: the squared fraction of junctions that cut to the next clip of the scene."""
    if len(seq) < 2:
        return 1.0
    good = sum(a[0] == b[0] and b[1] == a[1] + 1 for a, b in itertools.pairwise(seq))
    # squared: one bad cut already costs most of the score (an editor notices a single jump)
    return (good / (len(seq) - 1)) ** 2


def batch_tensors(seqs: Sequence[Sequence[Ref]], scenes: Scenes) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded (B, m, F) features and (B, m) mask for sequences of refs."""
    m = max(len(s) for s in seqs)
    dim = len(scenes[0][0][0])
    x = np.zeros((len(seqs), m, dim), np.float32)
    mask = np.zeros((len(seqs), m), bool)
    for i, seq in enumerate(seqs):
        for j, (s, c, v) in enumerate(seq):
            x[i, j] = scenes[s][c][v]
        mask[i, : len(seq)] = True
    return torch.from_numpy(x), torch.from_numpy(mask)


# --------------------------------------------------------------------------------------------------
# Training


def _feature_stats(scenes: Scenes) -> tuple[torch.Tensor, torch.Tensor]:
    allv = np.stack([v for scene in scenes for clip in scene for v in clip]).astype(np.float64)
    return (torch.tensor(allv.mean(0), dtype=torch.float32),
            torch.tensor(np.maximum(allv.std(0), 0.02), dtype=torch.float32))


def _step_batch(rng: np.random.Generator, scenes: Scenes, n: int, max_len: int):
    # Any take of a shot belongs to the edit: anchors draw takes at random, so the model learns shots,
    # not the exact vectors of one render.
    anchors = [perturbed(rng, anchor(rng, scenes, max_len), scenes) for _ in range(n)]
    positives = [perturbed(rng, a, scenes) for a in anchors]
    negatives = [f(a) for a in anchors
                 for f in (lambda a: shuffled(rng, a), lambda a: replaced(rng, a, scenes),
                           lambda a: mixed(rng, a, scenes))]
    return anchors, positives, negatives


def train_lca(
    scenes: Scenes,
    config: LCAConfig,
    train: TrainConfig | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> tuple[LCAModel, dict[str, list[float]]]:
    """Train an LCA model on edited scenes with both tasks, then calibrate its per-length statistics.

    Returns the model (eval mode) and the loss history {"contrastive": [...], "regression": [...]}.
    progress(step, steps, loss) is called after every step.
    """
    train = train or TrainConfig()
    _check_scenes(scenes)
    dim = len(scenes[0][0][0])
    if dim != config.feature_dim:
        raise ValueError(f"feature vectors have {dim} values; config.feature_dim is {config.feature_dim}")
    torch.manual_seed(train.seed)
    rng = np.random.default_rng(train.seed)
    model = LCAModel(config)
    model.feat_mean.copy_(_feature_stats(scenes)[0])
    model.feat_std.copy_(_feature_stats(scenes)[1])
    noise = train.noise * model.feat_std
    head = [p for p in model.head.parameters()]
    encoder = [p for n, p in model.named_parameters() if not n.startswith("head.")]
    opt1 = torch.optim.AdamW(encoder, lr=train.lr, weight_decay=0.01)
    opt2 = torch.optim.AdamW([{"params": head, "lr": train.lr},
                              {"params": encoder, "lr": train.lr * train.encoder_lr_scale}],
                             weight_decay=0.01)
    switch = int(train.steps * train.contrastive_frac)
    history: dict[str, list[float]] = {"contrastive": [], "regression": []}
    t0 = time.monotonic()
    model.train()
    for step in range(train.steps):
        if train.max_seconds is not None and time.monotonic() - t0 > train.max_seconds:
            break
        contrastive = step < switch
        if train.max_seconds is not None:
            # under a time budget task 1 also ends once it has had its share of the seconds
            contrastive &= time.monotonic() - t0 < train.max_seconds * train.contrastive_frac
        anchors, positives, negatives = _step_batch(rng, scenes, train.batch, config.max_len)
        seqs = anchors + positives + negatives
        x, mask = batch_tensors(seqs, scenes)
        b = len(anchors)
        x[b : 2 * b] += torch.randn_like(x[b : 2 * b]) * noise  # perturbed positives
        x[2 * b :] += torch.randn_like(x[2 * b :]) * noise  # negatives as noisy: noise is no cue
        z, s = model(x, mask)
        if contrastive:
            za, zp, zn = z[:b], z[b : 2 * b], z[2 * b :]
            logits = torch.cat([(za * zp).sum(-1, keepdim=True), za @ zn.T], dim=1) / train.temperature
            loss = F.cross_entropy(logits, torch.zeros(b, dtype=torch.long))
            opt = opt1
        else:
            target = torch.tensor([coherence_label(q) for q in seqs], dtype=torch.float32)
            loss = F.mse_loss(s, target)
            opt = opt2
        opt.zero_grad()
        loss.backward()
        opt.step()
        history["contrastive" if contrastive else "regression"].append(loss.item())
        if progress is not None:
            progress(step + 1, train.steps, float(loss))
    model.eval()
    calibrate_lengths(model, scenes, seed=train.seed)
    return model, history


def calibrate_lengths(model: LCAModel, scenes: Scenes, *, per_length: int = 128, seed: int = 0) -> None:
    """Measure the raw score's mean and std per length (1..max_len) and store them in the model.

    At each length, half the sample is coherent runs (where a scene is long enough) and half is
    sequences of random clips, the mixture a beam meets: partial beams of any length then sit on
    one scale.
    """
    rng = np.random.default_rng(seed + 1)
    clips = [(s, c, 0) for s in range(len(scenes)) for c in range(len(scenes[s]))]
    longest = max(len(sc) for sc in scenes)
    for m in range(1, model.config.max_len + 1):
        seqs = []
        for i in range(per_length):
            if i % 2 == 0 and 2 <= m <= longest:
                seqs.append(anchor(rng, scenes, model.config.max_len, length=m))
            else:
                seqs.append([clips[int(j)] for j in rng.integers(0, len(clips), m)])
        x, mask = batch_tensors(seqs, scenes)
        with torch.no_grad():
            _, raw = model(x, mask)
        model.length_mean[m] = raw.mean()
        model.length_std[m] = raw.std().clamp_min(1e-6)
    model.length_mean[0], model.length_std[0] = model.length_mean[1], model.length_std[1]


# --------------------------------------------------------------------------------------------------
# Edited scenes from a folder of videos (previz scenes: filmcrew/trainsets.py)

def video_scenes(folder: str | Path, *, width: int = 160, threshold: float = 0.35,
                 trim_frames: int = 2) -> list[list[list[np.ndarray]]]:
    """Scenes from a folder of edited videos: each video cut into shots, each shot two takes.

    The second take of a shot is its features with trim_frames cut off each end, the "±small
    temporal shift" near-duplicate of METHODS.md §3.3. Videos with fewer than two shots are skipped.
    """
    from filmcrew.tools.edit.lca.scorer import feature_vector, list_videos, split_shots
    from filmcrew.tools.edit.skald import clip_features

    scenes = []
    for path in list_videos(folder):
        shots, fps = split_shots(path, width=width, threshold=threshold)
        scene = []
        for frames in shots:
            takes = [feature_vector(clip_features(frames, fps))]
            if len(frames) > 2 * trim_frames + 1:
                takes.append(feature_vector(clip_features(frames[trim_frames:-trim_frames], fps)))
            scene.append(takes)
        if len(scene) >= 2:
            scenes.append(scene)
    if len(scenes) < 2:
        raise ValueError(f"{folder}: {len(scenes)} video(s) with 2+ shots; training needs at least 2")
    return scenes
