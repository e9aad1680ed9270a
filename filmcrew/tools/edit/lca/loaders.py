"""The LCA's models, loaded once per process and kept among its resident models (tools/resident.py):
the trained scorer (the run's preflight and the shot editor share it) and the image encoder its
checkpoint was trained with (the editor's text tower, and each clip-vector call wherever it runs)."""

from __future__ import annotations

from typing import Any


def load_lca_checkpoint(path: str) -> Any:
    """The trained LCAScorer at `path` (a `filmcrew train-lca` checkpoint)."""
    from filmcrew.tools.resident import RESIDENT

    def load() -> Any:
        from filmcrew.tools.edit.lca.scorer import LCAScorer

        return LCAScorer.from_checkpoint(path)

    return RESIDENT.get(("lca", str(path)), load)


def load_image_encoder(name: str, debug_models: bool) -> Any:
    """The ImageEncoder called `name`: a local CLIP/SigLIP folder or cached hub id, or `tiny-clip`
    (the tiny random one, only with --debug-models)."""
    from filmcrew.tools.resident import RESIDENT

    if name == "tiny-clip" and not debug_models:
        raise ValueError("the checkpoint was trained on tiny-clip features; run with --debug-models")

    def load() -> Any:
        from filmcrew.tools.edit.lca.scorer import ImageEncoder

        return ImageEncoder.tiny() if name == "tiny-clip" else ImageEncoder.from_pretrained(name)

    return RESIDENT.get(("image-encoder", name), load)
