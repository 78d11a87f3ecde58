"""Which articles the reader trains on and which are kept for measuring it.

The split is by article, decided by a hash of the article's text, so the same article falls on
the same side in every data set that holds it (ViQuAD's English and Vietnamese questions share
contexts) and in `hoidap eval --fold test`, without any list to keep in step.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from ingest.clean import clean_text

Fold = Literal["train", "dev", "test"]
FOLDS: tuple[Fold, ...] = ("train", "dev", "test")


def fold_of(article_text: str) -> Fold:
    """30 % test (never trained on), 10 % dev (for thresholds), 60 % train."""
    key = " ".join(clean_text(article_text).split())[:500]
    bucket = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "test" if bucket < 3 else "dev" if bucket == 3 else "train"
