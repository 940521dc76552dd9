"""Does the grader describe a student's model from its saved file exactly as the kernel would,
for every way of writing the model, while a file it cannot trust earns nothing?"""

from __future__ import annotations

import io
import json
import os
import threading
import zipfile

import pytest

from autograder import kernel
from autograder.grading import judge, model_file, sandbox
from autograder.grading.limits import Limits
from autograder.kernel import model_probe, probes

SEED = 7


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


def _built_by_calling_it():
    import numpy as np

    model = _keras_relu_added_without_input()
    model(np.zeros((1, 400), dtype="float32"))
    return model


def _trained_with_metrics():
    import keras
    import numpy as np

    model = _reference_string()
    model.compile(loss=_from_logits(), optimizer=keras.optimizers.Adam(0.001), metrics=["accuracy"])
    model.fit(np.zeros((8, 400)), np.zeros(8), epochs=1, verbose=0)
    return model


def _dense(*activations, **kwargs):
    def build():
        import keras

        layers = [keras.layers.Dense(units, activation=a, **kwargs) for units, a in
                  zip((25, 15, 10), activations, strict=True)]  # fmt: skip
        return keras.Sequential([keras.Input(shape=(400,)), *layers])

    return build


def _loss_function():
    import keras

    model = _reference_string()
    model.compile(loss=keras.losses.sparse_categorical_crossentropy)
    return model


#: Ways of writing a model that the archive reader describes without TensorFlow.
READ_FROM_ARCHIVE = {
    **SPELLINGS,
    "built_by_calling_it": _built_by_calling_it,
    "trained_with_metrics": _trained_with_metrics,
    "sigmoid_tanh_softmax": _dense("sigmoid", "tanh", "softmax"),
    "no_bias": _dense("relu", "relu", None, use_bias=False),
    "loss_function": _loss_function,
}


def _flattened_image_input():
    import keras

    return keras.Sequential([keras.Input(shape=(20, 20)), keras.layers.Flatten(),
                             keras.layers.Dense(10)])  # fmt: skip


def _functional():
    import keras

    inputs = keras.Input(shape=(400,))
    return keras.Model(inputs, keras.layers.Dense(10)(inputs))


#: Models only Keras itself can describe: the reader defers them to the sandboxed loader.
DEFERRED_TO_KERAS = {
    "gelu": _dense("gelu", "relu", "linear"),
    "flatten_layer": _flattened_image_input,
    "functional": _functional,
}


def _saved(build, folder):
    model = build()
    model.save(folder / kernel.MODEL_FILE)
    return model, (folder / kernel.MODEL_FILE).read_bytes()


def _live(model) -> dict:
    """Return what the kernel reports of ``model`` (outputs first: the call may build it)."""
    outputs = probes.model_outputs(model, SEED)
    return {**probes.model_facts(model), "outputs": outputs}


def _agree(described: dict, live: dict) -> bool:
    facts = {k: v for k, v in described.items() if k != "outputs"}
    live_facts = {k: v for k, v in live.items() if k != "outputs"}
    return judge.facts_agree(facts, live_facts) and judge.outputs_agree(
        live["outputs"]["values"], described["outputs"]["values"]
    )


@pytest.mark.parametrize("name", sorted(SPELLINGS))
def test_facts_and_outputs_from_the_saved_file_equal_the_live_models(name, tmp_path):
    model = SPELLINGS[name]()
    live = _live(model)
    model.save(tmp_path / kernel.MODEL_FILE)
    described = model_probe.facts_from_file(tmp_path / kernel.MODEL_FILE, SEED)
    assert _agree(described, live), (described, live)
    if name == "compiled_from_logits":
        assert live["loss"]["from_logits"] is True


def test_the_outputs_tie_the_file_to_its_weights_not_just_its_layers(tmp_path):
    model = _reference_string()
    live = _live(model)
    _reference_string().save(tmp_path / kernel.MODEL_FILE)  # same layers, other weights
    described = model_probe.facts_from_file(tmp_path / kernel.MODEL_FILE, SEED)
    assert [layer["units"] for layer in described["layers"]] == [25, 15, 10]
    assert not judge.outputs_agree(live["outputs"]["values"], described["outputs"]["values"])


