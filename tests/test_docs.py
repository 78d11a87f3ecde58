"""The README documents every setting and starts with the two commands."""

from __future__ import annotations

from pathlib import Path

from assistant.settings import setting_fields

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented():
    missing = [env for _, env, _, _ in setting_fields() if f"`{env}`" not in README]
    assert not missing, f"README lacks {missing}"


def test_readme_starts_with_the_two_commands():
    first_block = README.split("```")[1]
    assert "make run" in first_block and "make test" in first_block
