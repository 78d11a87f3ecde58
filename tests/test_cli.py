"""The `hoidap` command as people type it: README examples, wrong invocations, every command.

Usage errors are checked in-process through `assistant.cli.main` (the console entry point
itself, fast: nothing is loaded before the command line is parsed); everything that reads a
store or loads the model runs the installed `hoidap` in a real process over a real store.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant import cli

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SAMPLE = REPO / "data" / "sample"
HOIDAP = str(Path(sys.executable).parent / "hoidap")
Q_JUNE = "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?"
Q_JUNE_EN = "How many party members were admitted by 30 June?"
Q_DISCIPLINE = "Còn bao nhiêu đảng viên bị kỷ luật?"
ARCHIVE_ARTICLE = {
    "id": "BKT-2022-08-0042",
    "url": "https://baokontum.com.vn/van-hoa/le-hoi-cong-chieng-42.html",
    "title": "Lễ hội cồng chiêng Kon Tum 2022",
    "date": "2022-08-20",
    "source": "BKT",
    "text": "Lễ hội cồng chiêng Kon Tum năm nay có 321 nghệ nhân tham gia.\n\n"
    "Các đội cồng chiêng đến từ 10 huyện, thành phố trong tỉnh.",
}


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HOIDAP, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=600,
    )


def call_main(capsys, *args: str, main=None) -> tuple[int, str, str]:
    """`hoidap ARGS` in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as e:
        (main or cli.main)(list(args))
        raise SystemExit(0)  # returned normally
    out = capsys.readouterr()
    return int(e.value.code or 0), out.out, out.err


