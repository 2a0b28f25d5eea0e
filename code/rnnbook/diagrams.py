"""Diagrams of an unrolled recurrent layer, drawn from what it returned.

A diagram of "outputs versus state" is a grid of boxes: one column per
step ``t = 1 .. T``, one row per state (``h``, and ``c`` for an LSTM) of
each layer and direction, the inputs ``x_t`` below and the returned
per-step outputs above. This module never lets a caller *say* which box a
returned tensor holds; it finds out by comparing values:

1. :func:`unroll` runs the NumPy reference one step at a time and keeps
   every box: an :class:`Unrolled` of shape ``(L, K, N, T, H)``
   (layers, directions, sequences, steps, units). A cell loop of your own
   can fill an :class:`Unrolled` just as well.
2. :func:`match_returns` takes those boxes and the tensors a framework
   returned (``{"output": ..., "h_n": ...}``) and finds, for every
   returned vector, the one box it equals within ``atol`` (or
   :data:`ZERO`). A vector that equals no box, or two, is a ``ValueError``
   that names the tensor and the index; so is, by default, a vector that
   sits where the framework's layout says it cannot (``h_n[0]`` of a
   bidirectional PyTorch layer equal to a backward state).
3. :func:`draw_unrolled` draws the :class:`Matched` result, and
   :func:`describe` says in words what the figure shows (its alt text).

So a figure that would put a tensor's name on the wrong box cannot be
drawn. Steps, layers and sequences in boxes, figures and descriptions are
counted from 1, as in the book's prose; indices into arrays are Python's.

A PyTorch two-layer bidirectional LSTM, for example::

    states = unroll(lstm_forward, x, [(fw1, bw1), (fw2, bw2)])
    matched = match_returns(
        states, {"output": output, "h_n": h_n, "c_n": c_n}, "torch"
    )
    assert matched["h_n"][-1, 0] == Box("h", 1, 1, 2, "backward")
    fig = draw_unrolled(matched, sequences=[0])
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .checks import check_lengths, check_sequences

__all__ = [
    "Box",
    "ZERO",
    "Unrolled",
    "unroll",
    "Matched",
    "match_returns",
    "draw_unrolled",
    "describe",
]

DIRECTIONS = ("forward", "backward")

#: The frameworks whose names the diagrams use, and how they are called.
FRAMEWORKS = {
    "reference": "the NumPy reference",
    "tf1": "TensorFlow 1 (dynamic_rnn)",
    "keras": "Keras",
    "torch": "PyTorch",
}

# Returned names each framework may use, and what each holds:
# "sequence" (N, T, .), "vectors" (N, .) or "stack" (L*K, N, .).
_TF1_SEQUENCE = re.compile(r"outputs(\[[01]\])?|output_(fw|bw)")
_TF1_STATE = re.compile(
    r"(state|output_states\[[01]\]|output_state_(fw|bw))"
    r"(\[-?\d+\])?(\.[hc])?"
)
_KERAS = {"seq", "output", "h", "c"} | {
    f"{d}_{s}" for d in DIRECTIONS for s in "hc"
}
_NAMES_HELP = {
    "reference": "outputs (N, T, H), h_n and c_n (N, H)",
    "tf1": (
        "outputs, output_fw, output_bw (N, T, H); state, state.h, "
        "state.c, state[k].h, output_state_fw.h, ... (N, H)"
    ),
    "keras": (
        "seq (N, T, H); output (N, T, H) or (N, H); h, c, forward_h, "
        "forward_c, backward_h, backward_c (N, H)"
    ),
    "torch": "output (N, T, K*H), h_n and c_n (L*K, N, H)",
}

_MAX_STEPS = 12
_MAX_PANELS = 4


# --------------------------------------------------------------------------
# What a returned vector can equal
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """One box of the unrolled network: a state after one step.

    Attributes:
        state: ``"h"`` (hidden state) or ``"c"`` (LSTM cell state).
        step: ``t`` in ``1 .. T``, the input step the state was computed
            at. A backward direction's final state is at step 1.
        sequence: which sequence of the batch, ``1 .. N``.
        layer: ``1 .. L``, counted from the input.
        direction: ``"forward"`` or ``"backward"``.
    """

    state: str
    step: int
    sequence: int = 1
    layer: int = 1
    direction: str = "forward"

    def symbol(self) -> str:
        """The box's label in a figure, as mathtext: ``$h_{3}$``."""
        return f"${self.state}_{{{self.step}}}$"

    def __str__(self) -> str:
        return (
            f"{self.state}_{self.step} of sequence {self.sequence} "
            f"(layer {self.layer}, {self.direction})"
        )


class _Zero:
    """The marker a returned vector matches when it is all zeros."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ZERO"

    __str__ = __repr__

    def __reduce__(self):
        return (_Zero, ())


#: What a returned vector of zeros matches (a framework's padded output).
ZERO = _Zero()


# --------------------------------------------------------------------------
# Every box of the unrolled network
# --------------------------------------------------------------------------


class Unrolled(NamedTuple):
    """Every state of an unrolled recurrent network.

    Attributes:
        h: hidden states, shape (L, K, N, T, H): layer, direction (0
            forward, 1 backward), sequence, step, unit. ``h[l, k, n, t]``
            is the state after step ``t + 1``. NaN marks a box that was
            never computed (a padded step of a layer told the lengths).
        c: LSTM cell states, shape (L, K, N, T, H_c), or ``None``.
        cell: the cell's name for figures and text (``"LSTM"``).
    """

    h: np.ndarray
    c: np.ndarray | None = None
    cell: str = "RNN"


def _cell_name(forward) -> str:
    names = {
        "rnn_forward": "Elman RNN",
        "lstm_forward": "LSTM",
        "gru_forward": "GRU",
    }
    return names.get(getattr(forward, "__name__", ""), "RNN")


def _step_by_step(forward, x, weights):
    """Run ``forward`` one step at a time over every step of ``x``.

    Returns ``(h, c)``: the states after each step, (N, T, H) each;
    ``c`` is ``None`` for a cell with one state.
    """
    state, hs, cs = None, [], []
    for t in range(x.shape[1]):
        _, state = forward(x[:, t : t + 1], weights, initial_state=state)
        h, c = state if isinstance(state, tuple) else (state, None)
        hs.append(h)
        cs.append(c)
    c = None if cs[0] is None else np.stack(cs, axis=1)
    return np.stack(hs, axis=1), c


def _reverse_valid(a, lengths):
    """Reverse each row's first ``lengths[n]`` steps; padding stays put."""
    out = a.copy()
    for n, length in enumerate(lengths):
        out[n, :length] = a[n, :length][::-1]
    return out


def _one_direction(forward, x, weights, lengths, backward, told):
    """States of one direction, (N, T, H) each, NaN where never computed."""
    if backward:
        x = _reverse_valid(x, lengths)
    h, c = _step_by_step(forward, x, weights)
    if backward:
        h = _reverse_valid(h, lengths)
        c = None if c is None else _reverse_valid(c, lengths)
    if told:
        padded = np.arange(x.shape[1])[None, :] >= lengths[:, None]
        h = np.where(padded[..., None], np.nan, h)
        c = None if c is None else np.where(padded[..., None], np.nan, c)
    return h, c


