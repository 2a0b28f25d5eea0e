"""Move one set of LSTM or GRU weights between NumPy, PyTorch, Keras and TF1.

Everything goes through the book's reference layout (:class:`LSTMWeights`,
:class:`GRUWeights`: Keras's column layout ``x_t @ kernel``, LSTM gates
``i, f, g, o``, GRU gates ``z, r, n``). Converting framework A to framework B
is ``b_from_reference(a_to_reference(...))``, for example
``lstm_to_torch(lstm_from_keras(layer.get_weights()))``.

The framework formats are plain NumPy arrays under the framework's own names:

* PyTorch ``nn.LSTM``/``nn.GRU`` (one layer, one direction): a dict with
  ``weight_ih_l0`` (G*H, D), ``weight_hh_l0`` (G*H, H), ``bias_ih_l0`` and
  ``bias_hh_l0`` (G*H,), rows stacked ``i, f, g, o`` (LSTM) or ``r, z, n`` (GRU).
  ``nn.GRU`` always applies the reset gate *after* the recurrent matmul.
* Keras ``LSTM``/``GRU``: the list ``layer.get_weights()`` returns,
  ``[kernel (D, G*H), recurrent_kernel (H, G*H), bias]``; the LSTM bias is (4H,),
  the GRU bias is (2, 3H) with ``reset_after=True`` (input row, recurrent row)
  and (3H,) with ``reset_after=False``.
* TF1 ``tf.compat.v1.nn.rnn_cell.LSTMCell``: a dict with ``kernel`` (D+H, 4H),
  applied to ``concat([x_t, h_{t-1}])``, columns ``i, j, f, o`` (``j`` is the
  candidate), and ``bias`` (4H,). The cell adds ``forget_bias`` (default 1.0) to
  the forget gate *at run time*, so both TF1 functions require it.
* TF1 ``GRUCell``: a dict with ``gates/kernel`` (D+H, 2H) (columns ``r, u``,
  ``u`` being the update gate ``z``), ``gates/bias`` (2H,), ``candidate/kernel``
  (D+H, H) and ``candidate/bias`` (H,). The reset gate multiplies ``h_{t-1}``
  before the matmul (``reset_after=False``).

Converting *to* the reference and back is exact (``assert_array_equal``),
except for the TF1 LSTM with a non-zero ``forget_bias``: adding and then
subtracting it is a float rounding away from exact. Where a format has fewer
biases than the reference, the two reference biases are added (same function,
not the same split). Bad inputs raise ``ValueError`` saying what was expected.
"""

from __future__ import annotations

import numbers

import numpy as np

from .reference import GRUWeights, LSTMWeights

__all__ = [
    "lstm_from_torch",
    "lstm_to_torch",
    "lstm_from_keras",
    "lstm_to_keras",
    "lstm_from_tf1",
    "lstm_to_tf1",
    "gru_from_torch",
    "gru_to_torch",
    "gru_from_keras",
    "gru_to_keras",
    "gru_from_tf1",
    "gru_to_tf1",
]

_GATES = {4: "an LSTM (4 gates)", 3: "a GRU (3 gates)"}

_NO_TORCH_RESET_BEFORE = (
    "PyTorch's nn.GRU always applies the reset gate after the recurrent matmul, "
    "n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); a reset-before GRU "
    "(reset_after=False: TF1 GRUCell, Keras GRU(reset_after=False)) computes "
    "n = tanh(W_in x + b_in + (r * h) W_hn + b_hn), and no choice of nn.GRU weights "
    "reproduces that in general"
)


# --- checks -------------------------------------------------------------------------------------


def _array(name, value, ndim):
    value = np.asarray(value)
    if value.ndim != ndim:
        raise ValueError(
            f"{name} must have rank {ndim}; got shape {value.shape}"
        )
    return value


def _expect(name, value, shape, gates, what=""):
    """Raise unless ``value.shape == shape``; name the gate count when that is what is off."""
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
            hint = f" (axis {axis} holds {got // units} gates of H = {units}: that looks like {_GATES[got // units]})"
            break
    raise ValueError(
        f"{name} must have shape {shape}{what}; got {value.shape}{hint}"
    )


def _units_from(name, recurrent, gates, rows_are_gates):
    """H from a recurrent matrix of shape (H, G*H) (Keras) or (G*H, H) (PyTorch)."""
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
            f"expected Keras's layer.get_weights() list [kernel, recurrent_kernel, bias] (use_bias=True); got {got}"
        )
    return [np.asarray(w) for w in weights]