def write_archive(folder: Path) -> Path:
    """A JSONL archive of one article with the archive's own id and url."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kontum.jsonl"
    path.write_text(json.dumps(ARCHIVE_ARTICLE, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# -- wrong invocations: one line, exit 2, the command's --help named (fast) -----------------
WRONG = [
    (("ingest", "x", "--bogus"), "No such option: --bogus", "hoidap ingest --help"),
    (("ingest",), "Missing argument 'PATH'", "hoidap ingest --help"),
    (("ask",), "Missing argument 'QUESTION'", "hoidap ask --help"),
    (("ask", "x", "--k", "abc"), "Invalid value for '--k'", "hoidap ask --help"),
    (("ask", "x", "--k", "0"), "Invalid value for '--k'", "hoidap ask --help"),
    (("ask", "x", "--batch", "q.jsonl"), "not both", "hoidap ask --help"),
    (("stats", "--jsno"), "Possible options: --json", "hoidap stats --help"),
    (("serch",), "No such command 'serch'", "hoidap --help"),
    (("--store",), "'--store' requires an argument", "hoidap --help"),
    (("stats", "--store"), "'--store' requires an argument", "hoidap --help"),
    (("--llm-timeout", "soon", "stats"), "Invalid value for '--llm-timeout'", "hoidap --help"),
    (("eval", "x.json", "--fold", "nope"), "Unknown --fold 'nope'", "hoidap eval --help"),
    (("article",), "Missing argument 'ID'", "hoidap article --help"),
    (("article", "x", "--start", "-1"), "Invalid value for '--start'", "hoidap article --help"),
    (("serve", "--port", "70000"), "Invalid value for '--port'", "hoidap serve --help"),
    (("serve", "--prot", "1"), "No such option: --prot", "hoidap serve --help"),
    (("model", "build", "--forse"), "No such option: --forse", "hoidap model build --help"),
    (("reader", "train"), "Missing option '--data'", "hoidap reader train --help"),
    (
        ("reader", "train", "--data", ".", "--corpus", ".", "--dropout", "0.9"),
        "Invalid value for '--dropout'",
        "hoidap reader train --help",
    ),
]


@pytest.mark.parametrize(
    ("args", "message", "help_hint"), WRONG, ids=[" ".join(w[0]) for w in WRONG]
)
def test_wrong_invocations_give_one_line_and_exit_2(capsys, args, message, help_hint):
    code, out, err = call_main(capsys, *args)
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ") and message in lines[0]
    assert lines[0].endswith(f"See '{help_hint}'.")


TRAINING_REFUSED = [
    ("train", ("--negatives-store", "{tmp}/no-store"), "Error: {tmp}/no-store does not exist."),
    ("train", ("--extra-data", "{tmp}/english.json"), "Error: {tmp}/english.json does not exist."),
    (
        "train",
        ("--frozen-layers", "10", "--trained-layers", "3"),
        "Error: --frozen-layers 10 + --trained-layers 3 is more than the base model's 12 layers.",
    ),
    (
        "train-ranker",
        ("--negatives-store", "{tmp}/no-store"),
        "Error: {tmp}/no-store does not exist.",
    ),
    (
        "train-ranker",
        ("--reader", "{tmp}/no-reader", "--negatives-store", "{tmp}"),
        "Error: {tmp}/no-reader does not exist.",
    ),
]


@pytest.mark.parametrize(
    ("command", "extra", "message"),
    TRAINING_REFUSED,
    ids=[f"{c} {e[0]}" for c, e, _ in TRAINING_REFUSED],
)
def test_training_refuses_bad_input_before_any_work(capsys, tmp_path, command, extra, message):
    """A wrong path or depth is named at once, not after minutes of mining, and nothing is written."""
    corpus = tmp_path / "taynguyen.jsonl"
    corpus.write_text("", encoding="utf-8")
    args = ("reader", command, "--data", str(tmp_path), "--corpus", str(corpus))
    extra = tuple(x.format(tmp=tmp_path) for x in extra)
    code, out, err = call_main(capsys, *args, *extra, "--out", str(tmp_path))
    assert code == 1 and out == ""
    assert err.strip() == message.format(tmp=tmp_path)
    assert not list(tmp_path.glob("reader*")) and not list(tmp_path.glob("ranker*"))


def test_debug_shows_the_traceback_of_a_usage_error(capsys):
    with pytest.raises(Exception, match="No such option"):
        cli.main(["--debug", "stats", "--bogus"])


def test_global_options_are_moved_in_front_of_the_command():
    group = cli.typer.main.get_command(cli.app)
    hoist = cli.hoist_global_options
    assert hoist(group, ["ingest", "data/sample", "--store", "/tmp/s"]) == [
        "--store",
        "/tmp/s",
        "ingest",
        "data/sample",
    ]
    assert hoist(group, ["ask", "q", "--debug", "--json", "--llm=gguf:x"]) == [
        "--debug",
        "--llm=gguf:x",
        "ask",
        "q",
        "--json",
    ]
    # After `--` everything is an argument, even what looks like a global option.
    assert hoist(group, ["ask", "--", "--store"]) == ["ask", "--", "--store"]


def test_no_command_takes_an_option_named_like_a_global_one():
    """Else moving global options in front would steal a command's own option."""
    group = cli.typer.main.get_command(cli.app)
    global_names = {n for p in group.params for n in p.opts}

    def commands(command):
        for sub in getattr(command, "commands", {}).values():
            yield sub
            yield from commands(sub)

    for command in commands(group):
        for param in command.params:
            assert not set(param.opts) & global_names, (command.name, param.opts)


@pytest.mark.parametrize(
    "args", [("--help",), ("ask", "--help"), ("ingest", "--help"), ("serve", "--help")]
)
def test_help_shows_flags_as_flags(capsys, args):
    code, out, _ = call_main(capsys, *args)
    assert code == 0
    assert "<bool>" not in out and "Traceback" not in out
    assert re.search(r"^\s+--help\s+Show this message", out, re.M)
    if args[0] != "--help":
        assert "--store" in out  # global options are named under every command


def test_python_app_py_is_hoidap_serve(capsys):
    import app

    _, serve_help, _ = call_main(capsys, "serve", "--help")
    assert call_main(capsys, "--help", main=app.main) == (0, serve_help, "")
    code, _, err = call_main(capsys, "--prot", "1", main=app.main)
    assert code == 2 and err.strip().endswith("See 'hoidap serve --help'.")