def _directions_of(layers):
    """Each layer's weights as a tuple: (forward,) or (forward, backward)."""
    if isinstance(layers, tuple) and hasattr(layers, "_fields"):
        layers = [layers]  # one weights tuple: one layer, one direction
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError(
            "layers must be a list with one entry per layer: the layer's "
            "weights, or a pair (forward weights, backward weights)"
        )
    out = []
    for number, entry in enumerate(layers, start=1):
        if hasattr(entry, "_fields"):
            out.append((entry,))
        elif (
            isinstance(entry, (list, tuple))
            and len(entry) in (1, 2)
            and all(hasattr(w, "_fields") for w in entry)
        ):
            out.append(tuple(entry))  # (forward,): rnnbook.convert's stacks
        else:
            raise ValueError(
                f"layer {number} must be a weights tuple (e.g. LSTMWeights), "
                f"a pair (forward, backward) of them, or (forward,); got "
                f"{type(entry).__name__}"
            )
    if len({len(entry) for entry in out}) != 1:
        raise ValueError(
            "every layer must have the same number of directions: "
            "all single weights, or all (forward, backward) pairs"
        )
    return out


def unroll(forward, x, layers, lengths=None) -> Unrolled:
    """Run the NumPy reference step by step and keep every box.

    Args:
        forward: :func:`rnnbook.rnn_forward`, :func:`rnnbook.lstm_forward`
            or :func:`rnnbook.gru_forward` (or a function with their
            contract).
        x: inputs, shape (N, T, D).
        layers: one entry per layer, from the input up: the layer's weights
            (one direction) or a pair ``(forward, backward)`` of weights
            (``(forward,)`` is one direction too, so the stacks of
            :mod:`rnnbook.convert`, ``lstm_stack_from_torch(...)``, fit
            as they are). Layer ``l + 1`` reads layer ``l``'s ``h_t``
            (both directions, concatenated, for two).
        lengths: valid steps per sequence, shape (N,). ``None``: every
            step is data, padding included (a layer not told the lengths;
            a backward direction then starts at step ``T``). Given: the
            layer is told the lengths; a backward direction starts at each
            sequence's last valid step, and padded boxes are NaN.

    Returns:
        An :class:`Unrolled` with ``h`` (and ``c``) of shape
        (L, K, N, T, H).
    """
    if not callable(forward):
        raise ValueError(
            "forward must be a reference forward function such as "
            f"rnnbook.lstm_forward; got {type(forward).__name__}"
        )
    x = check_sequences(x)
    told = lengths is not None
    lengths = check_lengths(lengths, x.shape[0], x.shape[1])
    h_layers, c_layers = [], []
    for directions in _directions_of(layers):
        runs = [
            _one_direction(forward, x, w, lengths, k == 1, told)
            for k, w in enumerate(directions)
        ]
        h_layers.append(np.stack([h for h, _ in runs]))
        if runs[0][1] is not None:
            c_layers.append(np.stack([c for _, c in runs]))
        x = np.nan_to_num(np.concatenate([h for h, _ in runs], axis=-1))
    c = np.stack(c_layers) if c_layers else None
    return Unrolled(np.stack(h_layers), c, _cell_name(forward))


def _check_states(states) -> Unrolled:
    """Return ``states`` as an :class:`Unrolled` with rank-5 arrays."""
    if not isinstance(states, Unrolled):
        raise ValueError(
            "states must be an Unrolled (from rnnbook.diagrams.unroll, or "
            f"built from a cell loop); got {type(states).__name__}"
        )
    h = np.asarray(states.h, dtype=np.float64)
    if h.ndim == 3:  # (N, T, H): one layer, one direction
        h = h[None, None]
    if h.ndim != 5 or h.shape[1] not in (1, 2) or 0 in h.shape:
        raise ValueError(
            "states.h must have shape (L, K, N, T, H) = (layers, "
            "directions (1 or 2), sequences, steps, units), or (N, T, H) "
            f"for one layer and direction; got {np.shape(states.h)}"
        )
    c = states.c
    if c is not None:
        c = np.asarray(c, dtype=np.float64)
        if c.ndim == 3:
            c = c[None, None]
        if c.ndim != 5 or c.shape[:4] != h.shape[:4]:
            raise ValueError(
                f"states.c must have shape (L, K, N, T, H_c) with (L, K, N, "
                f"T) = {h.shape[:4]} as in states.h; got {np.shape(states.c)}"
            )
    return Unrolled(h, c, str(states.cell))


# --------------------------------------------------------------------------
# Matching returned tensors to boxes
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Matched:
    """Which box every returned vector equals, found by :func:`match_returns`.

    ``matched[name]`` is an object array of :class:`Box` (or :data:`ZERO`)
    indexed like the returned tensor without its unit axis, plus a last
    axis of 2 (forward half, backward half) when that axis held both
    directions: ``matched["h_n"][1, 0]`` is the box ``h_n[1, 0]`` equals,
    ``matched["output"][0, -1, 1]`` the box of ``output[0, -1, H:]``.
    """

    framework: str
    states: Unrolled
    lengths: np.ndarray
    told_lengths: bool
    kinds: dict
    boxes: dict
    time_major: bool = False

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.boxes:
            raise KeyError(
                f"no returned tensor named {name!r}; the names are "
                f"{sorted(self.boxes)}"
            )
        return self.boxes[name]

    def __iter__(self):
        return iter(self.boxes)


def _check_framework(framework) -> str:
    if framework not in FRAMEWORKS:
        raise ValueError(
            f"framework must be one of {sorted(FRAMEWORKS)}; got {framework!r}"
        )
    return framework


def _check_atol(atol) -> float:
    ok = isinstance(atol, (int, float, np.floating, np.integer))
    if not ok or isinstance(atol, bool) or not math.isfinite(atol):
        raise ValueError(f"atol must be a finite number; got {atol!r}")
    if not 0 <= atol < 0.1:
        raise ValueError(
            "atol must be in [0, 0.1): a tolerance that large cannot tell "
            f"one state from another; got {atol!r}"
        )
    return float(atol)


def _kind(framework: str, name, rank: int) -> str:
    """What a returned tensor holds: sequence, vectors or stack."""
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"returned names must be non-empty strings; got {name!r}"
        )
    if framework == "torch":
        kind = {"output": "sequence", "h_n": "stack", "c_n": "stack"}
    elif framework == "reference":
        kind = {"outputs": "sequence", "h_n": "vectors", "c_n": "vectors"}
    elif framework == "tf1":
        kind = {}
        if _TF1_SEQUENCE.fullmatch(name):
            kind[name] = "sequence"
        elif _TF1_STATE.fullmatch(name):
            kind[name] = "vectors"
    else:
        by_rank = {3: "sequence", 2: "vectors"}
        fixed = {"seq": "sequence", "output": by_rank.get(rank, "vectors")}
        kind = {k: fixed.get(k, "vectors") for k in _KERAS}
    if name not in kind:
        raise ValueError(
            f"{FRAMEWORKS[framework]} returns no tensor named {name!r}; "
            f"the names are: {_NAMES_HELP[framework]}"
        )
    return kind[name]


