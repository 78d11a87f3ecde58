"""Chat history in the shapes callers have it, turned into (question, answer) pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ingest.errors import UsageError


def normalize_history(history: Sequence[Any] | None) -> list[tuple[str, str]]:
    """Accept `[(q, a), ...]`, `[[q, a], ...]`, LangChain messages or `{"role", "content"}` dicts.

    Gradio and OpenAI-style callers send role/content messages; the CLI batch format sends
    pairs. Both end up as pairs so retrieval and answering see one shape.
    """
    if not history:
        return []
    pairs: list[tuple[str, str]] = []
    pending_question: str | None = None
    for item in history:
        role, content = _role_content(item)
        if role == "pair":
            q, a = content
            pairs.append((str(q), str(a)))
        elif role in ("user", "human"):
            if pending_question is not None:
                pairs.append((pending_question, ""))
            pending_question = str(content)
        elif role in ("assistant", "ai"):
            pairs.append((pending_question or "", str(content)))
            pending_question = None
    if pending_question is not None:
        pairs.append((pending_question, ""))
    return pairs


def _role_content(item: Any) -> tuple[str, Any]:
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return "pair", item
    if isinstance(item, dict) and "content" in item:
        return str(item.get("role", "user")), _text(item["content"])
    role = getattr(item, "type", None)
    if role is not None and hasattr(item, "content"):
        return str(role), _text(item.content)
    raise UsageError(
        "chat_history items must be [question, answer] pairs or {'role', 'content'} messages"
    )


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal message parts
        return " ".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)
