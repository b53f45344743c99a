"""Tiny random causal LMs of four architectures and a tokenizer trained in memory (no network)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def _tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from phasewatch.models.steering.data import city_pairs

    texts = [p.true_statement for p in city_pairs()[:400]] + [p.false_statement for p in city_pairs()[:400]]
    texts += ["Q: What happens? A: Nothing in particular happens."]
    raw = Tokenizer(models.BPE(unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=["[UNK]", "[PAD]", "[EOS]"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    from tokenizers import decoders

    raw.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]")
    tok.padding_side = "right"
    return tok


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return _tokenizer()


def tiny_model(arch: str, vocab: int = 320):
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        GPTNeoXConfig,
        GPTNeoXForCausalLM,
        LlamaConfig,
        LlamaForCausalLM,
        OPTConfig,
        OPTForCausalLM,
    )

    torch.manual_seed(0)
    if arch == "gpt_neox":
        config = GPTNeoXConfig(
            vocab_size=vocab,
            hidden_size=64,
            num_hidden_layers=8,
            num_attention_heads=4,
            intermediate_size=128,
            max_position_embeddings=512,
        )
        return GPTNeoXForCausalLM(config).eval()
    if arch == "llama":
        config = LlamaConfig(
            vocab_size=vocab,
            hidden_size=64,
            num_hidden_layers=8,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=128,
            max_position_embeddings=512,
        )
        return LlamaForCausalLM(config).eval()
    if arch == "gpt2":
        return GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_embd=64, n_layer=8, n_head=4, n_positions=512)).eval()
    if arch == "opt":
        config = OPTConfig(
            vocab_size=vocab,
            hidden_size=64,
            num_hidden_layers=8,
            num_attention_heads=4,
            ffn_dim=128,
            max_position_embeddings=512,
            word_embed_proj_dim=64,
        )
        return OPTForCausalLM(config).eval()
    raise ValueError(arch)


ARCHS = ("gpt_neox", "llama", "gpt2", "opt")
