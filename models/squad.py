"""SQuAD 1.1 question answering: transformers encoders with span heads, and BiDAF in torch.

Sequence length 384 (BERT's run_squad.py max_seq_length for SQuAD). The training target is a
random valid answer span; the loss is the cross-entropy of its start and end positions.
Reference F1 scores and the published (pretraining) hardware come from
harness/data/reference/squad11.csv where it has a row, else from the cited paper or repository.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from harness.arch.registry import register
from harness.arch.spec import (
    Architecture,
    Batch,
    OptimizerSpec,
    ReferenceMetric,
    TrainingRecipe,
    random_int,
)
from models import _nlp
from models.nets.bidaf import BiDAF

BENCHMARK = "squad11"
SEQ_LEN = 384
TINY_SEQ_LEN = 16
EXAMPLES = _nlp.SQUAD11_TRAIN_QUESTIONS

BERT_FINETUNE = (
    "BERT arXiv:1810.04805 Sec. 4.2 (SQuAD v1.1: 3 epochs, learning rate 5e-5, batch size 32); "
    + _nlp.SQUAD11_TRAIN_CITATION
)
BERT_ADAMW = OptimizerSpec(
    "adamw",
    5e-5,
    {"weight_decay": 0.01},
    citation="BERT arXiv:1810.04805 App. A.2-A.3 (Adam, L2 weight decay 0.01, kept for "
    "fine-tuning; decoupled as in google-research/bert optimization.py) and Sec. 4.2 (lr 5e-5)",
)
TPU_PRECISION = "bf16"  # Cloud TPU matrix units multiply in bfloat16


# --------------------------------------------------------------------------------------------
# transformers encoders with a question-answering head
# --------------------------------------------------------------------------------------------


def _qa(name: str, kind: str, model_class: str, config: dict[str, Any], **fields: Any) -> None:
    _nlp.register_encoder(
        module=__name__,
        name=name,
        kind=kind,
        model_class=model_class,
        config=config,
        batch_factory_kind="qa",
        benchmark=BENCHMARK,
        task="question-answering",
        default_size=SEQ_LEN,
        tiny_size=TINY_SEQ_LEN,
        loss_name="span cross-entropy (mean of start and end)",
        **fields,
    )


def _bert_recipe(row: str) -> TrainingRecipe:
    return _nlp.row_recipe(
        BENCHMARK,
        row,
        epochs=3,
        examples_per_epoch=EXAMPLES,
        batch_size=32,
        precision=TPU_PRECISION,
        citation=BERT_FINETUNE + " (hardware below is the pretraining run)",
    )


_qa(
    "bert_base_squad",
    "bert",
    "BertForQuestionAnswering",
    _nlp.BERT_BASE,
    year=2018,
    family="bert",
    reference=_nlp.row_reference(BENCHMARK, "BERT-Base (single, dev)"),
    recipe=_bert_recipe("BERT-Base (single, dev)"),
    optimizer=BERT_ADAMW,
    published_params=_nlp.row_params(BENCHMARK, "BERT-Base (single, dev)"),
    published_source="BERT arXiv:1810.04805 Sec. 3 (BERT-BASE: L=12, H=768, A=12, 110M)",
    description="BERT-base (12 layers, 768 hidden) with a span head",
    tags=frozenset({"paper"}),
)
_qa(
    "bert_large_squad",
    "bert",
    "BertForQuestionAnswering",
    _nlp.BERT_LARGE,
    year=2018,
    family="bert",
    reference=_nlp.row_reference(BENCHMARK, "BERT-Large (single, +TriviaQA, test)"),
    recipe=_bert_recipe("BERT-Large (single, +TriviaQA, test)"),
    optimizer=BERT_ADAMW,
    published_params=_nlp.row_params(BENCHMARK, "BERT-Large (single, +TriviaQA, test)"),
    published_source="BERT arXiv:1810.04805 Sec. 3 (BERT-LARGE: L=24, H=1024, A=16, 340M)",
    description="BERT-large (24 layers, 1024 hidden) with a span head",
    tags=frozenset({"paper"}),
)
_qa(
    "roberta_base_squad",
    "roberta",
    "RobertaForQuestionAnswering",
    _nlp.ROBERTA_BASE,
    year=2019,
    family="roberta",
    reference=ReferenceMetric(
        "f1",
        91.5,
        "DeBERTa arXiv:2006.03654 base-model comparison, as printed in the microsoft/deberta-base "
        "model card (RoBERTa-base SQuAD 1.1 dev F1/EM 91.5/84.6); no squad11.csv row, and the "
        "RoBERTa paper reports SQuAD for RoBERTa-large only",
    ),
    recipe=TrainingRecipe(
        epochs=3,
        examples_per_epoch=EXAMPLES,
        batch_size=32,
        precision="fp16",
        citation="RoBERTa's SQuAD fine-tuning values are not used here: BERT's recipe assumed ("
        + BERT_FINETUNE
        + "); pretraining hardware for RoBERTa-base not stated",
    ),
    optimizer=BERT_ADAMW,
    published_params=125_000_000,
    published_source="fairseq examples/roberta/README.md model table (roberta.base, 125M) - memory",
    description="RoBERTa-base (BERT-base shape, 50k BPE vocabulary) with a span head",
)
_qa(
    "roberta_large_squad",
    "roberta",
    "RobertaForQuestionAnswering",
    _nlp.ROBERTA_LARGE,
    year=2019,
    family="roberta",
    reference=_nlp.row_reference(BENCHMARK, "RoBERTa-Large (single, dev)"),
    recipe=_nlp.row_recipe(
        BENCHMARK,
        "RoBERTa-Large (single, dev)",
        epochs=3,
        examples_per_epoch=EXAMPLES,
        batch_size=32,
        precision="fp16",
        citation="fine-tuning: BERT's recipe assumed (" + BERT_FINETUNE + "); precision: RoBERTa "
        "arXiv:1907.11692 Sec. 3.1 (mixed precision on V100) - memory; hardware below is the "
        "pretraining run",
    ),
    optimizer=BERT_ADAMW,
    published_params=_nlp.row_params(BENCHMARK, "RoBERTa-Large (single, dev)"),
    published_source="RoBERTa arXiv:1907.11692 (355M), via squad11.csv",
    description="RoBERTa-large (24 layers, 1024 hidden) with a span head",
    tags=frozenset({"paper"}),
)

ALBERT_README = (
    "google-research/ALBERT README, v1 results table (SQuAD1.1 dev F1/EM); base, large and "
    "xlarge equal ALBERT arXiv:1909.11942 Table 2 (memory); no squad11.csv row"
)
ALBERT_RECIPE = TrainingRecipe(
    epochs=round(3649 * 48 / EXAMPLES, 2),
    examples_per_epoch=EXAMPLES,
    batch_size=48,
    precision=TPU_PRECISION,
    citation="ALBERT arXiv:1909.11942 App. A.4 hyperparameter table (SQuAD v1.1: lr 5e-5, batch 48, "
    "3,649 steps, max length 384) - memory; epochs = 3,649 x 48 / 87,599 (derived); pretraining "
    "on Cloud TPU v3, 64 to 512 TPUs by model size, time not stated (Sec. 4.1, memory); "
    + _nlp.SQUAD11_TRAIN_CITATION,
)
ALBERT_ADAMW = OptimizerSpec(
    "adamw",
    5e-5,
    {"weight_decay": 0.01},
    citation="ALBERT arXiv:1909.11942 App. A.4 (lr 5e-5) - memory; BERT's AdamW otherwise",
)
for _name, _size, _hidden, _layers, _heads, _f1, _em, _params in (
    ("albert_base_squad", "base", 768, 12, 12, 89.3, 82.3, 12),
    ("albert_large_squad", "large", 1024, 24, 16, 90.6, 83.9, 18),
    ("albert_xlarge_squad", "xlarge", 2048, 24, 16, 92.5, 86.1, 60),
    ("albert_xxlarge_squad", "xxlarge", 4096, 12, 64, 94.8, 89.3, 235),
):
    _qa(
        _name,
        "albert",
        "AlbertForQuestionAnswering",
        _nlp.albert_config(_hidden, _layers, _heads),
        year=2019,
        family="albert",
        reference=ReferenceMetric("f1", _f1, f"{ALBERT_README}: ALBERT-{_size} {_f1}/{_em}"),
        recipe=ALBERT_RECIPE,
        optimizer=ALBERT_ADAMW,
        published_params=_params * 1_000_000,
        published_source=f"ALBERT arXiv:1909.11942 Table 1 (ALBERT {_size}: {_params}M)",
        description=f"ALBERT-{_size} (H={_hidden}, L={_layers}, shared layers) with a span head",
    )

_qa(
    "xlnet_large_squad",
    "xlnet",
    "XLNetForQuestionAnswering",
    _nlp.XLNET_LARGE,
    year=2019,
    family="xlnet",
    reference=_nlp.row_reference(BENCHMARK, "XLNet-Large (single, test)"),
    recipe=_nlp.row_recipe(
        BENCHMARK,
        "XLNet-Large (single, test)",
        epochs=round(8000 * 48 / EXAMPLES, 2),
        examples_per_epoch=EXAMPLES,
        batch_size=48,
        precision=TPU_PRECISION,
        citation="zihangdai/xlnet scripts/tpu_squad_large.sh (batch 48, lr 3e-5, 8,000 steps, "
        "max length 512); epochs = 8,000 x 48 / 87,599 (derived); hardware below is the "
        "pretraining run",
    ),
    optimizer=OptimizerSpec(
        "adam",
        3e-5,
        {"eps": 1e-6},
        citation="zihangdai/xlnet scripts/tpu_squad_large.sh (learning_rate 3e-5, "
        "adam_epsilon 1e-6)",
    ),
    published_params=_nlp.row_params(BENCHMARK, "XLNet-Large (single, test)"),
    published_source="squad11.csv XLNet-Large row (params ~360M, secondary)",
    description="XLNet-large (24 layers, 1024 hidden) with XLNet's SQuAD head "
    "(start logits, end logits conditioned on the start)",
    tags=frozenset({"paper"}),
)
_qa(
    "distilbert_squad",
    "distilbert",
    "DistilBertForQuestionAnswering",
    _nlp.DISTILBERT,
    year=2019,
    family="distilbert",
    reference=ReferenceMetric(
        "f1",
        86.9,
        "DistilBERT arXiv:1910.01108 Table 2, 'DistilBERT (D)' SQuAD 1.1 dev EM/F1 79.1/86.9 (a "
        "second distillation step from a SQuAD-fine-tuned BERT during fine-tuning), as quoted by "
        "the Hugging Face model cards that replicate it; no squad11.csv row",
    ),
    recipe=TrainingRecipe(
        epochs=3,
        examples_per_epoch=EXAMPLES,
        batch_size=32,
        precision="fp32",
        processor_type="V100",
        processor_count=8,
        train_hours=90.0,
        citation="fine-tuning: BERT's recipe assumed (" + BERT_FINETUNE + "); hardware: "
        "DistilBERT arXiv:1910.01108 Sec. 3 (distillation on 8 16GB V100 GPUs for about 90 hours; "
        "precision not stated) - memory",
    ),
    optimizer=BERT_ADAMW,
    published_params=66_000_000,
    published_source="DistilBERT arXiv:1910.01108 Table 3 (66M) - memory",
    description="DistilBERT (6 layers, 768 hidden) with a span head",
)


# --------------------------------------------------------------------------------------------
# BiDAF (torch)
# --------------------------------------------------------------------------------------------

BIDAF_QUERY_LEN = 32  # allenai/bi-att-flow basic/cli.py ques_size_th
BIDAF_WORD_LEN = 16  # allenai/bi-att-flow basic/cli.py word_size_th
BIDAF_FULL = {"word_vocab": 400_000, "char_vocab": 256}  # GloVe 6B: 400k words; byte-sized chars
BIDAF_TINY = {
    "word_vocab": 1000,
    "char_vocab": 64,
    "word_dim": 32,
    "char_dim": 8,
    "char_filters": 32,
    "hidden": 32,
}


def _bidaf_batch(batch_size, size, *, tiny, device, dtype, generator) -> Batch:
    """Context of `size` words, a question of up to 32 words, 16 characters per word."""
    cfg = BIDAF_TINY if tiny else BIDAF_FULL
    query = min(BIDAF_QUERY_LEN, size)
    width = 8 if tiny else BIDAF_WORD_LEN
    args = (
        random_int(cfg["word_vocab"], (batch_size, size), device, generator),
        random_int(cfg["char_vocab"], (batch_size, size, width), device, generator),
        random_int(cfg["word_vocab"], (batch_size, query), device, generator),
        random_int(cfg["char_vocab"], (batch_size, query, width), device, generator),
    )
    start, end = _nlp.span_targets(batch_size, size, 0, device, generator)
    return Batch(args=args, kwargs={}, targets={"start": start, "end": end}, size=batch_size)


def _bidaf_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Seo et al. Eq. (after 2.6): -log p1(y1) - log p2(y2), averaged over the batch."""
    start, end = model(*batch.args)
    ce = nn.functional.cross_entropy
    return ce(start.float(), batch.targets["start"]) + ce(end.float(), batch.targets["end"])


