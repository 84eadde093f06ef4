"""Hand-written torch networks of the NLP zoo (BiDAF, BiLSTM-CRF, GNMT, Transformer NMT).

Only classes live here: the zoo's discovery imports this package, and registering happens in
`models/squad.py`, `models/conll.py` and `models/wmt.py`.
"""
