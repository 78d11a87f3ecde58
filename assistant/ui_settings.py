"""Settings of the chat UI (`app.py`): where it listens, who may log in, upload limits."""

from __future__ import annotations

import os

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.settings import Settings, _first_error, check_environment
from assistant.uploads import MIB, UploadLimits
from ingest.errors import UsageError


class UiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOIDAP_", extra="ignore")

    host: str = Field(
        "127.0.0.1", description="Address the chat UI listens on (0.0.0.0 for the LAN)."
    )
    port: int = Field(7860, ge=1, le=65535, description="Port of the chat UI.")
    auth: str | None = Field(
        None, description="Login for the chat UI as `user:password` (recommended off loopback)."
    )
    concurrency: int = Field(
        4, ge=1, le=64, description="Questions the chat UI answers at the same time."
    )
    upload_max_mb: int = Field(50, ge=1, description="Largest file (or zip) one can upload, MiB.")
    zip_max_mb: int = Field(
        500, ge=1, description="Largest total a zip may expand to when uploaded, MiB."
    )

    @field_validator("auth")
    @classmethod
    def _check_auth(cls, value: str | None) -> str | None:
        if value is not None and (":" not in value or not value.split(":", 1)[0]):
            raise ValueError("expected `user:password`")
        return value or None

    @property
    def credentials(self) -> tuple[str, str] | None:
        if not self.auth:
            return None
        user, password = self.auth.split(":", 1)
        return user, password

    @property
    def upload_limits(self) -> UploadLimits:
        return UploadLimits(
            max_file_bytes=self.upload_max_mb * MIB, max_zip_total_bytes=self.zip_max_mb * MIB
        )


UI_ENV = {f"HOIDAP_{name.upper()}" for name in UiSettings.model_fields}


def load_settings(**ui_overrides: object) -> tuple[Settings, UiSettings]:
    """Read both from the environment; the UI's `HOIDAP_*` names are known here.

    Stopgap until `UiSettings` is a section of `Settings` (then `Settings.load()` is enough).
    """
    check_environment({k: v for k, v in os.environ.items() if k not in UI_ENV})
    try:
        settings = Settings()
        ui = UiSettings(**{k: v for k, v in ui_overrides.items() if v is not None})
    except ValueError as e:
        raise UsageError(f"Invalid setting: {_first_error(e)}") from e
    return settings, ui
