"""Finding weights in the local Hugging Face cache, without downloading anything.

Every loader of published weights (WISA, MusicGen, RFLAV, the SD-VAE, CLIP) takes either a local folder
or a hub id that the user fetched once; these helpers tell which a spec is and where the cache keeps it.
No torch import: `filmcrew doctor` uses them too.
"""

from __future__ import annotations

import os
from pathlib import Path


def is_repo_id(spec: str) -> bool:
    """Whether `spec` names a hub repo ("org/name") rather than a local path."""
    return not Path(spec).expanduser().exists() and spec.count("/") >= 1 and not spec.startswith(
        ("/", ".", "~"))


def hf_cache_dir() -> str:
    """The HF hub cache, read from the environment at call time (HF_HUB_CACHE, then HF_HOME/hub)."""
    from huggingface_hub import constants

    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return str(constants.HF_HUB_CACHE)


def cached_snapshots(repo_id: str) -> list[Path]:
    """Snapshot folders of `repo_id` in the local HF cache (newest first); never downloads."""
    try:
        from huggingface_hub import scan_cache_dir

        info = scan_cache_dir(hf_cache_dir())
    except Exception:  # no cache dir yet, or an unreadable one: nothing is cached
        return []
    out = []
    for repo in info.repos:
        if repo.repo_id == repo_id and repo.repo_type == "model":
            revs = sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True)
            out += [Path(r.snapshot_path) for r in revs]
    return out
