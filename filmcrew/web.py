"""`filmcrew serve`: the chat in a web page (Gradio, the optional `ui` extra).

The page drives one `ChatSession` over a chat directory, exactly as the terminal chat does: a message
becomes a turn, a plan waiting for approval is shown as a table with Approve / Reject / Edit, the
render reports progress from the graph's custom stream events, and every cut stays playable. All
state lives in the thread's checkpoint, not in the browser, so reloading the page or restarting the
server shows the same conversation. Nothing reaches the network: analytics are off, no share link is
made, and the default theme's fonts are served by Gradio itself.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from filmcrew.chat import ChatReply, ChatSession
from filmcrew.config import RunOptions, Settings

# before gradio is imported: it reads this at import time (version check, usage analytics)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

STAGES = ("planner", "review_plan", "physics", "generate", "shot_editor", "music", "renderer", "reply")
PLAN_HEADERS = ["shot", "seconds", "camera", "what happens"]


def plan_rows(plan: dict[str, Any]) -> list[list[Any]]:
    """The plan as table rows: shot number, seconds, camera, what happens (events or prompt)."""
    rows = []
    for i, shot in enumerate(plan.get("shots", []), 1):
        cam = shot.get("camera") or {}
        camera = f"{cam.get('scale', 'medium')}, {cam.get('move', 'static')}"
        if float(cam.get("time_scale", 1.0)) != 1.0:
            camera += f", ×{float(cam['time_scale']):g} time"
        happens = "; ".join(shot.get("events") or []) or shot.get("local_prompt", "")
        rows.append([i, round(float(shot.get("duration_s", 0.0)), 2), camera, happens])
    return rows


def music_line(plan: dict[str, Any]) -> str:
    """One line saying what the music will be."""
    b = plan.get("music_brief") or {}
    if not b:
        return "Music: none planned."
    tempo = f"{b.get('tempo_bpm_min', 0):g}–{b.get('tempo_bpm_max', 0):g} BPM"
    instruments = ", ".join(b.get("instruments") or [])
    return (f"Music: {b.get('key', '?')} {b.get('mode', '')}, {b.get('emotional_tone', '')}, "
            f"{tempo}; {instruments}. {b.get('description', '')}").strip()


def public_text(text: str, run_dir: Path) -> str:
    """Text for the page with the server's paths taken out: a path inside the chat directory
    becomes relative to it (older replies named cuts by their absolute path), any other absolute
    path is cut to its file name."""
    import re

    root = Path(run_dir)
    for base in {str(root.resolve()), str(root.absolute()), str(root)}:
        if base not in (".", ""):
            text = text.replace(base.rstrip("/") + "/", "")
    return re.sub(r"(?<![\w.])(?:/[^\s/:]+)+/([^\s/]+)", r"\1", text)


def cut_label(number: int, path: Path) -> str:
    """"cut 2 — 2.50 s, 3 shots": the cut as the user knows it (from cuts/cut-<n>.json)."""
    try:
        info = json.loads(Path(path).with_suffix(".json").read_text(encoding="utf-8"))
        return f"cut {number} — {float(info['duration_s']):.2f} s, {len(info['shots'])} shots"
    except (OSError, ValueError, KeyError, TypeError):  # older cuts have no sidecar
        return f"cut {number}"


class _Progress:
    """Feeds Gradio's progress bar from the session's stream events (stages and per-shot steps)."""

    def __init__(self, progress: Any):
        self.progress = progress
        self.done: set[str] = set()
        self.shown = 0.0  # the bar only moves forward, though parallel shots report out of order

    def _show(self, fraction: float, desc: str) -> None:
        self.shown = max(self.shown, min(fraction, 1.0))
        self.progress(self.shown, desc=desc)

    def __call__(self, mode: str, data: Any) -> None:
        base = len(self.done) / len(STAGES)
        if mode == "custom" and isinstance(data, dict) and data.get("type") == "progress":
            total = max(int(data.get("total") or 1), 1)
            step = min(int(data.get("step") or 0), total)
            what = " ".join(str(x) for x in (data.get("node"), data.get("shot_id"), data.get("stage"))
                            if x)
            self._show(base + step / total / len(STAGES), f"{what} {step}/{total}")
        elif mode == "updates" and isinstance(data, dict):
            for node in data:
                if node in STAGES:
                    self.done.add(node)
            names = ", ".join(str(n) for n in data)
            self._show(len(self.done) / len(STAGES), f"{names} done")


def build_app(run_dir: Path, *, options: RunOptions | None = None,
              settings: Settings | None = None) -> Any:
    """The chat page over the conversation in `run_dir` (a `gradio.Blocks`, not launched).

    `options` only matter for a new conversation; an existing one keeps the options it was started
    with (ChatSession reads them from chat.json).
    """
    import gradio as gr

    session = ChatSession(Path(run_dir), options=options, settings=settings)
    lock = threading.Lock()  # one turn at a time: the thread has one head

    def cut_files() -> dict[str, Path]:
        return {f"cut {i}": c for i, c in enumerate(session.cuts(), 1)}

    def cut_choices(files: dict[str, Path]) -> list[tuple[str, str]]:
        # the browser sees "cut 1"; the server maps it to the file (no server paths on the page)
        return [(cut_label(i, c), key) for i, (key, c) in enumerate(files.items(), 1)]

    def view(notice: str = "") -> tuple[Any, ...]:
        """Everything on the page, read back from the thread."""
        chat = [{"role": "user" if role == "user" else "assistant",
                 "content": public_text(text, session.run_dir)}
                for role, text in session.history()]
        pending = session.pending_approval()
        plan = pending["action_requests"][0]["args"]["plan"] if pending else None
        files = cut_files()
        cuts = cut_choices(files)
        latest = cuts[-1][1] if cuts else None
        unfinished = session.unfinished()
        if unfinished:
            notice = notice or "A turn was cut short; press Continue to finish it."
        return (
            chat,
            gr.update(visible=plan is not None),
            plan_rows(plan) if plan else [],
            music_line(plan) if plan else "",
            json.dumps(plan, indent=2) if plan else "",
            str(files[latest]) if latest else None,
            gr.update(choices=cuts, value=latest),
            public_text(notice, session.run_dir),
            gr.update(visible=unfinished),
        )

    def act(fn: Any, progress: Any) -> tuple[Any, ...]:
        """Run one step of the conversation; bad input becomes a notice on the page."""
        with lock:
            try:
                reply: ChatReply = fn(_Progress(progress))
            except (ValueError, RuntimeError, OSError, sqlite3.Error) as e:
                return view(f"⚠️ {str(e).strip().splitlines()[0] if str(e).strip() else e!r}")
            notice = {"awaiting_approval": "The plan is ready: approve, edit or reject it.",
                      "rejected": "The plan was rejected.",
                      "done": f"Cut {reply.turn} is ready."}.get(reply.status, "")
            return view(notice)

    def on_send(text: str, progress=gr.Progress()) -> tuple[Any, ...]:
        return ("", *act(lambda sink: session.send(text, on_event=sink), progress))

    def on_approve(progress=gr.Progress()) -> tuple[Any, ...]:
        return act(lambda sink: session.decide({"type": "approve"}, on_event=sink), progress)

    def on_reject(notes: str, progress=gr.Progress()) -> tuple[Any, ...]:
        decision = {"type": "reject", "message": (notes or "").strip()}
        return act(lambda sink: session.decide(decision, on_event=sink), progress)

    def on_edit(text: str, progress=gr.Progress()) -> tuple[Any, ...]:
        from filmcrew.inputs import check_edited_plan
        from filmcrew.schemas import StoryPlan

        pending = session.pending_approval()
        if pending is None:
            return view("⚠️ no plan is waiting for approval")
        proposed = StoryPlan.model_validate(pending["action_requests"][0]["args"]["plan"])
        try:
            plan = check_edited_plan(text or "", proposed)
        except ValueError as e:
            return view(f"⚠️ the edited plan: {e}")
        decision = {"type": "edit", "edited_action": {"name": "approve_plan", "args": {"plan": plan}}}
        return act(lambda sink: session.decide(decision, on_event=sink), progress)

    def on_continue(progress=gr.Progress()) -> tuple[Any, ...]:
        def go(sink: Any) -> ChatReply:
            reply = session.resume(on_event=sink)
            if reply is None:
                raise ValueError("there is no unfinished turn")
            return reply
        return act(go, progress)

    with gr.Blocks(title="filmcrew", analytics_enabled=False) as app:
        gr.Markdown("## filmcrew — direct the crew")
        with gr.Row():
            with gr.Column(scale=3):
                # no "share" button: it would post to Hugging Face
                chat = gr.Chatbot(label="conversation", height=420, elem_id="chat",
                                  buttons=["copy", "copy_all"])
                with gr.Row():
                    box = gr.Textbox(placeholder="Describe a film, or an edit of the cut…",
                                     show_label=False, scale=5, elem_id="message")
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
                notice = gr.Markdown(elem_id="notice")
                resume = gr.Button("Continue the unfinished turn", visible=False, elem_id="continue")
            with gr.Column(scale=2):
                video = gr.Video(label="latest cut", interactive=False, elem_id="cut")
                cuts = gr.Dropdown(label="all cuts", choices=[], interactive=True, elem_id="cuts")
        with gr.Group(visible=False, elem_id="plan") as plan_box:
            gr.Markdown("### The plan is waiting for your approval")
            table = gr.Dataframe(headers=PLAN_HEADERS, interactive=False, wrap=True,
                                 elem_id="plan-table")
            music = gr.Markdown(elem_id="music")
            with gr.Row():
                approve = gr.Button("Approve", variant="primary", elem_id="approve")
                reject = gr.Button("Reject", variant="stop", elem_id="reject")
                notes = gr.Textbox(placeholder="why (optional: the crew re-plans with it)",
                                   show_label=False, scale=3, elem_id="reject-notes")
            with gr.Accordion("Edit the plan (JSON)", open=False):
                edited = gr.Code(language="json", interactive=True, elem_id="plan-json")
                submit_edit = gr.Button("Approve the edited plan", elem_id="submit-edit")

        page = [chat, plan_box, table, music, edited, video, cuts, notice, resume]
        app.load(view, outputs=page)
        send.click(on_send, inputs=box, outputs=[box, *page])
        box.submit(on_send, inputs=box, outputs=[box, *page])
        approve.click(on_approve, outputs=page)
        reject.click(on_reject, inputs=notes, outputs=page)
        submit_edit.click(on_edit, inputs=edited, outputs=page)
        resume.click(on_continue, outputs=page)
        cuts.input(lambda key: str(cut_files()[key]) if key in cut_files() else None, inputs=cuts,
                   outputs=video)
    return app


def serve(run_dir: Path, *, host: str = "127.0.0.1", port: int = 7860,
          options: RunOptions | None = None) -> None:
    """Serve the chat page until interrupted: local only, no share link, no browser opened."""
    run_dir = Path(run_dir).resolve()
    app = build_app(run_dir, options=options)
    app.queue(default_concurrency_limit=1).launch(
        server_name=host, server_port=port, share=False, inbrowser=False, ssr_mode=False,
        allowed_paths=[str(run_dir)], show_error=True, quiet=True, footer_links=[], pwa=False,
        mcp_server=False)