@pytest.mark.parametrize("name", sorted(READ_FROM_ARCHIVE))
def test_the_archive_reader_gives_the_live_models_facts_without_tensorflow(name, tmp_path):
    model = READ_FROM_ARCHIVE[name]()
    live = _live(model)
    model.save(tmp_path / kernel.MODEL_FILE)
    data = (tmp_path / kernel.MODEL_FILE).read_bytes()
    described = model_probe.describe_archive(data)
    assert described is not None, "the reader should not need Keras for this model"
    described["outputs"] = model_probe.archive_outputs(data, described, SEED)
    assert _agree(described, live), described


@pytest.mark.slow  # each loads the model with Keras in a subprocess
@pytest.mark.parametrize("name", sorted(DEFERRED_TO_KERAS))
def test_the_archive_reader_defers_what_only_keras_can_describe(name, tmp_path):
    model = DEFERRED_TO_KERAS[name]()
    live = _live(model)
    model.save(tmp_path / kernel.MODEL_FILE)
    assert model_probe.describe_archive((tmp_path / kernel.MODEL_FILE).read_bytes()) is None
    facts = model_file.describe(tmp_path / kernel.MODEL_FILE, Limits(), sandboxed=False, seed=SEED)
    assert _agree(facts, live), facts


def _rewrite_config(data: bytes, change) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w") as new:
        for item in old.infolist():
            content = old.read(item)
            if item.filename == "config.json":
                config = json.loads(content)
                change(config)
                content = json.dumps(config).encode()
            new.writestr(item, content)
    return out.getvalue()


def _custom_activation(config):
    config["config"]["layers"][1]["config"]["activation"] = {
        "module": "builtins", "class_name": "__lambda__", "config": {"code": "x"},
        "registered_name": None,
    }  # fmt: skip


def _registered_initializer(config):
    dense = config["config"]["layers"][1]["config"]
    dense["kernel_initializer"]["registered_name"] = "my_package>Init"


def _unknown_loss(config):
    config["compile_config"] = {"loss": "my_loss", "optimizer": "adam"}


def _wrong_input_size(config):
    config["config"]["layers"][2]["build_config"]["input_shape"] = [None, 99]


@pytest.mark.parametrize(
    "change", [_custom_activation, _registered_initializer, _unknown_loss, _wrong_input_size]
)
def test_an_archive_with_custom_or_inconsistent_parts_is_left_to_keras(change, tmp_path):
    _, data = _saved(_reference_string, tmp_path)
    assert model_probe.describe_archive(data) is not None
    assert model_probe.describe_archive(_rewrite_config(data, change)) is None


@pytest.mark.parametrize(
    "data", [b"", b"PK\x03\x04 not really a zip", b"{}", b"\x89HDF\r\n\x1a\n" + bytes(64)]
)
def test_an_unreadable_archive_is_left_to_keras(data):
    assert model_probe.describe_archive(data) is None


