"""What an ingest did, file by file, so callers can show it and decide the exit status."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["added", "updated", "unchanged", "skipped", "failed", "removed"]
STATUSES: tuple[Status, ...] = ("added", "updated", "unchanged", "skipped", "failed", "removed")


@dataclass
class FileOutcome:
    path: str
    status: Status
    articles: int = 0
    reason: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    files: list[FileOutcome] = field(default_factory=list)
    articles_added: int = 0
    articles_removed: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # about the whole run, for the user

    def add(self, outcome: FileOutcome) -> None:
        self.files.append(outcome)

    def count(self, status: Status) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def failed(self) -> bool:
        return any(f.status == "failed" for f in self.files)

    def summary(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in STATUSES if s != "removed" or self.count(s)]
        return (
            f"{len(self.files)} files: " + ", ".join(parts)
            + f" · articles +{self.articles_added} -{self.articles_removed}"
            + f" · {self.chunks_embedded} chunks embedded in {self.seconds:.1f}s"
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = {s: self.count(s) for s in STATUSES}
        return data
