"""Training sets rendered from the previz: planned by the offline crew, drawn by the CPU animatic.

These need the planner (`llm/`), so they live here, above `tools/`, and hand plain data (feature
scenes, clip files) to the trainers in tools/edit/lca/train.py and tools/video/regen/train.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Actions, places and times of day combined into requests: scenes that differ in subject, set and light.
_LCA_ACTIONS = ("A red rubber ball is dropped and bounces", "A glass falls and shatters", "An ice cube melts",
            "A steel ball rolls", "A wooden crate slides and hits a wall", "A balloon rises",
            "A stone sinks", "A candle burns", "Two billiard balls collide", "A paper plane flies",
            "A bowling ball knocks over pins", "A snowball rolls")
_LCA_PLACES = ("in a park", "on a kitchen table", "on the street", "over the lake", "in a room", "on the beach")
_LCA_TIMES = ("at night", "at sunset", "at dawn", "")


def previz_requests(n: int, seed: int = 0) -> list[str]:
    """n distinct requests (action × place × time of day), in a seeded order: disjoint slices never share one."""
    combos = list(itertools.product(_LCA_ACTIONS, _LCA_PLACES, _LCA_TIMES))
    if not 1 <= n <= len(combos):
        raise ValueError(f"n={n}; between 1 and {len(combos)} requests can be made")
    order = np.random.default_rng(seed).permutation(len(combos))[:n]
    return [" ".join(combos[i]).strip() for i in order]


def previz_scenes(requests: Sequence[str], *, shots: int = 4, shot_s: float = 1.25, width: int = 96,
                  height: int = 54, fps: int = 8, takes: int = 2) -> list[list[list[np.ndarray]]]:
    """Scenes of continuity feature vectors from previz renders of offline plans (no overlay).

    Each request is planned into `shots` consecutive shots of about shot_s seconds (one scene, edited
    order); each shot is rendered `takes` times with different seeds, the near-duplicate variants.
    """
    return previz_edits(requests, shots=shots, shot_s=shot_s, width=width, height=height, fps=fps,
                        takes=takes, bad=False)[0]


def previz_edits(requests: Sequence[str], *, shots: int = 4, shot_s: float = 1.25, width: int = 96,
                 height: int = 54, fps: int = 8, takes: int = 1, bad: bool = True, seed: int = 0,
                 ) -> tuple[list[list[list[np.ndarray]]], list[list[list[np.ndarray]]]]:
    """(good, bad) take vectors of previz scenes: good[s][c] as previz_scenes, bad[s][c] the shot's
    bad takes (tools/edit/lca/train.bad_takes: mirrored, reversed, graded; empty when bad=False)."""
    from filmcrew.llm.offline_planner import plan_request
    from filmcrew.tools.edit.lca.scorer import feature_vector
    from filmcrew.tools.edit.lca.train import bad_takes
    from filmcrew.tools.edit.skald import clip_features
    from filmcrew.tools.video.previz import render_previz

    rng = np.random.default_rng(seed)
    good_scenes, bad_scenes = [], []
    for r, request in enumerate(requests):
        plan = plan_request(request, shots * shot_s, min_shots=shots)
        good_scene, bad_scene = [], []
        for i, shot in enumerate(plan.shots):
            variants, spoiled = [], []
            for t in range(takes):
                clip = render_previz(shot, None, width=width, height=height, fps=fps, seed=1000 * r + t,
                                     shot_number=i + 1, overlay=False)
                variants.append(feature_vector(clip_features(clip.frames, fps)))
                if bad and t == 0:
                    spoiled = [feature_vector(clip_features(f, fps)) for f in bad_takes(clip.frames, rng)]
            good_scene.append(variants)
            bad_scene.append(spoiled)
        good_scenes.append(good_scene)
        bad_scenes.append(bad_scene)
    return good_scenes, bad_scenes


# --------------------------------------------------------------------------------------------------
# Previz clip set

_REGEN_ACTIONS = ("A red rubber ball is dropped and bounces", "A glass falls and shatters",
                    "A candle burns", "Water is poured into a glass", "A steel ball rolls",
                    "A wooden crate slides and hits a wall", "A balloon rises", "A stone sinks",
                    "Two billiard balls collide", "A paper plane flies", "An ice cube melts",
                    "A bowling ball knocks over pins", "A car drives", "Smoke rises from a fire",
                    "A rocket launches", "A snowball rolls")
_REGEN_PLACES = ("on the street", "on a kitchen table", "in a park", "over the lake", "in a room", "on the beach")
_REGEN_CAMERAS = ("", ", the camera pans left", ", the camera tracks it", ", the camera zooms in")
_REGEN_TIMES = ("", " at night", " at sunset")


def previz_request(index: int) -> str:
    """The index-th request of the clip set: action × place × camera × time of day, in a fixed order."""
    combos = list(itertools.product(_REGEN_ACTIONS, _REGEN_PLACES, _REGEN_CAMERAS, _REGEN_TIMES))
    order = np.random.default_rng(12345).permutation(len(combos))
    a, p, c, t = combos[int(order[index % len(combos)])]
    return f"{a} {p}{t}{c}"


def make_previz_clips(out_dir: Path, n: int, *, size: tuple[int, int] = (64, 64), seconds: float = 2.0,
                      fps: int = 12, seed: int = 0) -> list[Path]:
    """Render n varied previz clips (no overlay) to `out_dir` as MP4; the same arguments give the same clips.

    Clip i is request `8 i + seed` of a fixed shuffled list (phenomena × place × camera × light),
    planned offline, annotated with the offline physics annotator and rendered with seed
    `1000 seed + i`: sets with seeds 0..7 never share a request (for n <= 144), which is what makes a
    held-out set. `size` is (width, height); existing files are kept (rendering is deterministic).
    """
    from filmcrew.llm.offline_physics import annotate_shot
    from filmcrew.llm.offline_planner import plan_request
    from filmcrew.tools.media import write_video
    from filmcrew.tools.video.previz import render_previz

    if n <= 0:
        raise ValueError(f"n={n}; must be > 0")
    w, h = size
    if w % 2 or h % 2:
        raise ValueError(f"size {w}x{h}: H.264 needs even sides")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = out_dir / f"previz_s{seed}_{i:04d}_{w}x{h}.mp4"
        if not path.is_file():
            plan = plan_request(previz_request(8 * i + seed), seconds, min_shots=1)
            shot = plan.shots[0]
            clip = render_previz(shot, annotate_shot(shot, plan), width=w, height=h, fps=fps,
                                 seed=seed * 1000 + i, overlay=False)
            write_video(path, clip.frames, fps, crf=10)
        paths.append(path)
    return paths