def _as_array(name, value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"returned[{name!r}] must be an array of numbers; got "
            f"{type(value).__name__}"
        ) from error
    return array


def _expected_shape(kind, states, time_major):
    """The expected shape, without the unit axis, and its description."""
    n_layers, n_dirs, batch, steps, _ = states.h.shape
    if kind == "sequence":
        if time_major:
            return (steps, batch), "(T, N, units)"
        return (batch, steps), "(N, T, units)"
    if kind == "stack":
        return (n_layers * n_dirs, batch), "(L*K, N, units)"
    return (batch,), "(N, units)"


def _check_returned(name, array, kind, states, time_major):
    """Check a returned tensor's shape; return its number of halves."""
    lead, layout = _expected_shape(kind, states, time_major)
    units = array.shape[-1] if array.ndim else 0
    sizes = {states.h.shape[-1]}
    if states.c is not None:
        sizes.add(states.c.shape[-1])
    halves = 2 if states.h.shape[1] == 2 else 1
    allowed = sorted(sizes | {halves * states.h.shape[-1]})
    if array.shape[:-1] != lead or units not in allowed:
        raise ValueError(
            f"returned[{name!r}] must have shape {layout} = "
            f"{lead + ('units',)} with units in {allowed} (H, or K*H for "
            f"both directions side by side); got {array.shape}"
        )
    two = halves == 2 and units == 2 * states.h.shape[-1]
    return 2 if two and units not in sizes else 1


class _Table(NamedTuple):
    values: np.ndarray  # (M, units)
    boxes: list  # M Boxes


def _tables(states) -> dict:
    """All computed boxes, grouped by vector length: units -> _Table."""
    tables = {}
    for letter, array in (("h", states.h), ("c", states.c)):
        if array is None:
            continue
        n_layers, n_dirs, batch, steps, units = array.shape
        values, boxes = tables.get(units, ([], []))
        for index in np.ndindex(n_layers, n_dirs, batch, steps):
            if np.isnan(array[index]).any():
                continue  # never computed: a padded step of a told layer
            layer, k, n, t = index
            values.append(array[index])
            boxes.append(Box(letter, t + 1, n + 1, layer + 1, DIRECTIONS[k]))
        tables[units] = (values, boxes)
    return {
        units: _Table(np.array(v).reshape(len(v), units), b)
        for units, (v, b) in tables.items()
    }


def _index_text(name, index, halves, half) -> str:
    parts = [str(i) for i in index]
    if halves == 2:
        parts.append(":H" if half == 0 else "H:")
    where = ", ".join(parts)
    which = "" if halves == 1 else f" (the {DIRECTIONS[half]} half)"
    return f"{name}[{where}]{which}"


def _match_vector(vector, table, atol, label):
    """The one box (or ZERO) that ``vector`` equals within ``atol``."""
    found = []
    if np.all(np.abs(vector) <= atol):
        found.append(ZERO)
    gaps = np.full(len(table.boxes), np.inf)
    if table.boxes:
        gaps = np.abs(table.values - vector).max(axis=1)
        found += [table.boxes[i] for i in np.flatnonzero(gaps <= atol)]
    if len(found) == 1:
        return found[0]
    if not found:
        nearest = int(np.argmin(gaps)) if table.boxes else None
        hint = (
            ""
            if nearest is None
            else f" (the nearest, {table.boxes[nearest]}, differs by "
            f"{gaps[nearest]:.3g})"
        )
        raise ValueError(
            f"{label} matches no box of the unrolled network within "
            f"atol={atol:g}{hint}: it is none of the states given, or they "
            "were computed differently (lengths, directions, weights)"
        )
    raise ValueError(
        f"{label} matches more than one box within atol={atol:g}: "
        f"{', '.join(map(str, found))}; lower atol or use inputs whose "
        "states differ"
    )


def _match_tensor(name, array, halves, tables, atol):
    units = array.shape[-1] // halves
    lead = array.shape[:-1]
    out = np.empty(lead + ((2,) if halves == 2 else ()), dtype=object)
    for index in np.ndindex(*lead):
        for half in range(halves):
            vector = array[index][half * units : (half + 1) * units]
            label = _index_text(name, index, halves, half)
            box = _match_vector(
                vector, tables.get(units, _Table(None, [])), atol, label
            )
            out[index + ((half,) if halves == 2 else ())] = box
    return out


# --------------------------------------------------------------------------
# The layout each framework documents (checked when strict)
# --------------------------------------------------------------------------


def _tf1_parts(name):
    """TF1 name -> (direction or None, layer index or None, state letter)."""
    direction = None
    if re.match(r"(outputs|output_states)\[0\]|output(_state)?_fw", name):
        direction = "forward"
    elif re.match(r"(outputs|output_states)\[1\]|output(_state)?_bw", name):
        direction = "backward"
    layer = re.search(r"(?<!output_states)\[(-?\d+)\](\.[hc])?$", name)
    if name.startswith("outputs"):
        layer = None
    letter = "c" if name.endswith(".c") else "h"
    return direction, None if layer is None else int(layer.group(1)), letter


def _documented(framework, name, kind, row, half, n_layers, n_dirs):
    """What the framework's layout says one returned vector holds.

    Returns a dict with some of ``state``, ``layer`` and ``direction``.
    ``row`` indexes a stack's first axis (PyTorch ``h_n[row]``); ``half``
    is the half of a 2H unit axis, or ``None``.
    """
    want = {}
    if half is not None:
        want["direction"] = DIRECTIONS[half]
    elif n_dirs == 1:
        want["direction"] = "forward"
    if kind == "sequence" or name == "output":
        want.update(state="h", layer=n_layers)
    if framework == "torch" and kind == "stack":
        want.update(
            state=name[0],
            layer=row // n_dirs + 1,
            direction=DIRECTIONS[row % n_dirs],
        )
    elif framework == "reference" and kind == "vectors":
        want["state"] = name[0]  # h_n, c_n
    elif framework == "keras" and kind == "vectors":
        if name != "output":
            want["state"] = name[-1]  # h, c, forward_h, backward_c
        if name.startswith(DIRECTIONS):
            want["direction"] = name.split("_")[0]
    elif framework == "tf1":
        direction, layer, letter = _tf1_parts(name)
        if direction:
            want["direction"] = direction
        if kind == "vectors":
            want["state"] = letter
            if layer is not None:
                want["layer"] = layer % n_layers + 1
            elif n_layers == 1:
                want["layer"] = 1
    return want


def _want_text(want, sequence, step, n_dirs) -> str:
    """``"the backward h of layer 1 of sequence 2 at step 1"``."""
    words = ["the"]
    if n_dirs > 1 and "direction" in want:
        words.append(want["direction"])
    words.append(want.get("state", "state"))
    text = " ".join(words)
    if "layer" in want:
        text += f" of layer {want['layer']}"
    text += f" of sequence {sequence}"
    return text + ("" if step is None else f" at step {step}")