# -- the README's examples, run as written ----------------------------------------------------
# Examples of the README's bash blocks that a test cannot run as written, and why. Each entry
# must still match an example (so the list stays in step with the README).
EXCLUDED = {
    "hoidap eval ": "needs the research QA sets of ../shared; tests/assistant/test_evaluate.py "
    "runs `eval` on small fixtures",
    "hoidap model llm": "downloads the 1.1 GB test LLM (`make test` does, once)",
    "hoidap --llm gguf:": "needs the test LLM and minutes on 2 cores; tests/assistant/test_llm.py",
    'hoidap --llm "openai:': "needs an OpenAI-compatible server; tests/assistant/test_llm.py "
    "starts llama.cpp's",
    "OPENAI_API_KEY=": "needs a hosted API and its key",
    "hoidap serve": "serves until stopped: test_serve_answers_over_http starts and stops it",
}
# What the output of an example must contain, by a piece of its command line.
EXPECTED = {
    f'ask "{Q_JUNE_EN}"': "787",
    f'ask "{Q_JUNE}" --json': "787",
    "hoidap stats\n": "articles:",
    "hoidap sources": "GLO",
    "hoidap article": "[[",
    "hoidap reader check": "reader ok",
    "hoidap settings": "HOIDAP_TOP_K",
    "--store ~/other-store": "articles:  0",
}


def readme_examples() -> list[str]:
    """Every `hoidap` command line in the README's bash blocks, as written, without comment."""
    text = README.read_text(encoding="utf-8")
    examples = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            example = re.sub(r"\s+#(\s.*)?$", "", line).strip()
            words = shlex.split(example)
            while words and re.match(r"^[A-Z_]+=", words[0]):  # VAR=value prefixes
                words = words[1:]
            if words and words[0] == "hoidap":
                examples.append(example)
    return examples


def excluded(example: str) -> str | None:
    return next((why for start, why in EXCLUDED.items() if example.startswith(start)), None)


def test_readme_examples_are_found_and_every_exclusion_matches_one():
    examples = readme_examples()
    assert any(e.startswith("hoidap ingest data/sample") for e in examples)
    assert any(e.startswith("hoidap article") for e in examples)
    for start in EXCLUDED:
        assert any(e.startswith(start) for e in examples), f"no README example {start!r}"


def run_example(example: str, env: dict[str, str], cwd: Path, ids: dict[str, str]):
    """Run a README line as a shell would here: `~` (the test's HOME), `> file`.

    ID, START and END stand for a citation's values, taken from an earlier example's answer.
    """
    for placeholder, value in ids.items():
        example = re.sub(rf"\b{placeholder}\b", value, example)
    words = shlex.split(example)
    stdout_path = None
    if ">" in words:
        at = words.index(">")
        words, stdout_path = words[:at], words[at + 1]
    words = [env["HOME"] + w[1:] if w.startswith("~/") else w for w in words]
    result = subprocess.run(
        [HOIDAP, *words[1:]], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )
    if stdout_path:
        (cwd / stdout_path).write_text(result.stdout, encoding="utf-8")
    return result


