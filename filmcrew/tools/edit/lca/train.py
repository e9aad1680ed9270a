"""Training the LCA model: sequences from edited scenes, the two SKALD tasks, graded junctions.

A scene is an edited run of clips (consecutive shots of one film). Each clip has one or more good
takes (near-duplicates that continue the edit: another seed, a slightly shifted trim) and may have bad
takes: the same shot made so that its cuts are wrong by construction (`bad_takes`: mirrored, so
screen position and motion direction flip at the cut; played backwards, so motion reverses; graded,
so colour and light jump). The editor's decision is which take of each shot to use, so training
teaches junction quality between takes, not only scene membership.

Coherent sequences are consecutive runs of a scene in good takes; other good takes with small feature
noise are the perturbed positives. Negatives are what an editor must not pick: the run with one or
more shots replaced by a bad take of the same shot, order shuffles and reversals, one clip replaced
from another scene, and mixtures of two scenes (METHODS.md §3.3). Task 1 is InfoNCE over sequence
embeddings (anchor ↔ its perturbed positive, against all negatives of the batch); task 2 fits the
score head to a graded label (per junction: 1 for the true next shot in good takes, 0.25 for the true
next shot through a bad take, 0 otherwise) and ranks each anchor above its own negatives, with the
encoder at a lower learning rate.
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

#: A clip of a scene as (scene index, clip index, take): take >= 0 is good take v, take < 0 is
#: bad take -1 - take.
Ref = tuple[int, int, int]
#: scenes[s][c][v]: feature vector of take v of clip c of scene s (good takes; bad ones alike).
Scenes = Sequence[Sequence[Sequence[np.ndarray]]]

#: The ways `bad_takes` spoils a shot, in the order it returns them.
BAD_KINDS = ("mirror", "reverse", "grade")
#: Junction label of the right next shot reached through a bad take (a good junction is 1, a wrong shot 0).
BAD_TAKE_JUNCTION = 0.25


@dataclass
class TrainConfig:
    """How to train an LCA model (CPU-sized defaults)."""

    steps: int = 2000  # optimiser steps over both tasks
    max_seconds: float | None = None  # stop early when this much wall time has passed
    batch: int = 32  # anchors per step (each brings a positive and up to six negatives)
    contrastive_frac: float = 0.3  # share of the steps spent on task 1 before task 2
    lr: float = 1e-3
    encoder_lr_scale: float = 0.3  # task 2 fine-tunes the encoder this much slower than the head
    temperature: float = 0.1  # InfoNCE temperature
    noise: float = 0.02  # std of the feature noise of perturbed positives, in feature units
    seed: int = 0


# --------------------------------------------------------------------------------------------------
# Bad takes


def bad_takes(frames: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Takes of one shot whose cuts are wrong by construction, one per BAD_KINDS entry.

    mirror: flipped left-right (the subject jumps sides, motion runs the other way); reverse: played
    backwards (motion reverses at both cuts); grade: a colour and exposure jump (gain 0.5-0.7 or
    1.4-1.8, each channel tinted ±20 %). (T, H, W, 3) uint8 in, new arrays out.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3), got {frames.shape}")
    gain = rng.uniform(0.5, 0.7) if rng.random() < 0.5 else rng.uniform(1.4, 1.8)
    tint = rng.uniform(0.8, 1.2, 3)
    graded = np.clip(frames.astype(np.float32) * (gain * tint), 0, 255).astype(np.uint8)
    return [np.ascontiguousarray(frames[:, :, ::-1]), np.ascontiguousarray(frames[::-1]), graded]


# --------------------------------------------------------------------------------------------------
# Sequences


def _check_scenes(scenes: Scenes, bad: Scenes | None) -> None:
    if len(scenes) < 2:
        raise ValueError(f"{len(scenes)} scene(s); training needs at least 2 (negatives mix scenes)")
    for s, scene in enumerate(scenes):
        if len(scene) < 2:
            raise ValueError(f"scene {s} has {len(scene)} clip(s); a scene needs at least 2")
        if any(len(variants) == 0 for variants in scene):
            raise ValueError(f"scene {s} has a clip without any feature vector")
    if bad is not None and [len(sc) for sc in bad] != [len(sc) for sc in scenes]:
        raise ValueError("bad takes must have the shape of the scenes: bad[s][c] = takes of clip c")


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
    """The same shots with other good takes swapped in where a clip has any (a slightly perturbed edit)."""
    return [(s, c, int(rng.integers(0, len(scenes[s][c])))) for s, c, _ in seq]


def retaken(rng: np.random.Generator, seq: list[Ref], bad: Scenes) -> list[Ref] | None:
    """The same shots with one or more (never two adjacent) replaced by a bad take of that shot.

    None when no clip of the sequence has a bad take. Adjacent bad takes are avoided because two
    mirrored neighbours cut together well: every bad take here sits between good ones.
    """
    spots = [i for i, (s, c, _) in enumerate(seq) if len(bad[s][c])]
    if not spots:
        return None
    out, taken = list(seq), set()
    want = int(rng.integers(1, max(1, len(seq) // 2) + 1))
    for i in rng.permutation(spots):
        if len(taken) >= want:
            break
        if i - 1 in taken or i + 1 in taken:
            continue
        s, c, _ = seq[i]
        out[i] = (s, c, -1 - int(rng.integers(0, len(bad[s][c]))))
        taken.add(int(i))
    return out


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


def junction_label(a: Ref, b: Ref) -> float:
    """How right the cut a → b is: 1 the true next shot in good takes, 0.25 through a bad take, else 0."""
    if a[0] != b[0] or b[1] != a[1] + 1:
        return 0.0
    return 1.0 if a[2] >= 0 and b[2] >= 0 else BAD_TAKE_JUNCTION


def coherence_label(seq: Sequence[Ref]) -> float:
    """Coherence label in [0, 1]: the squared mean junction label (one bad cut already costs most)."""
    if len(seq) < 2:
        return 1.0 if seq[0][2] >= 0 else BAD_TAKE_JUNCTION
    return float(np.mean([junction_label(a, b) for a, b in itertools.pairwise(seq)])) ** 2


def batch_tensors(seqs: Sequence[Sequence[Ref]], scenes: Scenes,
                  bad: Scenes | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded (B, m, F) features and (B, m) mask for sequences of refs."""
    m = max(len(s) for s in seqs)
    dim = len(scenes[0][0][0])
    x = np.zeros((len(seqs), m, dim), np.float32)
    mask = np.zeros((len(seqs), m), bool)
    for i, seq in enumerate(seqs):
        for j, (s, c, v) in enumerate(seq):
            x[i, j] = scenes[s][c][v] if v >= 0 else bad[s][c][-1 - v]  # type: ignore[index]
        mask[i, : len(seq)] = True
    return torch.from_numpy(x), torch.from_numpy(mask)


