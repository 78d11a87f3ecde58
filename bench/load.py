"""Load test of the chat UI: concurrent browser-like sessions over loopback.

Each session is its own `gradio_client.Client` (its own Gradio session, as a browser tab is) and
asks the UI's streaming `/chat` event a series of questions about the sample article, so its
conversation lives in the server's per-session state. After every answer it checks the answer
holds the expected number and that the conversation shown holds exactly its own turns: a
history leaking between sessions would show another session's questions or a wrong count.

Usage (with the app serving the sample article, e.g. `make run`)::

    python bench/load.py --url http://127.0.0.1:7860 --sessions 16 --questions 10

Prints p50/p95/max latency per question (submit to last streamed update) and exits non-zero on
any error or wrong answer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.ui.render import chat_text  # noqa: E402

# (question, text the answer must contain), about data/sample.
QUESTIONS: list[tuple[str, str]] = [
    ("Tính đến 30-6 kết nạp được bao nhiêu đảng viên?", "787"),
    ("Còn bao nhiêu đảng viên bị kỷ luật?", "129"),
    ("Bao nhiêu đảng viên bị xóa tên?", "32"),
    ("Có bao nhiêu thí sinh trúng tuyển công chức?", "57"),
    ("Bao nhiêu thí sinh trúng tuyển viên chức?", "8 thí sinh"),
    ("Bao nhiêu chi bộ thôn, làng, tổ dân phố có chi ủy?", "1.465"),
    ("How many party members were admitted by 30 June?", "787"),
    ("How many civil servant candidates passed?", "57"),
    ("Có bao nhiêu bí thư kiêm trưởng thôn?", "506"),
    ("Hội nghị sơ kết diễn ra khi nào?", "15-7"),
]


@dataclass
class SessionResult:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def run_session(url: str, index: int, questions: int, start: threading.Barrier) -> SessionResult:
    from gradio_client import Client

    result = SessionResult()
    client = Client(url, verbose=False)
    start.wait()
    asked: list[str] = []
    for turn in range(questions):
        question, expected = QUESTIONS[(index + turn) % len(QUESTIONS)]
        began = time.perf_counter()
        try:
            job = client.submit(question, "vi", "", "", [], api_name="/chat")
            job.result(timeout=300)
            final = job.outputs()[-1]
        except Exception as e:  # every failure is counted and shown, never hidden
            result.errors.append(f"session {index} turn {turn}: {type(e).__name__}: {e}")
            continue
        result.latencies.append(time.perf_counter() - began)
        asked.append(question)
        messages = final[0]
        users = [m["content"][0]["text"] for m in messages if m["role"] == "user"]
        answer = messages[-1]["content"][0]["text"] if messages else ""
        if users != [chat_text(q) for q in asked]:
            result.errors.append(f"session {index} turn {turn}: conversation is not its own")
        elif chat_text(expected) not in answer:
            result.errors.append(f"session {index} turn {turn}: {expected!r} not in {answer!r}")
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--json", type=Path, help="Also write the numbers to this file.")
    args = parser.parse_args()

    barrier = threading.Barrier(args.sessions)
    began = time.perf_counter()
    with ThreadPoolExecutor(args.sessions) as pool:
        futures = [
            pool.submit(run_session, args.url, i, args.questions, barrier)
            for i in range(args.sessions)
        ]
        results = [f.result() for f in futures]
    wall = time.perf_counter() - began
    latencies = [x for r in results for x in r.latencies]
    errors = [e for r in results for e in r.errors]
    summary = {
        "sessions": args.sessions,
        "questions_per_session": args.questions,
        "answered": len(latencies),
        "errors": len(errors),
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
        "max_s": round(max(latencies), 3) if latencies else None,
        "wall_s": round(wall, 1),
        "questions_per_s": round(len(latencies) / wall, 2),
    }
    for e in errors[:20]:
        print(e, file=sys.stderr)
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    sys.exit(1 if errors or not latencies else 0)


if __name__ == "__main__":
    main()