def _check_layout(framework, name, kind, boxes, states, lengths, told):
    """Raise unless every box sits where the framework's layout says.

    Per-step tensors: step ``t`` of sequence ``n`` holds that step's state
    (at a padded step: zero, the state from the padding, or a repeat of
    the last valid step). Final states: a state of their own sequence, of
    the documented layer, direction, ``h`` or ``c``.
    """
    n_layers, n_dirs = states.h.shape[:2]
    halves = boxes.shape[-1] if boxes.ndim > _lead_rank(kind) else 1
    for index in np.ndindex(*boxes.shape):
        box = boxes[index]
        half = index[-1] if halves == 2 else None
        lead = index[:-1] if halves == 2 else index
        row = lead[0] if kind == "stack" else None
        n = lead[1] if kind == "stack" else lead[0]
        t = lead[1] if kind == "sequence" else None
        want = _documented(framework, name, kind, row, half, n_layers, n_dirs)
        padded = t is not None and told and t >= lengths[n]
        steps = set() if t is None else {t + 1}
        if padded:  # zero, the state from the padding, or a repeat
            steps.add(lengths[n])
        ok = (box is ZERO and padded) or (
            isinstance(box, Box)
            and box.sequence == n + 1
            and all(getattr(box, k) == v for k, v in want.items())
            and (t is None or box.step in steps)
        )
        if not ok:
            label = _index_text(name, index[: len(lead)], halves, half)
            step = None if t is None else t + 1
            there = _want_text(want, n + 1, step, n_dirs)
            raise ValueError(
                f"{label} equals {box}, but {FRAMEWORKS[framework]} puts "
                f"{there} there: these tensors are not laid out as that "
                "framework returns them (rows swapped, another batch "
                "order, another call?); pass strict=False to draw them as "
                "they are"
            )


def _lead_rank(kind) -> int:
    return 1 if kind == "vectors" else 2


def match_returns(
    states,
    returned: dict,
    framework: str,
    lengths=None,
    atol: float = 1e-5,
    time_major: bool = False,
    strict: bool = True,
) -> Matched:
    """Find the box of the unrolled network that each returned vector equals.

    Args:
        states: an :class:`Unrolled`, ``h`` (and ``c``) of shape
            (L, K, N, T, H), e.g. from :func:`unroll`.
        returned: the framework's tensors by name, e.g. ``{"output": (N,
            T, K*H), "h_n": (L*K, N, H), "c_n": ...}`` (PyTorch),
            ``{"outputs": (N, T, H), "state.h": (N, H), "state.c": ...}``
            (TF1), ``{"seq": (N, T, H), "h": (N, H), "c": ...}`` (Keras).
            NumPy arrays, or tensors NumPy can read. A unit axis of 2H
            holds both directions: its halves are matched one by one.
        framework: ``"reference"``, ``"tf1"``, ``"keras"`` or ``"torch"``:
            which names ``returned`` may use.
        lengths: valid steps per sequence, shape (N,): marks the padded
            steps in the figure and the text. ``None``: no padding.
        atol: two vectors are equal when no entry differs by more.
        time_major: the sequence tensors are (T, N, units), not (N, T, ...).
        strict: also check that every vector sits where the framework's
            layout puts it (``h_n[k]`` of PyTorch is layer ``k // K + 1``,
            direction ``k % K``; ``state.c`` is a ``c``; a per-step tensor
            holds its own sequence's step ``t`` at step ``t``), so that
            swapped or reordered tensors are an error. ``False`` draws
            whatever the tensors hold.

    Returns:
        A :class:`Matched`: ``matched[name]`` holds a :class:`Box` or
        :data:`ZERO` per returned vector, indexed like the tensor.

    Raises:
        ValueError: a bad argument, or a returned vector that equals no
            box (or more than one); the message names the tensor and index.
    """
    framework = _check_framework(framework)
    states = _check_states(states)
    atol = _check_atol(atol)
    _, _, batch, steps, _ = states.h.shape
    told = lengths is not None
    lengths = check_lengths(lengths, batch, steps)
    if not isinstance(returned, dict) or not returned:
        raise ValueError(
            "returned must be a non-empty dict {name: array}, e.g. "
            '{"output": output, "h_n": h_n}'
        )
    tables = _tables(states)
    kinds, boxes = {}, {}
    for name, value in returned.items():
        array = _as_array(name, value)
        kinds[name] = _kind(framework, name, array.ndim)
        halves = _check_returned(name, array, kinds[name], states, time_major)
        boxes[name] = _match_tensor(name, array, halves, tables, atol)
        if strict:
            found = boxes[name]
            if time_major and kinds[name] == "sequence":
                found = np.swapaxes(found, 0, 1)
            _check_layout(
                framework, name, kinds[name], found, states, lengths, told
            )
    return Matched(
        framework, states, lengths, told, kinds, boxes, bool(time_major)
    )


# --------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------

INK = "#1a1a1a"
GREY = "#6b6b6b"
# Okabe-Ito colours. Each kind also has its own line style or hatch, so
# the figure reads the same in grey scale and to colour-blind readers.
STYLE = {
    "x": dict(face="white", edge=GREY, line="solid", hatch=None),
    "h": dict(face="#d6e9f8", edge="#0072B2", line="solid", hatch=None),
    "c": dict(face="#fbe0cc", edge="#D55E00", line="dashed", hatch=None),
    "out": dict(face="#d3f0e5", edge="#009E73", line="solid", hatch=None),
    "zero": dict(face="white", edge=GREY, line="dotted", hatch="////"),
    "pad": dict(face="#efefef", edge="#b5b5b5", line="solid", hatch="///"),
}
FONT = 10  # points: at most 7.5 in wide, this is >= 10 px at 700 px
SYMBOL_FONT = 12  # box labels, so that their subscripts stay legible
BOX_W = 0.74  # in columns (one column per step)
CELL_H = 0.44
X_H = 0.36
MAX_WIDTH = 7.2  # inches
MAX_SCALE = 0.75  # inches per column
MIN_SCALE = 0.55  # panels go side by side only while this fits
HATCH = "////"
HATCH_COLOR = "#9a9a9a"
TAG_IN = 0.24  # the height of a tag, in inches


class _Panel(NamedTuple):
    """Where one sequence's diagram sits: its rows' y and its first x."""

    n: int
    rows: dict  # ("x",), ("state", layer, k) or ("out", name) -> y
    x0: float  # step t (from 1) is centred at x0 + t
    bottom: float
    top: float
    labelled: bool  # the leftmost panels carry the row labels


def _patch(kind, x, y, w, h, **override):
    """A rounded box centred at (x, y) in the style of ``kind``."""
    from matplotlib.patches import FancyBboxPatch

    style = {**STYLE[kind], **override}
    return FancyBboxPatch(
        (x - w / 2, y - h / 2),
        w,
        h,
        boxstyle="round,pad=0,rounding_size=0.05",
        facecolor=style["face"],
        edgecolor=style["edge"],
        linestyle=style["line"],
        hatch=style["hatch"],
        hatchcolor=HATCH_COLOR,
        linewidth=style.get("lw", 1.3),
        zorder=style.get("zorder", 3),
    )


