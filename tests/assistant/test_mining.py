"""Hard negatives for the reader's training, mined from a real store (real model, real Chroma)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from assistant.evaluate import Item
from assistant.reading.mining import store_miner, store_retriever
from assistant.reading.ranker_train import (
    RANKER_FILES,
    RETRIEVED_DEPTH,
    ranker_groups,
    train_ranker,
)
from assistant.reading.split import fold_of
from assistant.reading.train import DATA_FILES, _pairs_for, build_groups, train
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
    assert any(s.startswith("Từ đầu năm đến ngày 30-6, các hợp tác xã") for s, _ in negatives)
    # Each comes with its article's headline, which a title-reading reader reads after it, or
    # none where the title was made from the text's first sentence (the coffee article's).
    titles = dict(negatives)
    assert {t for _, t in negatives} <= {
        "",
        "Kon Tum khánh thành điểm trường mới cho học sinh vùng sâu",
    }
    assert all(t == "" for s, t in titles.items() if s.startswith("Từ đầu năm đến ngày 30-6, các"))
    # Nothing of the held-out sample article, which holds the answer, is trained on.
    assert negatives and not any("787" in s or "đảng viên" in s for s, _ in negatives)


def test_a_missing_or_empty_store_is_a_clear_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist.*hoidap --store DIR ingest"):
        store_miner(tmp_path / "nowhere", Settings.load())
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="holds no articles.*hoidap --store DIR ingest"):
        store_miner(tmp_path / "empty", Settings.load())


def test_a_group_puts_the_answer_first_and_never_takes_a_mined_sentence_holding_it():
    text = COFFEE.read_text(encoding="utf-8").split("\n", 1)[1].strip()
    item = Item("q2", "Bao nhiêu ha cà phê được tái canh?", ("1.465 ha",), "coffee")
    mined = [
        ("Năm nay tỉnh tái canh 1.465 ha cà phê.", "Cà phê"),
        ("Giá tiêu hôm nay tăng 2.000 đồng/kg.", "Giá tiêu"),
    ]
    other = ("Câu khác.", "Khác")
    group = _pairs_for(
        item, text, split_sentences(text), other, random.Random(0), mined, "Tái canh"
    )
    assert group[0].label == 1.0 and "1.465 ha" in group[0].sentence
    assert all(p.label == 0.0 for p in group[1:])
    pairs = [(p.sentence, p.title) for p in group]
    assert mined[1] in pairs and mined[0] not in pairs and other in pairs
    # Every sentence of the question's own article carries that article's title.
    assert all(t == "Tái canh" for s, t in pairs if s in text)


def _squad(path: Path, context: str, question: str, answer: str) -> None:
    qa = {"id": path.stem, "question": question, "answers": [{"text": answer}]}
    data = {"data": [{"title": "t", "paragraphs": [{"context": context, "qas": [qa]}]}]}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _reader_data(tmp_path: Path) -> tuple[Path, Path]:
    """A data folder of every set the reader trains on, each asking of the coffee article."""
    text = COFFEE.read_text(encoding="utf-8").split("\n", 1)[1].strip()
    data = tmp_path / "eval"
    data.mkdir()
    corpus = tmp_path / "taynguyen.jsonl"
    corpus.write_text(json.dumps({"id": "coffee", "text": text}, ensure_ascii=False) + "\n")
    row = {"article_id": "coffee", "kind": "vi", "question": "Tái canh bao nhiêu ha cà phê?"}
    row["answer"] = "1.465 ha"
    (data / "taynguyen_qa.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n")
    for name in DATA_FILES:
        if name.endswith(".json"):
            _squad(data / name, text, "Bao nhiêu ha cà phê được tái canh?", "1.465 ha")
    return data, corpus


def test_extra_training_questions_join_the_groups_once_an_epoch(tmp_path):
    text = COFFEE.read_text(encoding="utf-8").split("\n", 1)[1].strip()
    assert fold_of(text) == "train"
    data, corpus = _reader_data(tmp_path)
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


@pytest.mark.slow
def test_the_reader_trains_the_same_weights_from_the_same_seed(tmp_path, e5_model_path):
    data, corpus = _reader_data(tmp_path)

    def sha(seed: int, name: str) -> str:
        manifest = train(
            data,
            corpus,
            e5_model_path,
            tmp_path / name,
            epochs=1,
            limit=3,
            seed=seed,
            progress=False,
        )
        assert manifest["seed"] == seed and manifest["steps"] == 1
        return manifest["sha256"]

    first = sha(7, "a")
    assert sha(7, "b") == first
    assert sha(8, "c") != first


@pytest.mark.slow
def test_titles_change_the_training_and_title_dropout_takes_them_out(tmp_path, e5_model_path):
    """Every group read without its title trains exactly the weights of a reader without titles."""
    data, corpus = _reader_data(tmp_path)

    def trained(name: str, **kw) -> dict:
        out = tmp_path / name
        return train(data, corpus, e5_model_path, out, epochs=1, limit=3, progress=False, **kw)

    plain = trained("plain")
    titled = trained("titled", titles=True)
    untitled = trained("untitled", titles=True, title_dropout=1.0)
    assert not plain["reads_titles"] and titled["reads_titles"] and untitled["reads_titles"]
    assert titled["sha256"] != plain["sha256"]
    assert untitled["sha256"] == plain["sha256"] and untitled["title_dropout"] == 1.0


def _ranker_data(tmp_path: Path) -> tuple[Path, Path]:
    """A data folder of every set the ranker trains on, each asking of the coffee article."""
    text = COFFEE.read_text(encoding="utf-8").split("\n", 1)[1].strip()
    data = tmp_path / "eval"
    data.mkdir()
    corpus = tmp_path / "taynguyen.jsonl"
    row = {"id": "coffee", "title": "Cà phê Gia Lai", "text": text}
    corpus.write_text(json.dumps(row, ensure_ascii=False) + "\n")
    asked = {"article_id": "coffee", "question": "Tái canh bao nhiêu ha cà phê?"}
    rows = [
        {**asked, "kind": "vi", "answer": "1.465 ha"},
        {**asked, "kind": "nearmiss", "answer": ""},
    ]
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    (data / "taynguyen_qa.jsonl").write_text(lines)
    for name in RANKER_FILES:
        if name.endswith(".json"):
            _squad(data / name, text, "How many hectares of coffee were replanted?", "1.465 ha")
    return data, corpus


def test_ranker_groups_put_the_answering_chunk_first_and_train_on_no_held_out_passage(
    tmp_path, corpus_store, embedder
):
    data, corpus = _ranker_data(tmp_path)
    settings = Settings.load()
    retrieve, close = store_retriever(corpus_store, settings, embedder, depth=RETRIEVED_DEPTH)
    try:
        chunking = (settings.ingest.chunk_size, settings.ingest.chunk_overlap)
        groups, counts = ranker_groups(data, corpus, chunking, retrieve, progress=False)
    finally:
        close()
    assert counts["taynguyen_qa.jsonl"] == {"articles": 1, "questions": 1}  # no near-miss
    assert len(groups) == 1 + sum(name.endswith(".json") for name in RANKER_FILES)
    for group in groups:
        (_, positive, label), *negatives = group
        assert label == 1.0 and "1.465 ha" in positive
        assert negatives and all(lab == 0.0 and "1.465 ha" not in t for _, t, lab in negatives)
        # The held-out sample article (the test fold) is in the store but never trained on.
        assert not any("787" in t or "đảng viên" in t for _, t, _ in negatives)


@pytest.mark.slow
def test_a_short_ranker_training_writes_weights_that_verify_and_load(
    tmp_path, e5_model_path, corpus_store, embedder
):
    from assistant.reading.ranker import RANKER, PassageRanker

    data, corpus = _ranker_data(tmp_path)
    settings = Settings.load()
    chunking = (settings.ingest.chunk_size, settings.ingest.chunk_overlap)
    out = tmp_path / "weights"
    retrieve, close = store_retriever(corpus_store, settings, embedder, depth=RETRIEVED_DEPTH)
    try:
        manifest = train_ranker(
            data,
            corpus,
            e5_model_path,
            out,
            chunking=chunking,
            retrieve=retrieve,
            limit=4,
            progress=False,
        )
    finally:
        close()
    assert manifest["groups"] == 4 and manifest["steps"] == 1
    assert manifest["trained_layers"] == 3 and manifest["initialised_from"].startswith("the reader")
    ranker = PassageRanker(e5_model_path, out)
    assert ranker.manifest["sha256"] == manifest["sha256"]
    assert (out / RANKER.weights_file).stat().st_size < 20 * 1024 * 1024
    assert len(ranker.logits("Tái canh bao nhiêu ha cà phê?", ["Cà phê. Tái canh 1.465 ha."])) == 1
