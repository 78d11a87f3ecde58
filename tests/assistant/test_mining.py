"""Hard negatives for the reader's training, mined from a real store (real model, real Chroma)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from assistant.evaluate import Item
from assistant.reading.mining import store_miner
from assistant.reading.split import fold_of
from assistant.reading.train import DATA_FILES, _pairs_for, build_groups
from assistant.settings import Settings
from ingest.chunk import split_sentences
from ingest.errors import UsageError
from ingest.read import read_file
from ingest.settings import IngestSettings
from store.store import Store

REPO = Path(__file__).resolve().parents[2]
ARTICLES = REPO / "tests" / "fixtures" / "articles"
SAMPLE = REPO / "data" / "sample"
COFFEE = ARTICLES / "seed_ca_phe_gia_lai.txt"
# The sample article falls in the test fold, the two fixtures in the train fold.
ASKED = Item(
    "q1",
    "Từ đầu năm đến ngày 30-6, toàn Đảng bộ tỉnh kết nạp được bao nhiêu đảng viên?",
    ("787",),
    "sample",
)


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory, embedder) -> Path:
    home = tmp_path_factory.mktemp("negatives")
    settings = Settings.load().with_overrides(store={"store": home})
    store = Store(settings.store, embedder=embedder)
    paths = [SAMPLE, COFFEE, ARTICLES / "truong_hoc_kon_tum.txt"]
    store.ingest(paths, settings.ingest, progress=False)
    store.close()
    return home


def test_the_folds_this_file_relies_on():
    def fold(path: Path) -> str:
        return fold_of(read_file(path, IngestSettings()).articles[0].text)

    assert fold(SAMPLE / "000_cb7a5b37da5bff54.txt") == "test"
    assert fold(COFFEE) == "train"


def test_mined_negatives_are_retrieved_train_fold_sentences_without_the_answer(
    corpus_store, embedder
):
    mine, close = store_miner(corpus_store, Settings.load(), embedder)
    try:
        negatives = mine(ASKED)
    finally:
        close()
    # The coffee article's sentence of the same form is the hard negative the reader must learn.
    assert any(s.startswith("Từ đầu năm đến ngày 30-6, các hợp tác xã") for s in negatives)
    # Nothing of the held-out sample article, which holds the answer, is trained on.
    assert negatives and not any("787" in s or "đảng viên" in s for s in negatives)


def test_a_missing_or_empty_store_is_a_clear_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist.*hoidap --store DIR ingest"):
        store_miner(tmp_path / "nowhere", Settings.load())
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="holds no articles.*hoidap --store DIR ingest"):
        store_miner(tmp_path / "empty", Settings.load())


def test_a_group_puts_the_answer_first_and_never_takes_a_mined_sentence_holding_it():
    text = COFFEE.read_text(encoding="utf-8").split("\n", 1)[1].strip()
    item = Item("q2", "Bao nhiêu ha cà phê được tái canh?", ("1.465 ha",), "coffee")
    mined = ["Năm nay tỉnh tái canh 1.465 ha cà phê.", "Giá tiêu hôm nay tăng 2.000 đồng/kg."]
    group = _pairs_for(item, text, split_sentences(text), "Câu khác.", random.Random(0), mined)
    assert group[0].label == 1.0 and "1.465 ha" in group[0].sentence
    assert all(p.label == 0.0 for p in group[1:])
    sentences = [p.sentence for p in group]
    assert mined[1] in sentences and mined[0] not in sentences


def _squad(path: Path, context: str, question: str, answer: str) -> None:
    qa = {"id": path.stem, "question": question, "answers": [{"text": answer}]}
    data = {"data": [{"title": "t", "paragraphs": [{"context": context, "qas": [qa]}]}]}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_extra_training_questions_join_the_groups_once_an_epoch(tmp_path):
    text = COFFEE.read_text(encoding="utf-8").split("\n", 1)[1].strip()
    assert fold_of(text) == "train"
    data = tmp_path / "eval"
    data.mkdir()
    corpus = tmp_path / "taynguyen.jsonl"
    corpus.write_text(json.dumps({"id": "coffee", "text": text}, ensure_ascii=False) + "\n")
    row = {
        "article_id": "coffee",
        "kind": "vi",
        "question": "Tái canh bao nhiêu ha cà phê?",
        "answer": "1.465 ha",
    }
    (data / "taynguyen_qa.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n")
    for name in DATA_FILES:
        if name.endswith(".json"):
            _squad(data / name, text, "Bao nhiêu ha cà phê được tái canh?", "1.465 ha")
    english = tmp_path / "english.json"
    _squad(english, text, "How many hectares of coffee were replanted?", "1.465 ha")

    plain, _ = build_groups(data, corpus, progress=False)
    groups, counts = build_groups(data, corpus, progress=False, extra_data=[english])

    added = [g for g in groups if g[0].question.startswith("How many hectares")]
    assert len(groups) == len(plain) + 1 and len(added) == 1
    assert added[0][0].label == 1.0 and "1.465 ha" in added[0][0].sentence
    assert counts["extra: english.json"] == {"articles": 1, "questions": 1, "pairs": len(added[0])}
    with pytest.raises(UsageError, match="nowhere.json is missing"):
        build_groups(data, corpus, progress=False, extra_data=[tmp_path / "nowhere.json"])
