"""Move one set of LSTM or GRU weights between NumPy, PyTorch, Keras and TF1.

Everything goes through the book's reference layout (:class:`LSTMWeights`,
:class:`GRUWeights`: Keras's column layout ``x_t @ kernel``, LSTM gates
``i, f, g, o``, GRU gates ``z, r, n``). Converting framework A to framework
B is ``b_from_reference(a_to_reference(...))``, for example
``lstm_to_torch(lstm_from_keras(layer.get_weights()))``.

The framework formats are plain NumPy arrays under the framework's own
names:

* PyTorch ``nn.LSTM``/``nn.GRU`` (one layer, one direction): a dict with
  ``weight_ih_l0`` (G*H, D), ``weight_hh_l0`` (G*H, H), ``bias_ih_l0`` and
  ``bias_hh_l0`` (G*H,), rows stacked ``i, f, g, o`` (LSTM) or ``r, z, n``
  (GRU). ``nn.GRU`` always applies the reset gate *after* the recurrent
  matmul.
* Keras ``LSTM``/``GRU``: the list ``layer.get_weights()`` returns,
  ``[kernel (D, G*H), recurrent_kernel (H, G*H), bias]``; the LSTM bias is
  (4H,), the GRU bias is (2, 3H) with ``reset_after=True`` (input row,
  recurrent row) and (3H,) with ``reset_after=False``.
* TF1 ``tf.compat.v1.nn.rnn_cell.LSTMCell``: a dict with ``kernel``
  (D+H, 4H), applied to ``concat([x_t, h_{t-1}])``, columns ``i, j, f, o``
  (``j`` is the candidate), and ``bias`` (4H,). The cell adds
  ``forget_bias`` (default 1.0) to the forget gate *at run time*, so both
  TF1 functions require it.
* TF1 ``GRUCell``: a dict with ``gates/kernel`` (D+H, 2H) (columns
  ``r, u``, ``u`` being the update gate ``z``), ``gates/bias`` (2H,),
  ``candidate/kernel`` (D+H, H) and ``candidate/bias`` (H,). The reset gate
  multiplies ``h_{t-1}`` before the matmul (``reset_after=False``).

Stacks of layers and both directions (``lstm_stack_*``) are lists with one
entry per layer, each a tuple ``(forward,)`` or ``(forward, backward)`` of
:class:`LSTMWeights`, in the framework's own names: PyTorch's ``_l1`` and
``_l0_reverse`` suffixes, Keras's per-layer lists (six arrays for a
``Bidirectional`` layer), TF1's ``MultiRNNCell`` and
``bidirectional_dynamic_rnn`` variable names.

Converting *to* the reference and back is exact (``assert_array_equal``),
except for the TF1 LSTM with a non-zero ``forget_bias``: adding and then
subtracting it is a float rounding away from exact. Where a format has
fewer biases than the reference, the two reference biases are added (same
function, not the same split). Bad inputs raise ``ValueError`` saying what
was expected.
"""

from __future__ import annotations

import numbers
import re

import numpy as np

from .reference import GRUWeights, LSTMWeights

__all__ = [
    "lstm_from_torch",
    "lstm_to_torch",
    "lstm_from_keras",
    "lstm_to_keras",
    "lstm_from_tf1",
    "lstm_to_tf1",
    "lstm_stack_from_torch",
    "lstm_stack_to_torch",
    "lstm_stack_from_keras",
    "lstm_stack_to_keras",
    "lstm_stack_from_tf1",
    "lstm_stack_to_tf1",
    "gru_reset_before_to_after",
    "gru_from_torch",
    "gru_to_torch",
    "gru_from_keras",
    "gru_to_keras",
    "gru_from_tf1",
    "gru_to_tf1",
]

_GATES = {4: "an LSTM (4 gates)", 3: "a GRU (3 gates)"}

_NO_TORCH_RESET_BEFORE = (
    "PyTorch's nn.GRU always applies the reset gate after the recurrent "
    "matmul, n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); a reset-before "
    "GRU (reset_after=False: TF1 GRUCell, Keras GRU(reset_after=False)) "
    "computes n = tanh(W_in x + b_in + (r * h) W_hn + b_hn), which nn.GRU "
    "reproduces only when each column of U_n (recurrent_kernel[:, 2H:]) has "
    "at most one non-zero entry: see gru_reset_before_to_after"
)


# --- checks ---------------------------------------------------------------


def _array(name, value, ndim):
    value = np.asarray(value)
    if value.ndim != ndim:
        raise ValueError(
            f"{name} must have rank {ndim}; got shape {value.shape}"
        )
    return value


def _expect(name, value, shape, gates, what=""):
    """Raise unless ``value.shape == shape``; name the gate count when that
    is what is off."""
    if value.shape == shape:
        return value
    hint = ""
    for axis, (got, want) in enumerate(zip(value.shape, shape)):
        units = want // gates if want % gates == 0 else None
        if (
            units
            and got != want
            and got % units == 0
            and got // units in _GATES
        ):
            hint = (
                f" (axis {axis} holds {got // units} gates of H = {units}: "
                f"that looks like {_GATES[got // units]})"
            )
            break
    raise ValueError(
        f"{name} must have shape {shape}{what}; got {value.shape}{hint}"
    )


def _units_from(name, recurrent, gates, rows_are_gates):
    """H from a recurrent matrix of shape (H, G*H) (Keras) or (G*H, H)
    (PyTorch)."""
    recurrent = _array(name, recurrent, 2)
    units = recurrent.shape[1] if rows_are_gates else recurrent.shape[0]
    if units == 0:
        raise ValueError(f"{name} has no units; got shape {recurrent.shape}")
    shape = (
        (gates * units, units) if rows_are_gates else (units, gates * units)
    )
    _expect(
        name, recurrent, shape, gates, f" for {_GATES[gates]} with H = {units}"
    )
    return units