@pytest.mark.slow
def test_every_readme_example_runs(tmp_path, e5_model_path):
    """The README's command lines, in order, over a temporary store with the sample article."""
    home = tmp_path / "home"
    cwd = tmp_path / "work"
    shutil.copytree(SAMPLE, cwd / "data" / "sample")
    write_archive(home / "archive")
    (cwd / "questions.jsonl").write_text(
        json.dumps({"id": "q1", "question": Q_JUNE}, ensure_ascii=False)
        + "\n"
        + json.dumps(
            {"id": "q2", "question": Q_DISCIPLINE, "history": [[Q_JUNE, "787"]]},
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    from store.settings import StoreSettings

    env = {
        **os.environ,
        "HOME": str(home),  # for ~/archive, ~/other-store
        "HOIDAP_HOME": str(tmp_path / "hoidap-home"),
        "HOIDAP_CACHE_DIR": str(StoreSettings().cache_dir),  # the built model, not a rebuild
    }
    ids: dict[str, str] = {}
    ran = []
    for example in readme_examples():
        if excluded(example):
            continue
        result = run_example(example, env, cwd, ids)
        assert result.returncode == 0, f"{example}\n{result.stderr}"
        assert "Traceback" not in result.stderr and "Error:" not in result.stderr, example
        for piece, expected in EXPECTED.items():
            if piece in example + "\n":
                assert expected in result.stdout, f"{example}\n{result.stdout}"
        if "--json --passages" in example:
            answer = json.loads(result.stdout)
            cited = (answer["citations"] or answer["passages"])[0]
            ids.update(ID=cited["article_id"], START=str(cited["start"]), END=str(cited["end"]))
        ran.append(example)
    assert ids, "no `ask --json --passages` example gave the ids for `hoidap article`"
    answers = [json.loads(line) for line in (cwd / "answers.jsonl").read_text().splitlines()]
    assert [a["id"] for a in answers] == ["q1", "q2"]
    assert "787" in answers[0]["text"]
    assert "129" in answers[1]["text"]  # the follow-up: needs the trained reader
    assert len(ran) >= 12, ran


# -- the commands over a real store (subprocesses) --------------------------------------------
@pytest.fixture(scope="module")
def store_dir(tmp_path_factory, e5_model_path) -> Path:
    """A store holding the sample article and a JSONL article with an external id and url.

    Ingested with the global option after the command, as the issue's example.
    """
    root = tmp_path_factory.mktemp("cli")
    archive = write_archive(root / "archive")
    store = root / "store"
    result = run("ingest", str(SAMPLE), str(archive), "--quiet", "--store", str(store))
    assert result.returncode == 0, result.stderr
    assert "2 added" in result.stdout
    return store


@pytest.mark.slow
def test_ingest_reports_bad_files_and_exits_non_zero(tmp_path, e5_model_path):
    store = tmp_path / "store"
    result = run("--store", str(store), "ingest", str(REPO / "tests" / "fixtures" / "articles"))
    assert result.returncode == 1
    assert "failed:" in result.stderr and "empty.txt" in result.stderr
    assert "Traceback" not in result.stderr
    assert "3 failed" in result.stdout
    again = run("--store", str(store), "ingest", "-q", "--json", str(REPO / "tests" / "fixtures"))
    report = json.loads(again.stdout)
    assert report["summary"]["unchanged"] >= 9 and report["chunks_embedded"] == 0


@pytest.mark.slow
def test_stats_with_the_global_option_after_the_command(store_dir):
    result = run("stats", "--json", "--store", str(store_dir))
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["articles"] == 2 and stats["chunks"] > 0
    assert stats["model"] == "multilingual-e5-small" and stats["dimension"] == 384


@pytest.mark.slow
def test_sources_lists_each_source_with_its_count(store_dir):
    result = run("sources", "--store", str(store_dir))
    assert result.returncode == 0, result.stderr
    rows = [line.split(None, 2) for line in result.stdout.splitlines()]
    assert sorted(rows) == [["BKT", "1", "Báo Kon Tum"], ["GLO", "1", "Báo Gia Lai"]]
    as_json = json.loads(run("sources", "--json", "--store", str(store_dir)).stdout)
    assert {r["source"]: r["articles"] for r in as_json} == {"GLO": 1, "BKT": 1}


@pytest.mark.slow
def test_article_by_either_id_with_the_span_marked(store_dir):
    answer = json.loads(
        run(
            "--store",
            str(store_dir),
            "ask",
            "--json",
            "--passages",
            "Lễ hội cồng chiêng Kon Tum có bao nhiêu nghệ nhân?",
        ).stdout
    )
    [kontum] = {p["article_id"]: p for p in answer["passages"] if p["external_id"]}.values()
    assert (
        kontum["external_id"] == ARCHIVE_ARTICLE["id"] and kontum["url"] == ARCHIVE_ARTICLE["url"]
    )
    text = ARCHIVE_ARTICLE["text"]
    start = text.index("321")
    end = start + len("321 nghệ nhân")
    by_internal = run(
        "article",
        kontum["article_id"],
        "--start",
        str(start),
        "--end",
        str(end),
        "--store",
        str(store_dir),
    )
    assert by_internal.returncode == 0, by_internal.stderr
    assert "có [[321 nghệ nhân]] tham gia" in by_internal.stdout
    assert ARCHIVE_ARTICLE["url"] in by_internal.stdout
    assert f"external id: {ARCHIVE_ARTICLE['id']}" in by_internal.stdout
    by_external = run("--store", str(store_dir), "article", ARCHIVE_ARTICLE["id"], "--json")
    record = json.loads(by_external.stdout)
    assert record["id"] == kontum["article_id"] and record["text"] == text
    assert "path" not in record

    missing = run("--store", str(store_dir), "article", "no-such-id")
    assert missing.returncode == 1 and missing.stderr.startswith("Error: No stored article")
    outside = run("--store", str(store_dir), "article", ARCHIVE_ARTICLE["id"], "--start", "5")
    assert outside.returncode == 2 and "both --start and --end" in outside.stderr
    assert len(outside.stderr.strip().splitlines()) == 1
    too_far = run(
        "--store",
        str(store_dir),
        "article",
        ARCHIVE_ARTICLE["id"],
        "--start",
        "0",
        "--end",
        "99999",
    )
    assert too_far.returncode == 2 and "not a span of this article" in too_far.stderr


@pytest.mark.slow
def test_ask_json_passages_and_batch_share_one_answer_schema(store_dir, tmp_path):
    result = run("--store", str(store_dir), "ask", "--json", Q_JUNE)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["passages"] is None
    assert "787" in answer["text"] and answer["citations"][0]["n"] == 1
    assert answer["citations"][0]["article_id"] and "external_id" in answer["citations"][0]

    with_passages = json.loads(
        run("--store", str(store_dir), "ask", Q_JUNE, "--json", "--passages").stdout
    )
    assert set(with_passages) == set(answer)
    assert with_passages["passages"] and all(p["score"] > 0 for p in with_passages["passages"])
    assert all("article_text" not in p for p in with_passages["passages"])

    batch = tmp_path / "q.jsonl"
    batch.write_text(
        json.dumps({"id": "q1", "question": Q_JUNE_EN})
        + "\n"
        + json.dumps(
            {"id": "q2", "question": Q_DISCIPLINE, "history": [[Q_JUNE, "787"]]},
            ensure_ascii=False,
        )
        + "\nnot json\n"
        + json.dumps({"id": "q4", "question": Q_JUNE, "filters": "GLO"})
        + "\n",
        encoding="utf-8",
    )
    result = run("--store", str(store_dir), "ask", "--batch", str(batch))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [x.get("id") for x in lines] == ["q1", "q2", None, "q4"]
    assert set(lines[0]) == set(answer) | {"id", "latency_ms"}  # the same answer object
    assert "787" in lines[0]["text"]
    assert "129" in lines[1]["text"]  # the follow-up: needs the trained reader
    assert lines[0]["latency_ms"] > 0 and lines[0]["passages"] is None
    assert set(lines[2]) == {"id", "line", "error"} and "filters" in lines[3]["error"]
    assert f"{batch}:3" in result.stderr
    with_passages = run("--store", str(store_dir), "ask", "--batch", str(batch), "--passages")
    assert json.loads(with_passages.stdout.splitlines()[0])["passages"]


@pytest.mark.slow
def test_ask_text_lists_the_retrieved_passages(store_dir):
    result = run("--store", str(store_dir), "ask", Q_JUNE, "--passages")
    assert result.returncode == 0, result.stderr
    assert "787" in result.stdout.split("retrieved passages")[0]
    assert "retrieved passages (score, dense similarity, BM25):" in result.stdout
    assert re.search(r"^1\. 0\.\d{4} ", result.stdout, re.M)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("ingest", "/no/such/path"), {}, "No such file or folder"),
        (("stats",), {"HOIDAP_CHUNKSIZE": "5"}, "Unknown setting"),
        (("ask", "x", "--since", "July"), {}, "Invalid since date"),
        (("reset",), {}, "--yes"),
        (("reindex",), {}, "re-embeds the 2 articles of 2 files"),
        (("--model", "other/model", "stats"), {}, "hoidap reset"),
        (("stats", "--model", "other/model"), {}, "hoidap reset"),
    ],
)
@pytest.mark.slow
def test_user_errors_are_one_line_without_traceback(store_dir, args, env, message):
    result = run("--store", str(store_dir), *args, env=env)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_serve_answers_over_http(store_dir, free_port):
    """`hoidap serve` (global options after the command) serves the app until stopped."""
    from gradio_client import Client

    port = free_port()
    proc = subprocess.Popen(
        [HOIDAP, "serve", "--port", str(port), "--store", str(store_dir)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        line = ""
        while "hoidap chat UI:" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "hoidap serve exited"
        assert f"http://127.0.0.1:{port}/" in line
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        assert client.predict(api_name="/stats")["articles"] == 2
    finally:
        proc.terminate()
        proc.wait(60)
