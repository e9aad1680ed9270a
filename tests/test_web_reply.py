"""The web page names cuts as the user knows them (cut 1, its length, its shots): no server path in
a reply, a notice or the list of cuts (issue 14)."""

from __future__ import annotations

import re

import pytest

from filmcrew.chat import ChatSession
from filmcrew.config import RunOptions

TINY = RunOptions(duration_s=2, width=64, height=64, fps=8, candidates=1, beam=1,
                  max_critic_rounds=0)
ABSOLUTE = re.compile(r"(?<![\w.])/[^\s/]+/")  # any absolute path, e.g. /srv/…/cuts/cut-1.mp4


@pytest.fixture(scope="module")
def chat(tmp_path_factory):
    session = ChatSession(tmp_path_factory.mktemp("web") / "chat", options=TINY)
    reply = session.send("A red ball drops onto a table and bounces.", auto_approve=True)
    assert reply.status == "done", reply
    return session, reply


def test_the_reply_names_the_cut_without_a_path(chat):
    session, reply = chat
    assert "Cut 1: 3 shots, 2.00 s" in reply.text or re.search(r"Cut 1: \d+ shots, 2\.00 s", reply.text)
    assert str(session.run_dir) not in reply.text
    assert not ABSOLUTE.search(reply.text), reply.text
    assert "cut-1.mp4" not in reply.text


def test_the_cut_list_shows_number_length_and_shots(chat):
    from filmcrew.web import cut_label

    session, reply = chat
    (cut,) = session.cuts()
    shots = len(reply.plan["shots"])
    assert cut_label(1, cut) == f"cut 1 — 2.00 s, {shots} shots"
    assert cut_label(7, cut.with_name("cut-7.mp4")) == "cut 7"  # no sidecar: still no path


def test_page_text_never_shows_server_paths(chat):
    from filmcrew.web import public_text

    session, _ = chat
    root = session.run_dir.resolve()
    old_reply = f"Here is the film. Cut 1: {root}/cuts/cut-1.mp4 — 3 shots, 2.00 s."
    assert public_text(old_reply, root) == "Here is the film. Cut 1: cuts/cut-1.mp4 — 3 shots, 2.00 s."
    notice = "cannot write to run dir /proc/x/chat: No such file or directory"
    assert public_text(notice, root) == "cannot write to run dir chat: No such file or directory"
    for text, _ in [(t, r) for r, t in session.history()]:
        assert not ABSOLUTE.search(public_text(text, root)), text
    # ordinary text with slashes stays as it was
    assert public_text("a 2/3 split, AC/DC at 1.5/2 s", root) == "a 2/3 split, AC/DC at 1.5/2 s"