def _check_reference(weights, gates):
    """Return (D, H) after checking the reference weights' shapes."""
    units = _units_from(
        "recurrent_kernel",
        weights.recurrent_kernel,
        gates,
        rows_are_gates=False,
    )
    kernel = _array("kernel", weights.kernel, 2)
    _expect(
        "kernel",
        kernel,
        (kernel.shape[0], gates * units),
        gates,
        f" = (D, {gates}*H) with H = {units}",
    )
    biases = ("bias",) if gates == 4 else ("input_bias", "recurrent_bias")
    for name in biases:
        _expect(
            name,
            _array(name, getattr(weights, name), 1),
            (gates * units,),
            gates,
        )
    return kernel.shape[0], units


def _get(weights, key):
    try:
        return weights[key]
    except (KeyError, TypeError, IndexError):
        have = (
            sorted(weights)
            if isinstance(weights, dict)
            else type(weights).__name__
        )
        raise ValueError(f"expected an entry {key!r}; got {have}") from None


def _keras_list(weights):
    if not isinstance(weights, (list, tuple)) or len(weights) != 3:
        got = f"a {type(weights).__name__}" + (
            f" of length {len(weights)}"
            if isinstance(weights, (list, tuple))
            else ""
        )
        raise ValueError(
            "expected Keras's layer.get_weights() list "
            f"[kernel, recurrent_kernel, bias] (use_bias=True); got {got}"
        )
    return [np.asarray(w) for w in weights]


def _forget(forget_bias):
    # bool is a numbers.Real in Python; forget_bias=True is almost surely a
    # mistake, so refuse it
    if (
        isinstance(forget_bias, (bool, np.bool_))
        or not isinstance(forget_bias, numbers.Real)
        or not np.isfinite(forget_bias)
    ):
        raise ValueError(
            "forget_bias must be a finite number (LSTMCell's default is "
            f"1.0); got {forget_bias!r}"
        )
    return forget_bias


def _split_tf1_kernel(name, kernel, units, columns, gates):
    """Split a TF1 kernel over concat([x, h]) of shape (D+H, columns) into
    its (D, columns) and (H, columns) parts."""
    kernel = _array(name, kernel, 2)
    if kernel.shape[1] != columns or kernel.shape[0] <= units:
        raise ValueError(
            f"{name} must have shape (D + H, {columns}) with D >= 1 for "
            f"H = {units} ({_GATES[gates]}); got {kernel.shape}"
        )
    return kernel[:-units], kernel[-units:]


# --- LSTM -----------------------------------------------------------------

# TF1 i, j, f, o read from reference i, f, g, o (its own inverse)
_TF1_FROM_REF = [0, 2, 1, 3]


def _blocks(matrix, gates, axis=-1):
    return np.split(np.asarray(matrix), gates, axis=axis)


def _read_torch(state_dict, suffix, gates):
    """The four ``nn.LSTM``/``nn.GRU`` arrays, checked:
    ``(w_ih (G*H, D), w_hh (G*H, H), b_ih (G*H,), b_hh (G*H,))``."""
    names = [
        k + suffix for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]
    w_ih, w_hh, b_ih, b_hh = (_get(state_dict, name) for name in names)
    units = _units_from(names[1], w_hh, gates, rows_are_gates=True)
    w_ih = _array(names[0], w_ih, 2)
    _expect(
        names[0],
        w_ih,
        (gates * units, w_ih.shape[1]),
        gates,
        f" = ({gates}*H, D) with H = {units}",
    )
    b_ih = _expect(
        names[2], _array(names[2], b_ih, 1), (gates * units,), gates
    )
    b_hh = _expect(
        names[3], _array(names[3], b_hh, 1), (gates * units,), gates
    )
    return w_ih, np.asarray(w_hh), b_ih, b_hh


def lstm_from_torch(state_dict, suffix: str = "_l0") -> LSTMWeights:
    """PyTorch ``nn.LSTM`` arrays -> :class:`LSTMWeights`.

    ``state_dict`` maps ``weight_ih{suffix}`` (4H, D), ``weight_hh{suffix}``
    (4H, H), ``bias_ih{suffix}`` and ``bias_hh{suffix}`` (4H,) to arrays (or
    CPU tensors). Both orders are ``i, f, g, o``, so this transposes and
    adds the two biases.
    """
    w_ih, w_hh, b_ih, b_hh = _read_torch(state_dict, suffix, 4)
    return LSTMWeights(w_ih.T.copy(), w_hh.T.copy(), b_ih + b_hh)


def lstm_to_torch(weights: LSTMWeights, suffix: str = "_l0") -> dict:
    """:class:`LSTMWeights` -> the four ``nn.LSTM`` arrays.

    Returns ``{weight_ih (4H, D), weight_hh (4H, H), bias_ih (4H,),
    bias_hh (4H,) = 0}`` with ``suffix`` appended to each name (the whole
    bias goes to ``bias_ih``); load with ``torch.from_numpy``.
    """
    _check_reference(weights, 4)
    bias = np.asarray(weights.bias)
    return {
        "weight_ih" + suffix: np.asarray(weights.kernel).T.copy(),
        "weight_hh" + suffix: np.asarray(weights.recurrent_kernel).T.copy(),
        "bias_ih" + suffix: bias.copy(),
        "bias_hh" + suffix: np.zeros_like(bias),
    }


def lstm_from_keras(weights) -> LSTMWeights:
    """Keras ``LSTM`` weights -> :class:`LSTMWeights`.

    ``weights`` is ``[kernel (D, 4H), recurrent_kernel (H, 4H), bias (4H,)]``
    as ``layer.get_weights()`` returns it. The layouts are the same (Keras's
    ``i, f, c, o`` is ``i, f, g, o``); only the shapes are checked.
    """
    result = LSTMWeights(*(w.copy() for w in _keras_list(weights)))
    _check_reference(result, 4)
    return result


