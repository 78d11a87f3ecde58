"""Settings of the optional generative mode: which LLM, its time budget, unsupported claims."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LlmSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOIDAP_", extra="ignore", populate_by_name=True)

    llm: str | None = Field(
        None,
        description=(
            "Generative mode: `openai:URL#MODEL` (any OpenAI-compatible endpoint) or "
            "`gguf:PATH` (local, needs `hoidap[llm]`). Unset: the extractive answerer."
        ),
    )
    llm_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("HOIDAP_LLM_API_KEY", "OPENAI_API_KEY"),
        description="API key of the OpenAI-compatible endpoint (or OPENAI_API_KEY).",
    )
    llm_timeout: float = Field(
        60.0, gt=0, description="Seconds an LLM answer may take before the extractive fallback."
    )
    llm_max_tokens: int = Field(256, ge=16, le=4096, description="Longest generated answer.")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature (0: greedy).")
    llm_unsupported: Literal["drop", "flag"] = Field(
        "drop",
        description=(
            "Generated sentences no passage supports: `drop` them, or `flag` them as unverified."
        ),
    )
    llm_context: int = Field(4096, ge=512, description="Context window of a local GGUF model.")
    llm_threads: int | None = Field(
        None, ge=1, description="CPU threads of a local GGUF model (default: all cores)."
    )
    llm_passages: int = Field(
        3,
        ge=1,
        le=20,
        description="Retrieved passages given to the LLM (each costs prompt time on a CPU).",
    )
    llm_passage_chars: int = Field(
        400,
        ge=0,
        description="Characters of each passage given to the LLM, the sentences nearest the "
        "question first (0: whole passages).",
    )
    llm_rewrite: bool = Field(
        True, description="Rewrite follow-up questions into standalone ones with the LLM."
    )