class _Drawing:
    """One figure under construction: its geometry and drawing steps.

    Coordinates: one unit is one step's column; panels (one per sequence)
    sit in a grid, as many side by side as fit at a legible size.
    """

    PANEL_GAP = 0.45

    def __init__(self, matched: Matched, sequences: list):
        self.m = matched
        self.layers, self.dirs, _, self.steps, _ = matched.states.h.shape
        self.lstm = matched.states.c is not None
        self.box_h = 0.7 if self.lstm else 0.48
        self.outputs = [
            name for name, kind in matched.kinds.items() if kind == "sequence"
        ]
        chars = max(len(line) for line in self._all_label_lines())
        self.label_in = 0.08 * chars + 0.25
        tagged = [_tags_and_notes(matched, n)[0] for n in sequences]
        tags = [", ".join(names) for t in tagged for names in t.values()]
        self.c_tags = any(box.state == "c" for t in tagged for box in t)
        self.tag_in = max([0.085 * len(tag) + 0.1 for tag in tags] + [0])
        self.columns, self.scale = self._grid(len(sequences))
        self.panels = self._place(sequences)

    def units(self, inches: float) -> float:
        """A length given in inches, in the figure's units (columns)."""
        return inches / self.scale

    def _all_label_lines(self):
        keys = [("x",)] + [("out", name) for name in self.outputs]
        keys += [
            ("state", layer, k)
            for layer in range(self.layers)
            for k in range(self.dirs)
        ]
        return [
            line for key in keys for line in self.row_label(key).split("\n")
        ]

    def _grid(self, count):
        """(panels per row, inches per column): the most that stay legible."""
        width = self.steps + 0.6
        halves = any(
            self.m[name].ndim == 3 and self.m[name].shape[-1] == 2
            for name in self.outputs
        )
        least = MIN_SCALE * (1.4 if halves else 1.0)  # half cells are small
        least = max(least, self.tag_in / 2.2)  # a tag spans < 2.2 columns
        for columns in range(count, 0, -1):
            units = columns * width + (columns - 1) * self.PANEL_GAP
            scale = (MAX_WIDTH - self.label_in) / units
            if scale >= least or columns == 1:
                return columns, min(MAX_SCALE, scale)
        raise AssertionError("unreachable")

    def _place(self, sequences):
        width = self.steps + 0.6 + self.PANEL_GAP
        grid_rows = math.ceil(len(sequences) / self.columns)
        height = self._rows(0)[1] + self.PANEL_GAP
        panels = []
        for i, n in enumerate(sequences):
            row, column = divmod(i, self.columns)
            bottom = (grid_rows - 1 - row) * height
            rows, top = self._rows(bottom)
            panels.append(
                _Panel(n, rows, column * width, bottom, top, column == 0)
            )
        self.top = grid_rows * height - self.PANEL_GAP
        return panels

    def _rows(self, bottom):
        """The y of each row of a panel whose bottom is at ``bottom``.

        The gaps between rows are set in inches: each holds the tags
        (10 pt) that may sit in it, whatever the figure's scale.
        """
        tag = TAG_IN + 0.06
        rows = {("x",): bottom + X_H / 2 + 0.1}
        below = tag if self.c_tags else 0.0  # c tags hang below their box
        y = rows[("x",)] + X_H / 2 + self.units(below + 0.22)
        y += self.box_h / 2
        between = self.units(tag + below + 0.1)
        for layer in range(self.layers):
            for k in range(self.dirs):
                rows[("state", layer, k)] = y
                y += self.box_h + between
        y -= between + self.box_h / 2
        for name in self.outputs:
            y += self.units(tag + 0.18) + CELL_H / 2
            rows[("out", name)] = y
            tag = 0.12  # only the arrows pass between two output rows
            y += CELL_H / 2
        return rows, y + 0.1 + self.title_h()

    def title_h(self) -> float:
        return self.units(0.34) if self._has_titles() else 0.05

    # -- questions about the boxes -----------------------------------------

    def x(self, panel, t) -> float:
        """The centre of step ``t + 1``'s column in ``panel``."""
        return panel.x0 + t + 1

    def state_y(self, panel, box) -> float:
        """Centre of the h (or c) half of ``box``'s row in ``panel``."""
        key = ("state", box.layer - 1, DIRECTIONS.index(box.direction))
        if not self.lstm:
            return panel.rows[key]
        sign = 1 if box.state == "h" else -1
        return panel.rows[key] + sign * self.box_h / 4

    def half_h(self) -> float:
        """Half the height of one state's box (h or c)."""
        return self.box_h / (4 if self.lstm else 2)

    def computed(self, layer, k, n, t) -> bool:
        return not np.isnan(self.m.states.h[layer, k, n, t]).any()

    def padded(self, n, t) -> bool:
        return self.m.told_lengths and t >= self.m.lengths[n]

    def _has_titles(self) -> bool:
        return self.m.states.h.shape[2] > 1 or self.m.told_lengths

    def title(self, n) -> str:
        if not self._has_titles():
            return ""
        title = f"sequence {n + 1}"
        if self.m.told_lengths:
            title += f" (length {self.m.lengths[n]})"
        return title

    def row_label(self, key) -> str:
        if key[0] == "x":
            return "input"
        if key[0] == "out":
            return key[1]
        _, layer, k = key
        lines = [f"layer {layer + 1}"] if self.layers > 1 else []
        if self.dirs > 1:
            lines.append("forward →" if k == 0 else "← backward")
        return "\n".join(lines) if lines else "state"

    # -- primitives --------------------------------------------------------

    def text(self, x, y, text, size=FONT, backed=False, **kw):
        if backed:  # keep a label readable over a hatched box
            kw["bbox"] = dict(
                boxstyle="round,pad=0.1", facecolor="white", edgecolor="none"
            )
        kw.setdefault("ha", "center")
        kw.setdefault("va", "center")
        kw.setdefault("zorder", 5)
        return self.ax.text(x, y, text, fontsize=size, color=INK, **kw)

    def arrow(self, points, color=GREY, line="solid", zorder=1):
        from matplotlib.patches import FancyArrowPatch
        from matplotlib.path import Path

        self.ax.add_patch(
            FancyArrowPatch(
                path=Path(points),
                arrowstyle="-|>",
                mutation_scale=9,
                color=color,
                linewidth=1.1,
                linestyle=line,
                zorder=zorder,
            )
        )

    # -- the parts of a panel ----------------------------------------------

    def draw_padding(self, panel):
        height = panel.top - panel.bottom - self.title_h()
        for t in range(self.steps):
            if self.padded(panel.n, t):
                self.ax.add_patch(
                    _patch(
                        "pad",
                        self.x(panel, t),
                        panel.bottom + height / 2,
                        1.0,
                        height,
                        lw=0,
                        zorder=0,
                    )
                )

    def draw_inputs(self, panel):
        y = panel.rows[("x",)]
        first = panel.rows[("state", 0, 0)] - self.box_h / 2
        for t in range(self.steps):
            x, padded = self.x(panel, t), self.padded(panel.n, t)
            self.ax.add_patch(_patch("x", x, y, BOX_W, X_H))
            label = "pad" if padded else f"$x_{{{t + 1}}}$"
            self.text(x, y, label, FONT if padded else SYMBOL_FONT)
            if self.computed(0, 0, panel.n, t):
                self.arrow([(x, y + X_H / 2), (x, first)])

    def draw_states(self, panel, layer, k, tags):
        y = panel.rows[("state", layer, k)]
        done = [self.computed(layer, k, panel.n, t) for t in range(self.steps)]
        letters = "hc" if self.lstm else "h"
        for t in np.flatnonzero(done):
            for letter in letters:
                box = Box(letter, t + 1, panel.n + 1, layer + 1, DIRECTIONS[k])
                self.draw_box(panel, box, box in tags)
        side = BOX_W / 2 if k == 0 else -BOX_W / 2
        for t in range(self.steps - 1):
            if done[t] and done[t + 1]:
                a, b = (t, t + 1) if k == 0 else (t + 1, t)
                start = (self.x(panel, a) + side, y)
                end = (self.x(panel, b) - side, y)
                self.arrow([start, end], color=INK, zorder=2)

    def draw_layer_inputs(self, panel, layer):
        """Arrows from layer ``layer``'s h_t (one direction) to the next."""
        low = panel.rows[("state", layer - 1, 0)] + self.box_h / 2
        high = panel.rows[("state", layer, 0)] - self.box_h / 2
        for t in range(self.steps):
            if self.computed(layer, 0, panel.n, t):
                x = self.x(panel, t)
                self.arrow([(x, low), (x, high)])

    def draw_box(self, panel, box, marked):
        x, y = self.x(panel, box.step - 1), self.state_y(panel, box)
        self.ax.add_patch(
            _patch(
                box.state,
                x,
                y,
                BOX_W,
                2 * self.half_h(),
                hatch=HATCH if self.padded(panel.n, box.step - 1) else None,
                edge=INK if marked else STYLE[box.state]["edge"],
                lw=2.8 if marked else 1.3,
                zorder=4 if marked else 3,
            )
        )
        self.text(
            x,
            y,
            box.symbol(),
            SYMBOL_FONT,
            backed=self.padded(panel.n, box.step - 1),
        )

    def draw_tags(self, panel, tags):
        for box, labels in tags.items():
            above = box.state == "h"
            offset = (self.half_h() + 0.06) * (1 if above else -1)
            self.text(
                self.x(panel, box.step - 1),
                self.state_y(panel, box) + offset,
                ", ".join(labels),
                va="bottom" if above else "top",
                fontweight="bold",
                bbox=dict(
                    boxstyle="round,pad=0.15",
                    facecolor="white",
                    edgecolor=INK,
                    linewidth=0.9,
                ),
                zorder=6,
            )

    def draw_output_row(self, panel, name):
        y = panel.rows[("out", name)]
        found = _sequence_boxes(self.m, name)[panel.n]
        halves = found.shape[1] if found.ndim == 2 else 1
        width = BOX_W if halves == 1 else BOX_W / 2 - 0.02
        middle = panel.x0 + (self.steps + 1) / 2
        self.ax.add_patch(
            _patch(
                "out",
                middle,
                y,
                self.steps - 0.08,
                CELL_H + 0.16,
                face="none",
                lw=1.6,
                zorder=2,
            )
        )
        for t in range(self.steps):
            for half in range(halves):
                box = found[t, half] if halves == 2 else found[t]
                shift = (half - 0.5) * (width + 0.04) * (halves - 1)
                cell = (self.x(panel, t) + shift, y)
                self.draw_cell(panel, box, cell, width, t, half)

    def draw_cell(self, panel, box, cell, width, t, half):
        x, y = cell
        if box is ZERO:
            self.ax.add_patch(_patch("zero", x, y, width, CELL_H))
            self.text(x, y, "0", SYMBOL_FONT, backed=True)
            return
        own = box.sequence == panel.n + 1
        copy = own and box.step != t + 1
        padding = own and self.padded(panel.n, box.step - 1)
        line = "dashed" if copy else "solid"
        self.ax.add_patch(
            _patch(
                "out",
                x,
                y,
                width,
                CELL_H,
                hatch=HATCH if padding else None,
                line=line,
            )
        )
        if not own:  # a vector of another sequence: say whose
            self.text(x, y, f"{box.symbol()}\nof {box.sequence}", FONT - 1)
            return
        self.text(x, y, box.symbol(), SYMBOL_FONT, backed=padding)
        self.arrow(
            self.route(panel, box, (x, y - CELL_H / 2), half),
            color=STYLE["out"]["edge"],
            line=line,
            zorder=2,
        )

    def route(self, panel, box, end, half):
        """Points from ``box`` up to ``end``, around any rows between."""
        x, y = self.x(panel, box.step - 1), self.state_y(panel, box)
        between = [
            row_y
            for key, row_y in panel.rows.items()
            if y + 0.01 < row_y < end[1] - CELL_H and key[0] != "x"
        ]
        if not between:
            return [(x, y + self.half_h()), end]
        side = 1 if box.direction == "backward" else -1
        exit_y = y if self.lstm else y + self.half_h() / 2  # above arrows
        gap_x = round(end[0] - panel.x0) + panel.x0 + side * 0.5
        high = end[1] - 0.16
        return [
            (x + side * BOX_W / 2, exit_y),
            (gap_x, exit_y),
            (gap_x, high),
            (end[0], high),
            end,
        ]

    def draw_panel(self, panel):
        tags, notes = _tags_and_notes(self.m, panel.n)
        self.draw_padding(panel)
        self.draw_inputs(panel)
        for layer in range(self.layers):
            for k in range(self.dirs):
                self.draw_states(panel, layer, k, tags)
            if self.dirs == 1 and layer > 0:
                self.draw_layer_inputs(panel, layer)
        for name in self.outputs:
            self.draw_output_row(panel, name)
        self.draw_tags(panel, tags)
        if panel.labelled:
            for key, y in panel.rows.items():
                weight = "bold" if key[0] == "out" else "normal"
                self.text(
                    panel.x0 + 0.36,
                    y,
                    self.row_label(key),
                    ha="right",
                    fontweight=weight,
                )
        title = "; ".join([self.title(panel.n)] + notes).strip("; ")
        if title:
            x = (
                panel.x0
                + 0.5
                - (self.label_in / self.scale if panel.labelled else 0)
            )
            self.text(
                x + 0.05,
                panel.top - self.title_h() / 2,
                title,
                FONT + 1,
                ha="left",
                fontweight="bold",
            )

    def legend_items(self):
        from matplotlib.patches import Patch

        def handle(kind, **override):
            style = {**STYLE[kind], **override}
            return Patch(
                facecolor=style["face"],
                edgecolor=style["edge"],
                linestyle=style["line"],
                hatch=style["hatch"],
                linewidth=style.get("lw", 1.3),
            )

        items = [(handle("h"), "hidden state $h_t$")]
        if self.lstm:
            items.append((handle("c"), "cell state $c_t$"))
        if self.outputs:
            items.append((handle("out"), "returned per step"))
        items.append((handle("h", edge=INK, lw=2.8), "returned state"))
        if self.m.told_lengths and (self.m.lengths < self.steps).any():
            items.append((handle("pad"), "padded step"))
        return items

    # -- the figure --------------------------------------------------------

    def figure(self, title):
        import matplotlib.pyplot as plt

        items = self.legend_items()
        left = 0.5 - self.label_in / self.scale
        width = self.steps + 0.6
        right = (self.columns - 1) * (width + self.PANEL_GAP) + width
        width_in = self.scale * (right - left)
        per_row = max(1, min(len(items), int(width_in // 1.95)))
        legend_in = 0.3 * math.ceil(len(items) / per_row) + 0.1
        bottom = -legend_in / self.scale
        top = self.top + (0.5 if title else 0.05)
        fig = plt.figure(
            figsize=(self.scale * (right - left), self.scale * (top - bottom)),
            facecolor="white",
        )
        self.ax = fig.add_axes((0, 0, 1, 1))
        self.ax.set_xlim(left, right)
        self.ax.set_ylim(bottom, top)
        self.ax.set_axis_off()
        for panel in self.panels:
            self.draw_panel(panel)
        if title:
            self.text(
                left + 0.05,
                top - 0.25,
                title,
                FONT + 2,
                ha="left",
                fontweight="bold",
            )
        handles, names = zip(*items)
        self.ax.legend(
            handles,
            names,
            loc="lower left",
            ncols=per_row,
            frameon=False,
            fontsize=FONT,
            bbox_to_anchor=(0, 0),
            borderaxespad=0.2,
            handlelength=1.6,
            columnspacing=1.2,
        )
        return fig


def _sequence_boxes(matched: Matched, name: str) -> np.ndarray:
    """The boxes of a per-step tensor, batch first: (N, T) or (N, T, 2)."""
    boxes = matched[name]
    return np.swapaxes(boxes, 0, 1) if matched.time_major else boxes


def _tags_and_notes(matched: Matched, n: int):
    """The final-state names on the boxes of sequence ``n``.

    Returns ``(tags, notes)``: ``tags`` maps a :class:`Box` to the names
    of the returned vectors that equal it (``["h_n[1]"]``); ``notes``
    lists the returned vectors of sequence ``n`` that equal zero or a box
    of another sequence (``"h = 0"``).
    """
    tags, notes = {}, []
    for name, kind in matched.kinds.items():
        if kind == "sequence":
            continue
        boxes = matched[name]
        rows = boxes[:, n] if kind == "stack" else boxes[n : n + 1]
        for row, found in enumerate(rows):
            found = np.atleast_1d(found)
            for half, box in enumerate(found):
                label = f"{name}[{row}]" if kind == "stack" else name
                if len(found) == 2:
                    label += "[:, :H]" if half == 0 else "[:, H:]"
                if box is ZERO:
                    notes.append(f"{label} = 0")
                elif box.sequence != n + 1:
                    notes.append(f"{label} = {box}")
                else:
                    tags.setdefault(box, []).append(label)
    return tags, notes


def _check_panels(sequences, batch):
    if sequences is None:
        if batch > _MAX_PANELS:
            raise ValueError(
                f"the batch has N = {batch} sequences; a diagram shows at "
                f"most {_MAX_PANELS}: pick some with sequences=[...]"
            )
        return list(range(batch))
    chosen = list(np.atleast_1d(sequences))
    ok = all(
        isinstance(n, (int, np.integer))
        and not isinstance(n, bool)
        and 0 <= n < batch
        for n in chosen
    )
    if not chosen or not ok or len(set(chosen)) != len(chosen):
        raise ValueError(
            f"sequences must be distinct batch indices in 0..{batch - 1}; "
            f"got {sequences!r}"
        )
    if len(chosen) > _MAX_PANELS:
        raise ValueError(
            f"a diagram shows at most {_MAX_PANELS} sequences; got "
            f"{len(chosen)}"
        )
    return [int(n) for n in chosen]


def draw_unrolled(matched: Matched, sequences=None, title=None):
    """Draw the unrolled network and where each returned tensor comes from.

    One panel per sequence: the inputs ``x_t`` at the bottom, a row of
    state boxes per layer and direction (``h_t`` over ``c_t`` for an LSTM;
    arrows run right for the forward direction, left for the backward
    one), and on top one row per returned per-step tensor. Each of its
    cells shows the box it equals, with an arrow from that box (dashed
    when it repeats an earlier step, hatched when it was read from the
    padding; ``0`` for zeros). A returned final state outlines its box in
    black and tags it with its name (``h_n[1]``, ``state.h``, ``h``).
    Padded steps are hatched grey.

    Args:
        matched: the result of :func:`match_returns`.
        sequences: which sequences to draw, as batch indices (``[1]`` is
            sequence 2); at most 4. ``None``: all of them (N <= 4).
        title: an optional title above the figure.

    Returns:
        The matplotlib ``Figure``, at most 7.5 inches wide.
    """
    if not isinstance(matched, Matched):
        raise ValueError(
            "draw_unrolled needs the result of match_returns (a Matched); "
            f"got {type(matched).__name__}"
        )
    batch, steps = matched.states.h.shape[2:4]
    if steps > _MAX_STEPS:
        raise ValueError(
            f"a diagram shows at most T = {_MAX_STEPS} steps (more are not "
            f"legible at the text width); got T = {steps}: slice x"
        )
    if title is not None and not isinstance(title, str):
        raise ValueError(f"title must be a string; got {title!r}")
    drawing = _Drawing(matched, _check_panels(sequences, batch))
    return drawing.figure(title)


# --------------------------------------------------------------------------
# Describing (the alt text)
# --------------------------------------------------------------------------


def _and(items) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    items = [str(item) for item in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _steps_text(steps) -> str:
    """``[3, 4]`` -> ``"steps 3–4"``; ``[2]`` -> ``"step 2"``."""
    steps = sorted(steps)
    if len(steps) == 1:
        return f"step {steps[0]}"
    if steps == list(range(steps[0], steps[-1] + 1)):
        return f"steps {steps[0]}–{steps[-1]}"
    return "steps " + _and(steps)


class _Words:
    """The phrases :func:`describe` is built from, for one Matched."""

    def __init__(self, matched: Matched, sequences: list):
        self.m = matched
        self.layers, self.dirs, self.batch, self.steps, _ = (
            matched.states.h.shape
        )
        self.seqs = sequences

    def header(self) -> str:
        parts = [f"{self.m.states.cell} unrolled over {self.steps} steps"]
        if self.layers > 1:
            parts.append(f"{self.layers} layers")
        if self.dirs > 1:
            parts.append("both directions")
        many = len(self.seqs) > 1
        if len(self.seqs) < self.batch:
            word = "sequences" if many else "sequence"
            which = _and(n + 1 for n in self.seqs)
            parts.append(f"{word} {which} of a batch of {self.batch}")
        elif self.batch > 1:
            parts.append(f"{self.batch} sequences")
        if self.m.told_lengths:
            lengths = _and(self.m.lengths[self.seqs].tolist())
            parts.append(f"length{'s' if many else ''} {lengths}")
        names = FRAMEWORKS[self.m.framework]
        return ", ".join(parts) + f"; names as in {names}."

    def family(self, box: Box, per_step=False) -> str:
        """``"the backward h_t of layer 2"``, or just ``"h"``."""
        symbol = box.state + ("_t" if per_step else "")
        if self.dirs > 1:
            symbol = f"the {box.direction} {symbol}"
        if self.layers > 1:
            symbol = f"{symbol} of layer {box.layer}"
            symbol = symbol if symbol.startswith("the") else "the " + symbol
        return symbol

    def padded(self, n, t) -> bool:
        return self.m.told_lengths and t >= self.m.lengths[n]

    # -- per-step tensors ---------------------------------------------------

    def sequence(self, name: str) -> list:
        found = _sequence_boxes(self.m, name)
        if found.ndim == 2:
            return [self._half(name, found, "")]
        return [
            self._half(name, found[..., half], part)
            for half, part in enumerate(("[..., :H]", "[..., H:]"))
        ]

    def _half(self, name, found, part) -> str:
        valid, padding = [], {}
        for n, t in np.ndindex(*found.shape):
            if n not in self.seqs:
                continue
            box = found[n, t]
            if not self.padded(n, t):
                valid.append((n, t, box))
            else:
                what = self._padded_cell(n, t, box)
                padding.setdefault(what, []).append((n, t))
        text = f"{name}{part} holds " + self._valid_cells(valid)
        if padding:
            text += "; at the padded steps " + "; ".join(
                f"{self._where(cells)} {what}"
                for what, cells in padding.items()
            )
        return text + "."

    def _valid_cells(self, cells) -> str:
        families = {
            (b.state, b.layer, b.direction)
            for _, _, b in cells
            if isinstance(b, Box)
        }
        own = all(
            isinstance(b, Box) and b.sequence == n + 1 and b.step == t + 1
            for n, t, b in cells
        )
        if own and len(families) == 1:
            every = "every valid step" if self._any_padding() else "every step"
            return f"{self.family(cells[0][2], per_step=True)} at {every}"
        return _and(
            f"{b} at step {t + 1} of sequence {n + 1}"
            if isinstance(b, Box)
            else f"zeros at step {t + 1} of sequence {n + 1}"
            for n, t, b in cells
        )

    def _any_padding(self) -> bool:
        return self.m.told_lengths and bool(
            (self.m.lengths[self.seqs] < self.steps).any()
        )

    def _padded_cell(self, n, t, box) -> str:
        if box is ZERO:
            return "it holds zeros"
        if box.sequence != n + 1:
            return f"it holds {box}"
        if box.step == t + 1:
            return "it holds the state computed from the padding"
        if box.step == self.m.lengths[n]:
            return "it repeats the last valid output"
        return f"it holds {box}"

    def _where(self, cells) -> str:
        by_sequence = {}
        for n, t in cells:
            by_sequence.setdefault(n, []).append(t + 1)
        return (
            "("
            + "; ".join(
                f"{_steps_text(steps)} of sequence {n + 1}"
                for n, steps in by_sequence.items()
            )
            + ")"
        )

    # -- final states -----------------------------------------------------

    def vectors(self, name: str, kind: str) -> list:
        found = self.m[name]
        if kind == "vectors":
            found = found[None]
        sentences = []
        for row in range(found.shape[0]):
            label = f"{name}[{row}]" if kind == "stack" else name
            boxes = found[row]
            if boxes.ndim == 1:
                sentences.append(self._state(label, boxes))
            else:
                for half, part in enumerate(("[:, :H]", "[:, H:]")):
                    sentences.append(self._state(label + part, boxes[:, half]))
        return sentences

    def _state(self, label, boxes) -> str:
        chosen = [(n, boxes[n]) for n in self.seqs]
        zeros = [n + 1 for n, b in chosen if b is ZERO]
        real = [(n, b) for n, b in chosen if isinstance(b, Box)]
        families = {(b.state, b.layer, b.direction) for _, b in real}
        own = all(b.sequence == n + 1 for n, b in real)
        parts = []
        if real and own and len(families) == 1:
            steps = [b.step for _, b in real]
            first = real[0][1]
            where = self._final_step(real, steps)
            parts.append(f"{label} is {self.family(first)} at {where}")
        elif real:
            parts.append(
                f"{label} is "
                + _and(f"{b} for sequence {n + 1}" for n, b in real)
            )
        if zeros:
            seqs = _and(zeros)
            word = "sequence" if len(zeros) == 1 else "sequences"
            lead = f"{label} is" if not parts else "and"
            parts.append(f"{lead} zero for {word} {seqs}")
        return " ".join(parts) + "."

    def _final_step(self, real, steps) -> str:
        if len(self.seqs) == 1:
            n = self.seqs[0]
            where = f"step {steps[0]}"
            where += f" of sequence {n + 1}" if self.batch > 1 else ""
        elif len(set(steps)) == 1:
            where = f"step {steps[0]} of every sequence"
        else:
            where = _and(
                f"step {s} of sequence {n + 1}"
                for (n, _), s in zip(real, steps)
            )
        lengths = [self.m.lengths[n] for n, _ in real]
        direction = real[0][1].direction
        if not self.m.told_lengths or lengths == [self.steps] * len(steps):
            return where
        if direction == "forward" and steps == lengths:
            last = "each sequence's" if len(steps) > 1 else "its"
            return where + f" ({last} last valid step)"
        late = [
            n + 1 for (n, _), s in zip(real, steps) if s > self.m.lengths[n]
        ]
        if late:
            word = "sequence" if len(late) == 1 else "sequences"
            return where + f" ({word} {_and(late)} after reading padding)"
        return where


def describe(matched: Matched, sequences=None) -> str:
    """Say in words what :func:`draw_unrolled` shows: the figure's alt text.

    Args:
        matched: the result of :func:`match_returns`.
        sequences: the batch indices drawn (as for :func:`draw_unrolled`);
            ``None``: all of them.

    Returns:
        A few sentences, one per returned tensor (and per half, or per
        row of ``h_n``), e.g. ``"LSTM unrolled over 4 steps, 3 sequences
        of lengths 4, 3 and 2; the names are PyTorch's. output holds the
        h_t at every step; at the padded steps (step 4 of sequence 2;
        steps 3–4 of sequence 3) it holds zeros. h_n[0] is the h at steps
        4, 3 and 2 (each sequence's last valid step). ..."``. Every
        statement comes from the matching, not from the names.
    """
    if not isinstance(matched, Matched):
        raise ValueError(
            "describe needs the result of match_returns (a Matched); "
            f"got {type(matched).__name__}"
        )
    batch = matched.states.h.shape[2]
    sequences = list(range(batch)) if sequences is None else sequences
    words = _Words(matched, _check_panels(sequences, batch))
    sentences = [words.header()]
    for name, kind in matched.kinds.items():
        if kind == "sequence":
            sentences += words.sequence(name)
        else:
            sentences += words.vectors(name, kind)
    return " ".join(sentences)
