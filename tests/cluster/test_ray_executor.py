"""The crew's GPU work on a Ray cluster: same film as local, calls spread and routed by model, a dead
worker's call retried, a killed driver resumed without recomputing, Ctrl-C cancelling remote calls.

One local Ray cluster serves the whole module, with 4 units of a custom resource standing in for GPUs
(`fc_gpu`): each driver starts two workers (FILMCREW_RAY_WORKERS=2), so a second driver (the one that
is killed) finds room beside the first. The models are the tiny random WISA pipelines
(`--debug-models`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

if os.environ.get("CI"):  # CI installs the ray extra (make test): a missing Ray fails there
    import ray
else:
    ray = pytest.importorskip("ray")

from filmcrew import runner
from filmcrew.config import RunOptions, Settings
from filmcrew.executor import CallCancelled, close_executors, executor_for

REQUEST = "A ball falls."  # two shots: with four candidates each, 8 clips
OPTIONS = dict(duration_s=2.0, candidates=4, beam=1, seed=3, width=64, height=64, fps=8,
               video_backend="wisa", debug_models=True, max_critic_rounds=0)
RAY_ENV = {"FILMCREW_EXECUTOR": "ray", "FILMCREW_RAY_RESOURCE": "fc_gpu", "FILMCREW_RAY_WORKERS": "2"}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def cluster():
    """A local cluster for the module; yields its address for other drivers (subprocesses)."""
    ray.init(num_cpus=4, resources={"fc_gpu": 4}, include_dashboard=False, log_to_driver=False,
             namespace="filmcrew")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        close_executors()
        ray.shutdown()


@pytest.fixture(scope="module")
def local_film(tmp_path_factory):
    """The reference: the same request made by the local executor, with its progress events."""
    events: list[tuple] = []
    env = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("FILMCREW_EXECUTOR")}
    try:
        result = runner.start(REQUEST, RunOptions(**OPTIONS), tmp_path_factory.mktemp("local") / "f",
                              on_event=lambda mode, d: _progress(events, mode, d))
    finally:
        os.environ.update(env)
    return result, sorted(events)


def _progress(events: list, mode: str, data: dict) -> None:
    if mode == "custom" and data.get("node") == "generate":
        events.append((data["shot_id"], data["step"], data["total"]))


@pytest.fixture
def ray_executor(cluster, monkeypatch):
    for k, v in RAY_ENV.items():
        monkeypatch.setenv(k, v)
    return executor_for(Settings())


def test_a_second_call_for_a_model_lands_on_the_worker_that_loaded_it_and_makes_local_bytes(ray_executor, tmp_path):
    from filmcrew.artifacts import ArtifactStore
    from filmcrew.schemas import Shot
    from filmcrew.tools.video import WisaGenerator

    store = ArtifactStore(tmp_path / "ray", executor=ray_executor)
    gen = WisaGenerator(debug_models=True)
    gen.steps = 12  # seed 5 at 12 steps: a clip whose bytes change with the CPU thread count
    shot = Shot(id="s1", duration_s=1.0, local_prompt="a ball falls and bounces",
                events=["a ball falls"])
    before = ray_executor.stats()
    remote = [gen.generate(store, "generate:s1#0", shot, None, seed=seed, width=64, height=64,
                           fps=8, shot_number=1, style="").sha256
              for seed in (5, 6)]  # one after the other: nobody is busy, the holder wins
    after = ray_executor.stats()
    here = ArtifactStore(tmp_path / "local")
    assert remote == [gen.generate(here, "generate:s1#0", shot, None, seed=seed, width=64, height=64,
                                   fps=8, shot_number=1, style="").sha256 for seed in (5, 6)]
    calls = [a["calls"] - b["calls"] for a, b in zip(after, before, strict=True)]
    loads = [a["loads"] - b["loads"] for a, b in zip(after, before, strict=True)]
    worker = calls.index(2)
    assert sorted(calls) == [0, 2], calls
    assert loads[worker] <= 1 and loads[1 - worker] == 0, loads
    assert after[worker]["models"], "the worker says which model it holds"


def test_ray_film_is_the_local_film_spread_over_workers_even_when_workers_die(
        ray_executor, local_film, tmp_path):
    """8 candidate clips over 2 workers; both workers are killed while the first clip renders, their
    calls are retried once on the restarted workers, and the film is byte-identical to local."""
    local, local_events = local_film
    events: list[tuple] = []
    killed = threading.Event()
    retries_before = ray_executor.retries

    def on_event(mode: str, data: dict) -> None:
        _progress(events, mode, data)
        if mode == "custom" and data.get("node") == "generate" and not killed.is_set():
            killed.set()
            for w in ray_executor.workers:
                ray.kill(w, no_restart=False)

    result = runner.start(REQUEST, RunOptions(**OPTIONS), tmp_path / "f", on_event=on_event)
    assert killed.is_set()
    assert sha(result.final) == sha(local.final)
    report = json.loads((result.run_dir / "report.json").read_text())
    assert report["executor"] == {"executor": "ray", "address": "local", "resource": "fc_gpu",
                                  "workers": 2}
    assert ray_executor.retries > retries_before  # a call in flight was retried
    stats = ray_executor.stats()  # the restarted workers: each loaded the model once at most
    assert all(s["calls"] >= 1 for s in stats), stats  # both workers rendered clips
    assert all(s["loads"] <= 1 for s in stats), stats
    # the remote progress reached the driver's stream: every clip's last step arrived
    finals = {(shot, total) for shot, step, total in events if step == total}
    assert finals == {(shot, total) for shot, step, total in local_events if step == total}


def test_cancel_stops_a_remote_call_in_flight(ray_executor, tmp_path):
    from filmcrew.artifacts import ArtifactStore
    from filmcrew.executor import StreamProgress
    from filmcrew.schemas import Shot
    from filmcrew.tools.video import WisaGenerator

    store = ArtifactStore(tmp_path, executor=ray_executor)
    gen = WisaGenerator(debug_models=True)
    gen.steps = 400  # long enough to be caught mid-loop
    shot = Shot(id="s1", duration_s=1.0, local_prompt="a ball falls", events=["a ball falls"])
    started = threading.Event()

    class Seen(StreamProgress):
        def __call__(self, step: int, total: int) -> None:
            started.set()

    progress = Seen("generate", "s1#0", "render")
    outcome: dict = {}

    def call() -> None:
        try:
            gen.generate(store, "generate:s1#0", shot, None, seed=9, width=64, height=64, fps=8,
                         shot_number=1, style="", progress=progress)
            outcome["done"] = True
        except CallCancelled as e:
            outcome["cancelled"] = e

    t = threading.Thread(target=call)
    t.start()
    assert started.wait(120)
    ray_executor.cancel_all()
    t.join(60)
    assert not t.is_alive() and "cancelled" in outcome, outcome
    assert not list(tmp_path.glob("artifacts/*/*.mp4"))  # nothing published


def test_ctrl_c_cancels_the_remote_calls_and_stops_the_run(ray_executor, tmp_path, monkeypatch):
    """SIGINT while clips render on the workers: the run stops with KeyboardInterrupt (the CLI then
    says `filmcrew resume`), the calls in flight stop mid-loop, and the workers are free again."""
    from filmcrew.tools.video import WisaGenerator

    monkeypatch.setattr(WisaGenerator, "DEBUG_STEPS", 400)  # clips long enough to be cut short
    before = sum(s["cancelled"] for s in ray_executor.stats())
    calls_before = sum(s["calls"] for s in ray_executor.stats())
    sent = threading.Event()

    def on_event(mode: str, data: dict) -> None:
        if mode == "custom" and data.get("node") == "generate" and not sent.is_set():
            sent.set()
            os.kill(os.getpid(), signal.SIGINT)

    opts = RunOptions(**{**OPTIONS, "seed": 11})
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.start(REQUEST, opts, tmp_path / "f", on_event=on_event)
    finally:
        ray_executor.interrupted = False  # the test process goes on: take calls again
    assert sent.is_set()
    assert not (tmp_path / "f" / "final.mp4").exists()
    deadline = time.monotonic() + 60
    while any(s["busy"] for s in ray_executor.stats()) and time.monotonic() < deadline:
        time.sleep(0.2)
    stats = ray_executor.stats()
    assert not any(s["busy"] for s in stats)
    assert sum(s["cancelled"] for s in stats) > before  # a call stopped between its steps
    assert sum(s["calls"] for s in stats) - calls_before == sum(s["cancelled"] for s in stats) - before
    assert not list((tmp_path / "f").glob("artifacts/*/*.mp4"))  # no clip was finished


def test_doctor_sees_the_cluster_and_what_each_worker_holds(ray_executor, cluster):
    from filmcrew.cluster import cluster_view
    from filmcrew.doctor import cluster_lines

    view = cluster_view(cluster)
    assert [n["alive"] for n in view["nodes"]] == [True]
    assert view["resources"]["fc_gpu"] == 4
    assert len(view["workers"]) == 2
    assert any(w["models"] for w in view["workers"])
    text = "\n".join(cluster_lines(view))
    assert "1 node" in text and "2 workers" in text and "debug-tiny" in text


def _records(run_dir: Path) -> list[dict]:
    trace = run_dir / "trace.jsonl"
    out = []
    for line in trace.read_text().splitlines() if trace.exists() else []:
        with contextlib.suppress(ValueError):  # the line being written
            out.append(json.loads(line))
    return out


def _sidecars(run_dir: Path) -> set[str]:
    return {p.name.split(".")[0] for p in (run_dir / "artifacts").glob("*/*.ref.json")}


def test_resume_after_killing_the_driver_recomputes_nothing_finished(cluster, local_film, tmp_path,
                                                                     monkeypatch):
    local, _ = local_film
    env = {**os.environ, **RAY_ENV, "FILMCREW_RAY_ADDRESS": cluster, "COLUMNS": "200"}
    run_dir = tmp_path / "f"
    args = ["--width", "64", "--height", "64", "--fps", "8", "--duration", "2", "--candidates", "4",
            "--beam", "1", "--seed", "3", "--video-backend", "wisa", "--debug-models",
            "--max-critic-rounds", "0"]
    first = subprocess.Popen([sys.executable, "-m", "filmcrew", "run", REQUEST, "--run-dir",
                              str(run_dir), "--yes", *args], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=(tmp_path / "stderr").open("w"))
    deadline = time.monotonic() + 240
    made = []
    while time.monotonic() < deadline and first.poll() is None:
        made = [r for r in _records(run_dir) if r.get("kind") == "tool"
                and r.get("node", "").startswith("generate:") and r.get("cached") is False]
        if made:
            break
        time.sleep(0.2)
    assert made and first.poll() is None, (tmp_path / "stderr").read_text()[-2000:]
    first.send_signal(signal.SIGKILL)
    first.wait()
    finished = _sidecars(run_dir)
    n_lines = len((run_dir / "trace.jsonl").read_text().splitlines())

    for k, v in RAY_ENV.items():  # the resumed driver: this process (its workers), same cluster
        monkeypatch.setenv(k, v)
    result = runner.resume(run_dir)
    assert result.status == "done"
    resumed = [json.loads(x) for x in (run_dir / "trace.jsonl").read_text().splitlines()[n_lines:]]
    tools = [r for r in resumed if r.get("kind") == "tool"]
    recomputed = [r for r in tools if not r["cached"] and r["params_hash"] in finished]
    assert tools and not recomputed, recomputed
    assert any(r["cached"] and r["name"] in ("wisa", "syncos") for r in tools)
    assert sha(run_dir / "final.mp4") == sha(local.final)
