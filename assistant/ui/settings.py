"""Settings of the chat UI (`app.py`): where it listens, who may log in, upload limits."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.ui.uploads import MIB, UploadLimits


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
