"""English versions of the reader's Vietnamese training questions, written by an LLM.

Usage:
    python bench/translate_questions.py --data ../shared/eval \
        --corpus ../shared/corpus/taynguyen.jsonl --output EN.json \
        --llm gguf:~/.cache/hoidap/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf

The reader sees about 460 English training questions against thousands of Vietnamese ones, and
English questions are where it is weakest (docs/EVALUATION.md). No translation model installs
here, but the generative mode's local LLM translates a short question well enough. Only
questions of `train`-fold articles are translated (`assistant/reading/split.py`), so the
held-out articles stay unseen: the output is training data for
`hoidap reader train --extra-data EN.json`, never evaluation data.

The output is SQuAD JSON (`hoidap eval`'s format): each question keeps its article and its
Vietnamese gold answers; `question_vi` keeps the original. Names lose their diacritics, as in
the English questions of `taynguyen_qa.jsonl` ("Buon Ma Thuot"). The file is rewritten every
few questions and a second run resumes where the first stopped, so `--limit` can grow it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from tqdm import tqdm

from assistant.evaluate import Item, load_dataset, strip_marks
from assistant.language import detect_language
from assistant.llm.backends import make_chat_model
from assistant.llm.settings import LlmSettings
from assistant.reading.split import fold_of
from ingest.clean import clean_text
from ingest.errors import UsageError

# Which sets are translated: taynguyen_qa first, then the others in turn, so a short run covers
# each. ViCoQA's turns lean on the conversation; MLQA and ViQuAD-en have English questions.
SOURCES = ("taynguyen_qa.jsonl", "viquad_dev.json", "vinewsqa_dev.json")
PROMPT = (
    "Translate the Vietnamese question into natural English, as an English-language newspaper "
    "would write it. Keep every name of a person, place or organisation, every number and "
    "every date. Tây Nguyên is the Central Highlands. Reply with the English question only.\n\n"
    "Vietnamese: Năm 2023, tỉnh Gia Lai có bao nhiêu hộ nghèo?\n"
    "English: How many poor households did Gia Lai province have in 2023?\n\n"
    "Vietnamese: Ông Nguyễn Văn An giữ chức vụ gì ở Sở Y tế Đắk Lắk?\n"
    "English: What position does Mr. Nguyen Van An hold at the Dak Lak Department of Health?\n\n"
    "Vietnamese: {question}\n"
    "English:"
)
SAVE_EVERY = 20
_NUMBER = re.compile(r"\d+")


def clean_reply(reply: str) -> str:
    """The first line of the reply, without quotes or a leading label."""
    line = next((x.strip() for x in reply.strip().splitlines() if x.strip()), "")
    for label in ("English:", "Translation:", "Q:"):
        if line.lower().startswith(label.lower()):
            line = line[len(label) :].strip()
    return line.strip("\"'“”` ")


def plausible(vietnamese: str, english: str) -> bool:
    """A question, with no number the Vietnamese lacks.

    The 1.5B test model sometimes answers instead of translating ("… donated 300 shirts") or
    invents a figure; such a line would teach the reader a wrong question.
    """
    if not english.endswith("?") or len(english) < 8 or detect_language(english) != "en":
        return False
    return set(_NUMBER.findall(english)) <= set(_NUMBER.findall(vietnamese))


def train_items(data_dir: Path, corpus: Path) -> list[tuple[str, Item, str]]:
    """(set name, item, context text) of each self-contained Vietnamese train-fold question."""
    per_source: list[list[tuple[str, Item, str]]] = []
    for name in SOURCES:
        data = load_dataset(data_dir / name, corpus if name.endswith(".jsonl") else None)
        texts = {k: clean_text(c.text) for k, c in data.contexts.items()}
        per_source.append(
            [
                (name, i, texts[i.context])
                for i in data.items
                if i.kind == "vi"  # SQuAD's kind is detect_language's already
                and not i.history
                and not i.no_diacritics
                and fold_of(texts[i.context]) == "train"
            ]
        )
    mixed = per_source[0]  # taynguyen_qa first (the archive's own kind), then in turn
    rest = per_source[1:]
    for n in range(max(len(s) for s in rest)):
        mixed += [s[n] for s in rest if n < len(s)]
    return mixed


def write(path: Path, rows: list[dict]) -> None:
    by_context: dict[str, list[dict]] = {}
    for row in rows:
        by_context.setdefault(row["context"], []).append(row)
    data = {
        "version": "hoidap-translated",
        "data": [
            {
                "title": "",
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {
                                "id": r["id"],
                                "question": r["question"],
                                "question_vi": r["question_vi"],
                                "answers": [{"text": g} for g in r["answers"]],
                            }
                            for r in qs
                        ],
                    }
                ],
            }
            for context, qs in by_context.items()
        ],
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_existing(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        {
            "id": q["id"],
            "question": q["question"],
            "question_vi": q["question_vi"],
            "answers": [a["text"] for a in q["answers"]],
            "context": p["context"],
        }
        for a in data["data"]
        for p in a["paragraphs"]
        for q in p["qas"]
        if plausible(q["question_vi"], q["question"])
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="the folder of the QA sets")
    ap.add_argument("--corpus", type=Path, required=True, help="taynguyen.jsonl (its articles)")
    ap.add_argument("--llm", required=True, help="gguf:PATH or openai:URL#MODEL")
    ap.add_argument("--output", type=Path, required=True, help="SQuAD JSON to write (resumed)")
    ap.add_argument("--limit", type=int, default=None, help="questions in the output at most")
    args = ap.parse_args()

    model = make_chat_model(LlmSettings(llm=args.llm, llm_max_tokens=96, llm_timeout=60))
    rows = read_existing(args.output)
    done = {r["id"] for r in rows}
    items = train_items(args.data, args.corpus)
    todo = [(n, i, c) for n, i, c in items if f"{n}:{i.qid}" not in done]
    if args.limit is not None:
        todo = todo[: max(0, args.limit - len(rows))]
    print(f"{len(items)} train-fold questions, {len(rows)} already translated, {len(todo)} to go")
    started, failed = time.time(), 0
    for n, (name, item, context) in enumerate(tqdm(todo, desc="Translating", unit="question")):
        try:
            reply = model.invoke(PROMPT.format(question=item.question)).text
        except Exception as e:  # a timeout or a broken reply skips one question, not the run
            failed += 1
            tqdm.write(f"skipped {item.qid}: {e}")
            continue
        english = strip_marks(clean_reply(reply))  # names as English papers print them
        if not plausible(item.question, english):
            failed += 1
            continue
        rows.append(
            {
                "id": f"{name}:{item.qid}",
                "question": english,
                "question_vi": item.question,
                "answers": list(item.golds),
                "context": context,
            }
        )
        if (n + 1) % SAVE_EVERY == 0:
            write(args.output, rows)
    write(args.output, rows)
    minutes = (time.time() - started) / 60
    print(f"{len(rows)} questions in {args.output}; {failed} replies not used; {minutes:.1f} min")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UsageError as e:  # a wrong path or --llm: the message, not a traceback
        sys.exit(f"Error: {e}")
