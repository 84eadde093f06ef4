"""CoNLL-2003 named-entity recognition: BiLSTM-CRF in torch and transformers token classifiers.

Sequence length 128, 9 BIO labels (O and B-/I- of PER, ORG, LOC, MISC). Targets are one random
label per token. Reference F1 scores and published hardware come from
harness/data/reference/conll03.csv where it has a row, else from the cited paper.
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
from models.nets.bilstm_crf import BiLSTMCRF

BENCHMARK = "conll03"
SEQ_LEN = 128
TINY_SEQ_LEN = 16
NUM_LABELS = 9
EXAMPLES = _nlp.CONLL03_TRAIN_SENTENCES

BERT_FINETUNE = (
    "BERT arXiv:1810.04805 App. A.3 (fine-tuning grid: batch 16/32, lr 5e-5/3e-5/2e-5, "
    "2-4 epochs; the values chosen for CoNLL-2003 are not published: 3 epochs, batch 32, "
    "lr 5e-5 assumed, as for SQuAD); " + _nlp.CONLL03_TRAIN_CITATION
)
BERT_ADAMW = OptimizerSpec(
    "adamw",
    5e-5,
    {"weight_decay": 0.01},
    citation="BERT arXiv:1810.04805 App. A.2-A.3 (Adam, L2 weight decay 0.01; lr from the "
    "fine-tuning grid, CoNLL choice not published)",
)


# --------------------------------------------------------------------------------------------
# transformers token classifiers
# --------------------------------------------------------------------------------------------


def _tagger(name: str, kind: str, model_class: str, config: dict[str, Any], **fields: Any) -> None:
    _nlp.register_encoder(
        module=__name__,
        name=name,
        kind=kind,
        model_class=model_class,
        config=config,
        batch_factory_kind="token",
        num_labels=NUM_LABELS,
        benchmark=BENCHMARK,
        task="token-classification",
        default_size=SEQ_LEN,
        tiny_size=TINY_SEQ_LEN,
        loss_name="token cross-entropy",
        optimizer=BERT_ADAMW,
        **fields,
    )


def _bert_recipe(benchmark: str, row: str, precision: str) -> TrainingRecipe:
    return _nlp.row_recipe(
        benchmark,
        row,
        epochs=3,
        examples_per_epoch=EXAMPLES,
        batch_size=32,
        precision=precision,
        citation=BERT_FINETUNE + " (hardware below is the pretraining run)",
    )


_tagger(
    "bert_base_conll",
    "bert",
    "BertForTokenClassification",
    _nlp.BERT_BASE,
    year=2018,
    family="bert",
    reference=_nlp.row_reference(BENCHMARK, "BERT-Base"),
    recipe=_bert_recipe(BENCHMARK, "BERT-Base", "bf16"),
    published_params=_nlp.row_params(BENCHMARK, "BERT-Base"),
    published_source="BERT arXiv:1810.04805 Sec. 3 (BERT-BASE: 110M)",
    description="BERT-base (12 layers, 768 hidden) with a token classifier",
    tags=frozenset({"paper"}),
)
_tagger(
    "bert_large_conll",
    "bert",
    "BertForTokenClassification",
    _nlp.BERT_LARGE,
    year=2018,
    family="bert",
    reference=_nlp.row_reference(BENCHMARK, "BERT-Large"),
    recipe=_bert_recipe(BENCHMARK, "BERT-Large", "bf16"),
    published_params=_nlp.row_params(BENCHMARK, "BERT-Large"),
    published_source="BERT arXiv:1810.04805 Sec. 3 (BERT-LARGE: 340M)",
    description="BERT-large (24 layers, 1024 hidden) with a token classifier",
    tags=frozenset({"paper"}),
)
_tagger(
    "roberta_large_conll",
    "roberta",
    "RobertaForTokenClassification",
    _nlp.ROBERTA_LARGE,
    year=2019,
    family="roberta",
    reference=ReferenceMetric(
        "f1",
        92.4,
        "LUKE arXiv:2010.01057 NER results table (RoBERTa-large baseline, CoNLL-2003 test F1 "
        "92.4) - memory, not verified; no conll03.csv row, and the RoBERTa paper reports no NER",
    ),
    recipe=_bert_recipe("squad11", "RoBERTa-Large (single, dev)", "fp16"),
    published_params=_nlp.row_params("squad11", "RoBERTa-Large (single, dev)"),
    published_source="RoBERTa arXiv:1907.11692 (355M), via squad11.csv",
    description="RoBERTa-large (24 layers, 1024 hidden) with a token classifier",
)


# --------------------------------------------------------------------------------------------
# BiLSTM-CRF (torch)
# --------------------------------------------------------------------------------------------

WORD_LEN = 16  # characters per word in the example batch (an assumption: the paper pads per batch)
BILSTM_CRF_FULL = {"word_vocab": 100_000, "char_vocab": 100}
BILSTM_CRF_TINY = {
    "word_vocab": 1000,
    "char_vocab": 50,
    "word_dim": 16,
    "char_dim": 8,
    "char_hidden": 8,
    "hidden": 32,
}


def _bilstm_crf_batch(batch_size, size, *, tiny, device, dtype, generator) -> Batch:
    """`size` words per sentence, each with WORD_LEN characters, and a random BIO tag each."""
    cfg = BILSTM_CRF_TINY if tiny else BILSTM_CRF_FULL
    width = 8 if tiny else WORD_LEN
    words = random_int(cfg["word_vocab"], (batch_size, size), device, generator)
    chars = random_int(cfg["char_vocab"], (batch_size, size, width), device, generator)
    tags = random_int(NUM_LABELS, (batch_size, size), device, generator)
    return Batch(args=(words, chars), kwargs={}, targets=tags, size=batch_size)


def _bilstm_crf_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    return model.loss(*batch.args, batch.targets)


register(
    Architecture(
        name="bilstm_crf_conll",
        domain="nlp",
        task="token-classification",
        benchmark=BENCHMARK,
        year=2016,
        builder=lambda: BiLSTMCRF(num_tags=NUM_LABELS, **BILSTM_CRF_FULL),
        tiny_builder=lambda: BiLSTMCRF(num_tags=NUM_LABELS, **BILSTM_CRF_TINY),
        batch_factory=_bilstm_crf_batch,
        loss_fn=_bilstm_crf_loss,
        loss_name="CRF negative log-likelihood (forward algorithm)",
        optimizer=OptimizerSpec(
            "sgd",
            0.01,
            citation="Lample et al. arXiv:1603.01360 Sec. 5.1 (SGD, learning rate 0.01, gradient "
            "clipping 5.0, one example per update)",
        ),
        size_kind="seq_len",
        default_size=SEQ_LEN,
        tiny_size=TINY_SEQ_LEN,
        reference=_nlp.row_reference(BENCHMARK, "LSTM-CRF (Lample et al.)"),
        recipe=TrainingRecipe(
            epochs=100,
            examples_per_epoch=EXAMPLES,
            batch_size=1,
            precision="fp32",
            citation="Lample et al. arXiv:1603.01360 Sec. 5.1 (parameters updated on every "
            "training example, one at a time); glample/tagger train.py (n_epochs = 100); "
            "training hardware and time not published; " + _nlp.CONLL03_TRAIN_CITATION,
        ),
        family="bilstm-crf",
        description="BiLSTM-CRF (words 100 + char BiLSTM 2x25, word BiLSTM 2x100, tanh layer, "
        "CRF); word vocabulary 100k (an assumption: not stated by the paper)",
        tags=frozenset({"paper", "rnn"}),
        source=__name__,
    )
)
