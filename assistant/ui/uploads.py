"""Uploaded files, checked and copied under the app's data folder before they are ingested.

A browser upload is untrusted: its name may be `../../etc/passwd` or an absolute path, a zip may
hold `../` members or expand to gigabytes. `save_uploads` keeps only the allowed types within
the size limits, gives every file a sanitized name under `HOME/uploads`, and rejects a whole zip
that is a bomb (too many members, too large uncompressed, suspicious compression ratio) or that
has a member escaping its folder; each rejection becomes a `FileOutcome` with the reason, shown in
the same table as the ingest results. Re-uploading a file with the same name replaces the stored
copy, so ingest reports it as `unchanged` or `updated` instead of duplicating it.

Example::

    saved = save_uploads([Path("/tmp/gradio/ab12/tin.zip")], home / "uploads")
    report = ingest_uploads(lambda paths: assistant.ingest(paths, progress=False), saved)
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from ingest.errors import HoidapError
from ingest.read import SUPPORTED_SUFFIXES
from store.report import FileOutcome, IngestReport

ZIP_SUFFIX = ".zip"
ALLOWED_SUFFIXES = (*SUPPORTED_SUFFIXES, ZIP_SUFFIX)
MIB = 1024 * 1024
_UNSAFE = re.compile(r"[^\w\-. ()]+")
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class UploadLimits:
    """Size limits of one upload; a zip is judged on what it would expand to."""

    max_file_bytes: int = 50 * MIB
    max_zip_total_bytes: int = 500 * MIB
    max_zip_members: int = 5000
    max_zip_ratio: float = 200.0
    # Small members are never bombs; ratio checks start at this size.
    ratio_min_bytes: int = MIB


@dataclass
class SavedUploads:
    """Files ready to ingest, with the names to show, and the rejected ones."""

    paths: list[Path] = field(default_factory=list)
    names: dict[Path, str] = field(default_factory=dict)
    rejected: list[FileOutcome] = field(default_factory=list)
    root: Path | None = None


class UploadRejected(HoidapError):
    """One uploaded file cannot be accepted; the message says why."""

    def __init__(self, message: str, status: str = "failed") -> None:
        super().__init__(message)
        self.status = status


def safe_name(name: str, default: str = "upload") -> str:
    """A file name that cannot leave its folder: the last path part, only safe characters.

    `../../etc/passwd` → `passwd`, `C:/x/bài 1.txt` → `bài 1.txt`, `.env` → `env`.
    """
    name = unicodedata.normalize("NFC", name).replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" ._-")
    name = re.sub(r"\s+", " ", name)
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = stem[:100].rstrip(" ._-") or default
    return f"{stem}.{suffix[:10]}" if suffix else stem


def _inside(root: Path, path: Path) -> Path:
    """`path` resolved, if it stays under `root` (defence in depth after sanitizing)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise UploadRejected(f"{path.name}: unsafe file name")
    return resolved


def _suffix(name: str) -> str:
    return Path(name).suffix.lower()


def _check_type(name: str) -> None:
    if _suffix(name) not in ALLOWED_SUFFIXES:
        what = f"'{_suffix(name)}'" if _suffix(name) else "without an extension"
        raise UploadRejected(
            f"{name}: unsupported file type {what} (allowed: {', '.join(ALLOWED_SUFFIXES)})",
            status="skipped",
        )


def _check_size(name: str, size: int, limits: UploadLimits) -> None:
    if size > limits.max_file_bytes:
        raise UploadRejected(
            f"{name}: too large ({size / MIB:.1f} MiB; the limit is "
            f"{limits.max_file_bytes / MIB:.0f} MiB)"
        )


def _copy_atomic(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, _CHUNK)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_uploads(
    files: Sequence[Path | str | tuple[Path | str, str]],
    root: Path,
    limits: UploadLimits | None = None,
) -> SavedUploads:
    """Check and copy uploaded files (or zips of them) under `root`.

    Args:
        files: Paths of the uploaded temp files, whose last part is the name the user gave,
            or `(path, original name)` pairs.
        root: The uploads folder, normally `HOME/uploads`.
        limits: Size limits (defaults: `UploadLimits()`).

    Returns:
        The saved paths to ingest (with display names) and a `FileOutcome` per rejected file.
    """
    limits = limits or UploadLimits()
    root.mkdir(parents=True, exist_ok=True)
    saved = SavedUploads(root=root)
    for item in files:
        source, original = (Path(item[0]), item[1]) if isinstance(item, tuple) else (Path(item), "")
        name = safe_name(original or source.name)
        try:
            _check_type(name)
            _check_size(name, source.stat().st_size, limits)
            if _suffix(name) == ZIP_SUFFIX:
                _save_zip(source, name, root, limits, saved)
            else:
                dest = _inside(root, root / "files" / name)
                _copy_atomic(source, dest)
                saved.paths.append(dest)
                saved.names[dest] = name
        except UploadRejected as e:
            saved.rejected.append(FileOutcome(name, e.status, reason=str(e)))  # type: ignore[arg-type]
        except (OSError, zipfile.BadZipFile) as e:
            saved.rejected.append(FileOutcome(name, "failed", reason=f"{name}: cannot read: {e}"))
    return saved


