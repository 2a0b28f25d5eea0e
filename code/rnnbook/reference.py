"""A NumPy reference forward pass for the Elman RNN, the LSTM and the GRU.

Every function here takes a batch of padded sequences and returns the two
things a recurrent layer can give back:

* ``outputs``: the hidden state at every step, shape ``(N, T, H)``, set to
  zero at the padded steps past each sequence's length;
* the final state, taken at each sequence's *last valid* step:
  ``h_n`` of shape ``(N, H)`` (and ``c_n`` for the LSTM).

Notation (used across the book): batch ``N``, time ``T``, input features
``D``, units ``H``. Weights use the *column* layout ``x_t @ kernel`` that
Keras uses, with the gates stacked along the last axis:

* Elman RNN: ``h_t = tanh(x_t W + h_{t-1} U + b)``;
* LSTM, gates in the order ``i, f, g, o`` (input, forget, candidate, output),
  ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``;
* GRU, gates in the order ``z, r, n`` (update, reset, candidate),
  ``h_t = z * h_{t-1} + (1 - z) * n``. With ``reset_after=True`` (PyTorch,
  Keras's default) the reset gate multiplies ``h_{t-1} U_n + b_hn``; with
  ``reset_after=False`` (TF1 ``GRUCell``, Cho et al. 2014) it multiplies
  ``h_{t-1}`` before ``U_n``.

A padded step leaves the state unchanged and writes zero to ``outputs``,
which is what TF1's ``dynamic_rnn(..., sequence_length=...)`` does.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .checks import (
    check_initial_state,
    check_lengths,
    check_sequences,
    check_weight,
)

__all__ = [
    "RNNWeights",
    "LSTMWeights",
    "GRUWeights",
    "sigmoid",
    "rnn_forward",
    "lstm_forward",
    "gru_forward",
    "random_rnn_weights",
    "random_lstm_weights",
    "random_gru_weights",
]


class RNNWeights(NamedTuple):
    """Elman RNN weights: ``kernel`` (D, H), ``recurrent_kernel`` (H, H),
    ``bias`` (H,)."""

    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray


class LSTMWeights(NamedTuple):
    """LSTM weights, gates ``i, f, g, o`` along the last axis.

    ``kernel`` (D, 4H), ``recurrent_kernel`` (H, 4H), ``bias`` (4H,).
    """

    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray


class GRUWeights(NamedTuple):
    """GRU weights, gates ``z, r, n`` along the last axis.

    ``kernel`` (D, 3H), ``recurrent_kernel`` (H, 3H), ``input_bias`` (3H,),
    ``recurrent_bias`` (3H,), and ``reset_after`` (where the reset gate acts).
    """

    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    input_bias: np.ndarray
    recurrent_bias: np.ndarray
    reset_after: bool = True


def sigmoid(a: np.ndarray) -> np.ndarray:
    """The logistic function, computed without overflow for large ``|a|``."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _units(weights, gates: int) -> int:
    """Read ``H`` from the recurrent kernel; check that it is (H, G*H)."""
    recurrent = np.asarray(weights.recurrent_kernel)
    if recurrent.ndim != 2:
        raise ValueError(
            f"recurrent_kernel must have rank 2, shape (H, {gates}*H); got "
            f"shape {recurrent.shape}"
        )
    units = recurrent.shape[0]
    check_weight("recurrent_kernel", recurrent, (units, gates * units))
    return units


def _run(x, lengths, initial_state, units, step):
    """Shared time loop: ``step(x_t, state) -> new_state``, ``state[0]`` is
    ``h``.

    Rows whose sequence has ended keep their state and get zero outputs.
    Returns ``outputs`` (N, T, H) and the final state tuple.
    """
    batch, steps, _ = x.shape
    state = initial_state
    outputs = np.zeros((batch, steps, units), dtype=x.dtype)
    for t in range(steps):
        # (N, 1): which rows still have data at step t
        valid = (t < lengths)[:, None]
        candidate = step(x[:, t], state)
        state = tuple(
            np.where(valid, new, old) for new, old in zip(candidate, state)
        )
        outputs[:, t] = np.where(valid, state[0], 0.0)
    return outputs, state


def _prepare(x, lengths, weights, gates, initial_state, n_states):
    x = check_sequences(x)
    batch, steps, features = x.shape
    units = _units(weights, gates)
    check_weight("kernel", weights.kernel, (features, gates * units))
    lengths = check_lengths(lengths, batch, steps)
    state = check_initial_state(initial_state, n_states, batch, units, x.dtype)
    return x, lengths, units, state


