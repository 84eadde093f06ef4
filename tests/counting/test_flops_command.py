"""`harness flops`: the command, and the library functions it prints."""

from __future__ import annotations

import json

import pytest

from harness.console import fmt_si
from harness.counting.record import CountingError
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


def _write(tmp_path, name: str, body: str) -> str:
    f = tmp_path / f"{name}.py"
    f.write_text("import torch\nfrom torch import nn\n\n" + body)
    return str(f)


def test_input_shape_batch_is_honoured_and_conflicts_refused(tmp_path, capsys):
    from harness.cli import main

    f = _write(tmp_path, "lin", "def build():\n    return nn.Linear(100, 7)\n")
    # N=4 of the shape is the batch when --batch is not given: 4 x 50 rows of 100 x 7 MACs
    assert main(["flops", f"{f}:build", "--input-shape", "4,50,100", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["batch_size"] == 4
    assert data["forward_macs"] == 4 * 50 * 100 * 7
    assert data["forward_macs_per_example"] == 50 * 100 * 7
    # the same N given twice is fine; N=1 is a one-example shape that --batch scales
    assert main(["flops", f"{f}:build", "--input-shape", "4,50,100", "--batch", "4"]) == 0
    capsys.readouterr()
    r = count_request(FlopsRequest(name=f"{f}:build", input_shape=(1, 50, 100), batch=3))
    assert r.batch_size == 3 and r.forward_macs == 3 * 50 * 100 * 7
    # a conflict is one line naming both values
    assert main(["flops", f"{f}:build", "--input-shape", "4,50,100", "--batch", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "batch 4" in err and "--batch is 2" in err and len(err.splitlines()) == 1


def test_resolution_with_input_shape_is_refused_and_sequences_are_labelled(tmp_path, capsys):
    from harness.cli import main

    f = _write(tmp_path, "conv", "def build():\n    return nn.Conv2d(3, 8, 3)\n")
    assert main(["flops", f"{f}:build", "--input-shape", "1,3,32,32", "--resolution", "64"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--resolution does not resize --input-shape" in err and len(err.splitlines()) == 1
    # a float sequence (N, L, F) with --seq-len: labelled seq_len; LSTM(100, 16) one layer
    g = _write(
        tmp_path,
        "rnn",
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.lstm = nn.LSTM(100, 16, batch_first=True)\n"
        "    def forward(self, x):\n"
        "        return self.lstm(x)[0]\n\n"
        "def build():\n    return Net()\n",
    )
    argv = ["flops", f"{g}:build", "--input-shape", "2,50,100", "--seq-len", "50", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["size_kind"] == "seq_len" and data["size"] == 50 and data["batch_size"] == 2
    assert data["forward_macs_per_example"] == 50 * 4 * 16 * (100 + 16)
    assert main([*argv[:-3], "--seq-len", "40"]) == 2
    assert "contradicts" in capsys.readouterr().err
    # integer token ids of the shape with --vocab: labelled seq_len, the last dimension
    h = _write(tmp_path, "emb", "def build():\n    return nn.Sequential(nn.Embedding(30, 8))\n")
    assert main(["flops", f"{h}:build", "--input-shape", "3,11", "--vocab", "30", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["size_kind"], data["size"], data["batch_size"]) == ("seq_len", 11, 3)


def test_one_value_per_channel_names_the_batch_flag_and_stops_early(tmp_path):
    f = _write(
        tmp_path,
        "bn",
        "def build():\n    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6))\n",
    )
    with pytest.raises(CountingError, match="use --batch 2") as info:
        count_request(FlopsRequest(name=f"{f}:build", input_shape=(1, 4), train=True))
    assert "fake" not in str(info.value) and "real" not in str(info.value)


def test_inception_v3_at_batch_one_names_the_batch_flag(capsys):
    from harness.cli import main

    assert main(["flops", "inception_v3", "--tiny", "--train"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--batch 2" in err and "--batch-size" not in err
    assert "fake" not in err and "real" not in err  # stopped on meta tensors
