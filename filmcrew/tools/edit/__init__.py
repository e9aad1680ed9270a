"""Everything that picks and joins clips: SKALD's search and scorers, continuity, assembly.

Agents import from here; the modules are imported on first use.
"""

from __future__ import annotations

from filmcrew.tools.faces import lazy_face

#: What agents call, by name -> the module (and its name there) that defines it (tools/faces.py):
#: imported on first use, so importing the edit face stays light (no torch until a backend runs).
_FACE = {
    "ClipFeatures": "filmcrew.tools.edit.skald",
    "clip_features": "filmcrew.tools.edit.skald",
    "ContinuityScorer": "filmcrew.tools.edit.skald",
    "beam_search": "filmcrew.tools.edit.skald",
    "LCAScorer": "filmcrew.tools.edit.lca.scorer",
    "ImageEncoder": "filmcrew.tools.edit.lca.scorer",
    "load_lca_checkpoint": "filmcrew.tools.edit.lca.loaders",
    "load_image_encoder": "filmcrew.tools.edit.lca.loaders",
    "assemble_frames": "filmcrew.tools.edit.assembly",
    "expected_frame_count": "filmcrew.tools.edit.assembly",
    "write_otio": "filmcrew.tools.edit.assembly",
    "write_editor_exports": "filmcrew.tools.edit.export",
}


__getattr__ = lazy_face(__name__, _FACE)
