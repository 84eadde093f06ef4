"""`harness flops`: the command, and the library functions it prints."""

from __future__ import annotations

import json

import pytest

from harness.console import fmt_si
from harness.counting.request import FlopsRequest, count_request, resolve_request
from harness.counting.summary import breakdown_rows, summary_rows, to_json
from harness.errors import ConfigurationError


def test_cli_file_reference_json_and_table(tmp_path, capsys):
    from harness.cli import main

    f = tmp_path / "net.py"
    f.write_text("from torch import nn\n\ndef build():\n    return nn.Linear(10, 20)\n")
    assert main(["flops", f"{f}:build", "--input-shape", "1,10", "--json", "--train"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["forward_macs_per_example"] == 200 and data["method"] == "meta"
    assert main(["flops", f"{f}:build", "--input-shape", "1,10", "--by", "op"]) == 0
    out = capsys.readouterr().out
    assert "addmm" in out and "uncounted operators" in out
    g = tmp_path / "lm.py"
    g.write_text(
        "from torch import nn\n\ndef lm():\n    return nn.Sequential(nn.Embedding(50, 8), nn.Linear(8, 50))\n"
    )
    assert main(["flops", f"{g}:lm", "--seq-len", "7", "--vocab", "50", "--train", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["forward_macs_per_example"] == 7 * 8 * 50 and data["size_kind"] == "seq_len"
    # the linear layer's input and weight gradients (the embedding's own gradient is a scatter)
    assert data["backward_flops"] == 2 * 2 * 7 * 8 * 50


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    from harness.cli import main

    f = tmp_path / "net.py"
    f.write_text("from torch import nn\n\ndef build():\n    return nn.Linear(10, 20)\n")
    assert main(["flops", f"{f}:build", "--input-shape", "1,10", "--batch", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
    assert main(["flops", f"{f}:build", "--input-shape", "1,10", "--seq-len", "5"]) == 2
    assert "--vocab" in capsys.readouterr().err
    assert main(["flops", "resnet18", "--seq-len", "5"]) == 2
    assert "takes --resolution" in capsys.readouterr().err
    assert main(["flops", "resnet_18"]) == 2
    assert "did you mean" in capsys.readouterr().err
    assert main(["flops", f"{f}:nothere", "--input-shape", "1,10"]) == 2


def _mlp_request(tmp_path, **kw) -> FlopsRequest:
    f = tmp_path / "mlp.py"
    f.write_text(
        "from torch import nn\n\n"
        "def build():\n"
        "    return nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))\n"
    )
    return FlopsRequest(name=f"{f}:build", input_shape=(1, 10), **kw)


def test_summary_rows_and_breakdown_of_a_counted_mlp(tmp_path):
    r = count_request(_mlp_request(tmp_path, batch=4, train=True))
    rows = {row["item"]: row["value"] for row in summary_rows(r)}
    assert rows["method"] == "meta"
    assert rows["params"] == "325 (325 trainable)"
    assert rows["forward GMACs / example"] == f"{300 / 1e9:.4f}"
    # 2 x 4 x 300 forward, 2 x (2 x 400 + 800) backward (the input needs no gradient)
    assert rows["training step: forward"] == fmt_si(2_400, "FLOP")
    assert rows["training step: backward"] == f"{fmt_si(3_200, 'FLOP')} (x1.333 forward)"
    assert rows["training step: total"] == fmt_si(2_400 + 3_200 + 4 * 325, "FLOP")
    assert rows["uncounted operators"] == "none"
    ops = breakdown_rows(r, "op")
    assert ops == [{"op": "addmm", "GMACs": 4 * 300 / 1e9, "share": "100.0%"}]
    mods = {row["module"]: row["share"] for row in breakdown_rows(r, "module", depth=1)}
    assert mods == {"(model)": "100.0%", "0": f"{200 / 300:.1%}", "2": f"{100 / 300:.1%}"}
    assert json.loads(to_json(r))["train_step_flops"] == 2_400 + 3_200 + 4 * 325


def test_request_options_that_do_not_fit_the_architecture(tmp_path):
    with pytest.raises(ConfigurationError, match="at least 1"):
        resolve_request(_mlp_request(tmp_path, batch=0))
    with pytest.raises(ConfigurationError, match="takes --resolution"):
        resolve_request(FlopsRequest(name="resnet18", seq_len=5))
    with pytest.raises(ConfigurationError, match="at least 1"):
        resolve_request(FlopsRequest(name="resnet18", resolution=0))
    with pytest.raises(ConfigurationError, match="file.py:factory"):
        resolve_request(FlopsRequest(name="resnet18", vocab=10))
    assert _mlp_request(tmp_path, resolution=32).size == 32