def lstm_to_keras(weights: LSTMWeights) -> list:
    """:class:`LSTMWeights` -> ``[kernel (D, 4H), recurrent_kernel (H, 4H),
    bias (4H,)]`` for a Keras ``LSTM``'s ``set_weights``."""
    _check_reference(weights, 4)
    return [np.asarray(w).copy() for w in weights]


def lstm_from_tf1(variables, *, forget_bias: float) -> LSTMWeights:
    """TF1 ``LSTMCell`` ``{kernel (D+H, 4H), bias (4H,)}`` ->
    :class:`LSTMWeights`.

    ``forget_bias`` is the cell's constructor argument (``LSTMCell``'s
    default is 1.0); it is added to the forget gate's bias, which the cell
    does at every step. Columns ``i, j, f, o`` become ``i, f, g, o``.
    """
    forget_bias = _forget(forget_bias)
    bias = _array("bias", _get(variables, "bias"), 1)
    if bias.shape[0] % 4 or bias.shape[0] == 0:
        raise ValueError(
            "bias must have shape (4*H,), the 4 gates i, j, f, o of an "
            f"LSTM; got {bias.shape}"
        )
    units = bias.shape[0] // 4
    x_part, h_part = _split_tf1_kernel(
        "kernel", _get(variables, "kernel"), units, 4 * units, 4
    )

    def reorder(m):
        return np.concatenate(
            [_blocks(m, 4)[k] for k in _TF1_FROM_REF], axis=-1
        )

    i, f, g, o = _blocks(reorder(bias), 4)
    return LSTMWeights(
        reorder(x_part),
        reorder(h_part),
        np.concatenate([i, f + forget_bias, g, o]).astype(bias.dtype),
    )


def lstm_to_tf1(weights: LSTMWeights, *, forget_bias: float) -> dict:
    """:class:`LSTMWeights` -> TF1 ``LSTMCell`` ``{kernel (D+H, 4H),
    bias (4H,)}``.

    ``forget_bias`` must be the value the ``LSTMCell`` is built with: it is
    subtracted from the forget gate's bias here because the cell adds it
    back at run time.
    """
    forget_bias = _forget(forget_bias)
    _check_reference(weights, 4)
    i, f, g, o = _blocks(weights.bias, 4)
    bias = np.concatenate([i, g, f - forget_bias, o]).astype(
        np.asarray(weights.bias).dtype
    )
    stacked = np.concatenate(
        [np.asarray(weights.kernel), np.asarray(weights.recurrent_kernel)],
        axis=0,
    )
    kernel = np.concatenate(
        [_blocks(stacked, 4)[k] for k in _TF1_FROM_REF], axis=-1
    )
    return {"kernel": kernel, "bias": bias}


# --- LSTM stacks: layers and directions -----------------------------------

_STACK_FORM = (
    "a non-empty list with one entry per layer, each an LSTMWeights (one "
    "direction) or a tuple (forward, backward) of LSTMWeights"
)


def _stack(stack, same_units=False):
    """Check a stack; return ``(layers, directions)`` where ``layers`` is a
    list of tuples of :class:`LSTMWeights`.

    Every layer has the same number of directions (1 or 2); both directions
    of a layer have the same (D, H); layer k + 1 reads the concatenated
    outputs of layer k, so its D is ``directions * H`` of layer k.
    ``same_units``: every layer has the same H (PyTorch's ``nn.LSTM``).
    """
    if isinstance(stack, LSTMWeights) or not isinstance(stack, (list, tuple)):
        what = type(stack).__name__
        raise ValueError(
            f"expected {_STACK_FORM}; got a {what} (for one layer, one "
            "direction, pass [weights])"
        )
    if not stack:
        raise ValueError(f"expected {_STACK_FORM}; got an empty list")
    layers = []
    for k, layer in enumerate(stack):
        if isinstance(layer, LSTMWeights):  # one direction, written bare
            layer = (layer,)
        if (
            not isinstance(layer, (list, tuple))
            or len(layer) not in (1, 2)
            or not all(isinstance(w, LSTMWeights) for w in layer)
        ):
            raise ValueError(
                f"layer {k} must be an LSTMWeights or a tuple (forward,) or "
                f"(forward, backward) of LSTMWeights; got {layer!r:.60}"
            )
        layers.append(tuple(layer))
    directions = len(layers[0])
    previous = None
    for k, layer in enumerate(layers):
        if len(layer) != directions:
            raise ValueError(
                f"layer 0 has {directions} direction(s) but layer {k} has "
                f"{len(layer)}: every layer must have the same number"
            )
        sizes = [_check_reference(w, 4) for w in layer]
        if len(set(sizes)) != 1:
            raise ValueError(
                f"layer {k}: the two directions must have the same (D, H); "
                f"got {sizes[0]} and {sizes[1]}"
            )
        features, units = sizes[0]
        if previous is not None:
            if features != directions * previous:
                raise ValueError(
                    f"layer {k} reads the outputs of layer {k - 1}, so its "
                    f"D must be {directions} * {previous} = "
                    f"{directions * previous}; got D = {features}"
                )
            if same_units and units != previous:
                raise ValueError(
                    f"nn.LSTM gives every layer the same H; layer {k} has "
                    f"H = {units}, layer {k - 1} H = {previous}"
                )
        previous = units
    return layers, directions


_TORCH_NAME = re.compile(
    r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$"
)


def lstm_stack_to_torch(stack) -> dict:
    """A stack of LSTM layers -> the arrays of one ``nn.LSTM``.

    ``stack`` is a list with one entry per layer, each ``(forward,)`` or
    ``(forward, backward)`` of :class:`LSTMWeights`; layer 0 has kernel
    (D, 4H), layer k > 0 kernel (directions * H, 4H), every layer the same
    H. Returns the dict ``nn.LSTM(D, H, num_layers=len(stack),
    bidirectional=(directions == 2))`` loads: the four arrays of
    :func:`lstm_to_torch` for each layer k with the suffix ``_l{k}``
    (forward) and ``_l{k}_reverse`` (backward).
    """
    layers, _ = _stack(stack, same_units=True)
    arrays = {}
    for k, layer in enumerate(layers):
        for weights, reverse in zip(layer, ("", "_reverse")):
            arrays.update(lstm_to_torch(weights, suffix=f"_l{k}{reverse}"))
    return arrays