def _corrupted(data: bytes, how: str) -> bytes:
    """Return the archive with config.json marked encrypted, or its compressed bytes broken."""
    if how == "encrypted":
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w") as new:
            for item in old.infolist():
                new.writestr(item, old.read(item))
        raw = bytearray(out.getvalue())
        for header in (b"PK\x03\x04", b"PK\x01\x02"):  # set bit 0 (encrypted) of each entry
            start = 0
            while (start := raw.find(header, start)) >= 0:
                flag = start + (6 if header == b"PK\x03\x04" else 8)
                raw[flag] |= 1
                start += 4
        return bytes(raw)
    method = {"deflate": zipfile.ZIP_DEFLATED, "lzma": zipfile.ZIP_LZMA}[how]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w", method) as new:
        for item in old.infolist():
            new.writestr(item.filename, old.read(item))
    raw = bytearray(out.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
        info = archive.getinfo("config.json")
    body = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for k in range(body + 2, body + min(info.compress_size, 40)):
        raw[k] ^= 0x5A
    return bytes(raw)


@pytest.mark.slow  # each loads the file with Keras in a subprocess
@pytest.mark.parametrize("how", ["encrypted", "deflate", "lzma"])
def test_a_broken_archive_is_a_load_error_not_a_crash(how, tmp_path):
    """Does an archive whose zip entry is encrypted or corrupt end as a fact about the file?"""
    _, data = _saved(_reference_string, tmp_path)
    broken = _corrupted(data, how)
    assert model_probe.describe_archive(broken) is None
    path = tmp_path / "broken.keras"
    path.write_bytes(broken)
    facts = model_file.describe(path, Limits(), sandboxed=False, seed=SEED)
    assert set(facts) == {"load_error"}, facts


def test_a_hand_written_archive_without_weights_cannot_be_evaluated(tmp_path):
    """Does a config.json typed by hand, with empty weights, fail to tie to any model?"""
    _, data = _saved(_reference_string, tmp_path)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w") as new:
        new.writestr("config.json", old.read("config.json"))
        new.writestr("metadata.json", old.read("metadata.json"))
        new.writestr("model.weights.h5", b"")
    path = tmp_path / "forged.keras"
    path.write_bytes(out.getvalue())
    facts = model_probe.facts_from_file(path, SEED)
    assert facts["outputs"]["values"] is None and facts["outputs"]["error"]


def test_an_oversized_config_is_not_read(tmp_path, monkeypatch):
    _, data = _saved(_reference_string, tmp_path)
    monkeypatch.setattr(model_probe, "MAX_CONFIG_BYTES", 100)
    assert model_probe.describe_archive(data) is None


def test_a_file_with_python_code_in_it_is_not_loaded(tmp_path):
    import keras

    model = keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(2, activation=lambda x: x * 0 + 1)]
    )
    model.save(tmp_path / kernel.MODEL_FILE)
    facts = model_probe.facts_from_file(tmp_path / kernel.MODEL_FILE, SEED)
    assert set(facts) == {"load_error"}


def _file_facts(path):
    return model_file.describe(path, Limits(), sandboxed=False, seed=SEED)


def test_an_oversized_file_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(model_file, "MAX_FILE_BYTES", 1000)
    (tmp_path / kernel.MODEL_FILE).write_bytes(b"PK" + bytes(2000))
    facts = _file_facts(tmp_path / kernel.MODEL_FILE)
    assert set(facts) == {"load_error"} and "larger than 1000 bytes" in facts["load_error"]


def test_no_file_or_an_empty_one_means_no_facts(tmp_path):
    assert _file_facts(tmp_path / kernel.MODEL_FILE) is None
    (tmp_path / kernel.MODEL_FILE).write_bytes(b"")
    assert _file_facts(tmp_path / kernel.MODEL_FILE) is None


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_folder_or_fifo_in_place_of_the_file_is_a_load_error_without_blocking(kind, tmp_path):
    path = tmp_path / kernel.MODEL_FILE
    if kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(path)
    found = []
    reader = threading.Thread(target=lambda: found.append(_file_facts(path)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert found and "load_error" in found[0], "the reader blocked or found facts"


def test_a_link_in_place_of_the_file_is_not_followed(tmp_path):
    secret = tmp_path / "gradebook.db"
    secret.write_text("SECRET-CANARY")
    work = tmp_path / "w"
    work.mkdir()
    (work / kernel.MODEL_FILE).symlink_to(secret)
    facts = _file_facts(work / kernel.MODEL_FILE)
    assert "load_error" in facts and "SECRET" not in str(facts)


@pytest.mark.slow
@pytest.mark.skipif(not sandbox.sandbox_available(), reason="needs bubblewrap (bwrap)")
def test_the_sandboxed_loader_describes_the_saved_model(tmp_path):
    path = tmp_path / kernel.MODEL_FILE
    limits = Limits(threads=1)
    for build in (DEFERRED_TO_KERAS["flatten_layer"], _reference_string):
        model = build()
        live = _live(model)
        model.save(path)
        facts = model_file.describe(path, limits, sandboxed=True, seed=SEED)
        assert _agree(facts, live), facts
    path.write_bytes(b"PK\x03\x04 not really a zip")
    broken = model_file.describe(path, limits, sandboxed=True, seed=SEED)
    assert set(broken) == {"load_error"}
