"""The crew's LLM layer: provider factory, structured calls with a repair loop, caching and tracing.

`FILMCREW_LLM="provider:model"` goes through LangChain's `init_chat_model` (any provider it knows);
`FILMCREW_LLM_BASE_URL` points the OpenAI client at any OpenAI-compatible server. With no LLM
configured the `offline` provider answers: each agent passes the rule-based function that answers for
it. Every answer is a pydantic object. An answer that does not parse, or breaks a business rule the
agent checks in code, goes back to the model with the error text, a bounded number of times.

Answers are cached in the artifact store under the hash of (model, prompt version, rendered prompt,
schema), so a repeated or resumed run pays for no LLM call it already made.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from filmcrew.artifacts import ArtifactStore, params_hash
from filmcrew.config import Settings
from filmcrew.llm.prompts import RenderedPrompt
from filmcrew.tracing import Tracer

T = TypeVar("T", bound=BaseModel)

OFFLINE = "offline"
#: Bump when the offline rules change meaning, so cached offline answers are not served.
OFFLINE_VERSION = "2"

SYSTEM = (
    "You are {role} of a film crew that turns a request into a short multi-shot film. "
    "Answer only by calling the function with arguments that match its schema exactly."
)


class StructuredOutputError(RuntimeError):
    """The model did not produce a valid answer within the allowed repairs."""

    def __init__(self, schema: str, errors: list[str], raw: str):
        self.schema, self.errors, self.raw = schema, errors, raw
        super().__init__(
            f"the LLM gave no valid {schema} after {len(errors)} attempt(s): {errors[-1][:300]}"
        )


def make_chat_model(spec: str, settings: Settings) -> Any:
    """A LangChain chat model for "provider:model" (e.g. "openai:gpt-4o-mini", "ollama:llama3")."""
    from langchain.chat_models import init_chat_model

    provider, sep, model = spec.partition(":")
    if not sep or not provider or not model:
        raise ValueError(f"LLM {spec!r} is not of the form provider:model (or 'offline')")
    kwargs: dict[str, Any] = {"temperature": settings.llm_temperature}
    if settings.llm_base_url:
        kwargs["base_url"] = settings.llm_base_url
    if settings.llm_api_key is not None:
        kwargs["api_key"] = settings.llm_api_key.get_secret_value()
    elif settings.llm_base_url and provider == "openai":
        kwargs["api_key"] = "not-needed"  # local OpenAI-compatible servers ignore the key
    try:
        return init_chat_model(model, model_provider=provider, **kwargs)
    except ImportError as e:
        raise ValueError(f"LLM provider {provider!r} needs a package that is not installed: {e}") from None


class CrewLLM:
    """What an agent calls: `llm.structured(node, Schema, prompt, offline=rules, check=rules)`."""

    def __init__(self, spec: str = OFFLINE, *, settings: Settings | None = None,
                 store: ArtifactStore | None = None, tracer: Tracer | None = None,
                 model: Any | None = None):
        self.spec = spec or OFFLINE
        self.settings = settings or Settings()
        self.store = store
        self.tracer = tracer or (store.tracer if store else Tracer(None))
        self._model = model

    @property
    def offline(self) -> bool:
        return self.spec == OFFLINE and self._model is None

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = make_chat_model(self.spec, self.settings)
        return self._model

    def describe(self) -> str:
        """One line for the CLI: which provider answers the agents."""
        if self.offline:
            return "offline (rule-based agents, MiniLM zero-shot physics)"
        url = f" at {self.settings.llm_base_url}" if self.settings.llm_base_url else ""
        return f"{self.spec}{url}"

    def model_id(self) -> str:
        """What answers: the offline rules (with their version) or "provider:model"."""
        return f"{OFFLINE}@{OFFLINE_VERSION}" if self.offline else self.spec

    def structured(self, node: str, schema: type[T], prompt: RenderedPrompt, *,
                   offline: Callable[[], T], check: Callable[[T], None] | None = None,
                   role: str = "an expert") -> T:
        """Ask for a `schema` answer to `prompt`, from the cache, the offline rules or the model."""
        call_index = self.tracer.next_index("llm", node)
        key = answer_key(self.model_id(), prompt, schema)
        start = time.perf_counter()
        served, extra = self._serve(node, call_index, key, schema, prompt)
        if served is not None:
            result, cached, attempts, usage = served, True, 0, {}
        else:
            result, cached, attempts, usage = self._answer(key, schema, prompt, offline, check, role)
            extra |= self._made(node, call_index, result)
        self.tracer.record(
            "llm", node, self.model_id(), key, cached, time.perf_counter() - start,
            call_index=call_index, prompt=prompt.name, prompt_sha256=prompt.template_sha256,
            prompt_text_sha256=prompt.text_sha256, schema=schema.__name__, attempts=attempts,
            tokens=usage, output=result.model_dump(mode="json"), **extra,
        )
        return result

    def _answer(self, key: str, schema: type[T], prompt: RenderedPrompt, offline: Callable[[], T],
                check: Callable[[T], None] | None, role: str) -> tuple[T, bool, int, dict[str, int]]:
        """(answer, cached, attempts, token usage) from the store's cache, the rules or the model."""
        cached = self.store.lookup(key) if self.store else None
        if cached is not None:
            return schema.model_validate(self.store.read_json(cached)), True, 0, {}  # type: ignore[union-attr]
        usage: dict[str, int] = {}
        if self.offline:
            result = offline()
            if check:
                check(result)
            attempts = 1
        else:
            result, attempts, usage = self._ask(schema, prompt, check, role)
        if self.store:
            self.store.put(key, ext="json", media_type="application/json",
                           producer=f"llm {self.model_id()}",
                           make=ArtifactStore.json_writer(result.model_dump(mode="json")))
        return result, False, attempts, usage

    # Hooks for a replay LLM (filmcrew/replay.py), which serves calls from a recorded run.

    def _serve(self, node: str, index: int, key: str, schema: type[T],
               prompt: RenderedPrompt) -> tuple[T | None, dict[str, Any]]:
        """A recorded answer for call `index` of `node`, if any, and extra trace fields."""
        return None, {}

    def _made(self, node: str, index: int, result: BaseModel) -> dict[str, Any]:
        """Called after an answer was produced; returns extra trace fields."""
        return {}

    def _ask(self, schema: type[T], prompt: RenderedPrompt, check: Callable[[T], None] | None,
             role: str) -> tuple[T, int, dict[str, int]]:
        from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

        runnable = self.model.with_structured_output(schema, include_raw=True,
                                                     method="function_calling")
        messages: list[Any] = [SystemMessage(SYSTEM.format(role=role)), HumanMessage(prompt.text)]
        errors: list[str] = []
        usage: dict[str, int] = {}
        raw_text = ""
        for attempt in range(1, self.settings.llm_max_repairs + 2):
            out = runnable.invoke(messages, config={"tags": ["langsmith:nostream"]})
            raw, parsed, error = out["raw"], out.get("parsed"), out.get("parsing_error")
            for k, v in (getattr(raw, "usage_metadata", None) or {}).items():
                if isinstance(v, int):
                    usage[k] = usage.get(k, 0) + v
            calls = getattr(raw, "tool_calls", None) or []
            raw_text = json.dumps([tc.get("args") for tc in calls]) if calls else str(
                getattr(raw, "content", ""))
            if error is None and parsed is None:
                error = "no function call in the answer"
            if error is None:
                try:
                    if check:
                        check(parsed)
                    return parsed, attempt, usage
                except (ValueError, ValidationError) as e:
                    error = e
            errors.append(_short_error(error))
            messages.append(raw)
            for tc in calls:
                messages.append(ToolMessage(content=f"invalid: {errors[-1]}", tool_call_id=tc["id"]))
            messages.append(HumanMessage(
                f"That answer was invalid: {errors[-1]}\nCall the function again with a corrected "
                f"{schema.__name__}; keep everything that was right."
            ))
        raise StructuredOutputError(schema.__name__, errors, raw_text)


def answer_key(model_id: str, prompt: RenderedPrompt, schema: type[BaseModel]) -> str:
    """The cache key of an LLM answer: model, rendered prompt and answer schema."""
    return params_hash("llm", "1", {"prompt": prompt.text, "schema": schema.__name__,
                                    "schema_json": schema.model_json_schema()}, model=model_id)


def _short_error(error: object) -> str:
    if isinstance(error, ValidationError):
        parts = []
        for e in error.errors()[:8]:
            loc = ".".join(str(p) for p in e["loc"])
            parts.append(f"{loc}: {e['msg']}")
        return "; ".join(parts)
    return str(error).strip().splitlines()[0][:500] if str(error).strip() else repr(error)
