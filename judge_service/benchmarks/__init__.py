"""Benchmarks layer: did the fine-tune keep its general capabilities?

Readers for lm-evaluation-harness and lighteval output (``readers``), a parity check that both arms
saw the same documents and settings (``parity``), paired and unpaired statistics (``paired``,
``unpaired``), decisions across tasks (``decisions``: orientation, Holm, BH, TOST, MDD), and the
comparison that ties them together (``compare``).
"""
