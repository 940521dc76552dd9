"""The committed reference data is what make_reference generates, and it is right."""

from __future__ import annotations

import numpy as np

from autograder.grading import make_reference
from autograder.kernel import reference, specs


def test_make_reference_reproduces_the_committed_files():
    for name, text in make_reference.render().items():
        committed = make_reference.REFERENCE_DIR / name
        assert committed.read_text(encoding="utf-8") == text, f"{name} is stale"


def test_check_mode_reports_up_to_date(capsys):
    assert make_reference.main(["--check"]) == 0


def test_reference_inputs_are_the_probe_inputs_the_kernel_uses():
    data = reference.load()
    for check, probe_cases in specs.softmax_cases().items():
        stored = data["softmax"]["checks"][check]
        assert [{k: c[k] for k in ("id", "z", "dtype")} for c in stored] == probe_cases


def test_expected_softmax_values_agree_with_the_formula():
    data = reference.load()
    first = data["softmax"]["checks"]["softmax_original_cases"]
    # z = [1, 2, 3, 4]: e^z / sum e^z, written out
    e = np.exp([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(first[0]["expected"], e / e.sum(), rtol=1e-12)
    np.testing.assert_allclose(first[1]["expected"], [0.1] * 10, rtol=1e-12)
    large = data["softmax"]["checks"]["softmax_large_inputs"][0]
    e = np.exp([-2.0, -1.0, 0.0])
    np.testing.assert_allclose(large["expected"], e / e.sum(), rtol=1e-12)


def test_expected_architecture_counts_10575_parameters():
    model = reference.load()["model"]
    assert model["dense_units"] == [25, 15, 10]
    assert model["param_count"] == 10025 + 390 + 160
