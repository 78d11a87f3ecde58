"""Settings of the ingest layer (env vars `HOIDAP_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOIDAP_", extra="ignore")

    chunk_size: int = Field(
        1000,
        ge=100,
        le=4000,
        description="Target chunk length in characters (sentences are kept whole).",
    )
    chunk_overlap: int = Field(
        200,
        ge=0,
        le=2000,
        description="Characters of trailing sentences repeated at the start of the next chunk.",
    )
    chunk_title: bool = Field(
        False,
        description=(
            "Put the article's title before every chunk's embedded and BM25 text (the quoted "
            "text stays the article's own)."
        ),
    )
    max_file_mb: float = Field(
        50.0, gt=0, description="Files larger than this many megabytes are skipped with a message."
    )
