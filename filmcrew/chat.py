"""A conversation that directs the crew: one LangGraph thread per chat directory.

Each message is a turn of the same thread: the director reads it as a new film, an edit of the
current cut or talk (agents/director.py), the crew re-renders what the edit touched (the artifact
store serves the rest), and the answer names the new cut. The thread is checkpointed to SQLite in the
chat directory after every step, so a conversation survives a restart, and a turn cut short by a
crash continues where it stopped. The terminal chat and the web page both drive this class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filmcrew.config import RunOptions, Settings
from filmcrew.context import CrewContext
from filmcrew.inputs import check_request
from filmcrew.runner import (
    RECURSION_LIMIT,
    Approver,
    EventSink,
    open_checkpointer,
    prepare_run_dir,
    stream,
)

THREAD = "chat"


@dataclass
class ChatReply:
    turn: int
    status: str  # "done" (a new cut), "talk" (an answer only), "awaiting_approval", "rejected"
    text: str  # the crew's last message
    cut: Path | None  # the new film of this turn
    plan: dict[str, Any] | None  # the plan waiting for approval, or the plan of the cut


class ChatSession:
    """The conversation in `run_dir` (created on first use, continued afterwards)."""

    def __init__(self, run_dir: Path, *, options: RunOptions | None = None,
                 settings: Settings | None = None, chat_model: Any | None = None):
        self.run_dir = prepare_run_dir(Path(run_dir))
        self.settings = settings or Settings()
        self.chat_model = chat_model
        meta_path = self.run_dir / "chat.json"
        if meta_path.exists():
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            self.options = RunOptions.model_validate(meta["options"])
        else:
            self.options = options or RunOptions()
            meta_path.write_text(json.dumps({"thread_id": THREAD, "options":
                                             self.options.model_dump(mode="json")}, indent=2))
        self.config = {"configurable": {"thread_id": THREAD}, "recursion_limit": RECURSION_LIMIT}

    # -- reading the thread ---------------------------------------------------------------------

    def _snapshot(self) -> Any:
        from filmcrew.graphs.film import build_film_graph

        with open_checkpointer(self.run_dir) as saver:
            return build_film_graph().compile(checkpointer=saver).get_state(self.config)

    def history(self) -> list[tuple[str, str]]:
        """(role, text) of every message so far; role is "user" or "crew"."""
        msgs = self._snapshot().values.get("messages", [])
        return [("user" if m.type == "human" else "crew", str(m.content)) for m in msgs]

    def pending_approval(self, snap: Any = None) -> dict[str, Any] | None:
        """The plan-approval request the thread is waiting on, if any."""
        snap = snap or self._snapshot()
        pending = [i for t in snap.tasks for i in t.interrupts]
        return pending[0].value if pending else None

    def unfinished(self, snap: Any = None) -> bool:
        """Whether a turn was cut short (killed mid-render) and can be continued."""
        snap = snap or self._snapshot()
        return bool(snap.next) and not any(t.interrupts for t in snap.tasks)

    def cuts(self) -> list[Path]:
        """Every turn's film, oldest first."""
        return [self.run_dir / c for c in self._snapshot().values.get("cuts", [])]

    # -- driving it -----------------------------------------------------------------------------

    def send(self, message: str, *, approve: Approver | None = None, auto_approve: bool = False,
             on_event: EventSink | None = None) -> ChatReply:
        """One turn: the user's message in, the crew's answer (and maybe a new cut) out.

        Plan approval: `auto_approve`, else `approve(request)` answers it, else the turn stops with
        status "awaiting_approval" and `decide()` continues it (the web page's flow).
        """
        from langchain_core.messages import HumanMessage

        message = check_request(message)
        snap = self._snapshot()
        if self.pending_approval(snap) is not None:
            raise ValueError("the plan is waiting for approval; approve, edit or reject it first")
        turn = int(snap.values.get("turn", 0)) + 1
        payload = {"messages": [HumanMessage(message)], "auto_approve": auto_approve,
                   "options": self.options.model_dump(mode="json")}
        return self._run(payload, turn, approve, on_event)

    def decide(self, decision: dict[str, Any], *, approve: Approver | None = None,
               on_event: EventSink | None = None) -> ChatReply:
        """Answer the pending plan approval ({"type": "approve" | "edit" | "reject", ...})."""
        from langgraph.types import Command

        snap = self._snapshot()
        if self.pending_approval(snap) is None:
            raise ValueError("no plan is waiting for approval")
        turn = int(snap.values.get("turn", 1))
        return self._run(Command(resume={"decisions": [decision]}), turn, approve, on_event)

    def resume(self, *, approve: Approver | None = None,
               on_event: EventSink | None = None) -> ChatReply | None:
        """Finish a turn that was cut short; None if there is none."""
        snap = self._snapshot()
        if not self.unfinished(snap):
            return None
        return self._run(None, int(snap.values.get("turn", 1)), approve, on_event)

    def _run(self, payload: Any, turn: int, approve: Approver | None,
             on_event: EventSink | None) -> ChatReply:
        from langgraph.types import Command

        from filmcrew.graphs.film import build_film_graph

        ctx = CrewContext.create(self.run_dir, run_id=f"chat-{turn}", llm_spec=self.options.llm,
                                 settings=self.settings, chat_model=self.chat_model)
        sink = on_event or (lambda mode, data: None)
        with open_checkpointer(self.run_dir) as saver:
            app = build_film_graph().compile(checkpointer=saver)
            while True:
                interrupted = stream(app, payload, self.config, ctx, sink)
                if interrupted is None:
                    break
                if approve is None:
                    return ChatReply(turn, "awaiting_approval", "The plan is ready for approval.",
                                     None, interrupted.value["action_requests"][0]["args"]["plan"])
                payload = Command(resume=approve(interrupted.value))
            values = app.get_state(self.config).values
        text = str(values["messages"][-1].content) if values.get("messages") else ""
        cuts = values.get("cuts", [])
        done = values.get("turn") == turn and len(cuts) >= 1 and cuts[-1].endswith(f"cut-{turn}.mp4")
        if done:
            return ChatReply(turn, "done", text, self.run_dir / cuts[-1], values.get("plan"))
        answered = bool(values.get("messages")) and values["messages"][-1].type == "ai"
        return ChatReply(turn, "talk" if answered else "rejected", text if answered else "",
                         None, values.get("plan"))
