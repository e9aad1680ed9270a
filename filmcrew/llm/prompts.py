"""Prompt templates: Jinja files in `filmcrew/prompts/`, rendered strictly and hashed.

A missing variable is an error, not an empty string (StrictUndefined). The hash of the template source
is recorded with every LLM call, so a trace shows which prompt version produced an answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class RenderedPrompt:
    name: str
    text: str
    template_sha256: str  # hash of the template source: the prompt *version*


@cache
def _template(name: str) -> tuple[Any, str]:
    import jinja2

    source = resources.files("filmcrew.prompts").joinpath(f"{name}.jinja").read_text("utf-8")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=False, autoescape=False)
    return env.from_string(source), hashlib.sha256(source.encode()).hexdigest()


def render(name: str, **variables: Any) -> RenderedPrompt:
    """Render the template `filmcrew/prompts/<name>.jinja` with `variables`."""
    template, digest = _template(name)
    return RenderedPrompt(name, template.render(**variables).strip(), digest)
