"""A small causal language model initialised locally from a config (random weights, a byte-level BPE
tokenizer trained on a few sentences): no download, so the in-process backends can be tested and
benchmarked anywhere. Its text is gibberish; its speed and batching behave like a real model's of
the same shape."""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "system: you write short answers. user: what would you do? assistant: I would help my friend.",
    'The quick brown fox jumps over the lazy dog; a JSON object looks like {"key": "value", "n": [1, 2]}.',
    "Il est bien de rendre ce que l'on emprunte. It is good to return what you borrow.",
]


def tiny_tokenizer(vocab_size: int = 512):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<unk>", "<eos>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS * 4, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", unk_token="<unk>", pad_token="<eos>")


def tiny_model(tokenizer, layers: int = 2, width: int = 64, heads: int = 2, positions: int = 1024, seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=width,
        intermediate_size=width * 4,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=positions,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=0.5,
    )
    return LlamaForCausalLM(config).eval()


def save_tiny(path: Path | str, **model_kw) -> Path:
    path = Path(path)
    tokenizer = tiny_tokenizer()
    tiny_model(tokenizer, **model_kw).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