def rnn_forward(x, weights: RNNWeights, lengths=None, initial_state=None):
    """Elman RNN over a padded batch.

    Args:
        x: inputs, shape (N, T, D).
        weights: an :class:`RNNWeights` (kernel (D, H), recurrent_kernel
            (H, H), bias (H,)).
        lengths: valid steps per sequence, shape (N,), each in ``1..T``;
            ``None`` means all T.
        initial_state: ``h_0`` of shape (N, H); zeros when ``None``.

    Returns:
        ``(outputs, h_n)``: outputs (N, T, H), zero past each length;
        ``h_n`` (N, H), the hidden state at each sequence's last valid step.
    """
    x, lengths, units, state = _prepare(
        x, lengths, weights, 1, initial_state, 1
    )
    check_weight("bias", weights.bias, (units,))

    def step(x_t, state):
        (h,) = state
        return (
            np.tanh(
                x_t @ weights.kernel
                + h @ weights.recurrent_kernel
                + weights.bias
            ),
        )

    outputs, (h_n,) = _run(x, lengths, state, units, step)
    return outputs, h_n


def lstm_forward(
    x, weights: LSTMWeights, lengths=None, initial_state=None, projection=None
):
    """LSTM over a padded batch (gates ``i, f, g, o``), optionally with a
    projection.

    Args:
        x: inputs, shape (N, T, D).
        weights: an :class:`LSTMWeights` (kernel (D, 4H), recurrent_kernel
            (H, 4H), bias (4H,)); with a projection the recurrent kernel
            reads the projected ``h``, so it is (P, 4H).
        lengths: valid steps per sequence, shape (N,), each in ``1..T``;
            ``None`` means all T.
        initial_state: ``(h_0, c_0)``, each (N, H); zeros when ``None``.
            With a projection ``h_0`` is (N, P).
        projection: ``None``, or a matrix of shape (H, P): then
            ``h_t = (o_t * tanh(c_t)) @ projection``, which is what TF1's
            ``LSTMCell(num_proj=P)`` (its ``projection/kernel``) and
            PyTorch's ``nn.LSTM(proj_size=P)`` (``weight_hr_l0.T``)
            compute. ``c_t`` keeps H units.

    Returns:
        ``(outputs, (h_n, c_n))``: outputs (N, T, H), or (N, T, P) with a
        projection, zero past each length; ``h_n`` (N, H) or (N, P) and
        ``c_n`` (N, H), hidden and cell state at the last valid step.
    """
    if projection is None:
        x, lengths, units, state = _prepare(
            x, lengths, weights, 4, initial_state, 2
        )
        width = units
    else:
        x, lengths, units, width, state = _prepare_projected(
            x, lengths, weights, initial_state, projection
        )
        projection = np.asarray(projection)
    check_weight("bias", weights.bias, (4 * units,))

    def step(x_t, state):
        h, c = state
        z = x_t @ weights.kernel + h @ weights.recurrent_kernel + weights.bias
        i, f, g, o = np.split(z, 4, axis=-1)
        c_t = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h_t = sigmoid(o) * np.tanh(c_t)
        if projection is not None:
            h_t = h_t @ projection
        return h_t, c_t

    outputs, (h_n, c_n) = _run(x, lengths, state, width, step)
    return outputs, (h_n, c_n)


def _prepare_projected(x, lengths, weights, initial_state, projection):
    """The checks of :func:`lstm_forward` with a projection (H, P).

    Returns ``(x, lengths, H, P, (h_0 (N, P), c_0 (N, H)))``.
    """
    x = check_sequences(x)
    batch, steps, features = x.shape
    projection = np.asarray(projection)
    if projection.ndim != 2 or 0 in projection.shape:
        raise ValueError(
            "projection must have shape (H, P) = (cell units, projected "
            f"units), both at least 1; got shape {projection.shape}"
        )
    units, width = projection.shape
    kernel = np.asarray(weights.kernel)
    if kernel.shape != (features, 4 * units):
        raise ValueError(
            f"kernel must have shape (D, 4H) = {(features, 4 * units)}, with "
            f"H = {units} read from the projection {projection.shape} = "
            f"(H, P); got {kernel.shape}"
        )
    recurrent = np.asarray(weights.recurrent_kernel)
    if recurrent.shape != (width, 4 * units):
        raise ValueError(
            f"with a projection of shape {projection.shape} = (H, P), "
            f"recurrent_kernel must have shape (P, 4H) = {(width, 4 * units)}"
            f": the recurrence reads the projected h; got {recurrent.shape}"
        )
    lengths = check_lengths(lengths, batch, steps)
    if initial_state is None:
        state = (
            np.zeros((batch, width), dtype=x.dtype),
            np.zeros((batch, units), dtype=x.dtype),
        )
    else:
        if (
            not isinstance(initial_state, (tuple, list))
            or len(initial_state) != 2
        ):
            raise ValueError(
                "initial_state must be (h_0, c_0): h_0 (N, P) and c_0 (N, H)"
            )
        state = tuple(
            check_weight(f"initial_state {name}", s, shape).astype(
                x.dtype, copy=False
            )
            for name, s, shape in zip(
                ("h_0", "c_0"), initial_state, ((batch, width), (batch, units))
            )
        )
    return x, lengths, units, width, state


