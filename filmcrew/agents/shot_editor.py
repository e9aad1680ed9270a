"""The shot editor (SKALD): pick one candidate per shot by beam search over sequence coherence.

Scoring whole sequences lets the editor prefer candidates that cut well together (colour, light,
motion carrying across the cut), not just the best clip per shot. Beam search needs at most n·B·k
scorer evaluations instead of the k^n of exhaustive search (METHODS.md §3.4).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from filmcrew.artifacts import ArtifactStore
from filmcrew.context import crew_context, options_of
from filmcrew.schemas import ArtifactRef, Candidate, EditDecision, EditEntry, StoryPlan, Transition

FEATURES_VERSION = "1"


def clip_features(store: ArtifactStore, node: str, clip: ArtifactRef) -> Any:
    """SKALD continuity features of a clip, computed once and cached as JSON."""
    from filmcrew.tools.edit import ClipFeatures

    def make(path: Path) -> dict:
        from filmcrew.tools.edit import clip_features as compute
        from filmcrew.tools.media import read_video

        feats = compute(read_video(store.path(clip)), clip.fps or 24.0)
        return ArtifactStore.json_writer(feats.to_dict())(path)

    ref = store.get_or_create(node, "clip_features", FEATURES_VERSION, {}, ext="json",
                              media_type="application/json", make=make, inputs=[clip])
    return ClipFeatures.from_dict(store.read_json(ref))


def make_scorer(scorer: str, debug_models: bool, seed: int = 0, settings: Any = None) -> Any:
    """The sequence scorer named by --scorer: continuity, or the LCA from FILMCREW_LCA_CHECKPOINT.

    With --debug-models and no checkpoint, --scorer lca runs a tiny random LCA (the learned code
    path, arbitrary preferences).
    """
    if scorer == "continuity":
        from filmcrew.tools.edit import ContinuityScorer

        return ContinuityScorer()
    if scorer != "lca":
        raise ValueError(f"unknown scorer {scorer!r}")
    from filmcrew.config import Settings
    from filmcrew.tools.edit import LCAScorer

    path = (settings or Settings()).lca_checkpoint
    if path is not None:
        lca = _lca_checkpoint(str(path))
        if lca.features != "continuity":
            raise ValueError(f"{path}: trained on {lca.features!r} features; the shot editor "
                             "computes continuity features")
        return lca
    if debug_models:
        return LCAScorer.debug(seed=seed)
    raise ValueError("--scorer lca needs FILMCREW_LCA_CHECKPOINT (see `filmcrew train-lca`) "
                     "or --debug-models")


@lru_cache(maxsize=2)
def _lca_checkpoint(path: str) -> Any:
    """Load a trained LCA once per process (the run's preflight and the shot editor share it)."""
    from filmcrew.tools.edit import LCAScorer

    return LCAScorer.from_checkpoint(path)


def edit_node(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Choose the cut: one candidate per shot, in plan order, with trims and transitions."""
    from filmcrew.timing import frames_within, seconds_of
    from filmcrew.tools.edit import beam_search

    ctx = crew_context(runtime)
    opts = options_of(state)
    plan = StoryPlan.model_validate(state["plan"])
    cands = [Candidate.model_validate(c) for c in state["candidates"].values()]
    per_shot: list[list[Candidate]] = []
    for shot in plan.shots:
        mine = sorted((c for c in cands if c.shot_id == shot.id), key=lambda c: c.index)
        if not mine:
            raise RuntimeError(f"{shot.id}: no candidate clips were generated")
        per_shot.append(mine)
    feats = [[clip_features(ctx.store, "shot_editor", c.clip) for c in shot_cands]
             for shot_cands in per_shot]
    scorer = make_scorer(opts.scorer, opts.debug_models, opts.seed, ctx.settings)
    result = beam_search(feats, scorer.score_batch, opts.beam)
    order = []
    for shot_cands, i in zip(per_shot, result.indices, strict=True):
        c = shot_cands[i]
        # the whole clip, trimmed to whole frames of the film's grid (filmcrew.timing)
        frames = frames_within(c.clip.duration_s or 0.0, opts.fps)
        order.append(EditEntry(shot_id=c.shot_id, candidate=c.index, in_s=0.0,
                               out_s=seconds_of(frames, opts.fps)))
    edit = EditDecision(order=order, transitions=[Transition(kind="cut")] * (len(order) - 1),
                        score=float(result.score), scorer=opts.scorer, scorer_calls=result.calls)
    return {"edit": edit.model_dump(mode="json")}
