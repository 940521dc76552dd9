"""Computation graphs for back-propagation: build, draw, and quiz the student on them.

A graph is a list of steps such as ``a = 2 + 3*w`` and ``J = a**2``. Forward values come
from evaluating the steps in order; each step's local derivatives come from SymPy; the
derivatives of the cost, dJ/d(node), come from the chain rule walked backwards.

Introduced in C2_W2_Backprop.
"""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import sympy
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from lab_utils.style import Palette


@dataclasses.dataclass(frozen=True)
class GraphNode:
    """Hold one node: its name, the formula that makes it (None for inputs) and its parents."""

    name: str
    formula: sympy.Expr | None
    parents: tuple[str, ...]
    #: The formula as the author wrote it (SymPy would reorder ``2 + 3*w`` to ``3*w + 2``).
    text: str = ""

    @property
    def is_input(self) -> bool:
        """Return True for a value given to the graph rather than computed in it."""
        return self.formula is None


@dataclasses.dataclass(frozen=True)
class ComputationGraph:
    """Hold a computation graph with its forward values and back-propagated derivatives.

    Attributes:
        nodes: every node in evaluation order (inputs first).
        output: name of the cost node (``"J"``).
        params: inputs we want derivatives for (e.g. ``w``, ``b``; not the data ``x``, ``y``).
        values: forward value of every node.
        local: ``(child, parent) -> d child / d parent`` at the forward values.
        grads: ``name -> dJ/d name`` for every node.
    """

    nodes: tuple[GraphNode, ...]
    output: str
    params: tuple[str, ...]
    values: Mapping[str, float]
    local: Mapping[tuple[str, str], float]
    grads: Mapping[str, float]

    def node(self, name: str) -> GraphNode:
        """Return the node called ``name``."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node {name!r} in this graph; nodes are {[n.name for n in self.nodes]}")

    @property
    def inputs(self) -> dict[str, float]:
        """Return the input values the graph was built from."""
        return {n.name: self.values[n.name] for n in self.nodes if n.is_input}

    @property
    def steps(self) -> list[tuple[str, str]]:
        """Return the computed nodes as ``(name, formula)`` strings, in order."""
        return [(n.name, n.text) for n in self.nodes if not n.is_input]

    def evaluate(self, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
        """Run the graph forward, holding any node in ``overrides`` at the given value.

        Overriding a computed node (e.g. ``{"a": 11.001}``) nudges it directly, so only the
        nodes after it change: exactly the "increase a by epsilon" experiment of the lab.
        """
        overrides = dict(overrides or {})
        unknown = set(overrides) - {n.name for n in self.nodes}
        if unknown:
            raise KeyError(
                f"cannot override {sorted(unknown)}: not in this graph "
                f"(nodes are {[n.name for n in self.nodes]})"
            )
        values: dict[str, float] = {}
        for n in self.nodes:
            if n.name in overrides:
                values[n.name] = float(overrides[n.name])
            elif n.is_input:
                values[n.name] = self.values[n.name]
            else:
                values[n.name] = _evaluate(n.formula, values)
        return values

    def nudge(self, name: str, epsilon: float = 1e-3, *, of: str | None = None) -> float:
        """Return the arithmetic derivative d(of)/d(name): increase ``name`` by ``epsilon``.

        ``of`` defaults to the cost ``J``; e.g. ``graph.nudge("w", of="a")`` estimates da/dw.
        """
        if not (isinstance(epsilon, int | float) and math.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"epsilon must be a small positive number such as 1e-3, got {epsilon}")
        of = of or self.output
        # Looked up only to raise a clear KeyError for a misspelt node name.
        self.node(of)
        self.node(name)
        before = self.evaluate()[of]
        after = self.evaluate({name: self.values[name] + epsilon})[of]
        return (after - before) / epsilon

    def quiz_answers(self) -> dict[str, float]:
        """Return what a student should find: forward values, then derivatives of ``J``.

        Keys are node names (``"a"``) for forward values and ``"dJ/da"`` for derivatives.
        """
        answers = {n.name: self.values[n.name] for n in self.nodes if not n.is_input}
        computed = [n.name for n in self.nodes if not n.is_input and n.name != self.output]
        for name in reversed(computed):
            answers[f"d{self.output}/d{name}"] = self.grads[name]
        for name in self.params:
            answers[f"d{self.output}/d{name}"] = self.grads[name]
        return answers


def _evaluate(formula: sympy.Expr, values: Mapping[str, float]) -> float:
    subs = {sympy.Symbol(k): v for k, v in values.items()}
    return float(formula.subs(subs))


def build_graph(
    inputs: Mapping[str, float],
    steps: Sequence[tuple[str, str]],
    *,
    params: Sequence[str] | None = None,
) -> ComputationGraph:
    """Build a graph from input values and ``(name, formula)`` steps; the last step is the cost.

    Example: ``build_graph({"w": 3}, [("a", "2 + 3*w"), ("J", "a**2")])``.
    Introduced in C2_W2_Backprop.
    """
    if not steps:
        raise ValueError("give at least one step, e.g. [('J', 'w**2')]")
    params = tuple(params if params is not None else inputs)
    nodes: list[GraphNode] = []
    values: dict[str, float] = {}
    for name, value in inputs.items():
        try:
            values[name] = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"input {name!r} must be a number, got {value!r}") from None
        nodes.append(GraphNode(name, None, ()))
    for step in steps:
        try:
            name, text = step
        except (TypeError, ValueError):
            raise ValueError(
                f"each step must be (name, formula), e.g. ('a', 'c + b'); got {step!r}"
            ) from None
        if name in values:
            raise ValueError(f"node {name!r} is defined twice; give each step a new name")
        known = {k: sympy.Symbol(k) for k in values}
        try:
            formula = sympy.sympify(text, locals=known)
        except (sympy.SympifyError, TypeError) as err:
            raise ValueError(f"cannot read the formula {text!r} for {name!r}: {err}") from None
        parents = tuple(sorted(s.name for s in formula.free_symbols))
        missing = [p for p in parents if p not in values]
        if missing:
            raise ValueError(
                f"the formula for {name!r} uses {missing}, which are not defined before it; "
                f"defined so far: {list(values)}"
            )
        # Keep parents in the order they were defined, which is how the graph is drawn.
        parents = tuple(k for k in values if k in parents)
        nodes.append(GraphNode(name, formula, parents, str(text)))
        values[name] = _evaluate(formula, values)
    unknown = [p for p in params if p not in inputs]
    if unknown:
        raise ValueError(f"params {unknown} are not inputs; inputs are {list(inputs)}")

    local: dict[tuple[str, str], float] = {}
    for n in nodes:
        for p in n.parents:
            local[(n.name, p)] = _evaluate(sympy.diff(n.formula, sympy.Symbol(p)), values)

    output = nodes[-1].name
    grads = {n.name: 0.0 for n in nodes}
    grads[output] = 1.0
    # Walk backwards: each node hands dJ/d(node) * d(node)/d(parent) to every parent.
    for n in reversed(nodes):
        for p in n.parents:
            grads[p] += grads[n.name] * local[(n.name, p)]
    return ComputationGraph(tuple(nodes), output, params, values, local, grads)


def simple_graph(w: float = 3.0) -> ComputationGraph:
    """Return the graph of J = (2 + 3w)**2 as a = 2 + 3w, J = a**2.

    Introduced in C2_W2_Backprop.
    """
    return build_graph({"w": w}, [("a", "2 + 3*w"), ("J", "a**2")], params=("w",))


def network_graph(
    x: float = 2.0, w: float = -2.0, b: float = 8.0, y: float = 1.0
) -> ComputationGraph:
    """Return the graph of one linear unit with squared-error cost, J = (w*x + b - y)**2 / 2.

    Introduced in C2_W2_Backprop.
    """
    return build_graph(
        {"x": x, "w": w, "b": b, "y": y},
        [("c", "w*x"), ("a", "c + b"), ("d", "a - y"), ("J", "d**2/2")],
        params=("w", "b"),
    )


def _pretty(text: str) -> str:
    return text.replace("**2", "²").replace("**3", "³").replace("*", "·")


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _layout(graph: ComputationGraph) -> dict[str, tuple[float, float]]:
    """Place computed nodes left to right on one row and inputs beside their first user."""
    step = 2.6
    pos: dict[str, tuple[float, float]] = {}
    computed = [n for n in graph.nodes if not n.is_input]
    for i, n in enumerate(computed):
        pos[n.name] = ((i + 1) * step, 0.0)
    for i, n in enumerate(computed):
        loose = [p for p in n.parents if graph.node(p).is_input and p not in pos]
        x = pos[n.name][0] - step
        if i == 0:
            offsets = (
                [0.0]
                if len(loose) == 1
                else [1.1 - 2.2 * k / (len(loose) - 1) for k in range(len(loose))]
            )
            for p, dy in zip(loose, offsets, strict=False):
                pos[p] = (x, dy)
        else:
            for k, p in enumerate(loose):
                pos[p] = (x + step - 0.9 - 1.8 * k, 1.6)
    return pos


def _limits(pos) -> tuple[tuple[float, float], tuple[float, float]]:
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    return (min(xs) - 1.1, max(xs) + 1.1), (min(ys) - 1.0, max(ys) + 1.0)


def graph_figsize(graph: ComputationGraph, scale: float = 0.85) -> tuple[float, float]:
    """Return a figure size (inches) that fits :func:`plot_computation_graph` at ``scale`` in/unit.

    Introduced in C2_W2_Backprop.
    """
    (x0, x1), (y0, y1) = _limits(_layout(graph))
    return (scale * (x1 - x0), scale * (y1 - y0))


def plot_computation_graph(
    graph: ComputationGraph,
    ax=None,
    *,
    show_values: bool = True,
    show_derivatives: bool = True,
):
    """Draw the graph as boxes and arrows: forward values in black, derivatives below in red.

    Each arrow is labelled with its local derivative; below each box is dJ/d(node).
    Returns the Axes. Introduced in C2_W2_Backprop.
    """
    if not isinstance(graph, ComputationGraph):
        raise TypeError("graph must come from simple_graph(), network_graph() or build_graph()")
    if ax is None:
        _, ax = plt.subplots(figsize=graph_figsize(graph))
    pos = _layout(graph)
    box_w, box_h = 1.5, 0.62
    boxes = {}
    for n in graph.nodes:
        cx, cy = pos[n.name]
        colour = Palette.ORANGE if n.is_input else Palette.BLUE
        boxes[n.name] = ax.add_patch(
            FancyBboxPatch(
                (cx - box_w / 2, cy - box_h / 2),
                box_w,
                box_h,
                boxstyle="round,pad=0.05",
                facecolor=colour.value,
                alpha=0.18,
                edgecolor=colour.value,
            )
        )
        if n.is_input:
            label = f"{n.name} = {_fmt(graph.values[n.name])}"
        else:
            label = f"{n.name} = {_pretty(n.text)}"
            if show_values:
                label += f"\n= {_fmt(graph.values[n.name])}"
        ax.text(cx, cy, label, ha="center", va="center", fontsize=9, gid=f"value:{n.name}")
        wanted = not n.is_input or n.name in graph.params
        if show_derivatives and wanted and n.name != graph.output:
            # Inputs drawn above the row get their label on top, clear of the arrows.
            above = cy > 0
            ax.text(
                cx,
                cy + (box_h / 2 + 0.12) * (1 if above else -1),
                f"∂{graph.output}/∂{n.name} = {_fmt(graph.grads[n.name])}",
                ha="center",
                va="bottom" if above else "top",
                fontsize=9,
                color=Palette.DARK_RED.value,
                gid=f"grad:{n.name}",
            )
    for n in graph.nodes:
        for p in n.parents:
            (x0, y0), (x1, y1) = pos[p], pos[n.name]
            ax.annotate(
                "",
                xy=(x1, y1),
                xytext=(x0, y0),
                arrowprops={
                    "arrowstyle": "->",
                    "color": Palette.DARK_BLUE.value,
                    "lw": 1.2,
                    # Clip the arrow at the box edges instead of the box centres.
                    "patchA": boxes[p],
                    "patchB": boxes[n.name],
                    "shrinkA": 3,
                    "shrinkB": 3,
                },
            )
            if show_derivatives:
                # Steep arrows from above get their label beside them, not on top.
                # Arrows rising from below get their label underneath.
                steep = y0 - y1 > abs(x1 - x0)
                below = y0 < y1
                ax.text(
                    (x0 + x1) / 2 - (0.12 if steep else 0.0),
                    (y0 + y1) / 2 + (0.0 if steep else -0.15 if below else 0.1),
                    f"∂{n.name}/∂{p} = {_fmt(graph.local[(n.name, p)])}",
                    ha="right" if steep else "center",
                    va="center" if steep else "top" if below else "bottom",
                    fontsize=8,
                    color=Palette.PURPLE.value,
                    gid=f"local:{n.name}/{p}",
                )
    ax.set_xlim(*_limits(pos)[0])
    ax.set_ylim(*_limits(pos)[1])
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def texts_by_gid(ax) -> dict[str, str]:
    """Return the graph's labels keyed by ``value:<node>``, ``grad:<node>``, ``local:<c>/<p>``.

    Lets tests and widgets read what :func:`plot_computation_graph` drew.
    Introduced in C2_W2_Backprop.
    """
    return {t.get_gid(): t.get_text() for t in ax.texts if t.get_gid()}


class BackpropQuiz:
    """Hold a back-propagation exercise: a drawing, one answer box per quantity, and checks.

    Attributes:
        graph: the :class:`ComputationGraph` being practised.
        answers: ``name -> correct value`` (``"a"``, ``"J"``, ``"dJ/da"``, ...).
        inputs: ``name -> ipywidgets.Text`` answer box.
        status: ``name -> ipywidgets.HTML`` showing ✓ or ✗.
        fig, ax: the matplotlib drawing (shown in the widget as a PNG).
        widget: the ipywidgets box to display.
    """

    def __init__(self, graph: ComputationGraph, *, rel_tol: float = 1e-2, abs_tol: float = 0.0):
        import ipywidgets as widgets

        self.graph = graph
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol
        self.answers = graph.quiz_answers()
        # A plain Figure (not pyplot) so the notebook backend does not display it twice.
        self.fig = Figure(figsize=graph_figsize(graph), layout="constrained")
        self.ax = self.fig.add_subplot()
        self.image = widgets.Image(format="png")
        self.inputs: dict[str, widgets.Text] = {}
        self.status: dict[str, widgets.HTML] = {}
        rows = []
        for name in self.answers:
            box = widgets.Text(
                value="",
                placeholder="your answer",
                continuous_update=False,
                layout=widgets.Layout(width="9em"),
            )
            mark = widgets.HTML(value="", layout=widgets.Layout(width="9em"))
            box.observe(lambda change, name=name: self._check(name), names="value")
            self.inputs[name] = box
            self.status[name] = mark
            rows.append(
                widgets.HBox(
                    [
                        widgets.Label(self._describe(name), layout=widgets.Layout(width="16em")),
                        box,
                        mark,
                    ]
                )
            )
        self.reveal_button = widgets.Button(description="Reveal answers")
        self.hide_button = widgets.Button(description="Hide answers")
        self.reveal_button.on_click(lambda _: self.reveal())
        self.hide_button.on_click(lambda _: self.hide())
        self.widget = widgets.VBox(
            [self.image, *rows, widgets.HBox([self.reveal_button, self.hide_button])]
        )
        self._draw(revealed=False)

    def _describe(self, name: str) -> str:
        if "/" in name:
            top, bottom = name[1:].split("/d", 1)
            return f"∂{top}/∂{bottom} ="
        return f"{name} (forward value) ="

    def _draw(self, *, revealed: bool) -> None:
        self.ax.clear()
        plot_computation_graph(
            self.graph, ax=self.ax, show_values=revealed, show_derivatives=revealed
        )
        buffer = io.BytesIO()
        self.fig.savefig(buffer, format="png", dpi=90)
        self.image.value = buffer.getvalue()

    def judge(self, name: str) -> bool | None:
        """Return True/False for the entry in box ``name``, or None while it is empty.

        A whole-number answer must be typed exactly (121, not 120 or 122); any other answer
        is right within ``rel_tol`` / ``abs_tol``.
        """
        text = self.inputs[name].value.strip()
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            return False
        answer = self.answers[name]
        if float(answer).is_integer():
            return value == answer
        return math.isclose(value, answer, rel_tol=self.rel_tol, abs_tol=self.abs_tol)

    @property
    def results(self) -> dict[str, bool | None]:
        """Return ``name -> judge(name)`` for every box."""
        return {name: self.judge(name) for name in self.inputs}

    def _check(self, name: str) -> None:
        verdict = self.judge(name)
        box, mark = self.inputs[name], self.status[name]
        if verdict is None:
            mark.value = ""
            box.layout.border = None
            return
        colour = (Palette.GREEN if verdict else Palette.DARK_RED).value
        if verdict:
            symbol = "✓ right"
        else:
            try:
                float(box.value)
                symbol = "✗ try again"
            except ValueError:
                symbol = "✗ not a number"
        mark.value = f'<span style="color:{colour}; font-weight:bold">{symbol}</span>'
        box.layout.border = f"2px solid {colour}"

    def reveal(self) -> None:
        """Fill every box with its answer and label the drawing with all values."""
        for name, value in self.answers.items():
            self.inputs[name].value = f"{value:g}"
        self._draw(revealed=True)

    def hide(self) -> None:
        """Clear every box and remove the values from the drawing."""
        for box in self.inputs.values():
            box.value = ""
        self._draw(revealed=False)


def backprop_quiz(graph: ComputationGraph, **tolerances) -> BackpropQuiz:
    """Return a :class:`BackpropQuiz` for ``graph``; display its ``.widget``.

    Whole-number answers must be exact; others are judged right within ``rel_tol`` (default
    0.01) and ``abs_tol`` (default 0).
    Introduced in C2_W2_Backprop.
    """
    if not isinstance(graph, ComputationGraph):
        raise TypeError("graph must come from simple_graph(), network_graph() or build_graph()")
    return BackpropQuiz(graph, **tolerances)