def lstm_stack_from_torch(state_dict) -> list:
    """The arrays of an ``nn.LSTM`` (any ``num_layers``, one or two
    directions) -> a list of ``(forward,)`` or ``(forward, backward)``
    tuples of :class:`LSTMWeights`, one per layer.

    ``state_dict`` maps ``weight_ih_l{k}`` (4H, D or directions * H),
    ``weight_hh_l{k}`` (4H, H), ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (4H,),
    and the same names ending in ``_reverse`` for the backward direction.
    Raises ``ValueError`` for a name it does not know (``proj_size``'s
    ``weight_hr``, for example), a missing layer or direction, or shapes
    that do not chain.
    """
    if not isinstance(state_dict, dict) or not state_dict:
        raise ValueError(
            "expected the non-empty dict of an nn.LSTM's arrays "
            f"(weight_ih_l0, ...); got {type(state_dict).__name__}"
        )
    found, unknown = set(), []
    for name in state_dict:
        match = _TORCH_NAME.match(str(name))
        if match is None:
            unknown.append(name)
        else:
            found.add((int(match[2]), bool(match[3])))
    if unknown:
        raise ValueError(
            f"unexpected names {sorted(map(str, unknown))}: an nn.LSTM "
            "without proj_size has only weight_ih_l{k}, weight_hh_l{k}, "
            "bias_ih_l{k}, bias_hh_l{k} (and the same with _reverse)"
        )
    count = max(k for k, _ in found) + 1
    reverse = any(r for _, r in found)
    suffixes = [
        [f"_l{k}"] + ([f"_l{k}_reverse"] if reverse else [])
        for k in range(count)
    ]
    stack = [
        tuple(lstm_from_torch(state_dict, suffix=s) for s in layer)
        for layer in suffixes
    ]
    _stack(stack, same_units=True)
    return stack


def lstm_stack_to_keras(stack) -> list:
    """A stack of LSTM layers -> one ``set_weights`` list per Keras layer.

    For a one-direction layer the list is ``[kernel, recurrent_kernel,
    bias]`` (:func:`lstm_to_keras`); for a two-direction layer it is the
    forward layer's three arrays followed by the backward layer's, the order
    in which ``Bidirectional(LSTM(...)).get_weights()`` returns them.
    """
    layers, _ = _stack(stack)
    return [
        [array for w in layer for array in lstm_to_keras(w)]
        for layer in layers
    ]


def lstm_stack_from_keras(layers) -> list:
    """Keras layers' ``get_weights()`` lists -> a list of ``(forward,)`` or
    ``(forward, backward)`` tuples of :class:`LSTMWeights`.

    ``layers`` has one entry per recurrent layer: three arrays for an
    ``LSTM``, six (forward then backward) for a ``Bidirectional(LSTM)``.
    """
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError(
            "expected a non-empty list of get_weights() lists, one per "
            f"layer; got {type(layers).__name__}"
        )
    stack = []
    for k, arrays in enumerate(layers):
        if not isinstance(arrays, (list, tuple)) or len(arrays) not in (3, 6):
            got = type(arrays).__name__ + (
                f" of length {len(arrays)}"
                if isinstance(arrays, (list, tuple))
                else ""
            )
            raise ValueError(
                f"layer {k}: expected 3 arrays (LSTM) or 6 (Bidirectional: "
                f"forward then backward); got a {got}"
            )
        stack.append(
            tuple(
                lstm_from_keras(list(arrays[i : i + 3]))
                for i in range(0, len(arrays), 3)
            )
        )
    _stack(stack)
    return stack


_TF1_LSTM_NAME = re.compile(
    r"^(?P<prefix>.*?)"
    r"(?:stack_bidirectional_rnn/cell_(?P<stacked>\d+)/)?"
    r"(?:rnn|bidirectional_rnn/(?P<direction>fw|bw))/"
    r"(?:multi_rnn_cell/cell_(?P<layer>\d+)/)?"
    r"lstm_cell/(?P<variable>kernel|bias)(?::0)?$"
)


def _tf1_scope(layer, direction, layers, directions):
    if directions == 1:
        return "rnn/" + (f"multi_rnn_cell/cell_{layer}/" if layers > 1 else "")
    side = f"bidirectional_rnn/{('fw', 'bw')[direction]}/"
    if layers == 1:
        return side
    return f"stack_bidirectional_rnn/cell_{layer}/" + side


def lstm_stack_to_tf1(stack, *, forget_bias: float, prefix: str = "") -> dict:
    """A stack of LSTM layers -> TF1 variable values by variable name.

    Each cell's ``{kernel (D+H, 4H), bias (4H,)}`` is :func:`lstm_to_tf1`'s
    (``forget_bias`` as there), named as TF1 names the variables of the
    usual construction (``prefix`` goes in front, for a model built inside
    a ``variable_scope``):

    * one layer: ``dynamic_rnn(LSTMCell)``, ``rnn/lstm_cell/kernel``;
    * several layers: ``dynamic_rnn(MultiRNNCell([...]))``,
      ``rnn/multi_rnn_cell/cell_{k}/lstm_cell/kernel``;
    * one layer, two directions: ``bidirectional_dynamic_rnn``,
      ``bidirectional_rnn/fw/lstm_cell/kernel`` and ``.../bw/...``;
    * several layers, two directions: one ``bidirectional_dynamic_rnn`` per
      layer inside ``variable_scope(f"stack_bidirectional_rnn/cell_{k}")``
      with the concatenated outputs as the next layer's input (what
      ``tf.contrib.rnn.stack_bidirectional_dynamic_rnn`` built),
      ``stack_bidirectional_rnn/cell_{k}/bidirectional_rnn/fw/lstm_cell/...``.
    """
    layers, directions = _stack(stack)
    forget_bias = _forget(forget_bias)
    if not isinstance(prefix, str) or (prefix and not prefix.endswith("/")):
        raise ValueError(
            f"prefix must be '' or a scope ending in '/'; got {prefix!r}"
        )
    arrays = {}
    for k, layer in enumerate(layers):
        for d, weights in enumerate(layer):
            scope = prefix + _tf1_scope(k, d, len(layers), directions)
            for name, value in lstm_to_tf1(
                weights, forget_bias=forget_bias
            ).items():
                arrays[scope + "lstm_cell/" + name] = value
    return arrays