def _forget(forget_bias):
    # bool is a numbers.Real in Python; forget_bias=True is almost surely a mistake, so refuse it
    if (
        isinstance(forget_bias, (bool, np.bool_))
        or not isinstance(forget_bias, numbers.Real)
        or not np.isfinite(forget_bias)
    ):
        raise ValueError(
            f"forget_bias must be a finite number (LSTMCell's default is 1.0); got {forget_bias!r}"
        )
    return forget_bias


def _split_tf1_kernel(name, kernel, units, columns, gates):
    """Split a TF1 kernel over concat([x, h]) of shape (D+H, columns) into (D, ...) and (H, ...)."""
    kernel = _array(name, kernel, 2)
    if kernel.shape[1] != columns or kernel.shape[0] <= units:
        raise ValueError(
            f"{name} must have shape (D + H, {columns}) with D >= 1 for H = {units} "
            f"({_GATES[gates]}); got {kernel.shape}"
        )
    return kernel[:-units], kernel[-units:]


# --- LSTM ---------------------------------------------------------------------------------------

_TF1_FROM_REF = [
    0,
    2,
    1,
    3,
]  # TF1 i, j, f, o read from reference i, f, g, o (its own inverse)


def _blocks(matrix, gates, axis=-1):
    return np.split(np.asarray(matrix), gates, axis=axis)


def _read_torch(state_dict, suffix, gates):
    """The four ``nn.LSTM``/``nn.GRU`` arrays, checked: ``(w_ih (G*H, D), w_hh (G*H, H), b_ih, b_hh)``."""
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

    ``state_dict`` maps ``weight_ih{suffix}`` (4H, D), ``weight_hh{suffix}`` (4H, H),
    ``bias_ih{suffix}`` and ``bias_hh{suffix}`` (4H,) to arrays (or CPU tensors).
    Both orders are ``i, f, g, o``, so this transposes and adds the two biases.
    """
    w_ih, w_hh, b_ih, b_hh = _read_torch(state_dict, suffix, 4)
    return LSTMWeights(w_ih.T.copy(), w_hh.T.copy(), b_ih + b_hh)


def lstm_to_torch(weights: LSTMWeights, suffix: str = "_l0") -> dict:
    """:class:`LSTMWeights` -> the four ``nn.LSTM`` arrays (the whole bias goes to ``bias_ih``).

    Returns ``{weight_ih (4H, D), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,) = 0}``
    with ``suffix`` appended to each name; load with ``torch.from_numpy``.
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
    """Keras ``LSTM`` ``[kernel (D, 4H), recurrent_kernel (H, 4H), bias (4H,)]`` -> :class:`LSTMWeights`.

    The layouts are the same (Keras's ``i, f, c, o`` is ``i, f, g, o``); only the shapes are checked.
    """
    result = LSTMWeights(*(w.copy() for w in _keras_list(weights)))
    _check_reference(result, 4)
    return result


def lstm_to_keras(weights: LSTMWeights) -> list:
    """:class:`LSTMWeights` -> ``[kernel (D, 4H), recurrent_kernel (H, 4H), bias (4H,)]`` for ``set_weights``."""
    _check_reference(weights, 4)
    return [np.asarray(w).copy() for w in weights]


def lstm_from_tf1(variables, *, forget_bias: float) -> LSTMWeights:
    """TF1 ``LSTMCell`` ``{kernel (D+H, 4H), bias (4H,)}`` -> :class:`LSTMWeights`.

    ``forget_bias`` is the cell's constructor argument (``LSTMCell``'s default is 1.0);
    it is added to the forget gate's bias, which the cell does at every step.
    Columns ``i, j, f, o`` become ``i, f, g, o``.
    """
    forget_bias = _forget(forget_bias)
    bias = _array("bias", _get(variables, "bias"), 1)
    if bias.shape[0] % 4 or bias.shape[0] == 0:
        raise ValueError(
            f"bias must have shape (4*H,), the 4 gates i, j, f, o of an LSTM; got {bias.shape}"
        )
    units = bias.shape[0] // 4
    x_part, h_part = _split_tf1_kernel(
        "kernel", _get(variables, "kernel"), units, 4 * units, 4
    )
    reorder = lambda m: np.concatenate(
        [_blocks(m, 4)[k] for k in _TF1_FROM_REF], axis=-1
    )  # noqa: E731
    i, f, g, o = _blocks(reorder(bias), 4)
    return LSTMWeights(
        reorder(x_part),
        reorder(h_part),
        np.concatenate([i, f + forget_bias, g, o]).astype(bias.dtype),
    )


