"""Content-addressed artifact store (ARCHITECTURE.md §5).

Every tool call is keyed by `params_hash = sha256(tool, version, model, canonical JSON of the request,
seed, input artifact hashes)`. A tool call first looks its key up; only a miss computes. Files are
written atomically (temp file + rename) under `artifacts/<hash[:2]>/<hash>.<ext>` with a JSON sidecar,
so a run killed at any moment leaves either a finished artifact or nothing, and a resumed or repeated
run never recomputes a finished one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from filmcrew.executor import Executor, LocalExecutor
from filmcrew.schemas import ArtifactRef
from filmcrew.tracing import Tracer

Meta = dict[str, Any]


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, floats as Python prints them."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def params_hash(tool: str, version: str, params: Any, *, model: str = "", seed: int | None = None,
                inputs: Iterable[str] = ()) -> str:
    """The cache key of a tool call."""
    payload = canonical_json(
        {"tool": tool, "version": version, "model": model, "params": params, "seed": seed,
         "inputs": sorted(inputs)}
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def derive_seed(seed: int, *parts: object) -> int:
    """A child seed from a run seed and names (shot id, candidate index…): stable across runs."""
    h = hashlib.sha256(canonical_json([seed, *parts]).encode()).digest()
    return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class ArtifactStore:
    """Files keyed by the parameters that made them, under `<run_dir>/artifacts/`."""

    def __init__(self, run_dir: Path, tracer: Tracer | None = None, executor: Executor | None = None):
        self.run_dir = Path(run_dir)
        self.root = self.run_dir / "artifacts"
        self.root.mkdir(parents=True, exist_ok=True)
        self.tracer = tracer or Tracer(None)
        #: where `gpu=True` calls run (filmcrew/executor.py); by default in this process
        self.executor = executor or LocalExecutor()

    def __reduce__(self) -> tuple:
        """A store travels to a worker as its directory: the worker reads and writes the same files
        (shared storage), while the trace and the executor stay with the driver."""
        return (ArtifactStore, (self.run_dir,))

    # -- paths ------------------------------------------------------------------------------------

    def _file(self, key: str, ext: str) -> Path:
        return self.root / key[:2] / f"{key}.{ext}"

    def _sidecar(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.ref.json"

    def path(self, ref: ArtifactRef) -> Path:
        """Absolute path of an artifact."""
        return self.run_dir / ref.uri

    def ref_at(self, uri: str) -> ArtifactRef:
        """The reference of a stored file, from its sidecar (e.g. a file another artifact's meta names)."""
        key = Path(uri).name.split(".")[0]
        ref = self.lookup(key)
        if ref is None or ref.uri != uri:
            raise FileNotFoundError(f"{uri} is not a finished artifact of {self.run_dir}")
        return ref

    # -- lookup and write -------------------------------------------------------------------------

    def lookup(self, key: str) -> ArtifactRef | None:
        """The finished artifact under `key`, or None (a missing or torn file counts as missing)."""
        side = self._sidecar(key)
        if not side.exists():
            return None
        try:
            ref = ArtifactRef.model_validate_json(side.read_text(encoding="utf-8"))
        except ValueError:
            return None
        f = self.path(ref)
        if not f.exists() or f.stat().st_size != ref.meta.get("bytes", f.stat().st_size):
            return None
        return ref

    def put(self, key: str, *, ext: str, media_type: str, producer: str,
            make: Callable[[Path], Meta | None], seed: int | None = None) -> ArtifactRef:
        """Run `make(tmp_path)` to write the file, then publish it atomically under `key`."""
        final = self._file(key, ext)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{key[:12]}-", suffix=f".{ext}", dir=final.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            meta = dict(make(tmp) or {})
            fields = {k: meta.pop(k) for k in ("duration_s", "fps", "sample_rate", "width", "height")
                      if k in meta}
            meta["bytes"] = tmp.stat().st_size
            ref = ArtifactRef(
                uri=final.relative_to(self.run_dir).as_posix(),
                sha256=sha256_file(tmp),
                media_type=media_type,
                params_hash=key,
                producer=producer,
                seed=seed,
                meta=meta,
                **fields,
            )
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        # a temporary name of its own: two writers of one key (two workers) never share it
        fd, side_tmp = tempfile.mkstemp(prefix=f".{key[:12]}-", suffix=".ref.tmp", dir=final.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(ref.model_dump_json(indent=1))
            os.replace(side_tmp, self._sidecar(key))
        finally:
            Path(side_tmp).unlink(missing_ok=True)
        return ref

    def get_or_create(self, node: str, tool: str, version: str, params: Any, *, ext: str,
                      media_type: str, make: Callable[[Path], Meta | None], model: str = "",
                      seed: int | None = None, inputs: Iterable[ArtifactRef] = (),
                      gpu: bool = False) -> ArtifactRef:
        """Serve the artifact for this call from the store, or make it; either way, trace it.

        `gpu=True` marks a call whose `make` runs a model on the accelerator: on a miss it runs on
        the store's executor (a Ray actor holding `model`, with `--executor ray`). Such a `make`
        loads its model itself (tools/resident.py) and captures only plain values, so it can travel.
        """
        inputs = list(inputs)
        if gpu:
            make = functools.partial(self.executor.run, model, make, label=f"{node} {tool}")
        key = params_hash(tool, version, params, model=model, seed=seed,
                          inputs=[r.sha256 for r in inputs])
        index = self.tracer.next_index("tool", node)
        with self.tracer.timed() as t:
            ref, extra = self._serve(node, index, tool, key)
            cached = ref is not None
            if ref is None:
                producer = f"{tool}@{version}" + (f" {model}" if model else "")
                ref = self.put(key, ext=ext, media_type=media_type, producer=producer, make=make,
                               seed=seed)
                self._made(node, index, ref)
        self.tracer.record("tool", node, tool, key, cached, t["seconds"], output=ref.uri,
                           sha256=ref.sha256, call_index=index, **extra)
        return ref

    # Hooks for a replay store (filmcrew/replay.py), which serves calls from a recorded run.

    def _serve(self, node: str, index: int, tool: str, key: str) -> tuple[ArtifactRef | None, Meta]:
        """The finished artifact for call `index` of `node`, if any, and extra trace fields."""
        return self.lookup(key), {}

    def _made(self, node: str, index: int, ref: ArtifactRef) -> None:
        """Called after a call was computed."""

    # -- small JSON artifacts ---------------------------------------------------------------------

    def read_json(self, ref: ArtifactRef) -> Any:
        return json.loads(self.path(ref).read_text(encoding="utf-8"))

    @staticmethod
    def json_writer(obj: Any) -> Callable[[Path], Meta]:
        """A `make` callback that writes `obj` as JSON."""

        def make(path: Path) -> Meta:
            path.write_text(canonical_json(obj), encoding="utf-8")
            return {}

        return make