def gru_forward(x, weights: GRUWeights, lengths=None, initial_state=None):
    """GRU over a padded batch (gates ``z, r, n``; ``weights.reset_after``
    picks the variant).

    Args:
        x: inputs, shape (N, T, D).
        weights: a :class:`GRUWeights` (kernel (D, 3H), recurrent_kernel
            (H, 3H), input_bias (3H,), recurrent_bias (3H,), reset_after).
        lengths: valid steps per sequence, shape (N,), each in ``1..T``;
            ``None`` means all T.
        initial_state: ``h_0`` of shape (N, H); zeros when ``None``.

    Returns:
        ``(outputs, h_n)``: outputs (N, T, H), zero past each length;
        ``h_n`` (N, H), the hidden state at each sequence's last valid step.
    """
    x, lengths, units, state = _prepare(
        x, lengths, weights, 3, initial_state, 1
    )
    check_weight("input_bias", weights.input_bias, (3 * units,))
    check_weight("recurrent_bias", weights.recurrent_bias, (3 * units,))
    W_z, W_r, W_n = np.split(np.asarray(weights.kernel), 3, axis=-1)
    U_z, U_r, U_n = np.split(np.asarray(weights.recurrent_kernel), 3, axis=-1)
    bx_z, bx_r, bx_n = np.split(np.asarray(weights.input_bias), 3)
    bh_z, bh_r, bh_n = np.split(np.asarray(weights.recurrent_bias), 3)

    def step(x_t, state):
        (h,) = state
        z = sigmoid(x_t @ W_z + bx_z + h @ U_z + bh_z)
        r = sigmoid(x_t @ W_r + bx_r + h @ U_r + bh_r)
        if weights.reset_after:
            n = np.tanh(x_t @ W_n + bx_n + r * (h @ U_n + bh_n))
        else:
            n = np.tanh(x_t @ W_n + bx_n + (r * h) @ U_n + bh_n)
        return (z * h + (1.0 - z) * n,)

    outputs, (h_n,) = _run(x, lengths, state, units, step)
    return outputs, h_n


def _uniform(rng, shape, scale):
    return rng.uniform(-scale, scale, size=shape).astype(np.float32)


def random_rnn_weights(
    input_size: int, units: int, seed: int = 0
) -> RNNWeights:
    """Random :class:`RNNWeights`, uniform in ``±1/sqrt(H)`` (PyTorch's
    default range), float32."""
    rng, s = np.random.default_rng(seed), 1.0 / np.sqrt(units)
    return RNNWeights(
        _uniform(rng, (input_size, units), s),
        _uniform(rng, (units, units), s),
        _uniform(rng, (units,), s),
    )


def random_lstm_weights(
    input_size: int, units: int, seed: int = 0
) -> LSTMWeights:
    """Random :class:`LSTMWeights`, uniform in ``±1/sqrt(H)``, float32."""
    rng, s = np.random.default_rng(seed), 1.0 / np.sqrt(units)
    return LSTMWeights(
        _uniform(rng, (input_size, 4 * units), s),
        _uniform(rng, (units, 4 * units), s),
        _uniform(rng, (4 * units,), s),
    )


def random_gru_weights(
    input_size: int, units: int, seed: int = 0, reset_after: bool = True
) -> GRUWeights:
    """Random :class:`GRUWeights`, uniform in ``±1/sqrt(H)``, float32."""
    rng, s = np.random.default_rng(seed), 1.0 / np.sqrt(units)
    return GRUWeights(
        _uniform(rng, (input_size, 3 * units), s),
        _uniform(rng, (units, 3 * units), s),
        _uniform(rng, (3 * units,), s),
        _uniform(rng, (3 * units,), s),
        reset_after,
    )
