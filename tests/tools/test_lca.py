"""The learned SKALD scorer (LCA): it learns coherence from edited previz scenes and ranks unseen ones.

What a user notices: trained for under a minute on CPU, the LCA ranks coherent sequences of scenes it
never saw above sequences that cut between two films (AUC > 0.9); a checkpoint written and read back
scores the same; beams of different lengths are on one scale; training videos are cut into the
shots they were edited from; SKALD-text follows the prompts when told to.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from filmcrew.models.lca import TINY_LCA_CONFIG, LCAConfig, LCAModel, load_lca, save_lca
from filmcrew.tools.edit.lca.scorer import (
    CONTINUITY_DIM,
    ImageEncoder,
    LCAScorer,
    detect_cuts,
    split_shots,
)
from filmcrew.tools.edit.lca.train import (
    TrainConfig,
    anchor,
    batch_tensors,
    calibrate_lengths,
    coherence_label,
    mixed,
    perturbed,
    replaced,
    shuffled,
    train_lca,
)
from filmcrew.tools.edit.skald import beam_search
from filmcrew.trainsets import previz_requests, previz_scenes

TRAIN_SCENES, HELD_OUT = 96, 12


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    diff = pos[:, None] - neg[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


@pytest.fixture(scope="module")
def scenes():
    """Previz renders of 108 one-scene plans (96x54, 8 fps, 4 shots of 1.25 s): 96 to train, 12 held out."""
    requests = previz_requests(TRAIN_SCENES + HELD_OUT, seed=0)
    train = previz_scenes(requests[:TRAIN_SCENES], takes=2)
    held = previz_scenes(requests[TRAIN_SCENES:], takes=1)
    return train, held


@pytest.fixture(scope="module")
def trained(scenes):
    train, _ = scenes
    cfg = LCAConfig(**{**TINY_LCA_CONFIG.__dict__, "dropout": 0.1})
    model, history = train_lca(train, cfg, TrainConfig(steps=2400, max_seconds=60, noise=0.05, seed=0))
    return model, history


def test_lca_ranks_held_out_coherent_sequences_above_cross_film_cuts(scenes, trained):
    _, held = scenes
    model, history = trained
    assert history["contrastive"] and history["regression"]  # both tasks ran
    assert np.mean(history["regression"][-50:]) < np.mean(history["regression"][:50])
    rng = np.random.default_rng(7)
    pos = [anchor(rng, held, 16) for _ in range(300)]
    neg = [replaced(rng, a, held) if i % 2 else mixed(rng, a, held) for i, a in enumerate(pos)]
    scorer = LCAScorer(model)
    flat = [[held[s][c][v] for s, c, v in seq] for seq in pos + neg]
    scores = np.asarray(scorer.score_batch(flat))
    value = auc(scores[: len(pos)], scores[len(pos) :])
    print(f"held-out AUC {value:.3f}")
    assert value > 0.9, f"held-out AUC {value:.3f}"


def test_checkpoint_round_trip_scores_the_same(scenes, trained, tmp_path):
    _, held = scenes
    model, _ = trained
    path = save_lca(model, tmp_path / "lca.safetensors", meta={"features": "continuity"})
    scorer = LCAScorer.from_checkpoint(path)
    assert scorer.features == "continuity"
    seqs = [[held[0][0][0], held[0][1][0]], [held[1][2][0]], [held[2][0][0], held[3][1][0], held[2][2][0]]]
    assert scorer.score_batch(seqs) == pytest.approx(LCAScorer(model).score_batch(seqs), abs=1e-5)
    (tmp_path / "bad.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(Exception):  # noqa: B017 - safetensors' own header error
        load_lca(tmp_path / "bad.safetensors")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LCAScorer.from_checkpoint(tmp_path / "missing.safetensors")


def _random_scenes(seed: int, n: int = 20, clips: int = 8, dim: int = CONTINUITY_DIM):
    rng = np.random.default_rng(seed)
    return [[[rng.random(dim).astype(np.float32)] for _ in range(clips)] for _ in range(n)]


def test_length_standardisation_puts_every_length_on_one_scale():
    torch.manual_seed(0)
    model = LCAModel(TINY_LCA_CONFIG).eval()
    scenes = _random_scenes(0)
    calibrate_lengths(model, scenes, per_length=1024, seed=0)
    fresh = scenes  # new sequences (another seed) of the same clips
    rng = np.random.default_rng(3)
    raw_means, raw_stds, std_means, std_stds = [], [], [], []
    for m in range(2, 9):  # the beam's mixture: coherent runs and random clips, half and half
        seqs = [anchor(rng, fresh, 16, length=m) for _ in range(150)]
        seqs += [[(s, int(c), 0) for c in rng.integers(0, 8, m)] for s in rng.integers(0, 20, 150)]
        x, mask = batch_tensors(seqs, fresh)
        with torch.no_grad():
            _, raw = model(x, mask)
            z = model.score(x, mask)
        raw_means.append(float(raw.mean()))
        raw_stds.append(float(raw.std()))
        std_means.append(float(z.mean()))
        std_stds.append(float(z.std()))
    # raw scores drift with length by more than they vary at one length: beams would not compare...
    assert np.ptp(raw_means) > np.mean(raw_stds)
    assert np.max(np.abs(std_means)) < 0.35  # ...standardised ones do
    assert all(0.7 < s < 1.4 for s in std_stds)


def test_negatives_are_incoherent_and_positives_keep_the_edit():
    scenes = [[[np.zeros(3)] * 2 for _ in range(5)] for _ in range(4)]
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = anchor(rng, scenes, 16)
        s0 = a[0][0]
        assert len({s for s, _, _ in a}) == 1 and [c for _, c, _ in a] == list(range(a[0][1], a[0][1] + len(a)))
        assert coherence_label(a) == 1.0
        p = perturbed(rng, a, scenes)
        assert [(s, c) for s, c, _ in p] == [(s, c) for s, c, _ in a] and coherence_label(p) == 1.0
        sh = shuffled(rng, a)
        assert sorted(sh) == sorted(a) and sh != a and coherence_label(sh) < 1.0
        r = replaced(rng, a, scenes)
        assert sum(x != y for x, y in zip(r, a, strict=True)) == 1
        assert sum(s != s0 for s, _, _ in r) == 1 and coherence_label(r) < 1.0
        mx = mixed(rng, a, scenes)
        cut = next(i for i, (s, _, _) in enumerate(mx) if s != s0)
        assert 1 <= cut < len(a) and mx[:cut] == a[:cut]
        assert len({s for s, _, _ in mx[cut:]}) == 1 and coherence_label(mx) < 1.0
    with pytest.raises(ValueError, match="at least 2"):
        train_lca(scenes[:1], TINY_LCA_CONFIG)


def _shot_frames(rng, n, colour, w=96, h=54):
    """A shot: a coloured set with a square moving across it (motion inside a shot is not a cut)."""
    frames = np.empty((n, h, w, 3), np.uint8)
    frames[:] = colour
    for t in range(n):
        x = 5 + 3 * t
        frames[t, 20:34, x : x + 14] = 255 - np.asarray(colour)
    return frames + rng.integers(0, 6, frames.shape, dtype=np.uint8)


def test_cut_detection_finds_the_edits_of_a_video(tmp_path):
    from filmcrew.tools.media import write_video

    rng = np.random.default_rng(0)
    lengths = [10, 12, 14]
    colours = [(200, 40, 40), (30, 160, 60), (40, 60, 200)]
    frames = np.concatenate([_shot_frames(rng, n, c) for n, c in zip(lengths, colours, strict=True)])
    assert detect_cuts(frames) == [10, 22]
    path = tmp_path / "edited.mp4"
    write_video(path, frames, 8)
    shots, fps = split_shots(path, width=96)
    assert fps == 8 and [len(s) for s in shots] == lengths
    with pytest.raises(ValueError, match="threshold"):
        detect_cuts(frames, threshold=1.5)


def test_skald_text_follows_the_prompts_with_a_tiny_clip():
    enc = ImageEncoder.tiny(seed=0)
    rng = np.random.default_rng(1)
    clips = [[rng.integers(0, 256, (6, 40, 40, 3), dtype=np.uint8) for _ in range(3)] for _ in range(3)]
    vecs = [[enc.clip_vector(c) for c in shot] for shot in clips]
    assert all(abs(np.linalg.norm(v) - 1) < 1e-5 for shot in vecs for v in shot)
    prompts = enc.text_vectors(["a ball falls", "it bounces", "it rests"])
    scorer = LCAScorer.debug(seed=0, feature_dim=len(vecs[0][0]))
    plain = beam_search(vecs, scorer.score_batch, beam=9).indices
    scorer.relevance = lambda i, v: float(prompts[i] @ v)
    scorer.text_weight = 1e4  # the prompts dominate: each shot takes its best-matching clip
    best = [int(np.argmax([prompts[i] @ v for v in shot])) for i, shot in enumerate(vecs)]
    assert beam_search(vecs, scorer.score_batch, beam=9).indices == best
    assert len(plain) == 3
    with pytest.raises(ValueError, match="shape"):
        scorer.score_batch([[np.zeros(CONTINUITY_DIM)]])


def _filmcrew(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILMCREW_")}
    return subprocess.run([sys.executable, "-m", "filmcrew", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env, stdin=subprocess.DEVNULL)


def test_train_lca_command_writes_a_checkpoint_the_editor_can_use(tmp_path):
    from filmcrew.tools.media import write_video

    rng = np.random.default_rng(0)
    folder = tmp_path / "edits"
    folder.mkdir()
    palettes = [[(200, 40, 40), (180, 60, 50), (160, 50, 70)], [(30, 160, 60), (40, 120, 90), (20, 180, 40)],
                [(40, 60, 200), (70, 40, 180), (30, 90, 220)]]
    for i, colours in enumerate(palettes):
        write_video(folder / f"film{i}.mp4",
                    np.concatenate([_shot_frames(rng, 8 + j, c) for j, c in enumerate(colours)]), 8)
    out = tmp_path / "lca.safetensors"
    res = _filmcrew("train-lca", str(folder), "--out", str(out), "--minutes", "1", "--steps", "30",
                    "--debug-models", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "3 videos, 9 shots" in res.stderr
    model, meta = load_lca(out)
    assert meta["features"] == "continuity" and meta["shots"] == "9"
    assert float(model.length_std[3]) != 1.0  # per-length statistics were measured and stored
    bad = _filmcrew("train-lca", str(tmp_path / "nowhere"), "--out", str(out), cwd=tmp_path)
    lines = [ln for ln in bad.stderr.splitlines() if ln.strip()]
    assert bad.returncode == 2 and len(lines) == 1 and "is not a folder" in lines[0]
