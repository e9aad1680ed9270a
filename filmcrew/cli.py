"""Command line: `filmcrew run | resume | chat | serve | replay | eval | eval-set | doctor | train-lca |
train-regen`.

Bad input gets a one-line error and a non-zero exit, never a traceback (FILMCREW_DEBUG=1 shows it).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from filmcrew.config import MUSIC_BACKENDS, SCORERS, VIDEO_BACKENDS, RunOptions

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="An agentic film crew: a request in, a finished film with a score out.")
console = Console(stderr=True)


class UserError(Exception):
    """An error whose message is the whole story for the user."""


@app.command()
def run(
    request: Annotated[str, typer.Argument(help="what the film should show, in plain words")],
    run_dir: Annotated[Path | None, typer.Option("--run-dir", help="where outputs go")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="approve the plan without asking")] = False,
    duration: Annotated[float | None, typer.Option("--duration", help="target length, s")] = None,
    candidates: Annotated[int, typer.Option(help="candidate clips per shot")] = 2,
    beam: Annotated[int, typer.Option(help="beam width of the shot editor")] = 4,
    seed: Annotated[int, typer.Option(help="run seed")] = 0,
    video_backend: Annotated[str, typer.Option(help=f"one of {', '.join(VIDEO_BACKENDS)}")] = "previz",
    music_backend: Annotated[str, typer.Option(help=f"one of {', '.join(MUSIC_BACKENDS)}")] = "procedural",
    scorer: Annotated[str, typer.Option(help=f"one of {', '.join(SCORERS)}")] = "continuity",
    lca_text_weight: Annotated[float | None, typer.Option(
        help="SKALD-text weight of --scorer lca (default: the checkpoint's)")] = None,
    llm: Annotated[str | None, typer.Option(help='"provider:model" or "offline"')] = None,
    debug_models: Annotated[bool, typer.Option(help="tiny random-init models for GPU backends")] = False,
    fps: Annotated[int, typer.Option(help="frames per second")] = 24,
    width: Annotated[int, typer.Option(help="frame width")] = 640,
    height: Annotated[int, typer.Option(help="frame height")] = 360,
    max_critic_rounds: Annotated[int, typer.Option(help="composer/critic rounds")] = 2,
    target_lufs: Annotated[float, typer.Option(help="loudness of the mix, LUFS")] = -14.0,
    sample_rate: Annotated[int, typer.Option(help="audio sample rate of the mix, Hz")] = 48000,
    overlay: Annotated[bool, typer.Option(help="captions and tags on the previz")] = True,
    store_latents: Annotated[bool, typer.Option(help="keep candidates as REGEN latents")] = False,
    interpolate_fps: Annotated[int | None, typer.Option(
        help="raise the frame rate to F by REGEN interpolation")] = None,
    regen_steps: Annotated[int, typer.Option(
        help="REGEN decoder sampling steps (1 = deterministic, more = generative)")] = 1,
    executor: Annotated[str | None, typer.Option(
        help="where GPU tool calls run: local or ray (FILMCREW_EXECUTOR)")] = None,
) -> None:
    """Make a film from REQUEST (the plan is shown for approval unless --yes)."""
    from filmcrew import runner
    from filmcrew.inputs import check_request

    _use_executor(executor)
    try:
        request = check_request(request)
        options = RunOptions(
            duration_s=duration, candidates=candidates, beam=beam, seed=seed,
            video_backend=video_backend, music_backend=music_backend, scorer=scorer, llm=llm,
            lca_text_weight=lca_text_weight, debug_models=debug_models, fps=fps, width=width, height=height,
            max_critic_rounds=max_critic_rounds, target_lufs=target_lufs, sample_rate=sample_rate,
            overlay=overlay, store_latents=store_latents, interpolate_fps=interpolate_fps,
            regen_steps=regen_steps,
        )
    except ValueError as e:
        raise UserError(_one_line(e)) from None
    if run_dir is None:
        from filmcrew.config import Settings

        run_dir = Settings().runs_dir / _slug(request)
    from filmcrew.inputs import check_run_dir

    check_run_dir(run_dir, "run", request)
    approve = None if yes else _interactive_approver(run_dir)
    with _progress() as on_event:
        result = runner.start(request, options, run_dir, approve=approve, on_event=on_event)
    _print_result(result)


@app.command()
def resume(run_dir: Annotated[Path, typer.Argument(help="the run directory to continue")],
           yes: Annotated[bool, typer.Option("--yes", "-y", help="approve the plan")] = False,
           executor: Annotated[str | None, typer.Option(
               help="where GPU tool calls run: local or ray (FILMCREW_EXECUTOR)")] = None) -> None:
    """Continue a run that was interrupted or killed; finished work is not redone."""
    from filmcrew import runner
    from filmcrew.inputs import check_run_dir

    _use_executor(executor)
    check_run_dir(run_dir, "resume")
    approve = None if yes else _interactive_approver(run_dir)
    with _progress() as on_event:
        result = runner.resume(run_dir, approve=approve, on_event=on_event)
    _print_result(result)


@app.command()
def chat(
    run_dir: Annotated[Path, typer.Option("--run-dir", help="the conversation's directory (continued "
                                          "if it exists)")] = Path("runs/chat"),
    yes: Annotated[bool, typer.Option("--yes", "-y", help="approve every plan without asking")] = False,
    duration: Annotated[float | None, typer.Option("--duration", help="first film's length, s")] = None,
    width: Annotated[int, typer.Option(help="frame width")] = 640,
    height: Annotated[int, typer.Option(help="frame height")] = 360,
    candidates: Annotated[int, typer.Option(help="candidate clips per shot")] = 2,
    fps: Annotated[int, typer.Option(help="frames per second")] = 24,
    executor: Annotated[str | None, typer.Option(
        help="where GPU tool calls run: local or ray (FILMCREW_EXECUTOR)")] = None,
) -> None:
    """Direct the crew in a conversation: describe a film, then "make the second shot slower",
    "darker music", "drop the last shot"… Each turn prints the new cut. Ctrl-D ends."""
    from filmcrew.chat import ChatSession

    _use_executor(executor)
    try:
        options = RunOptions(duration_s=duration, width=width, height=height, candidates=candidates,
                             fps=fps)
    except ValueError as e:
        raise UserError(_one_line(e)) from None
    from filmcrew.inputs import check_run_dir

    check_run_dir(run_dir, "chat")
    session = ChatSession(run_dir, options=options)
    for role, text in session.history():
        console.print(f"[bold]{'you' if role == 'user' else 'crew'}:[/] {text}", soft_wrap=True)
    approve = None if yes else _interactive_approver(run_dir)
    if session.pending_approval() is not None:
        with _progress() as on_event:
            _say(session.decide(_plan_decision(session, approve), approve=approve, on_event=on_event))
    elif session.unfinished():
        console.print("continuing the turn that was cut short…")
        with _progress() as on_event:
            _say(session.resume(approve=approve, on_event=on_event))
    while True:
        try:
            message = input("you> ") if sys.stdin.isatty() else sys.stdin.readline()
        except EOFError:
            break
        if not message:
            break
        if not message.strip():
            continue
        try:
            with _progress() as on_event:
                reply = session.send(message, approve=approve, auto_approve=yes, on_event=on_event)
        except (ValueError, UserError) as e:  # bad input is a message; the conversation goes on
            console.print(f"[red]error:[/] {_one_line(e)}", soft_wrap=True, highlight=False)
            continue
        _say(reply)


def _plan_decision(session: Any, approve: Any) -> dict[str, Any]:
    if approve is None:
        return {"type": "approve"}
    return approve(session.pending_approval())["decisions"][0]


def _say(reply: Any) -> None:
    if reply is None:
        return
    console.print(f"[bold]crew:[/] {reply.text or reply.status}", soft_wrap=True, highlight=False)
    if reply.cut is not None:
        print(reply.cut, flush=True)


@app.command()
def serve(
    run_dir: Annotated[Path, typer.Option("--run-dir", help="the conversation's directory")] = Path("runs/chat"),
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 7860,
    executor: Annotated[str | None, typer.Option(
        help="where GPU tool calls run: local or ray (FILMCREW_EXECUTOR)")] = None,
) -> None:
    """The chat in a web page (needs the `ui` extra: pip install 'filmcrew[ui]')."""
    import importlib.util

    _use_executor(executor)
    if not 1 <= port <= 65535:
        raise UserError(f"--port {port}: choose a port from 1 to 65535")
    from filmcrew.inputs import check_run_dir

    check_run_dir(run_dir, "chat")
    if importlib.util.find_spec("gradio") is None:
        raise UserError("filmcrew serve needs Gradio: pip install 'filmcrew[ui]'")
    from filmcrew.web import serve as serve_app

    serve_app(run_dir, host=host, port=port)


@app.command("replay")
def replay_cmd(
    source: Annotated[Path, typer.Argument(help="a recorded run directory or its trace.jsonl")],
    run_dir: Annotated[Path | None, typer.Option("--run-dir", help="where the replay goes "
                                                 "(default: SOURCE-replay)")] = None,
    live: Annotated[str, typer.Option(help="comma-separated nodes that call the real provider/tool, "
                                      "e.g. critic,composer")] = "",
    run: Annotated[str | None, typer.Option("--run", help="which run of the directory "
                                            "(default: the last)")] = None,
) -> None:
    """Re-run a recorded run from its trace: unchanged calls are served, the first divergence is
    reported, --live nodes (and everything a change reaches) recompute."""
    from filmcrew import runner
    from filmcrew.replay import ReplayDivergence

    if run_dir is not None and run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--run-dir {run_dir} is a file; give a new directory for the replay")
    nodes = [n.strip() for n in live.split(",") if n.strip()]
    try:
        with _progress() as on_event:
            result = runner.replay(source, run_dir, live=nodes, run_id=run, on_event=on_event)
    except ReplayDivergence as e:
        console.print(f"[red]diverged:[/] {e}", soft_wrap=True)
        raise typer.Exit(1) from None
    rep = result.report
    first = rep["first_divergence"]
    console.print(f"replayed {rep['replayed_run']} of {rep['source']}: {rep['served']} calls served, "
                  f"{rep['computed']} recomputed"
                  + (f"; first divergence at {first['node']} call {first['call_index']}: "
                     f"{first['reason']}" if first else "; no divergence"), soft_wrap=True)
    same = "identical to" if rep["same_final"] else "differs from"
    console.print(f"[bold green]film:[/] {result.final} ({same} the recording)", soft_wrap=True)
    print(result.final)


@app.command("eval")
def eval_cmd(
    run_dirs: Annotated[list[Path], typer.Argument(help="finished run directories to score")],
    baseline: Annotated[Path | None, typer.Option(help="a run to compare against, side by side")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="where eval.json and eval.html go "
                                             "(default: the first run dir)")] = None,
    debug_models: Annotated[bool, typer.Option(help="tiny random CLIP for fidelity (tests)")] = False,
) -> None:
    """Score runs: fidelity, temporal consistency, physics, cut-beat alignment, loudness, A/V sync, cost."""
    from filmcrew.config import Settings
    from filmcrew.eval.metrics import evaluate_runs

    for d in [*run_dirs, *([baseline] if baseline else [])]:
        if not (d / "report.json").is_file():
            raise UserError(f"{d} holds no report.json; eval scores finished runs")
    if out is not None and out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a directory")
    json_path, html_path = evaluate_runs(list(run_dirs), out or run_dirs[0], baseline=baseline,
                                         clip_model=Settings().clip_model, debug_models=debug_models)
    console.print(f"[bold green]eval:[/] {json_path}\n[bold green]report:[/] {html_path}", soft_wrap=True)
    print(html_path)


@app.command("eval-set")
def eval_set_cmd(
    set_dir: Annotated[Path, typer.Argument(help="a folder of evaluation cases (*.json)")] = Path("tests/evals"),
    out: Annotated[Path, typer.Option("--out", help="where the runs and the report go")] = Path("runs/evalset"),
) -> None:
    """Run every request of an evaluation set and write one report, so changes are judged by numbers."""
    from filmcrew.config import Settings
    from filmcrew.eval.evalset import run_eval_set

    if not set_dir.is_dir() or not any(set_dir.glob("*.json")):
        raise UserError(f"{set_dir} holds no evaluation cases (*.json)")
    html_path = run_eval_set(set_dir, out, clip_model=Settings().clip_model)
    console.print(f"[bold green]report:[/] {html_path}", soft_wrap=True)
    print(html_path)


@app.command()
def doctor() -> None:
    """Which backends, models and weights are available, and why not."""
    from filmcrew.doctor import checks

    ok = True
    for c in checks():
        mark = "[green]✓[/]" if c.ok else ("[yellow]–[/]" if c.optional else "[red]✗[/]")
        console.print(f"{mark} [bold]{c.name}[/]: {c.detail}")
        ok &= c.ok or c.optional
    raise typer.Exit(0 if ok else 1)


@app.command("train-lca")
def train_lca(
    folder: Annotated[Path, typer.Argument(help="a folder of edited videos (searched recursively)")],
    out: Annotated[Path, typer.Option("--out", help="checkpoint to write (.safetensors)")],
    minutes: Annotated[float, typer.Option(help="training time budget, minutes")] = 10.0,
    steps: Annotated[int, typer.Option(help="most optimiser steps (the time budget may stop sooner)")] = 100_000,
    seed: Annotated[int, typer.Option(help="training seed")] = 0,
    features: Annotated[str, typer.Option(help="clip features: 'continuity' (no weights) or a local "
                                          "CLIP/SigLIP folder (image-encoder features)")] = "continuity",
    text_weight: Annotated[float, typer.Option(help="SKALD-text weight λ stored as the checkpoint's "
                                               "default (needs an encoder with a text tower)")] = 0.0,
    debug_models: Annotated[bool, typer.Option(help="train the tiny LCA (tests, smoke runs)")] = False,
) -> None:
    """Train the shot editor's LCA scorer on FOLDER: videos are cut into shots, each video one edit.

    Each shot also gets bad takes (mirrored, played backwards, colour-graded) so the LCA learns which
    take of a shot cuts right. Features are cached per video next to --out: a rerun resumes.
    """
    if not (math.isfinite(minutes) and minutes > 0) or steps < 1 or not math.isfinite(text_weight) \
            or text_weight < 0:
        raise UserError(f"--minutes {minutes:g} / --steps {steps} / --text-weight {text_weight:g}; "
                        "minutes and steps must be positive and finite, the text weight >= 0")
    if out.suffix != ".safetensors":
        raise UserError(f"--out {out}: the checkpoint must end in .safetensors")
    _check_training_paths(folder, out, must_exist=True)
    from rich.progress import Progress

    from filmcrew.models.lca import TINY_LCA_CONFIG, LCAConfig, save_lca
    from filmcrew.tools.edit.lca.scorer import CONTINUITY_JUNCTION, ImageEncoder
    from filmcrew.tools.edit.lca.train import TrainConfig, continuity_vector, video_scenes
    from filmcrew.tools.edit.lca.train import train_lca as fit

    featurise, name = continuity_vector, "continuity"
    if features != "continuity":
        try:
            encoder = ImageEncoder.tiny() if debug_models and features == "tiny-clip" else \
                ImageEncoder.from_pretrained(features)
        except FileNotFoundError as e:
            raise UserError(str(e)) from e
        featurise, name = (lambda frames, fps: encoder.clip_vector(frames)), encoder.name
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("featurising videos", total=None)
        scenes, bad = video_scenes(folder, featurise=featurise, features=name, seed=seed,
                                   cache_dir=out.parent / f".{out.stem}-features",
                                   progress=lambda done, total, _: bar.update(task, completed=done, total=total))
        dim = len(scenes[0][0][0])
        config = TINY_LCA_CONFIG if debug_models else LCAConfig()
        config = LCAConfig(**{**config.__dict__, "feature_dim": dim, "dropout": 0.1,
                              "junction_dim": CONTINUITY_JUNCTION if name == "continuity" else dim // 3})
        n_shots = sum(len(s) for s in scenes)
        console.print(f"{len(scenes)} videos, {n_shots} shots; training for at most {minutes:g} min")
        bar.update(task, description="training", completed=0, total=steps)
        model, history = fit(scenes, config, TrainConfig(steps=steps, max_seconds=minutes * 60, seed=seed),
                             lambda step, _total, _loss: bar.update(task, completed=step), bad=bad)
    path = save_lca(model, out, meta={"features": name, "text_weight": repr(float(text_weight)),
                                      "videos": str(len(scenes)), "shots": str(n_shots), "seed": str(seed)})
    done = len(history["contrastive"]) + len(history["regression"])
    console.print(f"[bold green]checkpoint:[/] {path} ({done} steps); use it with "
                  f"FILMCREW_LCA_CHECKPOINT={path} filmcrew run --scorer lca")
    print(path)


@app.command("train-regen")
def train_regen(
    folder: Annotated[Path, typer.Argument(help="a folder of video clips (searched recursively)")],
    out: Annotated[Path, typer.Option("--out", help="checkpoint to write or continue (.safetensors)")],
    k: Annotated[int, typer.Option(help="temporal compression: k+1 frames per latent pair (4, 8, 16, 32)")] = 4,
    minutes: Annotated[float, typer.Option(help="training time budget for this call, minutes")] = 10.0,
    steps: Annotated[int, typer.Option(help="most optimiser steps in all (a resumed run counts its own)")] = 10**9,
    seed: Annotated[int, typer.Option(help="training seed")] = 0,
    previz: Annotated[int, typer.Option(help="first render this many previz clips into FOLDER "
                                        "(a reproducible training set)")] = 0,
    debug_models: Annotated[bool, typer.Option(help="train the tiny REGEN (CPU)")] = False,
) -> None:
    """Train REGEN (compact video latents with a generative decoder) on FOLDER; resumable."""
    if k not in (4, 8, 16, 32):
        raise UserError(f"--k {k}: choose 4, 8, 16 or 32")
    if not (math.isfinite(minutes) and minutes > 0) or steps < 1 or previz < 0:
        raise UserError(f"--minutes {minutes:g} / --steps {steps} / --previz {previz}: must be "
                        "positive and finite")
    if out.suffix != ".safetensors":
        raise UserError(f"--out {out}: the checkpoint must end in .safetensors")
    _check_training_paths(folder, out, must_exist=not previz)
    from filmcrew.models.regen import default_config
    from filmcrew.tools.video.regen.train import train_regen as fit
    from filmcrew.trainsets import make_previz_clips

    if previz:
        console.print(f"rendering {previz} previz clips into {folder}")
        make_previz_clips(folder, previz, size=(64, 64), seed=seed)
    config = default_config(k, tiny=debug_models)
    result = fit(folder, out, config, minutes=minutes, steps=steps, seed=seed,
                 lr=6e-3 if debug_models else 1e-4)
    console.print(f"[bold green]checkpoint:[/] {result['checkpoint']} (step {result['step']}, loss "
                  f"{result['loss_first']:.4f} → {result['loss_last']:.4f}); use it with "
                  f"FILMCREW_REGEN_CHECKPOINT={result['checkpoint']} filmcrew run --interpolate-fps 48",
                  soft_wrap=True)
    print(result["checkpoint"])


# -- helpers ------------------------------------------------------------------------------------


def _check_training_paths(folder: Path, out: Path, *, must_exist: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder} is a file; give a folder of videos")
    if must_exist and not folder.is_dir():
        raise UserError(f"{folder} does not exist; give a folder of videos")
    if out.exists() and out.is_dir():
        raise UserError(f"--out {out} is a directory; give a .safetensors file name")
    if out.parent.exists() and not out.parent.is_dir():
        raise UserError(f"--out {out}: {out.parent} is a file, not a folder")


def _interactive_approver(run_dir: Path):
    def approve(request: dict[str, Any]) -> Any:
        # the live progress display would draw over the question: pause it while the crew waits
        with _progress.paused():
            return _ask(request, run_dir)

    return approve


def _ask(request: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    from filmcrew.schemas import StoryPlan

    plan = StoryPlan.model_validate(request["action_requests"][0]["args"]["plan"])
    _show_plan(plan)
    if not sys.stdin.isatty():
        raise UserError("the plan needs approval and there is no terminal; pass --yes")
    while True:
        choice = typer.prompt("approve / edit / reject", default="approve").strip().lower()
        if choice.startswith("a"):
            return {"decisions": [{"type": "approve"}]}
        if choice.startswith("r"):
            notes = typer.prompt("what should change? (empty = stop)", default="",
                                 show_default=False)
            return {"decisions": [{"type": "reject", "message": notes}]}
        if not choice.startswith("e"):
            console.print(f"{choice!r}: type approve, edit or reject")
            continue
        from filmcrew.inputs import check_edited_plan

        path = Path(run_dir) / "plan.proposed.json"
        path.write_text(plan.model_dump_json(indent=2), encoding="utf-8")
        while True:
            typer.prompt(f"edit {path}, then press enter", default="", show_default=False)
            try:
                edited = check_edited_plan(path.read_text(encoding="utf-8"), plan)
                break
            except ValueError as e:
                console.print(f"[red]the edited plan:[/] {_one_line(e)}; fix the file and press "
                              "enter again", soft_wrap=True)
        return {"decisions": [{"type": "edit",
                               "edited_action": {"name": "approve_plan", "args": {"plan": edited}}}]}


def _show_plan(plan: Any) -> None:
    from rich.table import Table

    t = Table(title=plan.global_prompt, show_lines=False)
    for col in ("shot", "s", "camera", "what happens"):
        t.add_column(col)
    for s in plan.shots:
        cam = f"{s.camera.scale} {s.camera.move}" + (
            f" ×{s.camera.time_scale:g}" if s.camera.time_scale != 1 else "")
        t.add_row(s.id, f"{s.duration_s:.2f}", cam, "; ".join(s.events) or s.local_prompt)
    console.print(t)
    b = plan.music_brief
    console.print(f"music: {b.description} ({b.key} {b.mode}, "
                  f"{b.tempo_bpm_min:.0f}-{b.tempo_bpm_max:.0f} BPM)")


class _progress:
    """Rich progress bars per node and per shot, fed by LangGraph custom stream events."""

    STAGES = ("planner", "review_plan", "physics", "generate", "shot_editor", "music", "renderer")
    active: _progress | None = None  # the display on screen now, paused while a question waits

    @classmethod
    @contextmanager
    def paused(cls) -> Iterator[None]:
        """Stop the live display (and its refresh thread) while the user is asked something."""
        bars = cls.active.bars if cls.active is not None else None
        running = bars is not None and bars.live.is_started
        if running:
            bars.stop()
        try:
            yield
        finally:
            if running:
                bars.start()

    def __enter__(self):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bars = Progress(TextColumn("{task.description:<28}"), BarColumn(),
                             TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                             console=console, transient=False, disable=not console.is_terminal)
        self.tasks: dict[str, Any] = {}
        self.stages_done: set[str] = set()
        self.crew = self.bars.add_task("crew", total=len(self.STAGES))
        self.bars.__enter__()
        _progress.active = self
        return self.on_event

    def on_event(self, mode: str, data: Any) -> None:
        if mode == "provider":
            console.print(f"LLM: {data}")
        elif mode == "custom" and isinstance(data, dict) and data.get("type") == "progress":
            key = f"{data['node']} {data.get('shot_id') or ''}".strip()
            if key not in self.tasks:
                self.tasks[key] = self.bars.add_task(key, total=data["total"])
            self.bars.update(self.tasks[key], completed=data["step"], total=data["total"])
        elif mode == "updates" and isinstance(data, dict):
            for node in data:
                if node in self.STAGES and node not in self.stages_done:
                    self.stages_done.add(node)
                    self.bars.update(self.crew, completed=len(self.stages_done),
                                     description=f"crew: {node} done")
                if not console.is_terminal:
                    console.print(f"✓ {node}")

    def __exit__(self, *exc):
        _progress.active = None
        self.bars.__exit__(*exc)
        return False


def _print_result(result: Any) -> None:
    if result.status != "done":
        console.print(f"stopped: the plan was rejected ({result.run_dir})")
        raise typer.Exit(3)
    report = json.loads((result.run_dir / "report.json").read_text())
    console.print(
        f"[bold green]film:[/] {result.final}  ({report['duration_s']:.2f} s, "
        f"{len(report['shots'])} shots, {report['music']['lufs']} LUFS, "
        f"{report['calls']['cached']}/{report['calls']['llm'] + report['calls']['tool']} calls cached)"
    )
    print(result.final)


def _slug(text: str) -> str:
    import re
    import time

    words = re.findall(r"[a-z0-9]+", text.lower())[:6]
    return "-".join(words) + time.strftime("-%Y%m%d-%H%M%S")


def _use_executor(name: str | None) -> None:
    """`--executor NAME`: the same as FILMCREW_EXECUTOR=NAME for this process (Settings read it)."""
    from filmcrew.executor import EXECUTORS

    if name is None:
        return
    if name not in EXECUTORS:
        raise UserError(f"--executor {name}: use one of {', '.join(EXECUTORS)}")
    os.environ["FILMCREW_EXECUTOR"] = name


def _one_line(e: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(e, ValidationError):
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        return f"{field}: {msg}" if field else msg
    strerror, filename = getattr(e, "strerror", None), getattr(e, "filename", None)
    if isinstance(strerror, str) and strerror:  # OSError and PyAV's errors: no "[Errno …]"
        if type(e).__module__.startswith("av"):  # a media file that cannot be decoded
            return f"{filename}: {strerror.lower()} (damaged or half-written?)"
        return f"{filename}: {strerror}" if filename else strerror
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def main() -> None:
    """Entry point: run the app, turning expected errors into one line and exit code 2."""
    import sqlite3

    from filmcrew.llm.chat import StructuredOutputError
    from filmcrew.replay import ReplayError
    from filmcrew.runner import RunError

    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except (UserError, RunError, ReplayError, StructuredOutputError, ValueError, OSError) as e:
        if os.environ.get("FILMCREW_DEBUG"):
            raise
        console.print(f"[red]error:[/] {_one_line(e)}", soft_wrap=True, highlight=False)
        sys.exit(2)
    except sqlite3.DatabaseError as e:  # a damaged checkpoint database met after the checks
        if os.environ.get("FILMCREW_DEBUG"):
            raise
        console.print(f"[red]error:[/] a checkpoint database is damaged ({_one_line(e)}); start "
                      "again in a new --run-dir", soft_wrap=True, highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("interrupted; continue with `filmcrew resume RUN_DIR`")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:  # usage errors (bad option values…) come here as click exceptions
        # typer may vendor its own click, so recognise them by shape, not by class
        if callable(getattr(e, "show", None)) and isinstance(getattr(e, "exit_code", None), int):
            e.show()
            sys.exit(e.exit_code)
        if type(e).__name__ == "Abort":
            sys.exit(1)
        if os.environ.get("FILMCREW_DEBUG"):
            raise
        console.print(f"[red]internal error:[/] {type(e).__name__}: {_one_line(e)} (FILMCREW_DEBUG=1 "
                      "shows the traceback; please report it)", soft_wrap=True, highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
