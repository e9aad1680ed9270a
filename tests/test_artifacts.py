"""The content-addressed store: keyed by parameters, atomic, served on the second ask."""

from __future__ import annotations

import pytest

from filmcrew.artifacts import ArtifactStore, derive_seed, params_hash
from filmcrew.tracing import Tracer, read_trace


def test_same_call_is_computed_once_and_traced_as_cached(tmp_path):
    store = ArtifactStore(tmp_path, Tracer(tmp_path / "trace.jsonl", run_id="r"))
    made = []

    def make(path):
        made.append(path)
        path.write_bytes(b"frames")
        return {"duration_s": 1.5, "fps": 24}

    a = store.get_or_create("generate", "previz", "1", {"x": 1}, ext="mp4", media_type="video/mp4",
                            make=make, seed=7)
    b = store.get_or_create("generate", "previz", "1", {"x": 1}, ext="mp4", media_type="video/mp4",
                            make=make, seed=7)
    assert a == b and len(made) == 1
    assert store.path(a).read_bytes() == b"frames" and a.duration_s == 1.5 and a.fps == 24
    assert [r["cached"] for r in read_trace(tmp_path / "trace.jsonl")] == [False, True]
    c = store.get_or_create("generate", "previz", "1", {"x": 1}, ext="mp4", media_type="video/mp4",
                            make=make, seed=8)
    assert c.params_hash != a.params_hash and len(made) == 2


def test_a_failed_make_leaves_nothing_behind(tmp_path):
    store = ArtifactStore(tmp_path)

    def boom(path):
        path.write_bytes(b"half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        store.get_or_create("n", "t", "1", {}, ext="bin", media_type="x", make=boom)
    assert [p for p in (tmp_path / "artifacts").rglob("*") if p.is_file()] == []
    key = params_hash("t", "1", {})
    assert store.lookup(key) is None


def test_a_torn_file_is_not_served(tmp_path):
    store = ArtifactStore(tmp_path)
    ref = store.get_or_create("n", "t", "1", {}, ext="bin", media_type="x",
                              make=lambda p: p.write_bytes(b"0123456789") and None)
    store.path(ref).write_bytes(b"01")
    assert store.lookup(ref.params_hash) is None


def test_keys_and_seeds_are_stable():
    assert params_hash("t", "1", {"b": 1, "a": 2}) == params_hash("t", "1", {"a": 2, "b": 1})
    assert params_hash("t", "1", {}, inputs=["x"]) != params_hash("t", "1", {}, inputs=["y"])
    assert derive_seed(0, "shot-1", 0) == derive_seed(0, "shot-1", 0)
    assert len({derive_seed(0, "shot-1", i) for i in range(8)}) == 8
