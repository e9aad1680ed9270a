"""The executor seam without a cluster: routing decisions, two writers of one artifact, the local
default, and `ray` staying out of `import filmcrew` (the Ray tests are in tests/cluster/)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from filmcrew.artifacts import ArtifactStore, params_hash
from filmcrew.cluster import Router
from filmcrew.executor import LocalExecutor, StreamProgress, make_executor, relay


def test_router_sends_a_second_call_to_the_worker_holding_its_model():
    r = Router(2)
    i = r.pick("wan")
    r.done(i, "wan", ["wan"])
    assert r.pick("wan") == i  # idle holder beats idle stranger
    r.done(i, "wan", ["wan"])
    j = r.pick("cogvideox")  # a model nobody holds: the least loaded (a tie: the lowest index)
    assert j == 0


def test_router_spreads_a_burst_and_loads_each_model_once_per_worker():
    r = Router(2)
    picks = [r.pick("wan") for _ in range(8)]  # 8 shots at once, none finished
    assert sorted(picks.count(w) for w in (0, 1)) == [4, 4]
    # the holder is preferred while it is at most one call busier than a stranger
    r2 = Router(2)
    a = r2.pick("wan")
    assert r2.pick("wan") == a  # 1 in flight + 0 vs 0 + load: the holder (tie)
    assert r2.pick("wan") != a  # 2 in flight vs a load on the idle worker


def test_router_forgets_what_a_dead_worker_held_and_can_avoid_it():
    r = Router(2)
    i = r.pick("wan")
    r.done(i, "wan", ["wan"])
    r.lost(i)
    assert r.held[i] == set()
    k = r.pick("wan", exclude=i)
    assert k != i


def test_a_failed_call_keeps_what_the_router_knew():
    r = Router(1)
    r.done(r.pick("wan"), "wan", ["wan"])
    r.done(r.pick("wan"), "wan", None)  # the tool raised: the worker still holds its model
    assert r.held[0] == {"wan"}


def test_two_writers_of_one_artifact_publish_one_whole_file(tmp_path):
    """Two workers (two stores on one directory) make the same key at the same moment: both get the
    same finished artifact, the file is whole, and no temporary file is left behind."""
    stores = [ArtifactStore(tmp_path), ArtifactStore(tmp_path)]
    key = params_hash("tool", "1", {"x": 1})
    barrier = threading.Barrier(2)
    payload = b"frame" * 200_000

    def make(path: Path) -> dict:
        with path.open("wb") as f:
            f.write(payload[: len(payload) // 2])
            barrier.wait(10)  # both are half-way through writing
            f.write(payload[len(payload) // 2:])
        return {}

    refs: list = [None, None]

    def write(k: int) -> None:
        refs[k] = stores[k].put(key, ext="bin", media_type="application/octet-stream",
                                producer="tool@1", make=make)

    threads = [threading.Thread(target=write, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert refs[0] == refs[1] and refs[0] is not None
    found = stores[0].lookup(key)
    assert found == refs[0]
    assert stores[0].path(found).read_bytes() == payload
    assert [p.name for p in (tmp_path / "artifacts").rglob("*")
            if p.is_file() and p.name.startswith(".")] == []


def test_a_gpu_call_goes_to_the_stores_executor_and_a_cpu_call_does_not(tmp_path):
    ran: list[str] = []

    class Recording(LocalExecutor):
        def run(self, model, make, path, *, label):
            ran.append(f"{model}|{label}")
            return make(path)

    store = ArtifactStore(tmp_path, executor=Recording())
    for gpu in (False, True):
        store.get_or_create("generate:s1#0", "wisa", "1", {"gpu": gpu}, ext="json",
                            media_type="application/json", model="wan-14b",
                            make=ArtifactStore.json_writer({"gpu": gpu}), gpu=gpu)
    assert ran == ["wan-14b|generate:s1#0 wisa"]


def test_progress_travels_only_through_a_relay():
    import pickle

    progress = StreamProgress("generate", "s1#0", "render")
    with pytest.raises(TypeError):
        pickle.dumps(progress)
    with relay() as table:
        blob = pickle.dumps(progress)
    assert list(table.values()) == [progress]
    assert type(pickle.loads(blob)).__name__ == "RemoteProgress"


def test_local_is_the_default_and_unknown_executors_are_refused():
    from filmcrew.config import Settings

    assert Settings().executor == "local"
    assert make_executor("local").name == "local"
    with pytest.raises(ValueError, match="unknown executor"):
        make_executor("dask")


def test_import_filmcrew_never_imports_ray():
    code = ("import sys, filmcrew, filmcrew.cli, filmcrew.context, filmcrew.executor, "
            "filmcrew.cluster, filmcrew.doctor, filmcrew.graphs.film; "
            "print(json.dumps('ray' in sys.modules))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True,
                         text=True, timeout=120, check=True)
    assert json.loads(out.stdout) is False