def lstm_stack_from_tf1(variables, *, forget_bias: float) -> list:
    """TF1 LSTM variables by name -> a list of ``(forward,)`` or
    ``(forward, backward)`` tuples of :class:`LSTMWeights`.

    ``variables`` maps variable names (``v.op.name`` or ``v.name``) to
    arrays, for example ``session.run({v.op.name: v for v in
    tf.compat.v1.global_variables()})``. The names are those listed in
    :func:`lstm_stack_to_tf1` under one common prefix. A
    ``bidirectional_dynamic_rnn`` over two ``MultiRNNCell`` stacks
    (``bidirectional_rnn/fw/multi_rnn_cell/...``) is refused: there each
    direction's layer 2 reads only its own direction's layer 1, which is
    not the stack that PyTorch and Keras build.
    """
    forget_bias = _forget(forget_bias)
    if not isinstance(variables, dict) or not variables:
        raise ValueError(
            "expected a non-empty dict of TF1 variable values by name; got "
            f"{type(variables).__name__}"
        )
    cells, prefixes, unknown = {}, set(), []
    for name, value in variables.items():
        match = _TF1_LSTM_NAME.match(str(name))
        if match is None:
            unknown.append(str(name))
            continue
        if match["stacked"] is not None and match["layer"] is not None:
            raise ValueError(
                f"{name}: stacked bidirectional layers cannot also be a "
                "MultiRNNCell"
            )
        if match["direction"] is not None and match["layer"] is not None:
            raise ValueError(
                f"{name}: a bidirectional_dynamic_rnn over MultiRNNCell "
                "stacks runs each direction's layers on their own (layer 2 "
                "forward never sees layer 1 backward), unlike PyTorch's and "
                "Keras's stacks; convert each cell with lstm_from_tf1"
            )
        prefixes.add(match["prefix"])
        if len(prefixes) > 1:
            raise ValueError(
                "the variables come from several models: prefixes "
                f"{sorted(prefixes)}"
            )
        layer = int(match["stacked"] or match["layer"] or 0)
        direction = int(match["direction"] == "bw")
        key = (layer, direction)
        if match["variable"] in cells.setdefault(key, {}):
            raise ValueError(
                f"{name}: a second {match['variable']} for layer {layer}, "
                f"direction {direction}"
            )
        cells[key][match["variable"]] = value
    if unknown:
        raise ValueError(
            f"not TF1 LSTMCell variable names: {sorted(unknown)} (expected "
            "names like rnn/lstm_cell/kernel, "
            "rnn/multi_rnn_cell/cell_0/lstm_cell/bias or "
            "bidirectional_rnn/fw/lstm_cell/kernel)"
        )
    count = max(k for k, _ in cells) + 1
    directions = 1 + max(d for _, d in cells)
    stack = []
    for k in range(count):
        layer = []
        for d in range(directions):
            if (k, d) not in cells:
                raise ValueError(
                    f"no variables for layer {k}, direction {d} (have "
                    f"{sorted(cells)} as (layer, direction))"
                )
            layer.append(lstm_from_tf1(cells[k, d], forget_bias=forget_bias))
        stack.append(tuple(layer))
    _stack(stack)
    return stack


# --- GRU ------------------------------------------------------------------


def _swap_first_two(matrix, axis=-1):
    """Reorder gate blocks r, z, n <-> z, r, n (the permutation is its own
    inverse)."""
    a, b, c = _blocks(matrix, 3, axis=axis)
    return np.concatenate([b, a, c], axis=axis)


def gru_from_torch(state_dict, suffix: str = "_l0") -> GRUWeights:
    """PyTorch ``nn.GRU`` arrays (rows ``r, z, n``) -> :class:`GRUWeights`
    with ``reset_after=True``.

    ``weight_ih`` (3H, D), ``weight_hh`` (3H, H), ``bias_ih``/``bias_hh``
    (3H,). Exact: a transpose and a reorder, both biases kept.
    """
    w_ih, w_hh, b_ih, b_hh = _read_torch(state_dict, suffix, 3)
    return GRUWeights(
        _swap_first_two(w_ih.T),
        _swap_first_two(w_hh.T),
        _swap_first_two(b_ih),
        _swap_first_two(b_hh),
        True,
    )


def gru_to_torch(weights: GRUWeights, suffix: str = "_l0") -> dict:
    """:class:`GRUWeights` with ``reset_after=True`` -> the four ``nn.GRU``
    arrays (rows ``r, z, n``).

    Raises ``ValueError`` for ``reset_after=False``: ``nn.GRU`` cannot
    compute that GRU as it stands (see :func:`gru_reset_before_to_after`
    for the ones it can).
    """
    if not weights.reset_after:
        raise ValueError(
            "cannot convert a GRU with reset_after=False to PyTorch: "
            + _NO_TORCH_RESET_BEFORE
        )
    _check_reference(weights, 3)
    return {
        "weight_ih" + suffix: _swap_first_two(
            np.asarray(weights.kernel)
        ).T.copy(),
        "weight_hh" + suffix: _swap_first_two(
            np.asarray(weights.recurrent_kernel)
        ).T.copy(),
        "bias_ih" + suffix: _swap_first_two(weights.input_bias),
        "bias_hh" + suffix: _swap_first_two(weights.recurrent_bias),
    }


