"""Unit tests for rnnbook.convert.

* round trips through every format are exact (``assert_array_equal``), and a
  chain of conversions between frameworks comes back to the same arrays;
* the maths: converted TF1 weights run through a NumPy copy of TF1's
  ``LSTMCell`` and ``GRUCell`` equations give the reference's numbers (TF1's
  own cells need ``TF_USE_LEGACY_KERAS=1`` before TensorFlow's first import,
  which a shared pytest process cannot promise; the chapter runs the real TF1
  cells, stacks and bidirectional graphs included);
* torch ``nn.LSTM``/``nn.GRU`` and Keras 3 ``LSTM``/``GRU`` loaded with
  converted weights agree with the NumPy reference to 1e-5 (float32), and
  their own random weights, read out, give their own numbers;
* stacks of layers and two directions: PyTorch's suffixes, Keras's
  ``Bidirectional`` lists and TF1's variable names, on real modules;
* a reset-before GRU whose U_n has at most one non-zero per column runs in
  ``nn.GRU`` after :func:`gru_reset_before_to_after`; any other is refused;
* every bad input raises ``ValueError`` with a message that says what was
  expected.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from rnnbook import (
    GRUWeights,
    LSTMWeights,
    gru_forward,
    lstm_forward,
    random_gru_weights,
    random_lstm_weights,
    sigmoid,
)
from rnnbook.convert import (
    gru_from_keras,
    gru_from_tf1,
    gru_from_torch,
    gru_reset_before_to_after,
    gru_to_keras,
    gru_to_tf1,
    gru_to_torch,
    lstm_from_keras,
    lstm_from_tf1,
    lstm_from_torch,
    lstm_stack_from_keras,
    lstm_stack_from_tf1,
    lstm_stack_from_torch,
    lstm_stack_to_keras,
    lstm_stack_to_tf1,
    lstm_stack_to_torch,
    lstm_to_keras,
    lstm_to_tf1,
    lstm_to_torch,
)

N, T, D, H = 3, 4, 2, 3
LENGTHS = np.array([4, 2, 3])
ATOL = 1e-5  # float32 frameworks against the float32 NumPy reference


@pytest.fixture
def x():
    return np.random.default_rng(7).normal(size=(N, T, D)).astype(np.float32)


@pytest.fixture
def lstm():
    return random_lstm_weights(D, H, seed=1)


@pytest.fixture
def gru_after():
    return random_gru_weights(D, H, seed=2, reset_after=True)


@pytest.fixture
def gru_before():
    """A reset-before GRU as TF1 and Keras(reset_after=False) store it: no
    separate recurrent bias."""
    w = random_gru_weights(D, H, seed=3, reset_after=False)
    return w._replace(recurrent_bias=np.zeros_like(w.recurrent_bias))


def assert_same(a, b):
    """Exact equality of two weight containers (NamedTuple, list or dict of
    arrays)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        a, b = [a[k] for k in sorted(a)], [b[k] for k in sorted(b)]
    assert len(a) == len(b)
    for u, v in zip(a, b):
        if isinstance(u, (bool, np.bool_)):
            assert u == v
        else:
            np.testing.assert_array_equal(u, v)
            assert np.asarray(u).dtype == np.asarray(v).dtype


# --- exact round trips ----------------------------------------------------


def test_lstm_round_trips_are_exact(lstm):
    assert_same(lstm_from_torch(lstm_to_torch(lstm)), lstm)
    assert_same(lstm_from_keras(lstm_to_keras(lstm)), lstm)
    assert_same(
        lstm_to_keras(lstm_from_keras(lstm_to_keras(lstm))),
        lstm_to_keras(lstm),
    )
    torch_dict = lstm_to_torch(lstm, suffix="_l1")
    assert set(torch_dict) == {
        "weight_ih_l1",
        "weight_hh_l1",
        "bias_ih_l1",
        "bias_hh_l1",
    }
    assert_same(lstm_from_torch(torch_dict, suffix="_l1"), lstm)


def test_lstm_tf1_round_trip_exact_without_forget_bias_rounded_with_it(lstm):
    assert_same(
        lstm_from_tf1(lstm_to_tf1(lstm, forget_bias=0.0), forget_bias=0.0),
        lstm,
    )
    tf1 = lstm_to_tf1(lstm, forget_bias=0.0)
    assert_same(
        lstm_to_tf1(lstm_from_tf1(tf1, forget_bias=0.0), forget_bias=0.0), tf1
    )
    back = lstm_from_tf1(lstm_to_tf1(lstm, forget_bias=1.0), forget_bias=1.0)
    np.testing.assert_array_equal(back.kernel, lstm.kernel)
    np.testing.assert_array_equal(back.recurrent_kernel, lstm.recurrent_kernel)
    # b - 1 + 1 in float32: one rounding of a number near 1, at most 2**-24 off
    np.testing.assert_allclose(back.bias, lstm.bias, rtol=0, atol=2.0**-24)