# --------------------------------------------------------------------------------------------------
# Training


def _feature_stats(scenes: Scenes) -> tuple[torch.Tensor, torch.Tensor]:
    allv = np.stack([v for scene in scenes for clip in scene for v in clip]).astype(np.float64)
    return (torch.tensor(allv.mean(0), dtype=torch.float32),
            torch.tensor(np.maximum(allv.std(0), 0.02), dtype=torch.float32))


def _step_batch(rng: np.random.Generator, scenes: Scenes, bad: Scenes | None, n: int, max_len: int):
    """Anchors (good takes), their perturbed positives, and negatives with the index of their anchor."""
    anchors = [perturbed(rng, anchor(rng, scenes, max_len), scenes) for _ in range(n)]
    positives = [perturbed(rng, a, scenes) for a in anchors]
    negatives: list[list[Ref]] = []
    owner: list[int] = []
    for i, a in enumerate(anchors):
        negs = [shuffled(rng, a), a[::-1], replaced(rng, a, scenes), mixed(rng, a, scenes)]
        if bad is not None:
            negs += [r for r in (retaken(rng, a, bad), retaken(rng, a, bad)) if r is not None]
        negatives += negs
        owner += [i] * len(negs)
    return anchors, positives, negatives, owner


def train_lca(
    scenes: Scenes,
    config: LCAConfig,
    train: TrainConfig | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    *,
    bad: Scenes | None = None,
) -> tuple[LCAModel, dict[str, list[float]]]:
    """Train an LCA model on edited scenes (and bad takes of their shots) with both tasks.

    Returns the model (eval mode) and the loss history {"contrastive": [...], "regression": [...]}.
    progress(step, steps, loss) is called after every step.
    """
    train = train or TrainConfig()
    _check_scenes(scenes, bad)
    dim = len(scenes[0][0][0])
    if dim != config.feature_dim:
        raise ValueError(f"feature vectors have {dim} values; config.feature_dim is {config.feature_dim}")
    torch.manual_seed(train.seed)
    rng = np.random.default_rng(train.seed)
    model = LCAModel(config)
    mean, std = _feature_stats(scenes)
    model.feat_mean.copy_(mean)
    model.feat_std.copy_(std)
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
        anchors, positives, negatives, owner = _step_batch(rng, scenes, bad, train.batch, config.max_len)
        seqs = anchors + positives + negatives
        x, mask = batch_tensors(seqs, scenes, bad)
        b = len(anchors)
        x[b:] += torch.randn_like(x[b:]) * noise  # positives and negatives alike: noise is no cue
        z, s = model(x, mask)
        if contrastive:
            za, zp, zn = z[:b], z[b : 2 * b], z[2 * b :]
            logits = torch.cat([(za * zp).sum(-1, keepdim=True), za @ zn.T], dim=1) / train.temperature
            loss = F.cross_entropy(logits, torch.zeros(b, dtype=torch.long))
            opt = opt1
        else:
            target = torch.tensor([coherence_label(q) for q in seqs], dtype=torch.float32)
            # each anchor above its own negatives: the comparison the beam search makes
            margin = s[:b][torch.tensor(owner)] - s[2 * b :]
            loss = F.mse_loss(s, target) + F.softplus(-4.0 * margin).mean()
            opt = opt2
        opt.zero_grad()
        loss.backward()
        opt.step()
        history["contrastive" if contrastive else "regression"].append(loss.item())
        if progress is not None:
            progress(step + 1, train.steps, float(loss))
    model.eval()
    return model, history


