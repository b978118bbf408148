"""A tiny randomly initialised Llama with a byte-level BPE trained in milliseconds, saved as a
Hugging Face model folder. Tests of the local judge and of perplexity use it: it loads through
the same code path as a real model directory, in well under a second."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

CHATML_SPECIALS = ("<unk>", "<|im_start|>", "<|im_end|>")


def save_tiny_llama(folder: Path, corpus: Sequence[str], *, vocab_size: int = 400,
                    specials: Sequence[str] = CHATML_SPECIALS, seed: int = 0, max_positions: int = 512,
                    initializer_range: float | None = None, pad_token: str | None = None,
                    uniform: bool = False) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """Train the BPE on ``corpus``, build a 2-layer hidden-32 Llama and save both to ``folder``.

    ``specials`` are (unk, bos, eos). ``uniform`` zeroes the final norm so every next-token
    distribution is exactly uniform over the vocabulary. Returns (model, tokenizer).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    unk, bos, eos = specials
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(list(corpus), trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(specials),
                                                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    # transformers declares TokenizersBackend.__init__(self, *args, **kwargs) without annotations.
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, unk_token=unk, eos_token=eos, bos_token=bos)  # type: ignore[no-untyped-call]
    if pad_token is not None:
        tokenizer.pad_token = pad_token
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=max_positions)
    if initializer_range is not None:  # read when the model below initialises its weights
        config.initializer_range = initializer_range
    model = LlamaForCausalLM(config)
    if uniform:
        with torch.no_grad():
            model.model.norm.weight.zero_()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model, tokenizer
