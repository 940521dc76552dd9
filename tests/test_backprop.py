"""Tests of lab_utils.backprop: graph values and derivatives, drawing, and the quiz widget."""

import matplotlib.pyplot as plt
import pytest

from lab_utils import backprop


def _tf_grads(J_fn, **values):
    import tensorflow as tf

    variables = {k: tf.Variable(float(v)) for k, v in values.items()}
    with tf.GradientTape() as tape:
        J = J_fn(**variables)
    grads = tape.gradient(J, list(variables.values()))
    return float(J), {k: float(g) for k, g in zip(variables, grads, strict=True)}


def test_simple_graph_forward_and_backward_match_the_lab_by_hand():
    graph = backprop.simple_graph(w=3)
    # By hand: a = 2 + 3*3 = 11, J = 11**2 = 121, dJ/da = 2a = 22, da/dw = 3, dJ/dw = 66.
    assert graph.values["a"] == 11 and graph.values["J"] == 121
    assert graph.local[("a", "w")] == 3 and graph.local[("J", "a")] == 22
    assert graph.grads["a"] == 22 and graph.grads["w"] == 66


def test_simple_graph_gradient_agrees_with_gradient_tape_at_other_points():
    for w in (-1.5, 0.0, 3.0, 7.0):
        J, grads = _tf_grads(lambda w: (2 + 3 * w) ** 2, w=w)
        graph = backprop.simple_graph(w=w)
        assert graph.values["J"] == pytest.approx(J)
        assert graph.grads["w"] == pytest.approx(grads["w"])


def test_network_graph_forward_and_backward_match_the_lab_by_hand():
    graph = backprop.network_graph(x=2, w=-2, b=8, y=1)
    # By hand: c = -4, a = 4, d = 3, J = 9/2; dJ/dd = d = 3, then 3 through the sums,
    # and dJ/dw = dJ/dc * x = 6.
    assert [graph.values[k] for k in "cadJ"] == [-4, 4, 3, 4.5]
    assert [graph.grads[k] for k in "dacb"] == [3, 3, 3, 3]
    assert graph.grads["w"] == 6
    assert graph.local[("c", "w")] == 2  # dc/dw = x


def test_network_graph_gradients_agree_with_gradient_tape():
    for point in ({"x": 2, "w": -2, "b": 8, "y": 1}, {"x": -1.5, "w": 0.5, "b": 2, "y": 3}):
        J, grads = _tf_grads(lambda x, w, b, y: (w * x + b - y) ** 2 / 2, **point)
        graph = backprop.network_graph(**point)
        assert graph.values["J"] == pytest.approx(J)
        for name in ("w", "b", "x", "y"):
            assert graph.grads[name] == pytest.approx(grads[name])


def test_nudge_measures_the_chain_rule_factors_arithmetically():
    graph = backprop.simple_graph(w=3)
    # ((11.001)**2 - 121) / 0.001 = 22.001 and ((2 + 3*3.001)**2 - 121) / 0.001 = 66.009.
    assert graph.nudge("a") == pytest.approx(22.001)
    assert graph.nudge("w", of="a") == pytest.approx(3.0)
    assert graph.nudge("w") == pytest.approx(66.009)
    net = backprop.network_graph()
    assert net.nudge("w", 1e-6) == pytest.approx(6, abs=1e-4)
    assert net.nudge("b", 1e-6) == pytest.approx(3, abs=1e-4)
    with pytest.raises(KeyError, match="no node 'q'"):
        net.nudge("q")
    with pytest.raises(ValueError, match="epsilon"):
        net.nudge("w", 0)


def test_evaluate_holds_an_overridden_node_and_recomputes_only_later_nodes():
    graph = backprop.network_graph()
    values = graph.evaluate({"a": 5.0})
    assert values["c"] == -4 and values["a"] == 5 and values["d"] == 4 and values["J"] == 8


def test_build_graph_works_for_a_new_graph_and_reports_bad_steps():
    graph = backprop.build_graph({"w": 2.0}, [("u", "w**3"), ("J", "3*u")])
    assert graph.values["J"] == 24 and graph.grads["w"] == pytest.approx(3 * 3 * 2.0**2)
    assert graph.steps == [("u", "w**3"), ("J", "3*u")]
    with pytest.raises(ValueError, match="not defined before"):
        backprop.build_graph({"w": 1.0}, [("J", "w + q")])
    with pytest.raises(ValueError, match="defined twice"):
        backprop.build_graph({"w": 1.0}, [("w", "2*w")])
    with pytest.raises(ValueError, match="at least one step"):
        backprop.build_graph({"w": 1.0}, [])
    with pytest.raises(KeyError, match="not in this graph"):
        graph.evaluate({"zz": 1.0})


