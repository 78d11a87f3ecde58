"""Retrieval: hybrid dense + BM25 search, and the marks of questions typed without them."""
