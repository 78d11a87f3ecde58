"""First ingest of a whole archive: wall time and peak memory of `hoidap ingest`, as a user runs it.

Usage: python bench/archive_ingest.py --corpus ../shared/corpus --eval ../shared/eval
       --articles 10000 --work /tmp/archive [--precision auto]

The archive is every article of the corpus JSONL files plus every context of the QA sets (as
`hoidap eval` stores them). Where that is fewer than ``--articles``, the rest are copies of
earlier articles with a different id and a line added to the text, so they are new chunks
that must be embedded like any other (the output says how many). The ingest runs as a
subprocess on an empty store; its peak RSS is the child's ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from assistant.evaluate import load_dataset

EVAL_SETS = ("viquad_dev.json", "vinewsqa_dev.json", "vicoqa_dev.json", "mlqa_dev_vi.json")


def archive_rows(corpus: Path, eval_dir: Path) -> list[dict[str, str]]:
    rows = []
    for path in sorted(corpus.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle if line.strip()]
    for name in EVAL_SETS:
        data = load_dataset(eval_dir / name)
        rows += [
            {"id": f"{name}:{c.key}", "title": c.title, "text": c.text, "source": "EVAL"}
            for c in data.contexts.values()
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="folder of article JSONL files")
    parser.add_argument("--eval", type=Path, required=True, help="folder of the QA sets")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--work", type=Path, required=True, help="empty folder for the store")
    parser.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    args = parser.parse_args()

    rows = archive_rows(args.corpus, args.eval)
    distinct = len(rows)
    copies = 0
    while len(rows) < args.articles:
        source = rows[copies % distinct]
        rows.append(
            {
                **source,
                "id": f"copy-{copies}:{source['id']}",
                "text": source["text"] + f"\n\nBản lưu trữ số {copies}.",
            }
        )
        copies += 1
    rows = rows[: args.articles]
    args.work.mkdir(parents=True, exist_ok=True)
    archive = args.work / "archive.jsonl"
    with archive.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")

    store = args.work / "store"
    env = {**os.environ, "HOIDAP_PRECISION": args.precision}
    hoidap = [sys.executable, "-m", "assistant.cli", "--store", str(store)]
    started = time.perf_counter()
    subprocess.run([*hoidap, "ingest", "-q", str(archive)], check=True, env=env)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    stats = subprocess.run(
        [*hoidap, "stats", "--json"], check=True, env=env, capture_output=True, text=True
    )
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "precision": args.precision,
        "articles": len(rows),
        "distinct_articles": min(distinct, len(rows)),
        "copied_articles": copies,
        "stats": json.loads(stats.stdout),
        "ingest_seconds": round(seconds, 1),
        "ingest_minutes": round(seconds / 60, 2),
        "peak_rss_mb": round(peak_mb),
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
