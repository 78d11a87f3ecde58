"""The trained reader: a small cross-encoder that reads the question with each sentence.

`model.py` is the network, `weights.py` the shipped file and its check, `reader.py` what the
answerer calls, `train.py` the command that rebuilds the weights from the QA sets.
"""