def gru_reset_before_to_after(weights: GRUWeights) -> GRUWeights:
    """A reset-before GRU rewritten as a reset-after GRU, where that is
    exact.

    Reset before, candidate unit j reads
    ``sum_k r_k h_k U_n[k, j] + b_hn[j]``; reset after, it reads
    ``r'_j (h U'_n[:, j] + b'_hn[j])``: one reset value. The two agree for
    every reset gate exactly when column j of ``U_n``
    (``recurrent_kernel[:, 2H:]``) has at most one non-zero entry, in row
    ``k = src(j)``: then ``U'_n = U_n`` and ``r'_j = r_src(j)``, so the
    reset gate's columns of ``kernel``, ``recurrent_kernel`` and both biases
    are reordered by ``src`` (the identity for a diagonal ``U_n``, a
    permutation for a monomial one, a map that repeats units when two
    columns share a row). A column of zeros keeps its own unit. ``b_hn``,
    which the reset gate must not reach, moves into the input bias.
    Identical reset units are not looked for: a column with two non-zeros
    is refused even if their reset units happen to be copies.

    Args:
        weights: :class:`GRUWeights` with ``reset_after=False`` (kernel
            (D, 3H), recurrent_kernel (H, 3H), input_bias and recurrent_bias
            (3H,)), for example from :func:`gru_from_tf1`.

    Returns:
        :class:`GRUWeights` of the same shapes with ``reset_after=True``
        that :func:`rnnbook.gru_forward` and, through :func:`gru_to_torch`,
        ``nn.GRU`` run to the same outputs (up to float rounding).

    Raises:
        ValueError: if ``weights.reset_after`` is True, or if a column of
            ``U_n`` has two or more non-zero entries (the message names the
            column and its rows).
    """
    if weights.reset_after:
        raise ValueError(
            "expected a GRU with reset_after=False; this one already "
            "applies the reset gate after the recurrent matmul"
        )
    _, units = _check_reference(weights, 3)
    recurrent = np.asarray(weights.recurrent_kernel)
    source = np.arange(units)
    for j in range(units):
        rows = np.flatnonzero(recurrent[:, 2 * units + j])
        if len(rows) > 1:
            raise ValueError(
                f"column {j} of U_n (recurrent_kernel[:, 2H + {j}]) has "
                f"non-zero entries in rows {rows.tolist()}: candidate unit "
                f"{j} mixes the reset gates of units {rows.tolist()}, and a "
                "reset-after GRU (PyTorch's nn.GRU) gives each candidate "
                "unit one reset value"
            )
        if len(rows) == 1:
            source[j] = rows[0]
    pick = np.concatenate(
        [np.arange(units), units + source, np.arange(2 * units, 3 * units)]
    )
    input_bias = np.asarray(weights.input_bias)[pick]
    recurrent_bias = np.asarray(weights.recurrent_bias)[pick]
    input_bias[2 * units :] += recurrent_bias[2 * units :]
    recurrent_bias[2 * units :] = 0
    return GRUWeights(
        np.asarray(weights.kernel)[:, pick],
        recurrent[:, pick],
        input_bias,
        recurrent_bias,
        True,
    )


