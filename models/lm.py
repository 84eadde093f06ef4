"""Today's models: decoder language models and a mixture of experts, at their published shapes.

GPT-2 small to XL, a GPT-3 175B-shaped decoder, Llama 2 7B/13B/70B, Llama 3 8B/70B (grouped-query
attention where the published model has it), BLOOM-176B, OPT-175B and a Mixtral-8x7B-shaped
mixture of experts, counted at nominal top-2 routing (harness.counting.moe). Every shape and
training run carries its citation; a figure the source does not state is None.

    harness flops llama2_70b        # per-token training FLOPs beside 6N and 6N + 12LHQT
    harness audit --all             # counted compute against published GPU-hours
"""

from __future__ import annotations

from models._lm import adamw, decoder

GPT2 = (
    "Radford et al. 2019, 'Language Models are Unsupervised Multitask Learners', Table 2 "
    "(layers, d_model) and Sec. 2.3 (vocabulary 50,257, context 1024, batch 512); heads from "
    "the Hugging Face openai-community/gpt2* config.json files"
)
GPT2_RUN = "Radford et al. 2019 Sec. 2.3: batch 512 x 1024 tokens; training tokens not published"
GPT2_ADAM = adamw(2.5e-4, "not published for GPT-2; GPT-1's Adam lr 2.5e-4 (Radford 2018) assumed")
for _name, _d, _layers, _heads, _params in (
    ("gpt2_small", 768, 12, 12, 117),
    ("gpt2_medium", 1024, 24, 16, 345),
    ("gpt2_large", 1280, 36, 20, 762),
    ("gpt2_xl", 1600, 48, 25, 1542),
):
    decoder(
        _name,
        "gpt2",
        {
            "vocab_size": 50257,
            "n_embd": _d,
            "n_layer": _layers,
            "n_head": _heads,
            "n_positions": 1024,
        },
        seq_len=1024,
        tokens=None,
        batch_tokens=512 * 1024,
        run_citation=GPT2_RUN,
        shape_citation=f"{GPT2} ({_params}M parameters as published)",
        optimizer=GPT2_ADAM,
        year=2019,
        precision="fp32",
        processor_type=None,
        published_params=_params * 1_000_000,
        description=f"GPT-2 ({_layers} layers, d_model {_d}, {_heads} heads, tied LM head)",
    )

GPT3 = (
    "Brown et al. 2020, 'Language Models are Few-Shot Learners', arXiv:2005.14165, Table 2.1 "
    "(GPT-3 175B: 96 layers, d_model 12288, 96 heads, d_head 128, batch 3.2M tokens, lr 0.6e-4; "
    "context 2048) and Sec. 2.2 (300B training tokens)"
)
decoder(
    "gpt3_175b",
    "gpt2",
    {"vocab_size": 50257, "n_embd": 12288, "n_layer": 96, "n_head": 96, "n_positions": 2048},
    seq_len=2048,
    tokens=300e9,
    batch_tokens=3.2e6,
    run_citation=GPT3 + "; hardware V100 (Patterson et al. 2021, arXiv:2104.10350, Table 4)",
    shape_citation=GPT3,
    optimizer=adamw(0.6e-4, "Brown et al. 2020 App. B (Adam b1 0.9, b2 0.95, weight decay 0.1)"),
    year=2020,
    precision="fp16",
    processor_type="V100 SXM2",
    published_params=175_000_000_000,
    description="GPT-3 175B-shaped decoder (GPT-2 blocks; the paper's alternating locally "
    "banded sparse attention layers are counted dense)",
)

LLAMA2 = (
    "Touvron et al. 2023, 'Llama 2', arXiv:2307.09288, Table 1 (context 4k, 2.0T tokens, GQA "
    "for 70B) and Sec. 2.2 (AdamW b1 0.9, b2 0.95, weight decay 0.1, global batch 4M tokens); "
    "widths from the meta-llama/Llama-2-*-hf config.json files"
)
for _name, _d, _ff, _layers, _heads, _kv, _lr, _params in (
    ("llama2_7b", 4096, 11008, 32, 32, 32, 3e-4, 7),
    ("llama2_13b", 5120, 13824, 40, 40, 40, 3e-4, 13),
    ("llama2_70b", 8192, 28672, 80, 64, 8, 1.5e-4, 70),
):
    decoder(
        _name,
        "llama",
        {
            "vocab_size": 32000,
            "hidden_size": _d,
            "intermediate_size": _ff,
            "num_hidden_layers": _layers,
            "num_attention_heads": _heads,
            "num_key_value_heads": _kv,
            "max_position_embeddings": 4096,
        },
        seq_len=4096,
        tokens=2.0e12,
        batch_tokens=4e6,
        run_citation=LLAMA2 + "; hardware A100-80GB (Table 2)",
        shape_citation=LLAMA2,
        optimizer=adamw(_lr, f"{LLAMA2} (Table 1: lr {_lr:g})"),
        year=2023,
        precision="bf16",
        processor_type="A100 80GB SXM4",
        published_params=_params * 1_000_000_000,
        description=f"Llama 2 {_params}B ({_layers} layers, d_model {_d}, {_heads} heads, "
        f"{_kv} KV heads, SwiGLU {_ff})",
    )

