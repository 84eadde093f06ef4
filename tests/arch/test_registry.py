"""The registry: lookup, suggestions, and architectures loaded from files outside the repo."""

from __future__ import annotations

import textwrap

import pytest
import torch

from harness.arch import registry
from harness.arch.registry import resolve
from harness.arch.spec import Architecture, OptimizerSpec, TrainingRecipe
from harness.errors import ArchitectureLoadError, ConfigurationError, UnknownArchitectureError


def _write(tmp_path, body: str):
    path = tmp_path / "outside_net.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_unknown_name_suggests_close_matches(monkeypatch):
    arch = registry.all_architectures()[0]
    monkeypatch.setitem(registry._REGISTRY, "my_special_net", arch)
    with pytest.raises(UnknownArchitectureError) as exc:
        registry.get("my_specal_net")
    message = str(exc.value)
    assert "my_special_net" in message and "\n" not in message


def test_unknown_name_without_match_points_to_list():
    with pytest.raises(UnknownArchitectureError, match="harness list"):
        registry.get("zzzzqqqq")


def test_plain_factory_from_file_with_input_shape(tmp_path):
    path = _write(
        tmp_path,
        """
        import torch.nn as nn
        def build():
            return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 5))
        """,
    )
    arch = resolve(f"{path}:build", input_shape=(1, 3, 8, 8))
    assert arch.domain == "custom" and arch.default_size == 8
    model = arch.build()
    batch = arch.example_batch(4)
    assert batch.args[0].shape == (4, 3, 8, 8)
    loss = arch.training_loss(model, batch)
    loss.backward()
    # cross-entropy on 5 classes at initialisation is near log(5)
    assert 0.5 < loss.item() < 5.0
    assert model[1].weight.grad is not None


def test_plain_factory_with_token_ids(tmp_path):
    path = _write(
        tmp_path,
        """
        import torch.nn as nn
        def lm():
            return nn.Sequential(nn.Embedding(50, 16), nn.Linear(16, 50))
        """,
    )
    arch = resolve(f"{path}:lm", seq_len=7, vocab=50)
    batch = arch.example_batch(3)
    assert batch.args[0].shape == (3, 7) and batch.args[0].dtype == torch.long
    assert int(batch.args[0].max()) < 50
    arch.training_loss(arch.build(), batch).backward()


def test_architecture_defined_in_file_keeps_its_spec(tmp_path):
    path = _write(
        tmp_path,
        """
        import torch, torch.nn as nn
        from harness.arch import architecture, Batch, OptimizerSpec

        def batch(n, size, *, tiny, device, dtype, generator):
            x = torch.randn(n, 4, generator=generator)
            return Batch(args=(x,), kwargs={}, targets=torch.zeros(n, dtype=torch.long), size=n)

        @architecture(
            name="outside_mlp", domain="custom", task="classification", benchmark="imagenet",
            year=2026, tiny_builder=lambda: nn.Linear(4, 2), batch_factory=batch,
            loss_fn=lambda m, b: nn.functional.cross_entropy(m(*b.args), b.targets),
            optimizer=OptimizerSpec("adam", 1e-3), size_kind="resolution",
            default_size=4, tiny_size=4,
        )
        def outside_mlp():
            return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        """,
    )
    arch = resolve(f"{path}:outside_mlp")
    assert isinstance(arch, Architecture)
    assert arch.name == "outside_mlp" and arch.optimizer.name == "adam"
    assert sum(p.numel() for p in arch.build().parameters()) == 4 * 8 + 8 + 8 * 2 + 2
    registry._REGISTRY.pop("outside_mlp", None)


@pytest.mark.parametrize(
    ("body", "attr", "match"),
    [
        ("x = 1\n", "build", "has no attribute 'build'"),
        ("build = 3\n", "build", "not an Architecture or a function"),
        ("def build():\n    return 42\n", "build", "returned a int, not an nn.Module"),
        ("raise RuntimeError('boom')\n", "build", "importing .* failed: RuntimeError: boom"),
    ],
)
def test_bad_file_references_say_exactly_what(tmp_path, body, attr, match):
    path = _write(tmp_path, body)
    with pytest.raises(ArchitectureLoadError, match=match):
        arch = resolve(f"{path}:{attr}", input_shape=(1, 3))
        arch.build()


def test_missing_file_and_missing_input_shape(tmp_path):
    with pytest.raises(ArchitectureLoadError, match="does not exist"):
        resolve(f"{tmp_path}/nope.py:build")
    path = _write(tmp_path, "import torch.nn as nn\ndef build():\n    return nn.Linear(2, 2)\n")
    with pytest.raises(ArchitectureLoadError, match="--input-shape"):
        resolve(f"{path}:build")


def test_recipe_steps_and_optimizer_build():
    recipe = TrainingRecipe(epochs=90, examples_per_epoch=1_281_167, batch_size=256)
    assert recipe.examples == 90 * 1_281_167
    assert recipe.steps() == -(-90 * 1_281_167 // 256)
    assert recipe.steps(512) == -(-90 * 1_281_167 // 512)
    opt = OptimizerSpec("sgd", 0.1, {"momentum": 0.9}).build(torch.nn.Linear(2, 2).parameters())
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9
    with pytest.raises(ConfigurationError, match="unknown optimizer"):
        OptimizerSpec("lion", 1e-4).build([])


def test_bad_batch_size_is_a_clear_error():
    arch = registry.all_architectures()[0]
    with pytest.raises(ConfigurationError, match="batch size must be at least 1"):
        arch.example_batch(0, tiny=True)
