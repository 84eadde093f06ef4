"""Suite files: expansion to configurations, overrides, and errors that name the line."""

from __future__ import annotations

import textwrap

import pytest
from fake_catalog import CATALOG

from harness.data import SUITES_DIR
from harness.errors import ConfigurationError, DeviceUnavailableError, UnknownArchitectureError
from harness.sweep.suites import default_suite, list_suites, load_suite, parse_suite


def suite(text: str, tmp_path=None, name: str = "t.toml"):
    text = textwrap.dedent(text).lstrip()
    if tmp_path is None:
        return parse_suite(text, name="t")
    path = tmp_path / name
    path.write_text(text)
    return load_suite(path)


def error_of(text: str, tmp_path, exc=ConfigurationError, **jobs_kwargs) -> str:
    with pytest.raises(exc) as info:
        s = suite(text, tmp_path)
        s.jobs(catalog=CATALOG, cuda_available=False, **jobs_kwargs)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_expansion_is_the_cross_product_in_file_order():
    s = suite(
        """
        architectures = ["resnet18", "vit_b_16"]
        devices = ["cpu"]
        batch_sizes = [2, 4]
        precisions = ["fp32", "bf16"]
        sizes = ["default", 64]
        tiny = true
        min_steps = 3
        timeout_s = 5
        """
    )
    jobs = s.jobs(catalog=CATALOG, cuda_available=False)
    assert len(jobs) == 2 * 2 * 2 * 2
    first = jobs[0].config
    assert (first.architecture, first.batch_size, first.precision, first.size) == (
        "resnet18",
        2,
        "fp32",
        None,
    )
    assert first.tiny and first.min_steps == 3 and first.device == "cpu"
    assert jobs[0].timeout_s == 5.0
    assert jobs[0].architecture["name"] == "resnet18"
    assert [j.config.architecture for j in jobs[:8]] == ["resnet18"] * 8
    assert {j.config.size for j in jobs} == {None, 64}
    assert len({j.config.key() for j in jobs}) == len(jobs)


def test_globs_tags_benchmarks_and_exclude():
    s = suite(
        """
        architectures = ["resnet*", "tag:paper", "benchmark:squad11"]
        exclude = ["resnet50"]
        devices = ["cpu"]
        """
    )
    names = [j.config.architecture for j in s.jobs(catalog=CATALOG, cuda_available=False)]
    assert names == ["resnet18", "fasterrcnn_resnet50_fpn", "bert_base_squad"]


def test_entries_override_settings_for_their_architectures():
    s = suite(
        """
        architectures = ["resnet*"]
        devices = ["cpu"]
        batch_sizes = [32]
        min_seconds = 2

        [[entry]]
        architectures = ["resnet50", "fasterrcnn_resnet50_fpn"]
        batch_sizes = [4]

        [[entry]]
        architectures = ["fasterrcnn_*"]
        min_seconds = 0.5
        """
    )
    got = {
        j.config.architecture: (j.config.batch_size, j.config.min_seconds)
        for j in s.jobs(catalog=CATALOG, cuda_available=False)
    }
    assert got == {
        "resnet18": (32, 2.0),
        "resnet50": (4, 2.0),
        "fasterrcnn_resnet50_fpn": (4, 0.5),
    }


def test_match_entries_override_without_adding():
    s = suite(
        """
        architectures = ["resnet18", "fasterrcnn_resnet50_fpn"]
        devices = ["cpu"]
        batch_sizes = [32]

        [[entry]]
        match = ["benchmark:coco", "resnet50"]
        batch_sizes = [4]

        [[entry]]
        match = ["fasterrcnn_*"]
        batch_sizes = [2]
        """
    )
    got = {
        j.config.architecture: j.config.batch_size
        for j in s.jobs(catalog=CATALOG, cuda_available=False)
    }
    assert got == {"resnet18": 32, "fasterrcnn_resnet50_fpn": 2}


def test_match_with_a_typo_names_the_line(tmp_path):
    msg = error_of(
        """
        architectures = ["resnet18"]
        devices = ["cpu"]

        [[entry]]
        match = ["resnet_18"]
        batch_sizes = [4]
        """,
        tmp_path,
        exc=UnknownArchitectureError,
    )
    assert ":5: unknown architecture 'resnet_18'; did you mean resnet18" in msg


def test_auto_device_falls_back_to_cpu_with_a_message():
    messages = []
    s = suite(
        """
        architectures = ["resnet18"]
        devices = ["auto"]
        precisions = ["fp32", "fp16"]
        """
    )
    jobs = s.jobs(catalog=CATALOG, cuda_available=False, notify=messages.append)
    assert [(j.config.device, j.config.precision) for j in jobs] == [("cpu", "fp32")]
    assert any("no CUDA device" in m for m in messages)
    assert any("fp16 needs CUDA" in m for m in messages)
    jobs = s.jobs(catalog=CATALOG, cuda_available=True)
    assert [(j.config.device, j.config.precision) for j in jobs] == [
        ("cuda", "fp32"),
        ("cuda", "fp16"),
    ]


def test_cuda_default_without_cuda_names_the_problem(tmp_path):
    msg = error_of('architectures = ["resnet18"]\n', tmp_path, exc=DeviceUnavailableError)
    assert "no CUDA device" in msg and "--device cpu" in msg


def test_overrides_win_and_are_checked():
    s = suite('architectures = ["resnet18"]\ndevices = ["cuda"]\nbatch_sizes = [8]\n')
    jobs = s.jobs(catalog=CATALOG, cuda_available=False, overrides={"devices": ["cpu"]})
    assert [(j.config.device, j.config.batch_size) for j in jobs] == [("cpu", 8)]
    with pytest.raises(ConfigurationError, match="unknown suite setting"):
        s.jobs(catalog=CATALOG, overrides={"batch": 3})
    with pytest.raises(ConfigurationError, match="batch_sizes"):
        s.jobs(catalog=CATALOG, overrides={"batch_sizes": [0]})


