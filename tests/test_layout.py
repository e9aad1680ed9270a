"""The package's import graph: lower layers never reach up, and no module imports itself in a circle.

Walks every module's imports with ``ast`` (imports inside functions count too: a lazy import is
still a dependency) and fails on an import from ``tools``/``models`` into the crew's upper layers,
or on any cycle among the package's modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "filmcrew"
LOWER = ("filmcrew.tools", "filmcrew.models")
UPPER = ("filmcrew.llm", "filmcrew.agents", "filmcrew.graphs", "filmcrew.eval", "filmcrew.context",
         "filmcrew.config")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules that ``name`` imports (``from x import y`` counts ``x.y`` when a module)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from pkg import mod` depends on pkg.mod (and runs pkg's __init__, which is not a
            # dependency worth a circle); `from mod import name` depends on mod.
            subs = [f"{stem}.{alias.name}" for alias in node.names if f"{stem}.{alias.name}" in known]
            targets = subs if len(subs) == len(node.names) else [stem, *subs]
        else:
            continue
        for target in targets:
            # The deepest package module the target names (a symbol's module, or the module itself).
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("filmcrew") and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def upward_imports(g: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, deps in g.items() if _under(a, LOWER)
                  for b in deps if _under(b, UPPER))


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def test_lower_layers_never_import_upper_layers():
    assert upward_imports(graph()) == []


def test_no_import_circles():
    # A package's __init__ re-exporting its children is not a circle worth failing on only when the
    # children do not import the package back; any cycle is reported.
    assert cycles(graph()) == []


def test_agents_use_the_tool_faces():
    """Agents call tools through ``filmcrew.tools.video`` / ``.music`` / ``.edit``, not deep modules."""
    deep = sorted(f"{a} -> {b}" for a, deps in graph().items() if a.startswith("filmcrew.agents.")
                  for b in deps if _under(b, ("filmcrew.tools.video", "filmcrew.tools.music",
                                              "filmcrew.tools.edit"))
                  and b.count(".") > 2)
    assert deep == []


def test_the_walker_sees_a_planted_cycle_and_an_upward_import():
    g = {"filmcrew.tools.a": {"filmcrew.tools.b"}, "filmcrew.tools.b": {"filmcrew.tools.a"},
         "filmcrew.models.m": {"filmcrew.llm.x"}, "filmcrew.llm.x": set()}
    assert cycles(g) == [["filmcrew.tools.a", "filmcrew.tools.b"]]
    assert upward_imports(g) == ["filmcrew.models.m -> filmcrew.llm.x"]
