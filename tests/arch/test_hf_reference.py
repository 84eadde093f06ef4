"""`hf:MODEL_ID`: a Hugging Face model built from its configuration with random weights, from
a local directory or the local hub cache, and a one-line error when the configuration is
nowhere to be found offline."""

from __future__ import annotations

import json

import huggingface_hub.constants as hub_constants
import pytest
import transformers

from harness.arch.hf import default_seq_len, load_hf_reference
from harness.arch.loader import architecture_from_module_factory
from harness.arch.registry import resolve
from harness.counting.count import count_flops
from harness.errors import ArchitectureLoadError

TINY_BERT = {
    "model_type": "bert",
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "vocab_size": 100,
    "max_position_embeddings": 64,
}


def _config_dir(tmp_path, config=TINY_BERT):
    d = tmp_path / "tiny-bert"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(config))
    return d


def test_local_config_counts_as_the_same_config_built_directly(tmp_path):
    arch = resolve(f"hf:{_config_dir(tmp_path)}")
    assert arch.size_kind == "seq_len" and arch.default_size == 64  # max_position_embeddings
    via_hf = count_flops(arch, batch_size=2, train=True)

    def direct():
        return transformers.BertModel(transformers.BertConfig(**TINY_BERT))

    same = architecture_from_module_factory(direct, name="bert", seq_len=64, vocab=100)
    built = count_flops(same, batch_size=2, train=True)
    assert via_hf.params == built.params
    assert via_hf.forward_macs == built.forward_macs
    assert via_hf.train_step_flops == built.train_step_flops
    # by hand, per example: 2 layers x (4 projections + QK^T and AV + 2 FFN matmuls) + pooler
    length, hidden, ffn = 64, 32, 64
    layer = 4 * length * hidden**2 + 2 * length**2 * hidden + 2 * length * hidden * ffn
    assert via_hf.forward_macs_per_example == 2 * layer + hidden**2


def test_default_sequence_length():
    class Cfg:
        max_position_embeddings = 512

    assert default_seq_len(Cfg()) == 128
    Cfg.max_position_embeddings = 64
    assert default_seq_len(Cfg()) == 64


def test_hub_cache_and_offline_error(tmp_path, monkeypatch):
    repo = tmp_path / "hub" / "models--harness-test--tiny-bert"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps(TINY_BERT))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    arch = load_hf_reference("hf:harness-test/tiny-bert")
    assert arch.name == "hf:harness-test/tiny-bert" and arch.family == "bert"
    with pytest.raises(ArchitectureLoadError, match="no usable configuration") as err:
        load_hf_reference("hf:harness-test/not-cached")
    assert "\n" not in str(err.value)


def test_cli_unknown_model_is_one_line(tmp_path, monkeypatch, capsys):
    from harness.cli import main

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    assert main(["flops", "hf:harness-test/no-such-model"]) == 2
    err = capsys.readouterr().err.strip()
    assert "hf:harness-test/no-such-model" in err and len(err.splitlines()) == 1