def gru_from_keras(weights, *, reset_after: bool = True) -> GRUWeights:
    """Keras ``GRU`` ``[kernel (D, 3H), recurrent_kernel (H, 3H), bias]`` ->
    :class:`GRUWeights`.

    ``reset_after`` must be the layer's (``layer.reset_after``; Keras's
    default is True): the bias is (2, 3H) (input row, recurrent row) when it
    is True and (3H,) when False.
    """
    kernel, recurrent, bias = _keras_list(weights)
    units = _units_from("recurrent_kernel", recurrent, 3, rows_are_gates=False)
    expected = (2, 3 * units) if reset_after else (3 * units,)
    if bias.shape != expected:
        raise ValueError(
            f"a Keras GRU with reset_after={reset_after} stores a bias of "
            f"shape {expected}; got {bias.shape}. Pass the layer's own "
            "reset_after (a (3H,) bias means reset_after=False, (2, 3H) "
            "means True)"
        )
    input_bias, recurrent_bias = (
        (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
    )
    result = GRUWeights(
        kernel.copy(),
        recurrent.copy(),
        input_bias.copy(),
        recurrent_bias.copy(),
        bool(reset_after),
    )
    _check_reference(result, 3)
    return result


def gru_to_keras(weights: GRUWeights) -> list:
    """:class:`GRUWeights` -> ``[kernel, recurrent_kernel, bias]`` for a
    Keras ``GRU`` built with ``reset_after=weights.reset_after``.

    The bias is (2, 3H) (input row, recurrent row) if ``reset_after`` is
    True, else (3H,) = input bias + recurrent bias.
    """
    _check_reference(weights, 3)
    input_bias, recurrent_bias = (
        np.asarray(weights.input_bias),
        np.asarray(weights.recurrent_bias),
    )
    bias = (
        np.stack([input_bias, recurrent_bias])
        if weights.reset_after
        else input_bias + recurrent_bias
    )
    return [
        np.asarray(weights.kernel).copy(),
        np.asarray(weights.recurrent_kernel).copy(),
        bias,
    ]


_TF1_GRU_KEYS = (
    "gates/kernel",
    "gates/bias",
    "candidate/kernel",
    "candidate/bias",
)


def gru_from_tf1(variables) -> GRUWeights:
    """TF1 ``GRUCell`` variables -> :class:`GRUWeights` with
    ``reset_after=False``.

    ``gates/kernel`` (D+H, 2H) and ``gates/bias`` (2H,) hold ``r, u``
    (``u`` is ``z``); ``candidate/kernel`` (D+H, H) and ``candidate/bias``
    (H,) hold ``n``. The recurrent bias is zero.
    """
    gate_kernel, gate_bias, cand_kernel, cand_bias = (
        _get(variables, k) for k in _TF1_GRU_KEYS
    )
    cand_bias = _array("candidate/bias", cand_bias, 1)
    units = cand_bias.shape[0]
    if units == 0:
        raise ValueError(
            "candidate/bias must have shape (H,) with H >= 1; got (0,)"
        )
    gate_bias = _expect(
        "gates/bias", _array("gates/bias", gate_bias, 1), (2 * units,), 2
    )
    gx, gh = _split_tf1_kernel(
        "gates/kernel", gate_kernel, units, 2 * units, 3
    )
    cx, ch = _split_tf1_kernel(
        "candidate/kernel", cand_kernel, units, units, 3
    )
    if gx.shape[0] != cx.shape[0]:
        raise ValueError(
            f"gates/kernel has D = {gx.shape[0]} input rows but "
            f"candidate/kernel has {cx.shape[0]}"
        )

    def z_r(m):  # (r, u) -> (z, r)
        return np.concatenate(_blocks(m, 2)[::-1], axis=-1)

    input_bias = np.concatenate([z_r(gate_bias), cand_bias])
    return GRUWeights(
        np.concatenate([z_r(gx), cx], axis=-1),
        np.concatenate([z_r(gh), ch], axis=-1),
        input_bias,
        np.zeros_like(input_bias),
        False,
    )


def gru_to_tf1(weights: GRUWeights) -> dict:
    """:class:`GRUWeights` with ``reset_after=False`` -> TF1 ``GRUCell``
    variables (see :func:`gru_from_tf1`).

    The two reference biases are added: exact for a reset-before GRU, where
    ``b_hn`` sits outside the reset gate. Raises ``ValueError`` for
    ``reset_after=True``: ``GRUCell`` applies the reset gate before the
    recurrent matmul.
    """
    if weights.reset_after:
        raise ValueError(
            "cannot convert a GRU with reset_after=True to TF1 GRUCell: "
            "GRUCell computes n = tanh([x, r * h] @ candidate/kernel + "
            "candidate/bias) (reset before the matmul); r * (h U_n + b_hn) "
            "cannot be written that way in general"
        )
    _check_reference(weights, 3)
    stacked = np.concatenate(
        [np.asarray(weights.kernel), np.asarray(weights.recurrent_kernel)],
        axis=0,
    )
    bias = np.asarray(weights.input_bias) + np.asarray(weights.recurrent_bias)
    (z, r, n), (bz, br, bn) = _blocks(stacked, 3), _blocks(bias, 3)
    return {
        "gates/kernel": np.concatenate([r, z], axis=-1),
        "gates/bias": np.concatenate([br, bz]),
        "candidate/kernel": n.copy(),
        "candidate/bias": bn.copy(),
    }


# --- LSTM with a projection: TF1 num_proj = PyTorch proj_size -------------
#
# With a projection (H, P) the LSTM computes h_t = (o_t * tanh(c_t)) @ P:
# the output and h have P units, the cell state c keeps H, and the
# recurrence reads the projected h, so the recurrent kernel is (P, 4H).
# The reference keeps the projection beside its LSTMWeights:
# ``rnnbook.lstm_forward(x, weights, projection=projection)``.

_PROJECTED = (
    "an LSTM with a projection: kernel (D, 4H), recurrent_kernel (P, 4H), "
    "bias (4H,) and projection (H, P)"
)


def _check_projected(weights, projection):
    """Return ``(D, H, P)`` after checking reference weights and their
    projection; raise ``ValueError`` naming the array that is off."""
    if not isinstance(weights, LSTMWeights):
        raise ValueError(
            f"expected LSTMWeights for {_PROJECTED}; got "
            f"{type(weights).__name__}"
        )
    projection = _array("projection", projection, 2)
    units, width = projection.shape
    if units == 0 or width == 0:
        raise ValueError(
            "projection must have shape (H, P) with H, P >= 1; got "
            f"{projection.shape}"
        )
    kernel = _array("kernel", weights.kernel, 2)
    recurrent = _array("recurrent_kernel", weights.recurrent_kernel, 2)
    bias = _array("bias", weights.bias, 1)
    expected = {
        "kernel": (kernel, (kernel.shape[0], 4 * units)),
        "recurrent_kernel": (recurrent, (width, 4 * units)),
        "bias": (bias, (4 * units,)),
    }
    for name, (value, shape) in expected.items():
        if value.shape != shape:
            raise ValueError(
                f"{name} must have shape {shape} for {_PROJECTED}, with "
                f"(H, P) = {projection.shape} read from the projection; got "
                f"{value.shape}"
            )
    return kernel.shape[0], units, width


def lstm_projected_from_tf1(variables, *, forget_bias: float) -> tuple:
    """TF1 ``LSTMCell(num_units=H, num_proj=P)`` variables ->
    ``(LSTMWeights, projection)``.

    ``variables`` maps the cell's variable names, without the scope
    (``rnn/lstm_cell/``), to arrays:

    * ``kernel`` (D+P, 4H), applied to ``concat([x_t, h_{t-1}])`` with the
      projected ``h`` (P wide), columns ``i, j, f, o``;
    * ``bias`` (4H,), the same columns;
    * ``projection/kernel`` (H, P), applied as ``m_t @ projection``.

    ``forget_bias`` is the cell's constructor argument (default 1.0), added
    to the forget gate's bias as the cell does at every step.

    Returns:
        ``(weights, projection)``: :class:`LSTMWeights` with kernel (D, 4H),
        recurrent_kernel (P, 4H), bias (4H,), gates ``i, f, g, o``; and the
        projection (H, P), for
        ``lstm_forward(x, weights, projection=projection)``.

    Raises:
        ValueError: a missing entry, or shapes that do not fit together.
    """
    forget_bias = _forget(forget_bias)
    projection = _array(
        "projection/kernel", _get(variables, "projection/kernel"), 2
    )
    bias = _array("bias", _get(variables, "bias"), 1)
    kernel = _array("kernel", _get(variables, "kernel"), 2)
    units, width = projection.shape
    if bias.shape != (4 * units,):
        raise ValueError(
            f"bias must have shape (4H,) = {(4 * units,)}, with H = {units} "
            f"read from projection/kernel {projection.shape} = (H, P); got "
            f"{bias.shape}"
        )
    if kernel.shape[1] != 4 * units or kernel.shape[0] <= width:
        raise ValueError(
            f"kernel must have shape (D + P, 4H) with D >= 1, P = {width} "
            f"and H = {units} (from projection/kernel); got {kernel.shape}"
        )

    def reorder(m):
        return np.concatenate(
            [_blocks(m, 4)[k] for k in _TF1_FROM_REF], axis=-1
        )

    i, f, g, o = _blocks(reorder(bias), 4)
    forget = f + forget_bias  # the cell adds forget_bias at every step
    weights = LSTMWeights(
        reorder(kernel[:-width]),
        reorder(kernel[-width:]),
        np.concatenate([i, forget, g, o]).astype(bias.dtype),
    )
    return weights, projection.copy()


def lstm_projected_to_tf1(
    weights: LSTMWeights, projection, *, forget_bias: float
) -> dict:
    """``(LSTMWeights, projection)`` -> TF1 ``LSTMCell(num_proj=P)``
    variables.

    ``weights``: kernel (D, 4H), recurrent_kernel (P, 4H), bias (4H,);
    ``projection``: (H, P). Returns ``{kernel (D+P, 4H), bias (4H,),
    projection/kernel (H, P)}`` (prefix the names with the cell's scope,
    ``rnn/lstm_cell/``, to assign them). ``forget_bias`` must be the one
    the cell is built with: it is subtracted here because the cell adds it
    back at run time.
    """
    forget_bias = _forget(forget_bias)
    _check_projected(weights, projection)
    i, f, g, o = _blocks(weights.bias, 4)
    forget = f - forget_bias  # the cell adds it back at run time
    tf1_bias = np.concatenate([i, g, forget, o])
    tf1_bias = tf1_bias.astype(np.asarray(weights.bias).dtype)
    stacked = np.concatenate(
        [np.asarray(weights.kernel), np.asarray(weights.recurrent_kernel)],
        axis=0,
    )
    kernel = np.concatenate(
        [_blocks(stacked, 4)[k] for k in _TF1_FROM_REF], axis=-1
    )
    return {
        "kernel": kernel,
        "bias": tf1_bias,
        "projection/kernel": np.asarray(projection).copy(),
    }


def lstm_projected_from_torch(state_dict, suffix: str = "_l0") -> tuple:
    """PyTorch ``nn.LSTM(D, H, proj_size=P)`` arrays ->
    ``(LSTMWeights, projection)``.

    ``state_dict`` maps ``weight_ih{suffix}`` (4H, D), ``weight_hh{suffix}``
    (4H, P), ``bias_ih{suffix}`` and ``bias_hh{suffix}`` (4H,) and
    ``weight_hr{suffix}`` (P, H) to arrays (or CPU tensors). PyTorch
    computes ``h_t = W_hr (o_t * tanh(c_t))``, so the projection is
    ``weight_hr.T`` (H, P); the two biases are added.

    Returns:
        ``(weights, projection)`` as :func:`lstm_projected_from_tf1`.
    """
    names = [
        k + suffix
        for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
    ]
    w_ih, w_hh, b_ih, b_hh, w_hr = (
        _array(name, _get(state_dict, name), 1 if "bias" in name else 2)
        for name in names
    )
    width, units = w_hr.shape
    expected = {
        names[0]: (w_ih, (4 * units, w_ih.shape[1])),
        names[1]: (w_hh, (4 * units, width)),
        names[2]: (b_ih, (4 * units,)),
        names[3]: (b_hh, (4 * units,)),
    }
    for name, (value, shape) in expected.items():
        if value.shape != shape:
            raise ValueError(
                f"{name} must have shape {shape}, with (P, H) = "
                f"{w_hr.shape} read from {names[4]}; got {value.shape}"
            )
    weights = LSTMWeights(w_ih.T.copy(), w_hh.T.copy(), b_ih + b_hh)
    _check_projected(weights, w_hr.T)
    return weights, w_hr.T.copy()


def lstm_projected_to_torch(
    weights: LSTMWeights, projection, suffix: str = "_l0"
) -> dict:
    """``(LSTMWeights, projection)`` -> the five ``nn.LSTM(proj_size=P)``
    arrays.

    ``weights``: kernel (D, 4H), recurrent_kernel (P, 4H), bias (4H,);
    ``projection``: (H, P). Returns ``{weight_ih (4H, D), weight_hh (4H, P),
    bias_ih (4H,), bias_hh (4H,) = 0, weight_hr (P, H)}`` with ``suffix``
    appended to each name; load with ``torch.from_numpy``.
    """
    _check_projected(weights, projection)
    bias = np.asarray(weights.bias)
    return {
        "weight_ih" + suffix: np.asarray(weights.kernel).T.copy(),
        "weight_hh" + suffix: np.asarray(weights.recurrent_kernel).T.copy(),
        "bias_ih" + suffix: bias.copy(),
        "bias_hh" + suffix: np.zeros_like(bias),
        "weight_hr" + suffix: np.asarray(projection).T.copy(),
    }


__all__ += [
    "lstm_projected_from_tf1",
    "lstm_projected_from_torch",
    "lstm_projected_to_tf1",
    "lstm_projected_to_torch",
]
