"""`--llm` specs to LangChain chat models: an OpenAI-compatible endpoint or a local GGUF file.

Both backends are plain LangChain chat models, so the generation chain is the same for either;
what differs is only how they are reached and how they fail (see `LlmError`).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlparse

from assistant.llm.settings import LlmSettings
from ingest.errors import UsageError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class LlmSpec:
    kind: Literal["openai", "gguf"]
    target: str  # endpoint URL or file path
    model: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "gguf":
            return f"gguf:{Path(self.target).name}"
        return f"openai:{self.model or 'default'}"


def parse_llm_spec(spec: str) -> LlmSpec:
    """Read `openai:URL#MODEL` or `gguf:PATH`; a wrong spec is a usage error naming both forms."""
    kind, sep, rest = spec.strip().partition(":")
    forms = "Use `openai:URL#MODEL` (e.g. openai:http://127.0.0.1:11434/v1#qwen2.5) or `gguf:PATH`."
    if not sep or not rest:
        raise UsageError(f"Invalid --llm {spec!r}. {forms}")
    if kind == "gguf":
        return LlmSpec("gguf", str(Path(rest).expanduser()))
    if kind == "openai":
        url, _, model = rest.partition("#")
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UsageError(f"Invalid --llm {spec!r}: {url!r} is not an http(s) URL. {forms}")
        return LlmSpec("openai", url.rstrip("/"), model.strip() or None)
    raise UsageError(f"Unknown LLM backend {kind!r} in {spec!r}. {forms}")


def make_chat_model(settings: LlmSettings) -> BaseChatModel:
    """The chat model named by `settings.llm`, checked enough to fail now rather than mid-answer."""
    if not settings.llm:
        raise UsageError("No LLM configured (--llm / HOIDAP_LLM).")
    spec = parse_llm_spec(settings.llm)
    if spec.kind == "gguf":
        return _gguf_model(spec, settings)
    return _openai_model(spec, settings)


def _gguf_model(spec: LlmSpec, settings: LlmSettings) -> BaseChatModel:
    path = Path(spec.target)
    if not path.is_file():
        raise UsageError(f"GGUF model not found: {path}")
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise UsageError(f"{path} is not a GGUF model file.")
    if importlib.util.find_spec("llama_cpp") is None:
        raise UsageError(
            "A local GGUF model needs llama-cpp-python: pip install 'hoidap[llm]' "
            "(it compiles llama.cpp, a few minutes)."
        )
    from assistant.llm.llamacpp import ChatLlamaCpp

    return ChatLlamaCpp(
        model_path=str(path),
        n_ctx=settings.llm_context,
        n_threads=settings.llm_threads or os.cpu_count(),
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
        timeout=settings.llm_timeout,
    )


def _openai_model(spec: LlmSpec, settings: LlmSettings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return ChatOpenAI(
        base_url=spec.target,
        model=spec.model or "default",
        # Local servers (llama.cpp, Ollama, vLLM) accept any key; the client insists on one.
        api_key=key or "not-needed",
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        timeout=settings.llm_timeout,
        max_retries=0,  # the extractive answer is a better fallback than a second long wait
        streaming=True,
    )
