"""The one configuration object: each layer's section, read from `HOIDAP_*` env vars.

CLI flags and callers override fields with `Settings.with_overrides`; components receive only
their own section, so no module reads the environment on its own.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.llm.settings import LlmSettings
from assistant.ui.settings import UiSettings
from ingest.errors import UsageError
from ingest.settings import IngestSettings
from store.settings import StoreSettings


class AssistantSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOIDAP_", extra="ignore")

    top_k: int = Field(5, ge=1, le=50, description="Passages retrieved per question.")
    candidates: int = Field(
        30, ge=1, le=500, description="Candidates taken from each of dense and BM25 before fusion."
    )
    dense_weight: float = Field(1.0, ge=0, description="Weight of dense results in the fusion.")
    lexical_weight: float = Field(1.0, ge=0, description="Weight of BM25 results in the fusion.")
    rrf_k: int = Field(
        5,
        ge=1,
        description=(
            "Reciprocal rank fusion constant: a passage at rank r of a search adds "
            "weight / (RRF_K + r); smaller values favour each search's first passages."
        ),
    )
    english_lexical_weight: float = Field(
        0.5,
        ge=0,
        description=(
            "Weight of BM25 results for English questions, which search by their Vietnamese "
            "names and numbers only (0: by meaning alone)."
        ),
    )
    english_bm25: bool = Field(
        False,
        description=(
            "BM25 over every word of an English question, not only its Vietnamese names and "
            "numbers (English words fold to Vietnamese syllables and add noise)."
        ),
    )
    sentence_coverage_weight: float = Field(
        0.3,
        ge=0,
        description=(
            "For a Vietnamese question, each of the fusion's first CANDIDATES passages gains "
            "this times the share of the question's BM25 term weight found in its best two "
            "adjacent sentences (0: the fusion's order alone)."
        ),
    )
    history_weight: float = Field(
        0.5,
        ge=0,
        description=(
            "In a conversation a question is searched rewritten with the previous question and "
            "answer; this is the weight of a second search with the question alone."
        ),
    )
    semantic_sentences: int = Field(
        0,
        ge=0,
        le=32,
        description=(
            "Best-matching sentences of a Vietnamese question re-scored with the embedding "
            "model (0: word overlap only). 2 raises answer-contains ~3 points and costs ~80 ms "
            "a question on 2 cores. English questions always re-score 16."
        ),
    )
    min_confidence: float = Field(
        0.35,
        ge=0,
        le=1,
        description="Rules answerer (HOIDAP_READER=false): abstain below this confidence.",
    )
    reader: bool = Field(
        True,
        description=(
            "Answer with the trained reader (a cross-encoder shipped in the package); false: "
            "the word-overlap rules."
        ),
    )
    reader_threshold: float = Field(
        0.05,
        ge=0,
        le=1,
        description="The reader abstains when no sentence answers with this probability.",
    )
    rerank_passages: int = Field(
        0,
        ge=0,
        le=50,
        description=(
            "Retrieved passages the trained passage ranker reorders for a Vietnamese question "
            "before the answerer reads the best (0: the fusion's order, which the ranker did "
            "not beat on Vietnamese dev questions)."
        ),
    )
    english_rerank_passages: int = Field(
        10,
        ge=0,
        le=50,
        description=(
            "`RERANK_PASSAGES` for English questions, whose passages the fusion finds but "
            "ranks poorly (about 0.2 s a question on 2 cores; 0: off)."
        ),
    )
    rerank_prior: float = Field(
        4.0,
        ge=0,
        description=(
            "Weight of the fusion's rank, prior / (1 + rank), added to the ranker's logit."
        ),
    )
    english_ranked_sentences: int = Field(
        4,
        ge=0,
        le=64,
        description=(
            "Of an English question's candidate sentences, the best this many (by the reader) "
            "are also read by the passage ranker, whose logit joins their score: the small "
            "reader knows little English (about 35 ms a question on 2 cores; 0: off)."
        ),
    )
    sentence_ranker_weight: float = Field(
        1.0,
        ge=0,
        description="Weight of the passage ranker's logit in an English sentence's score.",
    )
    reader_passages: int = Field(
        5,
        ge=1,
        le=50,
        description="Retrieved passages the reader reads and reorders before TOP_K are kept.",
    )
    reader_sentences: int = Field(
        24, ge=1, le=64, description="Candidate sentences the reader reads per question."
    )
    reader_lexical_weight: float = Field(
        6.0,
        ge=0,
        description=(
            "Weight of word overlap with the question added to the reader's score (6: best of "
            "2, 4, 6 on the Vietnamese `dev` questions of three data sets)."
        ),
    )
    reader_english_lexical_weight: float = Field(
        16.0,
        ge=0,
        description="`READER_LEXICAL_WEIGHT` for English questions (overlap through the glossary).",
    )
    reader_dense_sentences: int = Field(
        3,
        ge=0,
        le=64,
        description=(
            "Of a Vietnamese question's candidate sentences, the best this many (by the "
            "reader's score) are also embedded by the embedding model, whose cosine with the "
            "question, times `READER_DENSE_WEIGHT`, joins their score (about 80 ms a question on "
            "2 cores; 0: off)."
        ),
    )
    reader_english_dense_sentences: int = Field(
        0,
        ge=0,
        le=64,
        description=(
            "`READER_DENSE_SENTENCES` for English questions (0: off; 3 lost on held-out English "
            "questions, and they already take the ranker's second opinion)."
        ),
    )
    reader_dense_weight: float = Field(
        64.0,
        ge=0,
        description="Weight of the embedding model's question-sentence cosine in that score.",
    )
    reader_unit_check: bool = Field(
        True,
        description=(
            "For a question naming its unit (years, metres, hectares, money, a year, a day, an "
            "hour), the reader reads only sentences stating a figure in that unit, and abstains "
            "when none does (false: every sentence)."
        ),
    )
    reader_typed_spans: bool = Field(
        True,
        description=(
            "Short answers of typed questions (numbers, dates, names, places) from the typed-span "
            "rules when they find one and the reader's span runs past 10 words; false: always "
            "the reader's span."
        ),
    )


class Settings(BaseModel):
    """All settings, one section per layer."""

    ingest: IngestSettings = Field(default_factory=IngestSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    assistant: AssistantSettings = Field(default_factory=AssistantSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    ui: UiSettings = Field(default_factory=UiSettings)

    @classmethod
    def load(cls) -> Settings:
        """Read the environment, rejecting unknown `HOIDAP_*` names: a typo must not pass."""
        check_environment(os.environ)
        try:
            return cls()
        except ValueError as e:
            raise UsageError(f"Invalid setting: {_first_error(e)}") from e

    def with_overrides(self, **sections: dict[str, Any]) -> Settings:
        """Return a copy with fields replaced, e.g. `with_overrides(store={"store": path})`.

        Values of None are ignored so unset CLI flags keep the env/default value.
        """
        updated: dict[str, Any] = {}
        for name, fields in sections.items():
            current = getattr(self, name)
            merged = current.model_dump()
            merged.update({k: v for k, v in fields.items() if v is not None})
            try:
                updated[name] = type(current).model_validate(merged)
            except ValueError as e:
                raise UsageError(f"Invalid setting: {_first_error(e)}") from e
        return self.model_copy(update=updated)


def setting_fields() -> list[tuple[str, str, Any, str]]:
    """(section, env var, default, description) of every setting, for `hoidap settings`."""
    rows: list[tuple[str, str, Any, str]] = []
    for section, model in (
        ("ingest", IngestSettings),
        ("store", StoreSettings),
        ("assistant", AssistantSettings),
        ("llm", LlmSettings),
        ("ui", UiSettings),
    ):
        for name, field in model.model_fields.items():
            default = field.default if field.default_factory is None else field.default_factory()
            rows.append((section, f"HOIDAP_{name.upper()}", default, field.description or ""))
    return rows


def check_environment(environ: os._Environ[str] | dict[str, str]) -> None:
    known = {env for _, env, _, _ in setting_fields()}
    unknown = sorted(k for k in environ if k.startswith("HOIDAP_") and k not in known)
    if unknown:
        raise UsageError(
            f"Unknown setting(s) in the environment: {', '.join(unknown)}. "
            "Run `hoidap settings` to list the valid names."
        )


def _first_error(e: ValueError) -> str:
    errors = getattr(e, "errors", None)
    if callable(errors):
        first = errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        return f"{loc}: {first.get('msg')}" if loc else str(first.get("msg"))
    return str(e)