def test_quiz_answers_list_forward_values_then_derivatives():
    answers = backprop.network_graph().quiz_answers()
    assert list(answers) == ["c", "a", "d", "J", "dJ/dd", "dJ/da", "dJ/dc", "dJ/dw", "dJ/db"]
    assert answers["J"] == 4.5 and answers["dJ/dw"] == 6


def test_plot_computation_graph_draws_values_and_derivatives_on_given_axes():
    _, ax = plt.subplots()
    out = backprop.plot_computation_graph(backprop.simple_graph(), ax=ax)
    assert out is ax
    texts = backprop.texts_by_gid(ax)
    assert texts["value:a"] == "a = 2 + 3·w\n= 11"
    assert texts["value:J"].endswith("= 121")
    assert texts["grad:w"] == "∂J/∂w = 66"
    assert texts["grad:a"] == "∂J/∂a = 22"
    assert texts["local:a/w"] == "∂a/∂w = 3"
    assert len(ax.patches) == 3


def test_plot_computation_graph_can_hide_values_and_derivatives():
    ax = backprop.plot_computation_graph(
        backprop.network_graph(), show_values=False, show_derivatives=False
    )
    texts = backprop.texts_by_gid(ax)
    assert not any(k.startswith(("grad:", "local:")) for k in texts)
    assert texts["value:J"] == "J = d²/2"
    assert texts["value:w"] == "w = -2"  # inputs are given, so always shown
    with pytest.raises(TypeError, match="graph must come from"):
        backprop.plot_computation_graph({"J": 1})


def test_graph_figsize_is_wider_for_a_longer_graph():
    w_simple, _ = backprop.graph_figsize(backprop.simple_graph())
    w_net, _ = backprop.graph_figsize(backprop.network_graph())
    assert w_net > w_simple > 0


def test_quiz_marks_a_right_entry_right_and_a_wrong_one_wrong():
    quiz = backprop.backprop_quiz(backprop.simple_graph())
    assert set(quiz.inputs) == {"a", "J", "dJ/da", "dJ/dw"}
    quiz.inputs["dJ/dw"].value = "66"
    quiz.inputs["a"].value = "12"
    quiz.inputs["J"].value = "lots"
    assert quiz.results == {"a": False, "J": False, "dJ/da": None, "dJ/dw": True}
    assert "✓" in quiz.status["dJ/dw"].value
    assert "✗" in quiz.status["a"].value
    assert "not a number" in quiz.status["J"].value
    assert quiz.status["dJ/da"].value == ""


def test_quiz_wants_whole_number_answers_exactly():
    quiz = backprop.backprop_quiz(backprop.simple_graph(w=3))  # J = 121
    for wrong in ("120", "122", "121.5"):
        quiz.inputs["J"].value = wrong
        assert quiz.judge("J") is False
    quiz.inputs["J"].value = "121.0"
    assert quiz.judge("J") is True


def test_quiz_accepts_other_answers_within_tolerance():
    quiz = backprop.backprop_quiz(backprop.network_graph(), rel_tol=1e-3)  # J = 4.5
    quiz.inputs["J"].value = "4.502"
    assert quiz.judge("J") is True
    quiz.inputs["J"].value = "4.6"
    assert quiz.judge("J") is False


def test_quiz_reveal_fills_every_box_correctly_and_hide_clears_them():
    quiz = backprop.backprop_quiz(backprop.network_graph())
    first_image = quiz.image.value
    assert not any(k.startswith("grad:") for k in backprop.texts_by_gid(quiz.ax))
    quiz.reveal_button.click()
    assert all(v is True for v in quiz.results.values())
    assert float(quiz.inputs["dJ/dw"].value) == 6
    assert backprop.texts_by_gid(quiz.ax)["grad:w"] == "∂J/∂w = 6"
    assert quiz.image.value != first_image
    quiz.hide_button.click()
    assert all(v is None for v in quiz.results.values())
    assert all(box.value == "" for box in quiz.inputs.values())
    assert all(mark.value == "" for mark in quiz.status.values())
    assert not any(k.startswith("grad:") for k in backprop.texts_by_gid(quiz.ax))


def test_quiz_widget_holds_the_drawing_inputs_and_buttons():
    import ipywidgets

    quiz = backprop.backprop_quiz(backprop.simple_graph())
    assert isinstance(quiz.widget, ipywidgets.VBox)
    assert quiz.widget.children[0] is quiz.image and quiz.image.value[:4] == b"\x89PNG"
    with pytest.raises(TypeError, match="graph must come from"):
        backprop.backprop_quiz("J = a**2")
