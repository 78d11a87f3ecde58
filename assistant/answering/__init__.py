"""Composing answers: citations, quotes, lead-ins, question types and spans.

Also the word-overlap rules answerer, kept as the baseline (`HOIDAP_READER=false`).
"""