LLAMA3 = (
    "Meta Llama 3 model card (github.com/meta-llama/llama3 MODEL_CARD.md: 8B and 70B, GQA, "
    "context 8k, 15T+ tokens, H100-80GB); widths from the meta-llama/Meta-Llama-3-*B "
    "config.json files (vocabulary 128,256, rope_theta 500,000)"
)
for _name, _d, _layers, _heads, _lr, _params in (
    ("llama3_8b", 4096, 32, 32, 3e-4, 8),
    ("llama3_70b", 8192, 80, 64, 1.5e-4, 70),
):
    decoder(
        _name,
        "llama",
        {
            "vocab_size": 128256,
            "hidden_size": _d,
            "intermediate_size": 14336 if _params == 8 else 28672,
            "num_hidden_layers": _layers,
            "num_attention_heads": _heads,
            "num_key_value_heads": 8,
            "max_position_embeddings": 8192,
            "rope_theta": 500000.0,
        },
        seq_len=8192,
        tokens=15e12,
        batch_tokens=None,
        run_citation=LLAMA3 + "; global batch not in the model card",
        shape_citation=LLAMA3,
        optimizer=adamw(_lr, "not in the Llama 3 model card; Llama 2's AdamW and lr assumed"),
        year=2024,
        precision="bf16",
        processor_type="H100 SXM5",
        published_params=_params * 1_000_000_000,
        description=f"Llama 3 {_params}B ({_layers} layers, d_model {_d}, {_heads} heads, "
        "8 KV heads)",
    )

BLOOM = (
    "BigScience, Le Scao et al. 2022, 'BLOOM', arXiv:2211.05100, Table 3 (176B: 70 layers, "
    "hidden 14336, 112 heads, vocabulary 250,680 padded to 250,880, sequence 2048, global "
    "batch 2048, 366B tokens, lr 6e-5)"
)
decoder(
    "bloom_176b",
    "bloom",
    {"vocab_size": 250880, "hidden_size": 14336, "n_layer": 70, "n_head": 112},
    seq_len=2048,
    tokens=366e9,
    batch_tokens=2048 * 2048,
    run_citation=BLOOM + "; hardware 384 A100-80GB (Luccioni et al. 2022, arXiv:2211.02001)",
    shape_citation=BLOOM,
    optimizer=adamw(6e-5, BLOOM + " (Adam b1 0.9, b2 0.95)"),
    year=2022,
    precision="bf16",
    processor_type="A100 80GB SXM4",
    published_params=176_247_271_424,
    description="BLOOM-176B (70 layers, hidden 14336, 112 heads, ALiBi, tied LM head)",
)

OPT = (
    "Zhang et al. 2022, 'OPT', arXiv:2205.01068, Table 1 (175B: 96 layers, 96 heads, "
    "d_model 12288, lr 1.2e-4, batch 2M tokens) and Sec. 2 (context 2048, 180B tokens)"
)
decoder(
    "opt_175b",
    "opt",
    {
        "vocab_size": 50272,
        "hidden_size": 12288,
        "num_hidden_layers": 96,
        "num_attention_heads": 96,
        "ffn_dim": 49152,
        "max_position_embeddings": 2048,
        "word_embed_proj_dim": 12288,
    },
    seq_len=2048,
    tokens=180e9,
    batch_tokens=2e6,
    run_citation=OPT + "; hardware 992 A100-80GB (Sec. 2.4)",
    shape_citation=OPT,
    optimizer=adamw(1.2e-4, OPT + " (AdamW b1 0.9, b2 0.95, weight decay 0.1)"),
    year=2022,
    precision="fp16",
    processor_type="A100 80GB SXM4",
    published_params=175_000_000_000,
    description="OPT-175B (96 layers, d_model 12288, learned positions, tied LM head)",
)

MIXTRAL = (
    "Jiang et al. 2024, 'Mixtral of Experts', arXiv:2401.04088, Table 1 (dim 4096, 32 layers, "
    "head_dim 128, hidden_dim 14336, 32 heads, 8 KV heads, context 32768, vocabulary 32000, "
    "8 experts, top-2) and Sec. 2 (47B parameters, 13B active per token)"
)
decoder(
    "mixtral_8x7b",
    "mixtral",
    {
        "vocab_size": 32000,
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "max_position_embeddings": 32768,
        "num_local_experts": 8,
        "num_experts_per_tok": 2,
    },
    seq_len=32768,
    tokens=None,
    batch_tokens=None,
    run_citation="Jiang et al. 2024: training tokens, batch and hardware not published",
    shape_citation=MIXTRAL,
    optimizer=adamw(3e-4, "not published for Mixtral; Llama 2's AdamW assumed"),
    year=2024,
    precision="bf16",
    processor_type=None,
    published_params=46_700_000_000,
    description="Mixtral-8x7B-shaped MoE (Mistral-7B blocks, 8 SwiGLU experts, top-2 routing)",
)
