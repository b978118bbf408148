"""Rubric pilots: judge a small sample under every wording of a rubric before a full run."""
