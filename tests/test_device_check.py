"""Are the checks' verdicts the ones the README's device table states, on this device?

The same functions as ``tests/device_check.py`` (which prints them as one JSON line to compare
a CPU run with a GPU run); here each verdict is asserted, so a device whose numerics changed a
verdict fails.
"""

from __future__ import annotations

import pytest

from autograder.kernel import specs

import device_check


def _failing(verdicts: dict[str, bool]) -> list[str]:
    return [name for name, passed in verdicts.items() if not passed]


def test_a_stable_softmax_passes_every_softmax_check():
    assert (
        _failing(device_check.verdicts(device_check.stable_softmax, specs.names("softmax"))) == []
    )


def test_a_naive_softmax_fails_only_the_large_inputs_visible_and_hidden():
    verdicts = device_check.verdicts(device_check.naive_softmax, specs.names("softmax"))
    assert _failing(verdicts) == ["softmax_large_logits", "softmax_large_inputs"]


@pytest.mark.parametrize("spelling", ["relu_string", "relu_function"])
def test_the_assignments_model_passes_every_model_check_however_relu_is_spelled(spelling):
    model = device_check.build_model(*device_check.SPELLINGS[spelling])
    assert _failing(device_check.verdicts(model, specs.names("model"))) == []


@pytest.mark.parametrize(
    ("spelling", "failing"),
    [
        ("sigmoid_hidden", ["model_activations"]),
        ("softmax_output", ["model_output_linear", "model_activations"]),
    ],
)
def test_a_model_with_the_wrong_activations_fails_only_the_activation_checks(spelling, failing):
    model = device_check.build_model(*device_check.SPELLINGS[spelling])
    assert _failing(device_check.verdicts(model, specs.names("model"))) == failing
