"""The optional generative mode: an LLM writes the answer, the pipeline checks every claim."""