def test_unknown_key_names_the_line(tmp_path):
    msg = error_of(
        """
        # a comment
        architectures = ["resnet18"]
        devices = ["cpu"]
        batch_size = [8]
        """,
        tmp_path,
    )
    assert msg.startswith(f"{tmp_path / 't.toml'}:4: unknown key 'batch_size'")
    assert "did you mean 'batch_sizes'" in msg


def test_unknown_key_in_an_entry_names_its_line(tmp_path):
    msg = error_of(
        """
        architectures = ["resnet18"]
        devices = ["cpu"]

        [[entry]]
        architectures = ["resnet50"]
        batch_sizes = [4]

        [[entry]]
        architectures = ["vit_b_16"]
        min_second = 2
        """,
        tmp_path,
    )
    assert ":10: unknown key 'min_second' in [[entry]] #2" in msg


def test_unknown_architecture_names_the_line(tmp_path):
    msg = error_of(
        """
        devices = ["cpu"]
        architectures = [
            "resnet18",
            "resnet19",
        ]
        """,
        tmp_path,
        exc=UnknownArchitectureError,
    )
    assert ":4: unknown architecture 'resnet19'" in msg and "did you mean" in msg


def test_pattern_matching_nothing_names_the_line(tmp_path):
    msg = error_of(
        """
        devices = ["cpu"]
        architectures = ["resnet18"]

        [[entry]]
        architectures = ["tag:nonexistent"]
        """,
        tmp_path,
    )
    assert ":5: 'tag:nonexistent' matches no registered architecture" in msg


@pytest.mark.parametrize(
    "line, expected",
    [
        ("batch_sizes = [0]", "batch_sizes: 0 is not an integer of at least 1"),
        ('precisions = ["fp64"]', "precisions: 'fp64' is not one of"),
        ('devices = ["gpu"]', "devices: 'gpu' is not"),
        ('tiny = "yes"', "tiny must be true or false"),
        ("timeout_s = 0", "timeout_s must be a number above 0"),
        ('compile_mode = "turbo"', "compile_mode must be one of"),
    ],
)
def test_bad_values_name_the_line(tmp_path, line, expected):
    msg = error_of(f'architectures = ["resnet18"]\n\n{line}\n', tmp_path)
    assert f"t.toml:3: {expected}" in msg


def test_invalid_toml_and_missing_suite(tmp_path):
    msg = error_of('architectures = ["resnet18"]\nbatch_sizes = [1,,]\n', tmp_path)
    assert "invalid TOML" in msg and "line 2" in msg
    with pytest.raises(ConfigurationError, match="unknown suite 'smok'; did you mean smoke"):
        load_suite("smok")
    with pytest.raises(ConfigurationError, match="lists no architectures"):
        suite('devices = ["cpu"]\n')


def test_default_suite_follows_cuda():
    assert default_suite(cuda_available=True)[0] == "paper"
    name, why = default_suite(cuda_available=False)
    assert name == "smoke" and "no CUDA device" in why


def test_shipped_suites_parse():
    assert {"smoke", "paper", "zoo"} <= set(list_suites())
    for name in ("smoke", "paper", "zoo"):
        s = load_suite(name)
        assert s.path == SUITES_DIR / f"{name}.toml" and s.description


def test_shipped_suites_expand_against_the_zoo():
    from harness.arch.registry import all_architectures

    zoo = all_architectures()
    if not zoo:
        pytest.skip("the zoo registers no architectures yet")
    smoke = load_suite("smoke").jobs(notify=lambda m: None)
    assert smoke and all(j.config.device == "cpu" and j.config.tiny for j in smoke)
    domains = {j.architecture["benchmark"] for j in smoke}
    assert {"imagenet", "coco", "squad11", "conll03"} <= domains
    assert domains & {"wmt14_en_fr", "wmt14_en_de"}
    paper = load_suite("paper").jobs(cuda_available=True)
    assert all(j.config.device == "cuda" and not j.config.tiny for j in paper)
    zoo_jobs = load_suite("zoo").jobs(cuda_available=True)
    assert {j.config.architecture for j in zoo_jobs} == {a.name for a in zoo}


def test_notes_apply_to_their_jobs_and_are_listed():
    s = parse_suite(
        textwrap.dedent(
            """
            note = "after the driver update"
            architectures = ["resnet18"]
            devices = ["cpu"]
            [[entry]]
            architectures = ["vit_b_16"]
            note = "patch 16"
            """
        ),
        name="n",
    )
    noted = {
        j.config.architecture: n for j, n in s.noted_jobs(catalog=CATALOG, cuda_available=False)
    }
    assert noted == {
        "resnet18": "after the driver update",
        "vit_b_16": "after the driver update; patch 16",
    }
    assert s.notes() == [
        "suite n: note: after the driver update",
        "suite n: [[entry]] #1 note: patch 16",
    ]


@pytest.mark.parametrize(
    "line, expected",
    [
        ("timeout_s = inf", "timeout_s must be a finite number above 0"),
        ("min_seconds = nan", "min_seconds must be a finite number of at least 0"),
        ('country = "XXX"', "country must be an ISO 3166-1 alpha-3 code"),
        ("note = 3", "note must be a string"),
    ],
)
def test_non_finite_numbers_unknown_countries_and_bad_notes_are_refused(tmp_path, line, expected):
    assert expected in error_of(f'architectures = ["resnet18"]\n{line}\n', tmp_path)
