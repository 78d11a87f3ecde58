"""Choose when a typed question's short answer is the reader's span (on `dev`, never on `test`).

Usage:
    python bench/tune_spans.py --store DIR --data taynguyen_qa.jsonl --articles taynguyen.jsonl

The store must already hold the data set's articles (run `hoidap eval` once with the same work
folder). Each question of the fold is answered once by the whole pipeline; the reader then
re-reads the quoted sentence, and the short answer is replayed for every cap: a typed question
(a number, a date, a person, a place) keeps the reader's span when it is at most that many words
and takes the typed-span rules' expression otherwise. Cap 0 is the rules whenever they find one
(before session 18), a large cap the reader's span always (`HOIDAP_READER_TYPED_SPANS=false`);
the shipped cap is `READER_SPAN_WORDS`.

Printed per cap: the short-answer token F1 summed over the questions asked (an abstention
scores 0) and its mean, as `hoidap eval` reports it.
"""

from __future__ import annotations

import dev_questions  # bench/dev_questions.py, beside this script
from tqdm import tqdm

from assistant.answering.rules import _question_terms
from assistant.evaluate import token_f1
from assistant.question import analyse
from assistant.reading.answer import (
    READER_SPAN_WORDS,
    _longer_than,
    _short,
    typed_expression,
)
from assistant.reading.weights import WEIGHTS_DIR

CAPS = (0, 6, 8, 10, 15, 1000)


def main() -> None:
    parser = dev_questions.parser(__doc__.splitlines()[0], WEIGHTS_DIR, "reader")
    parser.add_argument("--caps", type=int, nargs="+", default=list(CAPS), help="Words.")
    args = parser.parse_args()
    run = dev_questions.open_run(args, nearmiss=False)
    assistant = run.assistant
    totals = dict.fromkeys(args.caps, 0.0)
    for item in tqdm(run.items, desc="Answering", unit="q"):
        answer, _ = assistant.respond(item.question, list(item.history))
        if answer.abstained or not answer.citations:
            continue
        question = analyse(item.question, item.history, assistant.store.records)
        sentence = answer.citations[0].passage
        (reading,) = assistant.reader.read(question.reader_text, [sentence])
        qtype = question.qtype
        terms = _question_terms(question.search, qtype, question.language)
        typed = typed_expression(question, sentence, terms)
        for cap in args.caps:
            span = reading.span
            if typed is not None and (cap == 0 or _longer_than(sentence, span, cap)):
                span = (typed.start, typed.end)
            totals[cap] += token_f1(_short(sentence, span, qtype.kind == "person"), item.golds)
    n = len(run.items)
    print(f"{n} questions of the {args.fold} fold; short F1 summed (mean):")
    for cap, total in totals.items():
        label = "rules" if cap == 0 else f"<= {cap} words"
        shipped = "  (shipped)" if cap == READER_SPAN_WORDS else ""
        print(f"  reader span {label:>14}: {total:7.1f} ({total / max(n, 1):.3f}){shipped}")
    assistant.close()


if __name__ == "__main__":
    main()