def test_lstm_torch_two_biases_become_one(lstm):
    torch_dict = lstm_to_torch(lstm)
    torch_dict["bias_hh_l0"] = np.linspace(-1, 1, 4 * H).astype(np.float32)
    back = lstm_from_torch(torch_dict)
    np.testing.assert_array_equal(
        back.bias, torch_dict["bias_ih_l0"] + torch_dict["bias_hh_l0"]
    )
    assert not np.array_equal(back.bias, lstm.bias)


def test_tf1_lstm_gate_order(lstm):
    tf1 = lstm_to_tf1(lstm, forget_bias=0.5)
    i, f, g, o = np.split(lstm.bias, 4)
    np.testing.assert_array_equal(
        tf1["bias"], np.concatenate([i, g, f - np.float32(0.5), o])
    )
    np.testing.assert_array_equal(
        tf1["kernel"][:D, H : 2 * H], lstm.kernel[:, 2 * H : 3 * H]
    )  # j = g
    np.testing.assert_array_equal(
        tf1["kernel"][D:, 2 * H : 3 * H], lstm.recurrent_kernel[:, H : 2 * H]
    )  # f


def test_gru_round_trips_are_exact(gru_after, gru_before):
    assert_same(gru_from_torch(gru_to_torch(gru_after)), gru_after)
    torch_dict = gru_to_torch(gru_after)
    assert_same(gru_to_torch(gru_from_torch(torch_dict)), torch_dict)
    for w in (gru_after, gru_before):
        assert_same(
            gru_from_keras(gru_to_keras(w), reset_after=w.reset_after), w
        )
        keras_list = gru_to_keras(w)
        assert_same(
            gru_to_keras(
                gru_from_keras(keras_list, reset_after=w.reset_after)
            ),
            keras_list,
        )
    assert_same(gru_from_tf1(gru_to_tf1(gru_before)), gru_before)
    tf1 = gru_to_tf1(gru_before)
    assert_same(gru_to_tf1(gru_from_tf1(tf1)), tf1)


def test_gru_chains_between_frameworks_are_exact(gru_after, gru_before):
    torch_dict = gru_to_torch(gru_after)
    keras_list = gru_to_keras(gru_from_torch(torch_dict))
    assert keras_list[2].shape == (2, 3 * H)
    assert_same(
        gru_to_torch(gru_from_keras(keras_list, reset_after=True)), torch_dict
    )
    tf1 = gru_to_tf1(gru_before)
    keras_list = gru_to_keras(gru_from_tf1(tf1))
    assert keras_list[2].shape == (3 * H,)
    assert_same(gru_to_tf1(gru_from_keras(keras_list, reset_after=False)), tf1)


def test_torch_gru_gate_order(gru_after):
    torch_dict = gru_to_torch(gru_after)
    # PyTorch rows r, z, n; reference columns z, r, n
    np.testing.assert_array_equal(
        torch_dict["weight_ih_l0"][:H], gru_after.kernel[:, H : 2 * H].T
    )
    np.testing.assert_array_equal(
        torch_dict["bias_hh_l0"][H : 2 * H], gru_after.recurrent_bias[:H]
    )


# --- the maths, against NumPy copies of the TF1 cells' equations ----------


