"""Prompt templates: Jinja files in `filmcrew/prompts/`, rendered strictly and hashed.

A folder named by FILMCREW_PROMPTS_DIR overrides any packaged template it holds, so a changed prompt can
be tried (and replayed against a recorded run) without editing the package.

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

    @property
    def text_sha256(self) -> str:
        """Hash of the rendered text: changes when the template or its inputs change."""
        return hashlib.sha256(self.text.encode()).hexdigest()


@cache
def _compile(source: str) -> Any:
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=False, autoescape=False)
    return env.from_string(source)


def _source(name: str) -> str:
    """The template's text: from FILMCREW_PROMPTS_DIR when it holds `<name>.jinja`, else packaged."""
    from filmcrew.config import Settings

    override = Settings().prompts_dir
    if override is not None and (override / f"{name}.jinja").is_file():
        return (override / f"{name}.jinja").read_text("utf-8")
    return resources.files("filmcrew.prompts").joinpath(f"{name}.jinja").read_text("utf-8")


def render(name: str, **variables: Any) -> RenderedPrompt:
    """Render the template `<name>.jinja` with `variables` (missing variables are errors)."""
    source = _source(name)
    text = _compile(source).render(**variables).strip()
    return RenderedPrompt(name, text, hashlib.sha256(source.encode()).hexdigest())
