"""The tools' faces (`tools.video`, `tools.music`, `tools.edit`) name what agents call and import
it on first use, so importing a face stays light (no torch until a backend runs)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_face(package: str, table: dict[str, str]) -> Callable[[str], Any]:
    """A module-level `__getattr__` for `package`: `table` maps a public name to "module" or
    "module:name there"; the module is imported when the name is first asked for."""

    def __getattr__(name: str) -> Any:
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attr = table[name].partition(":")
        return getattr(importlib.import_module(module), attr or name)

    return __getattr__
