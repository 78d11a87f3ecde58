"""Settings of the store layer: where vectors live and which model makes them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "multilingual-e5-small"


class StoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOIDAP_", extra="ignore")

    home: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("hoidap")),
        description="Data folder; the default store lives in HOME/store.",
    )
    store: Path | None = Field(
        None, description="Folder of the embedded Chroma store (default: HOME/store)."
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (`chroma run`), used instead of the embedded store.",
    )
    collection: str = Field("hoidap", description="Name prefix of the Chroma collections.")
    sync_interval: float = Field(
        2.0,
        ge=0,
        description=(
            "With a Chroma server: seconds between checks for what other processes ingested or "
            "pruned (each check is two small queries; 0: before every read)."
        ),
    )
    model: str = Field(
        DEFAULT_MODEL,
        description=(
            "Embedding model: `multilingual-e5-small` (built offline from PyPI packages) or any "
            "sentence-transformers model name or folder."
        ),
    )
    query_prefix: str | None = Field(
        None, description="Text put before queries (default: `query: ` for e5 models, else none)."
    )
    passage_prefix: str | None = Field(
        None,
        description="Text put before passages (default: `passage: ` for e5 models, else none).",
    )
    cache_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_cache_dir("hoidap")),
        description="Cache folder; the offline default model is built into CACHE_DIR/models.",
    )
    batch_size: int = Field(32, ge=1, le=1024, description="Passages embedded per model call.")
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto",
        description=(
            "Encoder arithmetic for the default model (and other plain BERT folders) and the "
            "reader: `bf16` (about 3x faster where the CPU has AVX-512 BF16 or AMX), `fp32`, or "
            "`auto` (bf16 where the CPU has those instructions)."
        ),
    )

    @property
    def store_path(self) -> Path:
        return self.store if self.store is not None else self.home / "store"

    @property
    def is_e5(self) -> bool:
        return "e5" in self.model.lower()

    @property
    def effective_query_prefix(self) -> str:
        if self.query_prefix is not None:
            return self.query_prefix
        return "query: " if self.is_e5 else ""

    @property
    def effective_passage_prefix(self) -> str:
        if self.passage_prefix is not None:
            return self.passage_prefix
        return "passage: " if self.is_e5 else ""