def _member_parts(zip_name: str, member: str) -> tuple[str, ...]:
    """The folder parts of a zip member, refusing absolute paths and `..`."""
    posix = member.replace("\\", "/")
    path = PurePosixPath(posix)
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix) or ".." in path.parts:
        raise UploadRejected(
            f"{zip_name}: unsafe path in the zip: {member!r} (it would leave the folder)"
        )
    return tuple(p for p in path.parts if p not in ("", "."))


def _check_zip(zip_name: str, infos: list[zipfile.ZipInfo], limits: UploadLimits) -> None:
    total = sum(i.file_size for i in infos)
    if len(infos) > limits.max_zip_members:
        raise UploadRejected(
            f"{zip_name}: too many files in the zip ({len(infos)}; the limit is "
            f"{limits.max_zip_members})"
        )
    if total > limits.max_zip_total_bytes:
        raise UploadRejected(
            f"{zip_name}: the zip expands to {total / MIB:.0f} MiB (the limit is "
            f"{limits.max_zip_total_bytes / MIB:.0f} MiB); looks like a zip bomb"
        )
    for i in infos:
        ratio = i.file_size / max(i.compress_size, 1)
        if i.file_size >= limits.ratio_min_bytes and ratio > limits.max_zip_ratio:
            raise UploadRejected(
                f"{zip_name}: {i.filename} is compressed {ratio:.0f}:1 (the limit is "
                f"{limits.max_zip_ratio:.0f}:1); looks like a zip bomb"
            )
        _member_parts(zip_name, i.filename)


def _save_zip(
    source: Path, zip_name: str, root: Path, limits: UploadLimits, saved: SavedUploads
) -> None:
    """Extract the allowed members into `root/archives/<zip name>/`, replacing an older copy."""
    if not zipfile.is_zipfile(source):
        raise UploadRejected(f"{zip_name}: not a valid zip file")
    with zipfile.ZipFile(source) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        _check_zip(zip_name, infos, limits)
        final = _inside(root, root / "archives" / zip_name)
        staging = _inside(root, root / "archives" / f".tmp-{uuid.uuid4().hex}")
        budget = limits.max_zip_total_bytes
        extracted: list[tuple[Path, str]] = []
        skipped: list[FileOutcome] = []
        try:
            for info in infos:
                parts = _member_parts(zip_name, info.filename)
                if not parts or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
                    continue
                relative = Path(*(safe_name(p) for p in parts))
                label = f"{zip_name}/{relative.as_posix()}"
                if _suffix(parts[-1]) not in SUPPORTED_SUFFIXES:
                    reason = f"{label}: unsupported file type in the zip"
                    skipped.append(FileOutcome(label, "skipped", reason=reason))
                    continue
                dest = _inside(staging, staging / relative)
                budget -= _extract_member(zf, info, dest, budget, zip_name)
                extracted.append((relative, label))
            if final.exists():
                shutil.rmtree(final)
            staging.mkdir(parents=True, exist_ok=True)
            os.replace(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    saved.rejected.extend(skipped)
    for relative, label in extracted:
        saved.paths.append(final / relative)
        saved.names[final / relative] = label


def _extract_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, budget: int, zip_name: str
) -> int:
    """Stream one member out, stopping if it outgrows its declared size or the zip's budget."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    limit = min(info.file_size, budget)
    written = 0
    with zf.open(info) as src, open(dest, "wb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > limit:
                raise UploadRejected(
                    f"{zip_name}: {info.filename} expands beyond its declared size; "
                    "looks like a zip bomb"
                )
            out.write(chunk)
    return written


def ingest_uploads(
    ingest: Callable[[list[Path]], IngestReport],
    saved: SavedUploads,
    progress: Callable[[int, int, str], None] | None = None,
    steps: int = 20,
) -> IngestReport:
    """Ingest the saved files in up to `steps` batches, reporting progress between them.

    The report lists rejected uploads first, then every ingested file under its display name
    (the upload's name, or `archive.zip/member`), with the uploads folder cut from reasons.
    """
    report = IngestReport(files=list(saved.rejected))
    paths = saved.paths
    size = max(1, -(-len(paths) // steps))
    root = str(saved.root) + os.sep if saved.root else None
    by_key = {str(p): n for p, n in saved.names.items()}
    for start in range(0, len(paths), size):
        batch = paths[start : start + size]
        if progress:
            progress(start, len(paths), saved.names.get(batch[0], batch[0].name))
        part = ingest(batch)
        for f in part.files:
            reason = f.reason.replace(root, "") if f.reason and root else f.reason
            report.add(replace(f, path=by_key.get(f.path, Path(f.path).name), reason=reason))
        report.articles_added += part.articles_added
        report.articles_removed += part.articles_removed
        report.chunks_embedded += part.chunks_embedded
        report.seconds += part.seconds
        report.notes += [n for n in part.notes if n not in report.notes]
    return report
