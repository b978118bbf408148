"""Importers for the files users already have: AlpacaEval and FastChat MT-Bench outputs and judgments.

Each importer turns the other tool's files into this service's run items (so the same outputs can be
re-judged by the service's panel) and recomputes that tool's own headline figures exactly, so a
user can check the import before trusting anything built on it.
"""
