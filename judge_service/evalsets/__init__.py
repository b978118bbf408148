"""Versioned eval sets: prompts, references and held-out texts stored by name and content hash.

"If you change the eval set, historical comparisons become meaningless. Version it like code."
A version is immutable; saving changed content makes the next version, saving the same content
again returns the version that already holds it; two versions can be diffed item by item.
"""
