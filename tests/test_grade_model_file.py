"""Does the grader describe a student's model from its saved file exactly as the kernel would,
for every way of writing the model, while a file it cannot trust earns nothing?"""

from __future__ import annotations

import pytest

from autograder import kernel, model_probe, probes, sandbox


def _reference_string():
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(400,)),
            keras.layers.Dense(25, activation="relu"),
            keras.layers.Dense(15, activation="relu"),
            keras.layers.Dense(10, activation="linear"),
        ]
    )


def _tf_nn_relu_input_shape():
    import tensorflow as tf

    return tf.keras.Sequential(
        [
            tf.keras.layers.Dense(25, activation=tf.nn.relu, input_shape=(400,)),
            tf.keras.layers.Dense(15, activation=tf.nn.relu),
            tf.keras.layers.Dense(10),
        ]
    )


def _keras_relu_added_without_input():
    import keras

    model = keras.Sequential()
    model.add(keras.layers.Dense(25, activation=keras.activations.relu))
    model.add(keras.layers.Dense(15, activation=keras.activations.relu))
    model.add(keras.layers.Dense(10, activation=keras.activations.linear))
    return model


def _input_layer():
    import keras

    return keras.Sequential(
        [
            keras.layers.InputLayer(shape=(400,)),
            keras.layers.Dense(25, activation=keras.activations.relu),
            keras.layers.Dense(15, activation=keras.activations.relu),
            keras.layers.Dense(10, activation=None),
        ]
    )


def _compiled(loss):
    def build():
        model = _reference_string()
        model.compile(loss=loss(), optimizer="adam")
        return model

    return build


def _from_logits():
    import keras

    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


SPELLINGS = {
    "relu_string": _reference_string,
    "tf_nn_relu_input_shape": _tf_nn_relu_input_shape,
    "keras_relu_added_without_input": _keras_relu_added_without_input,
    "input_layer": _input_layer,
    "compiled_from_logits": _compiled(_from_logits),
    "compiled_loss_string": _compiled(lambda: "sparse_categorical_crossentropy"),
}


@pytest.mark.parametrize("name", sorted(SPELLINGS))
def test_facts_from_the_saved_file_equal_the_live_models_facts(name, tmp_path):
    model = SPELLINGS[name]()
    live = probes.model_facts(model)
    model.save(tmp_path / kernel.MODEL_FILE)
    assert model_probe.facts_from_file(tmp_path / kernel.MODEL_FILE) == live
    if name == "compiled_from_logits":
        assert live["loss"]["from_logits"] is True


def test_a_file_with_python_code_in_it_is_not_loaded(tmp_path):
    import keras

    model = keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(2, activation=lambda x: x * 0 + 1)]
    )
    model.save(tmp_path / kernel.MODEL_FILE)
    facts = model_probe.facts_from_file(tmp_path / kernel.MODEL_FILE)
    assert set(facts) == {"load_error"}


def test_no_file_means_no_facts(tmp_path):
    assert model_probe.model_file_facts(tmp_path, sandbox.Limits(), sandboxed=False) is None


def test_a_link_in_place_of_the_file_is_not_followed(tmp_path):
    secret = tmp_path / "gradebook.db"
    secret.write_text("SECRET-CANARY")
    work = tmp_path / "w"
    work.mkdir()
    (work / kernel.MODEL_FILE).symlink_to(secret)
    facts = model_probe.model_file_facts(work, sandbox.Limits(), sandboxed=False)
    assert "load_error" in facts and "SECRET" not in str(facts)


@pytest.mark.slow
@pytest.mark.skipif(not sandbox.sandbox_available(), reason="needs bubblewrap (bwrap)")
def test_the_sandboxed_loader_describes_the_saved_model(tmp_path):
    model = _tf_nn_relu_input_shape()
    model.save(tmp_path / kernel.MODEL_FILE)
    limits = sandbox.Limits(threads=1)
    facts = model_probe.model_file_facts(tmp_path, limits, sandboxed=True)
    assert facts == probes.model_facts(model)
    (tmp_path / kernel.MODEL_FILE).write_bytes(b"PK\x03\x04 not really a zip")
    broken = model_probe.model_file_facts(tmp_path, limits, sandboxed=True)
    assert set(broken) == {"load_error"}
