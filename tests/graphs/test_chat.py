"""Chat: a conversation directs the crew, one LangGraph thread per chat directory.

What a user notices: each turn's film reflects the edit (a slower shot is longer, darker music is in a
minor key, a dropped shot is gone), unchanged shots are served from the store rather than rendered
again, and the conversation carries on after the process is killed mid-turn.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from filmcrew.chat import ChatSession
from filmcrew.config import RunOptions
from filmcrew.llm.offline_chat import interpret
from filmcrew.tools.media import probe
from filmcrew.tracing import read_trace

REQUEST = "A red ball drops onto a table and bounces, then rolls into a wooden block. Calm piano."
SMALL = RunOptions(duration_s=6.0, candidates=1, beam=1, width=128, height=72)


def renders(run_dir, turn: int) -> dict[str, bool]:
    """generate node → whether its clip was served from the store, for one turn."""
    return {r["node"]: r["cached"] for r in read_trace(run_dir / "trace.jsonl")
            if r["run"] == f"chat-{turn}" and r["kind"] == "tool" and r["node"].startswith("generate")}


@pytest.fixture(scope="module")
def conversation(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("chat")
    session = ChatSession(run_dir, options=SMALL)
    replies = [session.send(m, auto_approve=True)
               for m in (REQUEST, "make the second shot slower", "darker music", "drop the last shot")]
    return run_dir, session, replies


def test_each_turn_reflects_its_edit(conversation):
    _, session, (first, slower, darker, dropped) = conversation
    assert [r.status for r in (first, slower, darker, dropped)] == ["done"] * 4
    shots = [[s["duration_s"] for s in r.plan["shots"]] for r in (first, slower, darker, dropped)]
    assert len(shots[0]) >= 3
    # slower: the second shot is 1.5× longer (to a frame), the others unchanged
    assert shots[1][1] == pytest.approx(shots[0][1] * 1.5, abs=1 / 24)
    assert [shots[1][0], *shots[1][2:]] == [shots[0][0], *shots[0][2:]]
    assert slower.plan["shots"][1]["camera"]["time_scale"] < first.plan["shots"][1]["camera"]["time_scale"]
    # darker music: the brief changes, the picture does not
    brief0, brief2 = slower.plan["music_brief"], darker.plan["music_brief"]
    assert (brief2["brightness"], brief2["mode"]) == ("dark", "minor") != (brief0["brightness"], brief0["mode"])
    assert shots[2] == shots[1]
    # drop the last shot: one shot fewer, the rest as they were
    assert shots[3] == shots[2][:-1]
    # every turn's film has the plan's length and sound, and is kept
    for reply, durations in zip((first, slower, darker, dropped), shots, strict=True):
        info = probe(reply.cut)
        assert info.video_frames == round(sum(durations) * 24)
        assert abs(info.audio_duration_s - info.video_frames / 24) <= 1 / 24
        assert f"Cut {reply.turn}: {len(durations)} shots" in reply.text  # named, not a path
        assert str(session.run_dir) not in reply.text
    assert session.cuts() == [r.cut for r in (first, slower, darker, dropped)]


def test_unchanged_shots_are_served_from_the_store(conversation):
    run_dir, _, (first, *_) = conversation
    ids = [s["id"] for s in first.plan["shots"]]
    assert not any(renders(run_dir, 1).values())  # the first film renders everything
    second = renders(run_dir, 2)
    assert second[f"generate:{ids[1]}#0"] is False  # the slowed shot re-renders
    assert all(second[f"generate:{i}#0"] for i in ids if i != ids[1])
    assert all(renders(run_dir, 3).values())  # music only: every clip served
    assert all(renders(run_dir, 4).values())  # a dropped shot: the others served
    assert len(renders(run_dir, 4)) == len(ids) - 1


def test_talk_and_bad_edits_render_nothing(conversation):
    _, session, replies = conversation
    before = len(session.cuts())
    reply = session.send("thanks", auto_approve=True)
    assert reply.status == "talk" and reply.cut is None and "slower" in reply.text
    reply = session.send("drop shot 9", auto_approve=True)
    assert reply.status == "talk" and "there is no shot 9; the cut has 2 shots" in reply.text
    assert len(session.cuts()) == before
    # nothing was lost: the next edit applies to the last cut
    reply = session.send("make the first shot longer", auto_approve=True)
    assert reply.status == "done" and len(reply.plan["shots"]) == len(replies[-1].plan["shots"])


def test_offline_reading_of_messages():
    from filmcrew.llm.offline_planner import plan_request

    plan = plan_request(REQUEST, 6.0, min_shots=3, seed=0)
    assert interpret("a fox runs through snow at dawn", None).kind == "new"
    t = interpret("make the second shot slower", plan)
    assert (t.kind, t.shot_edits[0].op, t.shot_edits[0].shot) == ("edit", "slower", 2)
    t = interpret("drop the last shot", plan)
    assert (t.shot_edits[0].op, t.shot_edits[0].shot) == ("drop", -1)
    t = interpret("Speed up shot 3", plan)
    assert (t.shot_edits[0].op, t.shot_edits[0].shot) == ("faster", 3)
    t = interpret("darker music please", plan)
    assert t.kind == "edit" and not t.shot_edits and t.music.mode == "minor"
    t = interpret("a happier, faster score", plan)
    assert t.music.mode == "major" and t.music.tempo_factor > 1
    assert interpret("a lighthouse in a storm, waves crashing", plan).kind == "new"


def test_the_conversation_survives_a_killed_process(tmp_path):
    run_dir = tmp_path / "chat"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILMCREW_")}
    cmd = [sys.executable, "-m", "filmcrew", "chat", "--run-dir", str(run_dir), "--yes",
           "--duration", "6", "--candidates", "2", "--width", "128", "--height", "72"]
    first = subprocess.run(cmd, input=REQUEST + "\n", env=env, capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith("cut-1.mp4")
    # the second turn is killed while its clips render
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env, text=True)
    proc.stdin.write("make the first shot slower\n")
    proc.stdin.flush()
    trace = run_dir / "trace.jsonl"
    deadline = time.time() + 900  # a wait for an event, not a speed limit
    while time.time() < deadline and proc.poll() is None:
        lines = [ln for ln in trace.read_text().splitlines() if '"run": "chat-2"' in ln]
        if any('"node": "generate' in ln and '"cached": false' in ln for ln in lines):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the turn finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = read_trace(trace)
    done_before = {r["params_hash"] for r in before if r["kind"] == "tool"}

    session = ChatSession(run_dir)
    history = session.history()
    assert [h[0] for h in history] == ["user", "crew", "user"]
    assert history[-1][1] == "make the first shot slower"
    # killed after the plan was approved: the turn continues, or, when the kill came before the
    # checkpoint after the approval, the plan is asked for again (what `filmcrew chat` then shows)
    if session.pending_approval() is not None:
        reply = session.decide({"type": "approve"})
    else:
        assert session.unfinished()
        reply = session.resume()
    assert reply.status == "done" and reply.cut.name == "cut-2.mp4"
    assert reply.plan["shots"][0]["duration_s"] > 1.4 * first_shot(run_dir)
    redone = [r for r in read_trace(trace)[len(before):]
              if r["kind"] == "tool" and r["params_hash"] in done_before and not r["cached"]]
    assert redone == []
    assert [c.name for c in session.cuts()] == ["cut-1.mp4", "cut-2.mp4"]


def first_shot(run_dir) -> float:
    """The first shot's planned length in turn 1, from the planner's recorded answer."""
    rec = next(r for r in read_trace(run_dir / "trace.jsonl")
               if r["run"] == "chat-1" and r["kind"] == "llm" and r["node"] == "planner")
    return rec["output"]["shots"][0]["duration_s"]
