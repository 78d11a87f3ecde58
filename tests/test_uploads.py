"""Uploads: names cannot escape, types and sizes are limited, zip bombs and traversal refused."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from assistant.ui.uploads import UploadLimits, ingest_uploads, safe_name, save_uploads
from store.report import FileOutcome, IngestReport

ARTICLE = " date 2022-07 (GLO)- Chiều 15-7, hội nghị sơ kết.\n\nNGUYỄN VĂN A\n"


def upload_file(tmp_path: Path, name: str, data: bytes | str = ARTICLE) -> Path:
    """A file as Gradio hands it over: in a temp folder, under the name the user gave."""
    folder = tmp_path / "gradio-tmp" / str(len(list(tmp_path.glob("gradio-tmp/*"))))
    folder.mkdir(parents=True)
    path = folder / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def make_zip(path: Path, members: dict[str, bytes | str], *, compress: bool = True) -> Path:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def under(root: Path, paths: list[Path]) -> bool:
    return all(p.resolve().is_relative_to(root.resolve()) for p in paths)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("C:\\Users\\x\\bài báo 1.txt", "bài báo 1.txt"),
        ("..", "upload"),
        (".env", "env"),
        ("", "upload"),
        ("a\x00b\nc.txt", "abc.txt"),
        ('<img src=x onerror="alert(1)">.txt', "img src_x onerror_alert(1).txt"),
        ("tin tức.md", "tin tức.md"),
    ],
)
def test_safe_name(name, expected):
    assert safe_name(name) == expected
    assert "/" not in safe_name(name) and "\\" not in safe_name(name)


def test_safe_name_is_bounded():
    name = safe_name("x" * 500 + ".txt")
    assert len(name) <= 110 and name.endswith(".txt")


@pytest.mark.parametrize("name", ["../../etc/passwd.txt", "/etc/passwd.txt", "../../../x.md"])
def test_traversal_names_stay_in_the_uploads_folder(tmp_path, name):
    root = tmp_path / "uploads"
    source = upload_file(tmp_path, "plain.txt")
    saved = save_uploads([(source, name)], root)
    assert not saved.rejected
    assert len(saved.paths) == 1 and under(root, saved.paths)
    assert saved.paths[0].read_text() == ARTICLE
    assert not (tmp_path / "etc").exists()


def test_plain_files_are_copied_with_their_names(tmp_path):
    root = tmp_path / "uploads"
    saved = save_uploads([upload_file(tmp_path, "tin 1.txt"), upload_file(tmp_path, "b.md")], root)
    assert [saved.names[p] for p in saved.paths] == ["tin 1.txt", "b.md"]
    assert under(root, saved.paths)


def test_reupload_replaces_the_stored_copy(tmp_path):
    root = tmp_path / "uploads"
    first = save_uploads([upload_file(tmp_path, "a.txt", "one")], root)
    second = save_uploads([upload_file(tmp_path, "a.txt", "two")], root)
    assert first.paths == second.paths
    assert second.paths[0].read_text() == "two"


@pytest.mark.parametrize("name", ["virus.exe", "photo.png", "noextension", "page.php", "a.txt.sh"])
def test_wrong_types_are_skipped_with_a_reason(tmp_path, name):
    saved = save_uploads([upload_file(tmp_path, name, b"data")], tmp_path / "uploads")
    assert saved.paths == []
    [outcome] = saved.rejected
    assert outcome.status == "skipped" and "unsupported file type" in outcome.reason


def test_oversize_files_are_refused(tmp_path):
    limits = UploadLimits(max_file_bytes=1000)
    big = upload_file(tmp_path, "big.txt", "x" * 1001)
    ok = upload_file(tmp_path, "ok.txt", "x" * 1000)
    saved = save_uploads([big, ok], tmp_path / "uploads", limits)
    assert [saved.names[p] for p in saved.paths] == ["ok.txt"]
    [outcome] = saved.rejected
    assert outcome.status == "failed" and "too large" in outcome.reason


def test_zip_members_are_extracted_under_the_uploads_folder(tmp_path):
    root = tmp_path / "uploads"
    archive = make_zip(
        tmp_path / "tin.zip",
        {"a.txt": ARTICLE, "sub/b.md": "# B\n\ntext", "img.png": b"\x89PNG", "__MACOSX/._a": b""},
    )
    saved = save_uploads([archive], root)
    assert sorted(saved.names[p] for p in saved.paths) == ["tin.zip/a.txt", "tin.zip/sub/b.md"]
    assert under(root, saved.paths)
    assert [(o.path, o.status) for o in saved.rejected] == [("tin.zip/img.png", "skipped")]


@pytest.mark.parametrize(
    "member", ["../evil.txt", "../../../../tmp/evil.txt", "/etc/evil.txt", "a/../../evil.txt"]
)
def test_zip_with_a_traversing_member_is_rejected(tmp_path, member):
    root = tmp_path / "uploads"
    archive = make_zip(tmp_path / "bad.zip", {"ok.txt": ARTICLE, member: "pwned"})
    saved = save_uploads([archive], root)
    assert saved.paths == []
    [outcome] = saved.rejected
    assert outcome.status == "failed" and "unsafe path" in outcome.reason
    assert not list(tmp_path.rglob("evil.txt"))
    assert not (root / "archives" / "bad.zip").exists()


def test_windows_style_traversal_in_zip_is_rejected(tmp_path):
    archive = tmp_path / "win.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("..\\..\\evil.txt"), "pwned")
    archive.write_bytes(buf.getvalue())
    saved = save_uploads([archive], tmp_path / "uploads")
    assert saved.paths == [] and "unsafe path" in saved.rejected[0].reason


def test_zip_bomb_by_ratio_is_rejected(tmp_path):
    archive = make_zip(tmp_path / "bomb.zip", {"zeros.txt": b"0" * (20 * 1024 * 1024)})
    assert archive.stat().st_size < 100_000  # ~1000:1
    saved = save_uploads([archive], tmp_path / "uploads")
    assert saved.paths == []
    assert "zip bomb" in saved.rejected[0].reason
    assert not list((tmp_path / "uploads").rglob("zeros.txt"))


def test_zip_bomb_by_total_size_is_rejected(tmp_path):
    limits = UploadLimits(max_zip_total_bytes=10_000, ratio_min_bytes=10**9)
    archive = make_zip(tmp_path / "big.zip", {f"{i}.txt": "x" * 3000 for i in range(4)})
    saved = save_uploads([archive], tmp_path / "uploads", limits)
    assert saved.paths == [] and "zip bomb" in saved.rejected[0].reason


def test_zip_with_too_many_members_is_rejected(tmp_path):
    limits = UploadLimits(max_zip_members=5)
    archive = make_zip(tmp_path / "many.zip", {f"{i}.txt": "x" for i in range(6)})
    saved = save_uploads([archive], tmp_path / "uploads", limits)
    assert saved.paths == [] and "too many files" in saved.rejected[0].reason


def test_zip_member_lying_about_its_size_is_stopped(tmp_path):
    """A member whose header declares fewer bytes than it holds never gets fully written."""
    archive = make_zip(tmp_path / "liar.zip", {"a.txt": "x" * 5000}, compress=False)
    data = bytearray(archive.read_bytes())
    # Patch the declared size (central directory and local header) down to 10 bytes.
    with zipfile.ZipFile(archive) as zf:
        info = zf.infolist()[0]
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(sig)
        data[at + offset : at + offset + 4] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    assert info.file_size == 5000
    saved = save_uploads([archive], tmp_path / "uploads")
    assert saved.paths == []
    assert saved.rejected and saved.rejected[0].status == "failed"


def test_not_a_zip_is_rejected(tmp_path):
    saved = save_uploads([upload_file(tmp_path, "fake.zip", b"not a zip")], tmp_path / "uploads")
    assert saved.paths == [] and "not a valid zip" in saved.rejected[0].reason


def test_ingest_uploads_merges_batches_and_shows_upload_names(tmp_path):
    root = tmp_path / "uploads"
    files = [upload_file(tmp_path, f"{i}.txt") for i in range(5)] + [
        upload_file(tmp_path, "x.exe", b"")
    ]
    saved = save_uploads(files, root)
    calls: list[list[Path]] = []
    steps: list[tuple[int, int, str]] = []

    def fake_ingest(paths: list[Path]) -> IngestReport:
        calls.append(paths)
        report = IngestReport(articles_added=len(paths), chunks_embedded=2 * len(paths))
        for p in paths:
            report.add(FileOutcome(str(p), "added", articles=1, reason=None))
        report.add(FileOutcome(str(paths[0]), "failed", reason=f"{paths[0]}: cannot decode"))
        report.notes.append("This store keeps its layout")
        return report

    report = ingest_uploads(fake_ingest, saved, lambda *a: steps.append(a), steps=2)
    assert [len(c) for c in calls] == [3, 2]
    assert [s[:2] for s in steps] == [(0, 5), (3, 5)]
    assert report.articles_added == 5 and report.chunks_embedded == 10
    assert report.notes == ["This store keeps its layout"], "once, not once a batch"
    assert report.files[0].path == "x.exe" and report.files[0].status == "skipped"
    assert {f.path for f in report.files[1:]} == {f"{i}.txt" for i in range(5)}
    failed = [f for f in report.files if f.status == "failed"]
    assert failed[0].reason == "files/0.txt: cannot decode"  # the server's folders are not shown
