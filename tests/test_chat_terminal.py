"""`filmcrew chat` in a real terminal (a pty, read through a VT100 emulator): while the crew waits for
the plan's approval, the question is on screen and the live progress display is paused (it would
otherwise draw over the prompt, issue 14); `reject` with notes re-plans, `approve` renders the cut.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")
pyte = pytest.importorskip("pyte")

ROWS, COLS = 40, 120
PROMPT = "approve / edit / reject"


class Terminal:
    """A child in a pty whose output is kept as the screen a user would see."""

    def __init__(self, args: list[str], cwd: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith("FILMCREW_")}
        env.update(TERM="xterm-256color", COLUMNS=str(COLS), LINES=str(ROWS), OMP_NUM_THREADS="1")
        env.pop("NO_COLOR", None)
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.Stream(self.screen)
        self.child = pexpect.spawn(sys.executable, ["-m", "filmcrew", *args], cwd=str(cwd), env=env,
                                   dimensions=(ROWS, COLS), encoding="utf-8", timeout=60,
                                   codec_errors="replace")
        self.child.logfile_read = (cwd / "terminal.log").open("w", encoding="utf-8")

    def _feed(self) -> None:
        self.stream.feed(self.child.before + (self.child.after if isinstance(self.child.after, str)
                                              else ""))

    def expect(self, pattern: str) -> None:
        self.child.expect_exact(pattern)
        self._feed()

    def settle(self, seconds: float = 1.5) -> None:
        """Take whatever else the child prints while it waits for us (a live display would)."""
        self.child.expect(pexpect.TIMEOUT, timeout=seconds)
        self._feed()

    def cursor_line(self) -> str:
        return self.screen.display[self.screen.cursor.y]

    def send(self, line: str) -> None:
        self.child.sendline(line)


def test_chat_prompt_is_on_screen_reject_replans_and_approve_renders(tmp_path):
    run_dir = tmp_path / "chat"
    term = Terminal(["chat", "--run-dir", str(run_dir), "--duration", "2", "--width", "64",
                     "--height", "64", "--fps", "8", "--candidates", "1"], tmp_path)
    try:
        term.expect("you> ")
        term.send("A red ball drops onto a table and bounces.")
        term.expect(PROMPT)
        term.settle()
        # the question is where the cursor waits, not scrolled away or drawn over by progress bars
        assert PROMPT in term.cursor_line(), "\n".join(term.screen.display)
        assert "music:" in "\n".join(term.screen.display)  # the plan is shown above it

        term.send("reject")
        term.expect("what should change?")
        term.send("more suspense please")
        term.expect(PROMPT)  # a new plan, asked again
        term.settle()
        assert PROMPT in term.cursor_line(), "\n".join(term.screen.display)

        term.send("approve")
        term.child.expect_exact("you> ", timeout=600)  # the render, then the next question
        term._feed()
        assert "crew:" in "\n".join(term.screen.display)
        term.child.sendeof()
        term.child.expect(pexpect.EOF)
    finally:
        term.child.close(force=True)
    assert term.child.exitstatus == 0, term.child.before
    assert (run_dir / "cuts" / "cut-1.mp4").is_file()
    planned = sum(1 for line in (run_dir / "trace.jsonl").read_text().splitlines()
                  if '"node": "planner"' in line)
    assert planned >= 2  # reject with notes went back to the planner
