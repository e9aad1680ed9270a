"""The process's resident models (tools/resident.py): an LRU under a byte budget, loads counted.

What a user would notice: a GPU worker keeps the models it used last and drops the least recently
used one when a new one would not fit; a model bigger than the whole budget still runs (alone);
two shots asking for one model at once load it once; the budget counts real bytes (a tied weight
once, a `meta` placeholder not at all).
"""

from __future__ import annotations

import threading

import torch

from filmcrew.tools.resident import ResidentModels, model_bytes


def linear(n: int) -> torch.nn.Module:
    return torch.nn.Linear(n, n, bias=False)  # n·n float32 weights: 4·n² bytes


def test_least_recently_used_goes_first_under_the_budget():
    res = ResidentModels(budget_bytes=1000)
    a, b, c = linear(10), linear(10), linear(10)  # 400 bytes each: two fit, three do not
    assert res.get("a", lambda: a) is a
    assert res.get("b", lambda: b) is b
    assert res.used_bytes() == 800
    assert res.get("a", lambda: linear(10)) is a  # a hit: `a` is now the most recently used
    assert res.get("c", lambda: c) is c  # needs room: `b` (least recently used) goes
    assert res.holds("a") and res.holds("c") and not res.holds("b")
    assert [h["key"] for h in res.holding()] == ["a", "c"]
    assert res.used_bytes() == 800
    assert res.get("b", lambda: b) is b  # reloaded: now `a` was the least recently used
    assert not res.holds("a") and res.holds("c") and res.holds("b")
    assert res.loads == {"a": 1, "b": 2, "c": 1}


def test_a_model_bigger_than_the_budget_still_loads_alone():
    res = ResidentModels(budget_bytes=1000)
    res.get(("small", 1), lambda: linear(10))
    res.get(("small", 2), lambda: linear(5))
    big = linear(20)  # 1600 bytes > the whole budget
    assert res.get(("big",), lambda: big) is big
    assert [h["key"] for h in res.holding()] == ["big"]
    assert res.holding()[0]["bytes"] == 1600
    res.get(("small", 1), lambda: linear(10))  # the next load evicts it again
    assert not res.holds(("big",)) and res.loads[("small", 1)] == 2


def test_without_a_budget_everything_stays_and_keys_are_recorded():
    res = ResidentModels(None)
    for i in range(5):
        res.get(("m", i), lambda: linear(30))
    assert len(res.holding()) == 5 and res.holding()[0]["key"] == "m 0"
    touched = res.track()
    res.get(("m", 3), lambda: linear(30))
    res.get(("m", 9), lambda: linear(2))
    assert touched == {("m", 3), ("m", 9)}
    res.drop(lambda k: k[1] >= 3)
    assert [h["key"] for h in res.holding()] == ["m 0", "m 1", "m 2"]


def test_two_threads_asking_for_one_key_load_it_once():
    """The first loader holds the key's gate; the second waits for it and finds the model (the
    models are built on the main thread: the threads only hand them over)."""
    res = ResidentModels(None)
    model, other = linear(4), linear(4)
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow_load() -> torch.nn.Module:
        calls.append("first")
        started.set()
        assert release.wait(30)
        return model

    def second_load() -> torch.nn.Module:
        calls.append("second")
        return other

    got: dict[str, object] = {}
    t1 = threading.Thread(target=lambda: got.__setitem__("t1", res.get("k", slow_load)))
    t1.start()
    assert started.wait(30)
    t2 = threading.Thread(target=lambda: got.__setitem__("t2", res.get("k", second_load)))
    t2.start()
    t2.join(0.2)  # give it the chance to reach the gate (the result does not depend on it)
    release.set()
    t1.join(30)
    t2.join(30)
    assert calls == ["first"]
    assert got == {"t1": model, "t2": model}
    assert res.loads == {"k": 1}


def test_model_bytes_counts_shared_storage_once_and_ignores_meta_tensors():
    a = linear(10)
    tied = torch.nn.Sequential(a, torch.nn.Linear(10, 10, bias=False))
    tied[1].weight = a.weight  # tied weights: one storage
    assert model_bytes(tied) == 400
    t = torch.zeros(100)
    assert model_bytes({"whole": t, "view": t[:10], "again": [t]}) == 400  # a view shares storage

    class Pipeline:  # a diffusers-like bundle: components as attributes, a config dict
        def __init__(self) -> None:
            self.transformer = linear(10)
            self.vae = torch.nn.Linear(1000, 1000, device="meta")  # not materialised: no bytes
            self.text_encoder = self.transformer  # the same module under two names
            self.config = {"name": "tiny", "buffers": (torch.ones(4, dtype=torch.float16),)}

    assert model_bytes(Pipeline()) == 400 + 8
    bn = torch.nn.BatchNorm1d(5)  # buffers count: 2·5 weights + 2·5 stats + one int64 counter
    assert model_bytes(bn) == 4 * 20 + 8
    assert model_bytes(None) == 0 and model_bytes("text") == 0