def tf1_lstm_cell_run(x, kernel, bias, forget_bias):
    """TF1 LSTMCell as its source writes it: [x, h] @ kernel + bias, split
    i, j, f, o."""
    h = c = np.zeros((x.shape[0], bias.shape[0] // 4), x.dtype)
    hs = []
    for t in range(x.shape[1]):
        i, j, f, o = np.split(
            np.concatenate([x[:, t], h], 1) @ kernel + bias, 4, axis=1
        )
        c = sigmoid(f + forget_bias) * c + sigmoid(i) * np.tanh(j)
        h = sigmoid(o) * np.tanh(c)
        hs.append(h)
    return np.stack(hs, 1), h, c


def tf1_gru_cell_run(x, v):
    """TF1 GRUCell as its source writes it: gates r, u; candidate over
    [x, r * h]."""
    h, hs = np.zeros((x.shape[0], v["candidate/bias"].shape[0]), x.dtype), []
    for t in range(x.shape[1]):
        r, u = np.split(
            sigmoid(
                np.concatenate([x[:, t], h], 1) @ v["gates/kernel"]
                + v["gates/bias"]
            ),
            2,
            axis=1,
        )
        cand = np.tanh(
            np.concatenate([x[:, t], r * h], 1) @ v["candidate/kernel"]
            + v["candidate/bias"]
        )
        h = u * h + (1 - u) * cand
        hs.append(h)
    return np.stack(hs, 1), h


@pytest.mark.parametrize("forget_bias", [1.0, 0.0, -0.5])
def test_tf1_lstm_equations_match_the_reference(x, lstm, forget_bias):
    outputs, (h_n, c_n) = lstm_forward(x, lstm)
    tf1 = lstm_to_tf1(lstm, forget_bias=forget_bias)
    got = tf1_lstm_cell_run(x, tf1["kernel"], tf1["bias"], forget_bias)
    for a, b in zip(got, (outputs, h_n, c_n)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # and the reverse direction: TF1 weights converted to the reference give
    # TF1's numbers
    back = lstm_from_tf1(tf1, forget_bias=forget_bias)
    np.testing.assert_allclose(lstm_forward(x, back)[0], got[0], atol=1e-6)


def test_forgetting_forget_bias_breaks_agreement(x, lstm):
    outputs, _ = lstm_forward(x, lstm)
    wrong = tf1_lstm_cell_run(
        x, *lstm_to_tf1(lstm, forget_bias=0.0).values(), forget_bias=1.0
    )[0]
    assert np.abs(wrong - outputs).max() > 1e-2


def test_tf1_gru_equations_match_the_reference(x):
    # non-zero recurrent bias: it is folded in
    w = random_gru_weights(D, H, seed=4, reset_after=False)
    outputs, h_n = gru_forward(x, w)
    got_outputs, got_h = tf1_gru_cell_run(x, gru_to_tf1(w))
    np.testing.assert_allclose(got_outputs, outputs, atol=1e-6)
    np.testing.assert_allclose(got_h, h_n, atol=1e-6)
    keras_outputs, keras_h = gru_forward(
        x, gru_from_keras(gru_to_keras(w), reset_after=False)
    )
    np.testing.assert_allclose(keras_outputs, outputs, atol=1e-6)


# --- real frameworks ------------------------------------------------------


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["KERAS_BACKEND"] = "tensorflow"
    keras = pytest.importorskip("keras")
    if not keras.__version__.startswith("3"):
        pytest.skip(f"Keras 3 expected, found {keras.__version__}")
    return keras


def _load_torch(module, arrays, torch):
    module.load_state_dict(
        {
            k: torch.from_numpy(np.ascontiguousarray(v))
            for k, v in arrays.items()
        }
    )
    return module


def test_torch_lstm_agrees_both_ways(x, lstm, torch):
    outputs, (h_n, c_n) = lstm_forward(x, lstm)
    layer = _load_torch(
        torch.nn.LSTM(D, H, batch_first=True), lstm_to_torch(lstm), torch
    )
    with torch.no_grad():
        out, (th, tc) = layer(torch.from_numpy(x))
    for a, b in ((out, outputs), (th[0], h_n), (tc[0], c_n)):
        np.testing.assert_allclose(a.numpy(), b, atol=ATOL)
    torch.manual_seed(0)
    # its own init, two non-zero biases
    fresh = torch.nn.LSTM(D, H, batch_first=True)
    with torch.no_grad():
        out, _ = fresh(torch.from_numpy(x))
    state = {k: v.numpy() for k, v in fresh.state_dict().items()}
    np.testing.assert_allclose(
        out.numpy(), lstm_forward(x, lstm_from_torch(state))[0], atol=ATOL
    )


def test_torch_gru_agrees_both_ways(x, gru_after, torch):
    outputs, h_n = gru_forward(x, gru_after)
    layer = _load_torch(
        torch.nn.GRU(D, H, batch_first=True), gru_to_torch(gru_after), torch
    )
    with torch.no_grad():
        out, th = layer(torch.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), outputs, atol=ATOL)
    np.testing.assert_allclose(th[0].numpy(), h_n, atol=ATOL)
    torch.manual_seed(0)
    fresh = torch.nn.GRU(D, H, batch_first=True)
    with torch.no_grad():
        out, _ = fresh(torch.from_numpy(x))
    state = {k: v.numpy() for k, v in fresh.state_dict().items()}
    np.testing.assert_allclose(
        out.numpy(), gru_forward(x, gru_from_torch(state))[0], atol=ATOL
    )


def test_keras_lstm_agrees_both_ways(x, lstm, keras):
    outputs, (h_n, c_n) = lstm_forward(x, lstm)
    layer = keras.layers.LSTM(H, return_sequences=True, return_state=True)
    layer.build((None, T, D))
    layer.set_weights(lstm_to_keras(lstm))
    out, kh, kc = (np.asarray(t) for t in layer(x))
    for a, b in ((out, outputs), (kh, h_n), (kc, c_n)):
        np.testing.assert_allclose(a, b, atol=ATOL)
    keras.utils.set_random_seed(0)
    # unit_forget_bias=True (the default) would make the forget block ones
    # and the i and c blocks equal: a bias moved between them would not show
    fresh = keras.layers.LSTM(
        H,
        return_sequences=True,
        bias_initializer="random_normal",
        unit_forget_bias=False,
    )
    out = np.asarray(fresh(x))
    bias = fresh.get_weights()[2]
    assert np.unique(bias).size == bias.size
    np.testing.assert_allclose(
        out,
        lstm_forward(x, lstm_from_keras(fresh.get_weights()))[0],
        atol=ATOL,
    )


@pytest.mark.parametrize("reset_after", [True, False])
def test_keras_gru_agrees_both_ways(x, keras, reset_after):
    w = random_gru_weights(D, H, seed=5, reset_after=reset_after)
    outputs, h_n = gru_forward(x, w)
    layer = keras.layers.GRU(
        H, return_sequences=True, return_state=True, reset_after=reset_after
    )
    layer.build((None, T, D))
    layer.set_weights(gru_to_keras(w))
    out, kh = (np.asarray(t) for t in layer(x))
    np.testing.assert_allclose(out, outputs, atol=ATOL)
    np.testing.assert_allclose(kh, h_n, atol=ATOL)
    keras.utils.set_random_seed(0)
    fresh = keras.layers.GRU(
        H,
        return_sequences=True,
        reset_after=reset_after,
        bias_initializer="random_normal",
    )
    out = np.asarray(fresh(x))
    back = gru_from_keras(fresh.get_weights(), reset_after=reset_after)
    np.testing.assert_allclose(out, gru_forward(x, back)[0], atol=ATOL)


# --- bad inputs -----------------------------------------------------------


def test_lstm_from_torch_rejects_bad_inputs(lstm, gru_after):
    with pytest.raises(ValueError, match="looks like a GRU"):
        lstm_from_torch(gru_to_torch(gru_after))
    good = lstm_to_torch(lstm)
    with pytest.raises(ValueError, match="expected an entry 'weight_ih_l0'"):
        lstm_from_torch({k: v for k, v in good.items() if k != "weight_ih_l0"})
    with pytest.raises(ValueError, match="expected an entry 'weight_ih_l1'"):
        lstm_from_torch(good, suffix="_l1")
    with pytest.raises(
        ValueError, match=r"weight_ih_l0 must have shape \(12, 2\)"
    ):
        lstm_from_torch({**good, "weight_ih_l0": good["weight_ih_l0"][:8]})
    with pytest.raises(
        ValueError, match=r"bias_hh_l0 must have shape \(12,\)"
    ):
        lstm_from_torch({**good, "bias_hh_l0": good["bias_hh_l0"][:6]})
    with pytest.raises(ValueError, match="rank 2"):
        lstm_from_torch({**good, "weight_hh_l0": good["weight_hh_l0"].ravel()})


def test_reference_weights_are_checked(lstm, gru_after):
    with pytest.raises(ValueError, match=r"kernel must have shape \(2, 12\)"):
        lstm_to_torch(lstm._replace(kernel=lstm.kernel[:, :9]))
    with pytest.raises(
        ValueError,
        match=r"recurrent_kernel must have shape \(3, 12\).*looks like a GRU",
    ):
        lstm_to_keras(
            LSTMWeights(lstm.kernel, gru_after.recurrent_kernel, lstm.bias)
        )
    with pytest.raises(ValueError, match=r"bias must have shape \(12,\)"):
        lstm_to_tf1(lstm._replace(bias=lstm.bias[:4]), forget_bias=1.0)
    with pytest.raises(
        ValueError, match=r"recurrent_bias must have shape \(9,\)"
    ):
        gru_to_torch(
            gru_after._replace(recurrent_bias=gru_after.recurrent_bias[:3])
        )
    with pytest.raises(ValueError, match="looks like an LSTM"):
        gru_to_keras(
            GRUWeights(
                lstm.kernel, lstm.recurrent_kernel, lstm.bias, lstm.bias
            )
        )


def test_keras_lists_are_checked(lstm, gru_after):
    keras_list = lstm_to_keras(lstm)
    with pytest.raises(ValueError, match="use_bias=True"):
        lstm_from_keras(keras_list[:2])
    with pytest.raises(ValueError, match="get_weights"):
        lstm_from_keras({"kernel": lstm.kernel})
    # inconsistent H
    with pytest.raises(ValueError, match=r"kernel must have shape \(1, 12\)"):
        lstm_from_keras(
            [
                random_lstm_weights(1, 2).kernel,
                lstm.recurrent_kernel,
                lstm.bias,
            ]
        )
    with pytest.raises(
        ValueError, match=r"reset_after=True stores a bias of shape \(2, 9\)"
    ):
        gru_from_keras(
            gru_to_keras(gru_after._replace(reset_after=False)),
            reset_after=True,
        )
    with pytest.raises(
        ValueError, match=r"reset_after=False stores a bias of shape \(9,\)"
    ):
        gru_from_keras(gru_to_keras(gru_after), reset_after=False)


def test_tf1_inputs_are_checked(lstm, gru_before, gru_after):
    tf1 = lstm_to_tf1(lstm, forget_bias=1.0)
    # forget_bias has no default: it must be given
    with pytest.raises(TypeError):
        lstm_from_tf1(tf1)
    for bad in (float("nan"), float("inf"), "1.0", None, True):
        with pytest.raises(
            ValueError, match="forget_bias must be a finite number"
        ):
            lstm_from_tf1(tf1, forget_bias=bad)
        with pytest.raises(
            ValueError, match="forget_bias must be a finite number"
        ):
            lstm_to_tf1(lstm, forget_bias=bad)
    # a NumPy scalar is a number like any other
    np.testing.assert_array_equal(
        lstm_to_tf1(lstm, forget_bias=np.float32(1.0))["bias"], tf1["bias"]
    )
    with pytest.raises(
        ValueError, match=r"kernel must have shape \(D \+ H, 12\) with D >= 1"
    ):
        lstm_from_tf1({**tf1, "kernel": tf1["kernel"][D:]}, forget_bias=1.0)
    with pytest.raises(ValueError, match=r"4 gates i, j, f, o"):
        lstm_from_tf1({**tf1, "bias": tf1["bias"][:9]}, forget_bias=1.0)
    gru = gru_to_tf1(gru_before)
    with pytest.raises(
        ValueError,
        match="gates/kernel has D = 2 input rows but candidate/kernel has 3",
    ):
        gru_from_tf1(
            {**gru, "candidate/kernel": np.zeros((D + 1 + H, H), np.float32)}
        )
    with pytest.raises(ValueError, match=r"gates/bias must have shape \(6,\)"):
        gru_from_tf1({**gru, "gates/bias": gru["gates/bias"][:3]})
    with pytest.raises(ValueError, match="expected an entry 'candidate/bias'"):
        gru_from_tf1({k: v for k, v in gru.items() if k != "candidate/bias"})


def test_reset_gate_placement_mismatches_are_refused(gru_before, gru_after):
    with pytest.raises(
        ValueError,
        match="nn.GRU always applies the reset gate after the recurrent",
    ):
        gru_to_torch(gru_before)
    # zero recurrent biases do not make a reset-after GRU expressible as a
    # TF1 GRUCell
    zero_bias = gru_after._replace(
        recurrent_bias=np.zeros_like(gru_after.recurrent_bias)
    )
    with pytest.raises(ValueError, match="reset_after=True to TF1 GRUCell"):
        gru_to_tf1(zero_bias)


# --- a reset-before GRU in PyTorch -----------------------------------------


def with_u_n(weights, u_n):
    recurrent = weights.recurrent_kernel.copy()
    recurrent[:, 2 * H :] = u_n
    return weights._replace(recurrent_kernel=recurrent)


def sparse_columns(rows, values=(0.9, -0.7, 0.6)):
    """U_n (H, H) whose column j has its one entry in row rows[j] (None:
    an empty column)."""
    u_n = np.zeros((H, H), np.float32)
    for j, (k, v) in enumerate(zip(rows, values)):
        if k is not None:
            u_n[k, j] = v
    return u_n


@pytest.mark.parametrize(
    "rows",
    [
        [0, 1, 2],  # diagonal
        [2, 0, 1],  # monomial: a permutation times a diagonal
        [1, 1, 0],  # two columns read the same row
        [2, None, 0],  # an empty column
    ],
)
def test_reset_before_with_sparse_u_n_becomes_reset_after(x, rows):
    w = with_u_n(
        random_gru_weights(D, H, seed=6, reset_after=False),
        sparse_columns(rows),
    )
    assert np.abs(w.recurrent_bias).min() > 0  # b_hn must move
    after = gru_reset_before_to_after(w)
    assert after.reset_after is True
    np.testing.assert_array_equal(
        after.recurrent_kernel[:, 2 * H :], w.recurrent_kernel[:, 2 * H :]
    )
    np.testing.assert_array_equal(after.recurrent_bias[2 * H :], 0)
    for a, b in zip(gru_forward(x, after), gru_forward(x, w)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_reset_before_reordering_is_needed(x):
    w = with_u_n(
        random_gru_weights(D, H, seed=6, reset_after=False),
        sparse_columns([2, 0, 1]),
    )
    identity = gru_reset_before_to_after(
        with_u_n(w, np.eye(H, dtype=np.float32))
    )._replace(recurrent_kernel=w.recurrent_kernel)
    gap = np.abs(gru_forward(x, identity)[0] - gru_forward(x, w)[0]).max()
    assert gap > 1e-3


def test_reset_before_mixed_columns_are_refused(gru_before, gru_after):
    with pytest.raises(ValueError, match="already applies the reset gate"):
        gru_reset_before_to_after(gru_after)
    mixed = sparse_columns([2, 0, 1])
    mixed[1, 0] = 0.5
    with pytest.raises(ValueError, match=r"column 0 of U_n .* rows \[1, 2\]"):
        gru_reset_before_to_after(with_u_n(gru_before, mixed))
    with pytest.raises(ValueError, match="column 0 of U_n"):
        gru_reset_before_to_after(gru_before)  # a dense U_n
    with pytest.raises(ValueError, match=r"recurrent_bias must have shape"):
        gru_reset_before_to_after(
            gru_before._replace(recurrent_bias=gru_before.recurrent_bias[:3])
        )


def test_monomial_reset_before_gru_runs_in_torch(x, torch):
    w = with_u_n(
        random_gru_weights(D, H, seed=7, reset_after=False),
        sparse_columns([1, 2, 0]),
    )
    layer = _load_torch(
        torch.nn.GRU(D, H, batch_first=True),
        gru_to_torch(gru_reset_before_to_after(w)),
        torch,
    )
    with torch.no_grad():
        out, h = layer(torch.from_numpy(x))
    outputs, h_n = gru_forward(x, w)
    np.testing.assert_allclose(out.numpy(), outputs, atol=ATOL)
    np.testing.assert_allclose(h[0].numpy(), h_n, atol=ATOL)


# --- stacks of layers and two directions -----------------------------------


def reverse_valid(x, lengths):
    t = np.arange(x.shape[1])[None, :]
    order = np.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    return np.take_along_axis(x, order[..., None], axis=1)


def stack_forward(x, stack, lengths=None):
    """Top outputs and h_n, c_n (layers * directions, N, H), like nn.LSTM."""
    lengths = np.full(len(x), x.shape[1]) if lengths is None else lengths
    h_n, c_n = [], []
    for layer in stack:
        outputs = []
        for direction, weights in enumerate(layer):
            inputs = x if direction == 0 else reverse_valid(x, lengths)
            out, (h, c) = lstm_forward(inputs, weights, lengths=lengths)
            outputs.append(
                out if direction == 0 else reverse_valid(out, lengths)
            )
            h_n.append(h)
            c_n.append(c)
        x = np.concatenate(outputs, axis=-1)
    return x, np.stack(h_n), np.stack(c_n)


def random_stack(layers, directions, seed=0):
    return [
        tuple(
            random_lstm_weights(
                D if k == 0 else directions * H, H, seed=seed + 10 * k + d
            )
            for d in range(directions)
        )
        for k in range(layers)
    ]


def assert_same_stack(a, b, atol=0.0):
    assert len(a) == len(b)
    for layer_a, layer_b in zip(a, b):
        assert len(layer_a) == len(layer_b)
        for wa, wb in zip(layer_a, layer_b):
            for u, v in zip(wa, wb):
                np.testing.assert_allclose(u, v, rtol=0, atol=atol)


@pytest.mark.parametrize(
    "layers, directions", [(1, 1), (2, 1), (1, 2), (3, 2)]
)
def test_stack_round_trips(layers, directions):
    stack = random_stack(layers, directions)
    torch_dict = lstm_stack_to_torch(stack)
    assert len(torch_dict) == 4 * layers * directions
    assert ("weight_ih_l0_reverse" in torch_dict) == (directions == 2)
    assert f"bias_hh_l{layers - 1}" in torch_dict
    assert_same_stack(lstm_stack_from_torch(torch_dict), stack)
    keras_lists = lstm_stack_to_keras(stack)
    assert [len(k) for k in keras_lists] == [3 * directions] * layers
    assert_same_stack(lstm_stack_from_keras(keras_lists), stack)
    tf1 = lstm_stack_to_tf1(stack, forget_bias=1.0)
    assert len(tf1) == 2 * layers * directions
    assert_same_stack(
        lstm_stack_from_tf1(tf1, forget_bias=1.0), stack, atol=2.0**-24
    )
    exact = lstm_stack_to_tf1(stack, forget_bias=0.0, prefix="enc/")
    assert all(name.startswith("enc/") for name in exact)
    assert_same_stack(lstm_stack_from_tf1(exact, forget_bias=0.0), stack)
    # a bare LSTMWeights is a one-direction layer
    if directions == 1:
        bare = [layer[0] for layer in stack]
        assert lstm_stack_to_torch(bare).keys() == torch_dict.keys()


def test_stack_tf1_names():
    one = random_stack(1, 1)
    assert set(lstm_stack_to_tf1(one, forget_bias=1.0)) == {
        "rnn/lstm_cell/kernel",
        "rnn/lstm_cell/bias",
    }
    two = random_stack(2, 1)
    assert "rnn/multi_rnn_cell/cell_1/lstm_cell/kernel" in (
        lstm_stack_to_tf1(two, forget_bias=1.0)
    )
    bi = random_stack(1, 2)
    assert set(lstm_stack_to_tf1(bi, forget_bias=1.0)) == {
        f"bidirectional_rnn/{side}/lstm_cell/{v}"
        for side in ("fw", "bw")
        for v in ("kernel", "bias")
    }
    deep_bi = lstm_stack_to_tf1(random_stack(2, 2), forget_bias=1.0)
    assert (
        "stack_bidirectional_rnn/cell_1/bidirectional_rnn/bw/lstm_cell/bias"
        in deep_bi
    )
    # v.name spelling, with ":0", is read too
    with_colon = {k + ":0": v for k, v in deep_bi.items()}
    assert_same_stack(
        lstm_stack_from_tf1(with_colon, forget_bias=1.0),
        lstm_stack_from_tf1(deep_bi, forget_bias=1.0),
    )
    # one layer's cell from the stack is lstm_to_tf1's
    cell = lstm_to_tf1(two[1][0], forget_bias=1.0)
    np.testing.assert_array_equal(
        lstm_stack_to_tf1(two, forget_bias=1.0)[
            "rnn/multi_rnn_cell/cell_1/lstm_cell/kernel"
        ],
        cell["kernel"],
    )


def test_stack_inputs_are_checked(lstm):
    with pytest.raises(ValueError, match=r"pass \[weights\]"):
        lstm_stack_to_torch(lstm)
    with pytest.raises(ValueError, match="empty list"):
        lstm_stack_to_keras([])
    with pytest.raises(ValueError, match="layer 0 must be"):
        lstm_stack_to_keras([(lstm, lstm, lstm)])
    with pytest.raises(ValueError, match="the same number"):
        lstm_stack_to_keras([(lstm, lstm), lstm])
    with pytest.raises(
        ValueError, match=r"its D must be 2 \* 3 = 6; got D = 2"
    ):
        lstm_stack_to_keras([(lstm, lstm), (lstm, lstm)])
    wide = random_lstm_weights(H, 5, seed=1)  # H = 5 on a layer of H = 3
    with pytest.raises(ValueError, match="same H"):
        lstm_stack_to_torch([lstm, wide])
    lstm_stack_to_keras([lstm, wide])  # Keras layers may differ in H
    with pytest.raises(ValueError, match="the same \\(D, H\\)"):
        lstm_stack_to_keras([(lstm, random_lstm_weights(D + 1, H))])
    with pytest.raises(ValueError, match="prefix must be"):
        lstm_stack_to_tf1([lstm], forget_bias=1.0, prefix="enc")
    with pytest.raises(ValueError, match="forget_bias must be a finite"):
        lstm_stack_to_tf1([lstm], forget_bias=None)


def test_stack_names_are_checked(lstm):
    torch_dict = lstm_stack_to_torch(random_stack(2, 2))
    with pytest.raises(ValueError, match="weight_hr_l0"):
        lstm_stack_from_torch({**torch_dict, "weight_hr_l0": np.zeros((3, 3))})
    with pytest.raises(ValueError, match="expected an entry 'weight_ih_l0'"):
        lstm_stack_from_torch(
            {k: v for k, v in torch_dict.items() if k != "weight_ih_l0"}
        )
    with pytest.raises(ValueError, match="non-empty dict"):
        lstm_stack_from_torch({})
    with pytest.raises(ValueError, match="layer 1: expected 3 arrays"):
        lstm_stack_from_keras([lstm_to_keras(lstm), lstm_to_keras(lstm)[:2]])
    tf1 = lstm_stack_to_tf1(random_stack(2, 1), forget_bias=1.0)
    with pytest.raises(ValueError, match="not TF1 LSTMCell variable names"):
        lstm_stack_from_tf1(
            {**tf1, "rnn/gru_cell/gates/kernel": 0}, forget_bias=1.0
        )
    with pytest.raises(ValueError, match="several models"):
        lstm_stack_from_tf1(
            {
                **tf1,
                **lstm_stack_to_tf1(
                    random_stack(2, 1), forget_bias=1.0, prefix="b/"
                ),
            },
            forget_bias=1.0,
        )
    with pytest.raises(ValueError, match="no variables for layer 0"):
        lstm_stack_from_tf1(
            {k: v for k, v in tf1.items() if "cell_0" not in k},
            forget_bias=1.0,
        )
    with pytest.raises(ValueError, match="runs each direction's layers"):
        lstm_stack_from_tf1(
            {"bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel": 0},
            forget_bias=1.0,
        )
    with pytest.raises(ValueError, match="a second kernel for layer 0"):
        lstm_stack_from_tf1(
            {**tf1, "rnn/multi_rnn_cell/cell_0/lstm_cell/kernel:0": 0},
            forget_bias=1.0,
        )
    with pytest.raises(TypeError):  # forget_bias has no default
        lstm_stack_from_tf1(tf1)
    wrong_d = np.zeros((4 * H, 5), np.float32)
    with pytest.raises(
        ValueError, match=r"its D must be 2 \* 3 = 6; got D = 5"
    ):
        lstm_stack_from_torch(
            {
                **torch_dict,
                "weight_ih_l1": wrong_d,
                "weight_ih_l1_reverse": wrong_d,
            }
        )


def test_torch_stack_agrees_both_ways(x, torch):
    torch.manual_seed(3)
    module = torch.nn.LSTM(
        D, H, num_layers=2, bidirectional=True, batch_first=True
    )
    with torch.no_grad():
        out, (h, c) = module(torch.from_numpy(x))
    stack = lstm_stack_from_torch(
        {k: v.numpy() for k, v in module.state_dict().items()}
    )
    for a, b in zip(stack_forward(x, stack), (out, h, c)):
        np.testing.assert_allclose(a, b.numpy(), atol=ATOL)
    # and back into a fresh module, packed with lengths
    fresh = _load_torch(
        torch.nn.LSTM(
            D, H, num_layers=2, bidirectional=True, batch_first=True
        ),
        lstm_stack_to_torch(stack),
        torch,
    )
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        torch.from_numpy(x),
        torch.from_numpy(LENGTHS),
        batch_first=True,
        enforce_sorted=False,
    )
    with torch.no_grad():
        packed_out, (h, c) = fresh(packed)
    out = torch.nn.utils.rnn.pad_packed_sequence(
        packed_out, batch_first=True, total_length=T
    )[0]
    for a, b in zip(stack_forward(x, stack, LENGTHS), (out, h, c)):
        np.testing.assert_allclose(a, b.numpy(), atol=ATOL)


def test_keras_bidirectional_stack_agrees_both_ways(x, keras):
    keras.utils.set_random_seed(4)
    layers = [
        keras.layers.Bidirectional(
            keras.layers.LSTM(
                H,
                return_sequences=True,
                return_state=True,
                bias_initializer="random_normal",
                unit_forget_bias=False,  # every bias entry random
            )
        )
        for _ in range(2)
    ]
    inputs, states = x, []
    for layer in layers:
        inputs, *s = (np.asarray(t) for t in layer(inputs))
        states += s
    stack = lstm_stack_from_keras([layer.get_weights() for layer in layers])
    top, h_n, c_n = stack_forward(x, stack)
    np.testing.assert_allclose(top, inputs, atol=ATOL)
    np.testing.assert_allclose(h_n, np.stack(states[0::2]), atol=ATOL)
    np.testing.assert_allclose(c_n, np.stack(states[1::2]), atol=ATOL)
    # the backward layer really is the second half of get_weights()
    swapped = [(bw, fw) for fw, bw in stack]
    assert np.abs(stack_forward(x, swapped)[0] - top).max() > 1e-3