register(
    Architecture(
        name="bidaf_squad",
        domain="nlp",
        task="question-answering",
        benchmark=BENCHMARK,
        year=2016,
        builder=lambda: BiDAF(**BIDAF_FULL),
        tiny_builder=lambda: BiDAF(**BIDAF_TINY),
        batch_factory=_bidaf_batch,
        loss_fn=_bidaf_loss,
        loss_name="span negative log-likelihood (start + end)",
        optimizer=OptimizerSpec(
            "adadelta",
            0.5,
            citation="BiDAF arXiv:1611.01603 Sec. 4 (AdaDelta, initial learning rate 0.5)",
        ),
        size_kind="seq_len",
        default_size=SEQ_LEN,
        tiny_size=TINY_SEQ_LEN,
        reference=_nlp.row_reference(BENCHMARK, "BiDAF (single)"),
        recipe=_nlp.row_recipe(
            BENCHMARK,
            "BiDAF (single)",
            epochs=12,
            examples_per_epoch=EXAMPLES,
            batch_size=60,
            precision="fp32",
            citation="BiDAF arXiv:1611.01603 Sec. 4 (minibatch 60, 12 epochs); allenai/bi-att-flow "
            "README (batch size 60 default; converges at ~18k steps = 12.3 epochs); "
            + _nlp.SQUAD11_TRAIN_CITATION,
        ),
        family="bidaf",
        description="BiDAF (char CNN + fixed GloVe-sized words, highway, BiLSTMs, attention "
        "flow; d=100); context words = sequence length, question 32 words",
        tags=frozenset({"paper", "rnn"}),
        source=__name__,
    )
)