def lstm_to_tf1(weights: LSTMWeights, *, forget_bias: float) -> dict:
    """:class:`LSTMWeights` -> TF1 ``LSTMCell`` ``{kernel (D+H, 4H), bias (4H,)}``.

    ``forget_bias`` must be the value the ``LSTMCell`` is built with: it is subtracted
    from the forget gate's bias here because the cell adds it back at run time.
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


# --- GRU ----------------------------------------------------------------------------------------


def _swap_first_two(matrix, axis=-1):
    """Reorder gate blocks r, z, n <-> z, r, n (the permutation is its own inverse)."""
    a, b, c = _blocks(matrix, 3, axis=axis)
    return np.concatenate([b, a, c], axis=axis)


def gru_from_torch(state_dict, suffix: str = "_l0") -> GRUWeights:
    """PyTorch ``nn.GRU`` arrays (rows ``r, z, n``) -> :class:`GRUWeights` with ``reset_after=True``.

    ``weight_ih`` (3H, D), ``weight_hh`` (3H, H), ``bias_ih``/``bias_hh`` (3H,). Exact:
    a transpose and a reorder, both biases kept.
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
    """:class:`GRUWeights` with ``reset_after=True`` -> the four ``nn.GRU`` arrays (rows ``r, z, n``).

    Raises ``ValueError`` for ``reset_after=False``: ``nn.GRU`` cannot compute that GRU.
    """
    if not weights.reset_after:
        raise ValueError(
            f"cannot convert a GRU with reset_after=False to PyTorch: {_NO_TORCH_RESET_BEFORE}"
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


def gru_from_keras(weights, *, reset_after: bool = True) -> GRUWeights:
    """Keras ``GRU`` ``[kernel (D, 3H), recurrent_kernel (H, 3H), bias]`` -> :class:`GRUWeights`.

    ``reset_after`` must be the layer's (``layer.reset_after``; Keras's default is True):
    the bias is (2, 3H) (input row, recurrent row) when it is True and (3H,) when False.
    """
    kernel, recurrent, bias = _keras_list(weights)
    units = _units_from("recurrent_kernel", recurrent, 3, rows_are_gates=False)
    expected = (2, 3 * units) if reset_after else (3 * units,)
    if bias.shape != expected:
        raise ValueError(
            f"a Keras GRU with reset_after={reset_after} stores a bias of shape {expected}; got {bias.shape}. "
            "Pass the layer's own reset_after (a (3H,) bias means reset_after=False, (2, 3H) means True)"
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
    """:class:`GRUWeights` -> ``[kernel, recurrent_kernel, bias]`` for a Keras ``GRU`` built with
    ``reset_after=weights.reset_after``: bias (2, 3H) if True, else (3H,) = input + recurrent bias.
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
    """TF1 ``GRUCell`` variables -> :class:`GRUWeights` with ``reset_after=False``.

    ``gates/kernel`` (D+H, 2H) and ``gates/bias`` (2H,) hold ``r, u`` (``u`` is ``z``);
    ``candidate/kernel`` (D+H, H) and ``candidate/bias`` (H,) hold ``n``. The recurrent bias is zero.
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
            f"gates/kernel has D = {gx.shape[0]} input rows but candidate/kernel has {cx.shape[0]}"
        )
    z_r = lambda m: np.concatenate(_blocks(m, 2)[::-1], axis=-1)  # noqa: E731  (r, u) -> (z, r)
    input_bias = np.concatenate([z_r(gate_bias), cand_bias])
    return GRUWeights(
        np.concatenate([z_r(gx), cx], axis=-1),
        np.concatenate([z_r(gh), ch], axis=-1),
        input_bias,
        np.zeros_like(input_bias),
        False,
    )


def gru_to_tf1(weights: GRUWeights) -> dict:
    """:class:`GRUWeights` with ``reset_after=False`` -> TF1 ``GRUCell`` variables (see :func:`gru_from_tf1`).

    The two reference biases are added. Raises ``ValueError`` for ``reset_after=True``:
    ``GRUCell`` applies the reset gate before the recurrent matmul.
    """
    if weights.reset_after:
        raise ValueError(
            "cannot convert a GRU with reset_after=True to TF1 GRUCell: GRUCell computes "
            "n = tanh([x, r * h] @ candidate/kernel + candidate/bias) (reset before the matmul); "
            "r * (h U_n + b_hn) cannot be written that way in general"
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
