"""Unit tests for rnnbook.reference and rnnbook.padding.

The maths is checked against a hand-unrolled loop over one sequence at a time,
written from the equations (separate gate matrices, no batching, no masking),
so a mistake in the batched, masked implementation cannot hide in both.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnbook import (
    GRUWeights,
    LSTMWeights,
    RNNWeights,
    gather_last_valid,
    gru_forward,
    lstm_forward,
    mask_from_lengths,
    random_gru_weights,
    random_lstm_weights,
    random_rnn_weights,
    rnn_forward,
    sigmoid,
)

N, T, D, H = 3, 5, 2, 4
LENGTHS = np.array([5, 2, 3])


@pytest.fixture
def x():
    return np.random.default_rng(1).normal(size=(N, T, D))


def logistic(a):
    return 1.0 / (1.0 + np.exp(-a))


# --- hand-unrolled single-sequence loops, straight from the equations ------


def unrolled_rnn(seq, w):
    h, hs = np.zeros(w.recurrent_kernel.shape[0]), []
    for x_t in seq:
        h = np.tanh(w.kernel.T @ x_t + w.recurrent_kernel.T @ h + w.bias)
        hs.append(h)
    return hs


def unrolled_lstm(seq, w):
    units = w.recurrent_kernel.shape[0]
    block = lambda m, k: m[..., k * units : (k + 1) * units]  # noqa: E731
    h, c, hs, cs = np.zeros(units), np.zeros(units), [], []
    for x_t in seq:
        gate = lambda k: (
            block(w.kernel, k).T @ x_t
            + block(w.recurrent_kernel, k).T @ h
            + block(w.bias, k)
        )  # noqa: E731
        i, f, g, o = (
            logistic(gate(0)),
            logistic(gate(1)),
            np.tanh(gate(2)),
            logistic(gate(3)),
        )
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
        cs.append(c)
    return hs, cs


def unrolled_gru(seq, w):
    units = w.recurrent_kernel.shape[0]
    block = lambda m, k: m[..., k * units : (k + 1) * units]  # noqa: E731
    h, hs = np.zeros(units), []
    for x_t in seq:
        xz = block(w.kernel, 0).T @ x_t + block(w.input_bias, 0)
        xr = block(w.kernel, 1).T @ x_t + block(w.input_bias, 1)
        xn = block(w.kernel, 2).T @ x_t + block(w.input_bias, 2)
        z = logistic(
            xz
            + block(w.recurrent_kernel, 0).T @ h
            + block(w.recurrent_bias, 0)
        )
        r = logistic(
            xr
            + block(w.recurrent_kernel, 1).T @ h
            + block(w.recurrent_bias, 1)
        )
        if w.reset_after:
            n = np.tanh(
                xn
                + r
                * (
                    block(w.recurrent_kernel, 2).T @ h
                    + block(w.recurrent_bias, 2)
                )
            )
        else:
            n = np.tanh(
                xn
                + block(w.recurrent_kernel, 2).T @ (r * h)
                + block(w.recurrent_bias, 2)
            )
        h = z * h + (1 - z) * n
        hs.append(h)
    return hs


# --- the maths -------------------------------------------------------------


def test_sigmoid_matches_the_logistic_function_and_does_not_overflow():
    a = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(sigmoid(a), logistic(a), rtol=1e-12, atol=1e-15)
    with np.errstate(over="raise"):
        assert (
            sigmoid(np.array([-1000.0]))[0] == 0.0
            and sigmoid(np.array([1000.0]))[0] == 1.0
        )


def _check_against_unrolled(outputs, final, per_sequence):
    for n, length in enumerate(LENGTHS):
        expected = np.stack(per_sequence(n, length))
        np.testing.assert_allclose(
            outputs[n, :length], expected, rtol=1e-6, atol=1e-6
        )
        assert np.all(outputs[n, length:] == 0.0), (
            "outputs past a sequence's length must be exactly zero"
        )
        np.testing.assert_allclose(
            final[n], expected[-1], rtol=1e-6, atol=1e-6
        )


def test_rnn_matches_the_unrolled_loop(x):
    w = random_rnn_weights(D, H, seed=2)
    outputs, h_n = rnn_forward(x, w, LENGTHS)
    assert outputs.shape == (N, T, H) and h_n.shape == (N, H)
    _check_against_unrolled(
        outputs, h_n, lambda n, L: unrolled_rnn(x[n, :L], w)
    )


def test_lstm_matches_the_unrolled_loop(x):
    w = random_lstm_weights(D, H, seed=3)
    outputs, (h_n, c_n) = lstm_forward(x, w, LENGTHS)
    assert (
        outputs.shape == (N, T, H)
        and h_n.shape == (N, H)
        and c_n.shape == (N, H)
    )
    _check_against_unrolled(
        outputs, h_n, lambda n, L: unrolled_lstm(x[n, :L], w)[0]
    )
    for n, length in enumerate(LENGTHS):
        np.testing.assert_allclose(
            c_n[n],
            unrolled_lstm(x[n, :length], w)[1][-1],
            rtol=1e-6,
            atol=1e-6,
        )
    assert not np.allclose(c_n, h_n), (
        "the cell state is a different tensor from the hidden state"
    )


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_matches_the_unrolled_loop(x, reset_after):
    w = random_gru_weights(D, H, seed=4, reset_after=reset_after)
    outputs, h_n = gru_forward(x, w, LENGTHS)
    assert outputs.shape == (N, T, H) and h_n.shape == (N, H)
    _check_against_unrolled(
        outputs, h_n, lambda n, L: unrolled_gru(x[n, :L], w)
    )


def test_gru_variants_differ(x):
    after = random_gru_weights(D, H, seed=5, reset_after=True)
    before = after._replace(reset_after=False)
    assert not np.allclose(
        gru_forward(x, after)[1], gru_forward(x, before)[1], atol=1e-4
    )


def test_no_lengths_means_every_step_is_valid(x):
    w = random_lstm_weights(D, H, seed=6)
    full = lstm_forward(x, w)
    explicit = lstm_forward(x, w, np.full(N, T))
    np.testing.assert_array_equal(full[0], explicit[0])
    np.testing.assert_array_equal(full[1][0], full[0][:, -1])


def test_padding_does_not_touch_the_state(x):
    """Whatever sits in the padded steps, outputs and state are the same."""
    w = random_gru_weights(D, H, seed=7)
    noisy = x.copy()
    for n, length in enumerate(LENGTHS):
        noisy[n, length:] = 1e3
    clean_out, clean_h = gru_forward(x, w, LENGTHS)
    noisy_out, noisy_h = gru_forward(noisy, w, LENGTHS)
    np.testing.assert_array_equal(clean_out, noisy_out)
    np.testing.assert_array_equal(clean_h, noisy_h)
    # ... while ignoring the lengths lets the padding into the state
    assert not np.allclose(gru_forward(noisy, w)[1][1], clean_h[1])


def test_initial_state_is_used(x):
    w = random_lstm_weights(D, H, seed=8)
    h0, c0 = np.ones((N, H)), -np.ones((N, H))
    out0, _ = lstm_forward(x, w)
    out1, _ = lstm_forward(x, w, initial_state=(h0, c0))
    assert not np.allclose(out0[:, 0], out1[:, 0])
    step = unrolled_lstm_with_state(x[0, :1], w, h0[0], c0[0])
    np.testing.assert_allclose(out1[0, 0], step, rtol=1e-6, atol=1e-6)


def unrolled_lstm_with_state(seq, w, h, c):
    z = seq[0] @ w.kernel + h @ w.recurrent_kernel + w.bias
    i, f, g, o = np.split(z, 4)
    c = logistic(f) * c + logistic(i) * np.tanh(g)
    return logistic(o) * np.tanh(c)


def test_integer_inputs_are_accepted():
    w = random_rnn_weights(3, 5, seed=0)
    outputs, h_n = rnn_forward([[[0, 1, 2], [9, 8, 7]]], w)
    assert outputs.dtype.kind == "f" and h_n.shape == (1, 5)


def test_random_weights_have_the_documented_shapes_and_range():
    w = random_lstm_weights(D, H, seed=0)
    assert isinstance(w, LSTMWeights)
    assert (
        w.kernel.shape == (D, 4 * H)
        and w.recurrent_kernel.shape == (H, 4 * H)
        and w.bias.shape == (4 * H,)
    )
    assert all(np.abs(a).max() <= 1 / math.sqrt(H) for a in w)
    g = random_gru_weights(D, H)
    assert (
        isinstance(g, GRUWeights)
        and g.input_bias.shape == (3 * H,)
        and g.reset_after is True
    )
    assert isinstance(random_rnn_weights(D, H), RNNWeights)
    np.testing.assert_array_equal(
        random_lstm_weights(D, H, seed=1).kernel,
        random_lstm_weights(D, H, seed=1).kernel,
    )


# --- padding helpers -------------------------------------------------------


def test_mask_from_lengths():
    np.testing.assert_array_equal(
        mask_from_lengths([2, 1, 3], 3),
        [[True, True, False], [True, False, False], [True, True, True]],
    )


def test_gather_last_valid_is_the_final_state(x):
    w = random_rnn_weights(D, H, seed=9)
    outputs, h_n = rnn_forward(x, w, LENGTHS)
    last_valid_output = gather_last_valid(outputs, LENGTHS)
    np.testing.assert_array_equal(last_valid_output, h_n)
    assert not np.allclose(outputs[:, -1], h_n), (
        "outputs[:, -1] is zero for the padded rows"
    )


# --- bad inputs: each raises a ValueError that says what was expected ------

W_LSTM = random_lstm_weights(D, H)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: lstm_forward(np.zeros((T, D)), W_LSTM),
            r"rank 3, shape \(N, T, D\).*got rank 2",
        ),
        (
            lambda: lstm_forward(np.zeros((N, T, D, 1)), W_LSTM),
            r"rank 3.*got rank 4",
        ),
        (
            lambda: lstm_forward(np.zeros((0, T, D)), W_LSTM),
            r"at least one sequence",
        ),
        (
            lambda: lstm_forward(np.zeros((N, T, D)), W_LSTM, [0, 1, 2]),
            r"1\.\.T = 1\.\.5; rows \[0\] have lengths \[0\]",
        ),
        (
            lambda: lstm_forward(np.zeros((N, T, D)), W_LSTM, [1, 6, 2]),
            r"1\.\.5; rows \[1\] have lengths \[6\]",
        ),
        (
            lambda: lstm_forward(np.zeros((N, T, D)), W_LSTM, [1, 2]),
            r"2 entries but the batch has N = 3",
        ),
        (
            lambda: lstm_forward(np.zeros((N, T, D)), W_LSTM, [[1, 2, 3]]),
            r"lengths must have rank 1",
        ),
        (
            lambda: lstm_forward(np.zeros((N, T, D)), W_LSTM, [1.5, 2, 3]),
            r"whole numbers",
        ),
        (
            lambda: lstm_forward(np.zeros((N, T, D)), W_LSTM, ["a", "b", "c"]),
            r"numbers of steps",
        ),
        (
            lambda: lstm_forward(np.zeros((N, T, D + 1)), W_LSTM),
            r"kernel must have shape \(3, 16\); got \(2, 16\)",
        ),
        (
            lambda: lstm_forward(
                np.zeros((N, T, D)), W_LSTM._replace(bias=np.zeros(H))
            ),
            r"bias must have shape \(16,\)",
        ),
        (
            lambda: lstm_forward(
                np.zeros((N, T, D)),
                W_LSTM._replace(recurrent_kernel=np.zeros((H, H))),
            ),
            r"recurrent_kernel must have shape \(4, 16\); got \(4, 4\)",
        ),
        (
            lambda: lstm_forward(
                np.zeros((N, T, D)),
                W_LSTM._replace(recurrent_kernel=np.zeros(4 * H)),
            ),
            r"recurrent_kernel must have rank 2",
        ),
        (
            lambda: lstm_forward(
                np.zeros((N, T, D)), W_LSTM, initial_state=np.zeros((N, H))
            ),
            r"initial_state must be \(h_0, c_0\)",
        ),
        (
            lambda: lstm_forward(
                np.zeros((N, T, D)),
                W_LSTM,
                initial_state=(np.zeros((N, H)), np.zeros((N + 1, H))),
            ),
            r"initial_state c_0 must have shape \(3, 4\); got \(4, 4\)",
        ),
        (
            lambda: rnn_forward(
                np.zeros((N, T, D)),
                random_rnn_weights(D, H),
                initial_state=np.zeros((2, H)),
            ),
            r"initial_state h_0 must have shape \(3, 4\)",
        ),
        (
            lambda: gru_forward(
                np.zeros((N, T, D)),
                random_gru_weights(D, H)._replace(input_bias=np.zeros(H)),
            ),
            r"input_bias must have shape \(12,\)",
        ),
        (
            lambda: gru_forward(
                np.zeros((N, T, D)),
                random_gru_weights(D, H)._replace(
                    recurrent_bias=np.zeros((2, 3 * H))
                ),
            ),
            r"recurrent_bias must have shape \(12,\)",
        ),
        (
            lambda: gather_last_valid(np.zeros((N, T)), [1, 2, 3]),
            r"outputs must have rank 3",
        ),
        (
            lambda: gather_last_valid(np.zeros((N, T, H)), [1, 2]),
            r"2 entries but the batch has N = 3",
        ),
        (
            lambda: gather_last_valid(np.zeros((N, T, H)), [1, 2, 9]),
            r"rows \[2\] have lengths \[9\]",
        ),
        (
            lambda: mask_from_lengths([1, 2], 0),
            r"steps \(T\) must be a whole number >= 1",
        ),
        (lambda: mask_from_lengths([1, 4], 3), r"1\.\.T = 1\.\.3"),
        (lambda: mask_from_lengths(None, 3), r"lengths is required"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
