"""The shot editor (SKALD): pick one candidate per shot by beam search over sequence coherence.

Scoring whole sequences lets the editor prefer candidates that cut well together (colour, light,
motion carrying across the cut), not just the best clip per shot. Beam search needs at most n·B·k
scorer evaluations instead of the k^n of exhaustive search (METHODS.md §3.4).
"""

from __future__ import annotations

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


def make_scorer(scorer: str, debug_models: bool, seed: int = 0, settings: Any = None,
                text_weight: float | None = None) -> Any:
    """The sequence scorer named by --scorer: continuity, or the LCA from FILMCREW_LCA_CHECKPOINT.

    The checkpoint says which features it needs: continuity, or an image encoder (a local CLIP/SigLIP
    folder, loaded here; `tiny-clip` only with --debug-models) whose text tower gives SKALD-text its
    prompt relevance. text_weight (--lca-text-weight) defaults to the checkpoint's. With
    --debug-models and no checkpoint, --scorer lca runs a tiny random LCA (the learned code path,
    arbitrary preferences).
    """
    if scorer == "continuity":
        from filmcrew.tools.edit import ContinuityScorer

        return ContinuityScorer()
    if scorer != "lca":
        raise ValueError(f"unknown scorer {scorer!r}")
    from filmcrew.config import Settings
    from filmcrew.tools.edit import LCAScorer

    path = (settings or Settings()).lca_checkpoint
    if path is None:
        if debug_models:
            return LCAScorer.debug(seed=seed)
        raise ValueError("--scorer lca needs FILMCREW_LCA_CHECKPOINT (see `filmcrew train-lca`) "
                         "or --debug-models")
    from filmcrew.tools.edit import load_image_encoder, load_lca_checkpoint

    lca = load_lca_checkpoint(str(path))
    weight = lca.default_text_weight if text_weight is None else float(text_weight)
    encoder = None
    if lca.features != "continuity":
        encoder = load_image_encoder(lca.features, debug_models)
        if weight > 0 and encoder.tokenizer is None and encoder.name != "tiny-clip":
            raise ValueError(f"--lca-text-weight {weight:g}: the image encoder {lca.features!r} has no "
                             "text tower; use weight 0")
    elif weight > 0:
        raise ValueError(f"--lca-text-weight {weight:g}: {path} uses continuity features, which have no "
                         "text tower; train with `filmcrew train-lca --features <CLIP folder>`")
    out = lca.with_text(None, weight)
    out.encoder = encoder
    return out


def clip_vector(store: ArtifactStore, node: str, clip: ArtifactRef, encoder: Any) -> Any:
    """The image-encoder vector of a clip ([head | tail | whole]), computed once and cached as JSON.

    A GPU call: `make` carries the encoder's name, not the encoder, and loads it where it runs
    (`load_image_encoder`, a resident model); `encoder` is an ImageEncoder or its name."""
    import numpy as np

    name = encoder if isinstance(encoder, str) else encoder.name
    debug = name == "tiny-clip"  # the tiny random encoder exists only under --debug-models

    def make(path: Path) -> dict:
        from filmcrew.tools.edit import load_image_encoder
        from filmcrew.tools.media import read_video

        vector = load_image_encoder(name, debug).clip_vector(read_video(store.path(clip)))
        return ArtifactStore.json_writer({"vector": vector.tolist()})(path)

    ref = store.get_or_create(node, "lca_clip_vector", FEATURES_VERSION, {"encoder": name}, ext="json",
                              media_type="application/json", make=make, inputs=[clip], gpu=True)
    return np.asarray(store.read_json(ref)["vector"], np.float32)


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
    scorer = make_scorer(opts.scorer, opts.debug_models, opts.seed, ctx.settings,
                         getattr(opts, "lca_text_weight", None))
    encoder = getattr(scorer, "encoder", None)
    if encoder is None:
        feats = [[clip_features(ctx.store, "shot_editor", c.clip) for c in shot_cands]
                 for shot_cands in per_shot]
    else:  # an LCA trained on image-encoder features; SKALD-text compares clips with the shot prompts
        from filmcrew.tools.edit import ImageEncoder

        feats = [[clip_vector(ctx.store, "shot_editor", c.clip, encoder) for c in shot_cands]
                 for shot_cands in per_shot]
        if scorer.text_weight > 0:
            prompts = encoder.text_vectors([shot.local_prompt for shot in plan.shots])
            scorer.relevance = lambda i, v: float(prompts[i] @ ImageEncoder.whole(v))
    result = beam_search(feats, scorer.score_batch, opts.beam,
                         keep_first=getattr(scorer, "keep_first", False))
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