# --------------------------------------------------------------------------------------------------
# Edited scenes from a folder of videos (previz scenes: filmcrew/trainsets.py)

def continuity_vector(frames: np.ndarray, fps: float) -> np.ndarray:
    """The default featuriser: a clip's continuity features as one vector."""
    from filmcrew.tools.edit.lca.scorer import feature_vector
    from filmcrew.tools.edit.skald import clip_features

    return feature_vector(clip_features(frames, fps))


def video_scenes(
    folder: str | Path,
    *,
    width: int = 160,
    threshold: float = 0.35,
    trim_frames: int = 2,
    featurise: Callable[[np.ndarray, float], np.ndarray] = continuity_vector,
    features: str = "continuity",
    cache_dir: str | Path | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    seed: int = 0,
) -> tuple[list[list[list[np.ndarray]]], list[list[list[np.ndarray]]]]:
    """(good, bad) take vectors from a folder of edited videos: each video one scene, cut into shots.

    Frames stream: a shot is decoded, featurised with its takes and dropped before the next one, so
    memory is bounded by the longest shot, not the film. Good takes of a shot are the shot and the
    shot with trim_frames cut off each end (the "±small temporal shift" near-duplicate of METHODS.md
    §3.3); bad takes are bad_takes of the shot. With cache_dir, each video's vectors are stored there
    (keyed by path, size, modification time and `features`) and reused: an interrupted run resumes
    where it stopped. progress(done, total, name) after each video. Videos with fewer than two shots
    are skipped.
    """
    import hashlib

    from filmcrew.tools.edit.lca.scorer import iter_shots, list_videos

    videos = list_videos(folder)
    cache = Path(cache_dir) if cache_dir is not None else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    scenes, bad = [], []
    for n, path in enumerate(videos):
        stat = path.stat()
        key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{features}|{width}|"
                             f"{threshold}|{trim_frames}|{seed}".encode()).hexdigest()[:20]
        cached = cache / f"{path.stem}-{key}.npz" if cache is not None else None
        if cached is not None and cached.is_file():
            with np.load(cached) as z:
                good_v, bad_v, counts = z["good"], z["bad"], z["counts"]
        else:
            rng = np.random.default_rng([seed, n])
            good_l, bad_l, count_l = [], [], []
            for frames, fps in iter_shots(path, width=width, threshold=threshold):
                takes = [featurise(frames, fps)]
                if len(frames) > 2 * trim_frames + 1:
                    takes.append(featurise(frames[trim_frames:-trim_frames], fps))
                spoiled = [featurise(f, fps) for f in bad_takes(frames, rng)]
                good_l += takes
                bad_l += spoiled
                count_l.append((len(takes), len(spoiled)))
            dim = len(good_l[0]) if good_l else 0
            good_v = np.asarray(good_l, np.float32).reshape(-1, dim)
            bad_v = np.asarray(bad_l, np.float32).reshape(-1, dim)
            counts = np.asarray(count_l, np.int64).reshape(-1, 2)
            if cached is not None:
                tmp = cached.with_suffix(".part.npz")
                np.savez(tmp, good=good_v, bad=bad_v, counts=counts)
                tmp.replace(cached)
        scene, spoilt, g, b = [], [], 0, 0
        for n_good, n_bad in counts:
            scene.append(list(good_v[g : g + n_good]))
            spoilt.append(list(bad_v[b : b + n_bad]))
            g, b = g + n_good, b + n_bad
        if len(scene) >= 2:
            scenes.append(scene)
            bad.append(spoilt)
        if progress is not None:
            progress(n + 1, len(videos), path.name)
    if len(scenes) < 2:
        raise ValueError(f"{folder}: {len(scenes)} video(s) with 2+ shots; training needs at least 2")
    return scenes, bad
