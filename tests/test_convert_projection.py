"""Unit tests for the projected-LSTM converters in rnnbook.convert.

TF1's ``LSTMCell(num_proj=P)`` and PyTorch's ``nn.LSTM(proj_size=P)`` are
one model: ``h_t = (o_t * tanh(c_t)) @ projection``. The converters move its
weights, projection included, through the book's reference layout. Checked
here:

* round trips are exact, and TF1 -> reference -> PyTorch -> reference ->
  TF1 comes back to the same arrays (up to adding and subtracting
  ``forget_bias``);
* both directions on real framework objects with non-zero random biases:
  a real TF1 graph (in a child process, because TF1's cells need
  ``TF_USE_LEGACY_KERAS=1`` before TensorFlow's first import, which a shared
  pytest process cannot promise) and a real ``nn.LSTM(proj_size=P)``:
  their variables read out give their own numbers in the reference, and
  reference weights loaded into them give the reference's numbers;
* TF1 and PyTorch with converted weights agree with each other;
* every bad input raises ``ValueError`` saying what was expected.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from rnnbook import LSTMWeights, lstm_forward
from rnnbook.convert import (
    lstm_projected_from_tf1,
    lstm_projected_from_torch,
    lstm_projected_to_tf1,
    lstm_projected_to_torch,
)

N, T, D, H, P = 3, 5, 2, 4, 3
LENGTHS = np.array([5, 2, 4])
FORGET_BIAS = 1.0
ATOL = 1e-5  # float32 frameworks against the NumPy reference


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(21).normal(size=(N, T, D)).astype("float32")


def projected(seed):
    """Random projected-LSTM weights (all biases non-zero) and projection."""
    rng = np.random.default_rng(seed)
    weights = LSTMWeights(
        rng.uniform(-0.7, 0.7, (D, 4 * H)).astype("float32"),
        rng.uniform(-0.7, 0.7, (P, 4 * H)).astype("float32"),
        rng.uniform(-0.7, 0.7, 4 * H).astype("float32"),
    )
    return weights, rng.uniform(-0.7, 0.7, (H, P)).astype("float32")


def assert_same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        a, b = [a[k] for k in sorted(a)], [b[k] for k in sorted(b)]
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
        assert np.asarray(u).dtype == np.asarray(v).dtype


# --- exact round trips ----------------------------------------------------


def test_round_trips_are_exact():
    weights, projection = projected(1)
    torch_dict = lstm_projected_to_torch(weights, projection, suffix="_l1")
    assert {k: v.shape for k, v in torch_dict.items()} == {
        "weight_ih_l1": (4 * H, D),
        "weight_hh_l1": (4 * H, P),
        "bias_ih_l1": (4 * H,),
        "bias_hh_l1": (4 * H,),
        "weight_hr_l1": (P, H),
    }
    back, back_projection = lstm_projected_from_torch(torch_dict, "_l1")
    assert_same(back, weights)
    np.testing.assert_array_equal(back_projection, projection)

    tf1 = lstm_projected_to_tf1(weights, projection, forget_bias=0.0)
    assert {k: v.shape for k, v in tf1.items()} == {
        "kernel": (D + P, 4 * H),
        "bias": (4 * H,),
        "projection/kernel": (H, P),
    }
    back, back_projection = lstm_projected_from_tf1(tf1, forget_bias=0.0)
    assert_same(back, weights)
    np.testing.assert_array_equal(back_projection, projection)


def test_tf1_torch_tf1_chain_comes_back():
    weights, projection = projected(2)
    tf1 = lstm_projected_to_tf1(weights, projection, forget_bias=FORGET_BIAS)
    via_torch = lstm_projected_to_torch(
        *lstm_projected_from_tf1(tf1, forget_bias=FORGET_BIAS)
    )
    again = lstm_projected_to_tf1(
        *lstm_projected_from_torch(via_torch), forget_bias=FORGET_BIAS
    )
    for key in tf1:
        np.testing.assert_allclose(again[key], tf1[key], atol=1e-6)


def test_tf1_gate_order_and_forget_bias_are_where_tf1_reads_them():
    """TF1 columns are i, j, f, o (j the candidate), and the cell adds
    forget_bias to f at run time: a bias that is only the forget gate's
    moves into TF1's third block, minus forget_bias."""
    weights, projection = projected(3)
    bias = np.zeros(4 * H, "float32")
    bias[H : 2 * H] = 5.0  # the reference's forget gate (i, f, g, o)
    tf1 = lstm_projected_to_tf1(
        weights._replace(bias=bias), projection, forget_bias=1.0
    )
    np.testing.assert_array_equal(tf1["bias"][2 * H : 3 * H], 4.0)
    np.testing.assert_array_equal(tf1["bias"][: 2 * H], 0.0)
    np.testing.assert_array_equal(tf1["bias"][3 * H :], 0.0)
    # the kernel's last P rows read h (projected), the first D rows read x
    kernel = np.concatenate([weights.kernel, weights.recurrent_kernel])
    order = [0, 2, 1, 3]
    expected = np.concatenate(
        [kernel[:, k * H : (k + 1) * H] for k in order], axis=1
    )
    np.testing.assert_array_equal(tf1["kernel"], expected)


# --- PyTorch: a real nn.LSTM(proj_size=P), both ways ----------------------


def torch_run(module, x):
    import torch

    with warnings.catch_warnings():  # oneDNN has no projection kernel
        warnings.simplefilter("ignore", UserWarning)
        with torch.no_grad():
            output, (h_n, c_n) = module(torch.from_numpy(x))
    return output.numpy(), h_n[0].numpy(), c_n[0].numpy()


def assert_close_to_reference(result, reference):
    output, h_n, c_n = result
    ref_out, (ref_h, ref_c) = reference
    np.testing.assert_allclose(output, ref_out, atol=ATOL)
    np.testing.assert_allclose(h_n, ref_h, atol=ATOL)
    np.testing.assert_allclose(c_n, ref_c, atol=ATOL)


def test_torch_module_read_out_gives_its_own_numbers(x):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.LSTM(D, H, proj_size=P, batch_first=True)
    with torch.no_grad():
        module.bias_ih_l0.uniform_(-1, 1)
        module.bias_hh_l0.uniform_(-1, 1)
    assert module.bias_hh_l0.abs().min() > 0
    weights, projection = lstm_projected_from_torch(module.state_dict())
    assert projection.shape == (H, P)
    assert_close_to_reference(
        torch_run(module, x), lstm_forward(x, weights, projection=projection)
    )
    # the converter adds the two biases: bias_ih alone is another model
    alone = weights._replace(bias=module.bias_ih_l0.detach().numpy())
    gap = lstm_forward(x, alone, projection=projection)[0]
    assert np.abs(gap - torch_run(module, x)[0]).max() > 1e-3


def test_reference_loaded_into_torch_gives_the_reference(x):
    torch = pytest.importorskip("torch")
    weights, projection = projected(4)
    module = torch.nn.LSTM(D, H, proj_size=P, batch_first=True)
    module.load_state_dict(
        {
            k: torch.from_numpy(v)
            for k, v in lstm_projected_to_torch(weights, projection).items()
        }
    )
    reference = lstm_forward(x, weights, projection=projection)
    assert_close_to_reference(torch_run(module, x), reference)
    # a recurrent kernel as wide as the cell (no projection) is refused
    with pytest.raises(ValueError, match=r"recurrent_kernel must have shape"):
        lstm_projected_to_torch(
            weights._replace(recurrent_kernel=np.zeros((H, 4 * P))),
            projection,
        )


# --- TF1: a real LSTMCell(num_proj=P) graph, in a child process ----------

_TF1_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, warnings
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    warnings.simplefilter("ignore")
    import numpy as np
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    tf1 = tf.compat.v1
    D, H, P, FORGET = {D}, {H}, {P}, {FORGET}
    data = np.load(sys.argv[1])
    x, lengths = data["x"], data["lengths"]
    loaded = {{
        k[len("load:"):]: data[k] for k in data if k.startswith("load:")
    }}
    results = {{}}
    for mode in ("own", "loaded"):
        with tf.Graph().as_default():
            tf1.set_random_seed(5)
            cell = tf1.nn.rnn_cell.LSTMCell(
                H, num_proj=P, forget_bias=FORGET
            )
            assert cell.output_size == P
            assert tuple(cell.state_size) == (H, P)
            outputs, state = tf1.nn.dynamic_rnn(
                cell, tf.constant(x), sequence_length=lengths,
                dtype=tf.float32,
            )
            variables = {{v.op.name: v for v in tf1.global_variables()}}
            with tf1.Session() as session:
                session.run(tf1.global_variables_initializer())
                prefix = "rnn/lstm_cell/"
                if mode == "own":  # LSTMCell's bias starts at zero
                    bias = variables[prefix + "bias"]
                    session.run(bias.assign(
                        np.random.default_rng(6).uniform(-1, 1, 4 * H)
                        .astype("float32")))
                else:
                    for name, value in loaded.items():
                        session.run(variables[prefix + name].assign(value))
                out, c, h, values = session.run(
                    [outputs, state.c, state.h, variables])
        results[mode + ":outputs"] = out
        results[mode + ":c"] = c
        results[mode + ":h"] = h
        for name, value in values.items():
            results[mode + ":var:" + name] = value
    np.savez(sys.argv[2], **results)
    """
)


@pytest.fixture(scope="module")
def tf1_results(x, tmp_path_factory):
    """Run TF1 in a child process: its own random variables ("own") and
    the reference's weights converted to TF1 ("loaded")."""
    pytest.importorskip("tf_keras")
    folder = tmp_path_factory.mktemp("tf1_projection")
    weights, projection = projected(7)
    tf1 = lstm_projected_to_tf1(weights, projection, forget_bias=FORGET_BIAS)
    np.savez(
        folder / "in.npz",
        x=x,
        lengths=LENGTHS.astype("int32"),
        **{"load:" + k: v for k, v in tf1.items()},
    )
    script = _TF1_SCRIPT.format(D=D, H=H, P=P, FORGET=FORGET_BIAS)
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, "-c", script, folder / "in.npz", folder / "out.npz"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(folder / "out.npz") as out:
        results = {k: out[k] for k in out}
    return results, (weights, projection)


def _tf1_part(results, mode):
    prefix = f"{mode}:var:rnn/lstm_cell/"
    variables = {
        k[len(prefix) :]: v for k, v in results.items() if k.startswith(prefix)
    }
    run = (
        results[f"{mode}:outputs"],
        results[f"{mode}:h"],
        results[f"{mode}:c"],
    )
    return variables, run


def test_tf1_graph_variables_read_out_give_its_own_numbers(x, tf1_results):
    results, _ = tf1_results
    variables, run = _tf1_part(results, "own")
    assert set(variables) == {"kernel", "bias", "projection/kernel"}
    assert variables["kernel"].shape == (D + P, 4 * H)
    assert variables["projection/kernel"].shape == (H, P)
    assert np.abs(variables["bias"]).min() > 0  # random, non-zero
    weights, projection = lstm_projected_from_tf1(
        variables, forget_bias=FORGET_BIAS
    )
    assert_close_to_reference(
        run, lstm_forward(x, weights, LENGTHS, projection=projection)
    )
    # without forget_bias the reference is another model
    other, _ = lstm_projected_from_tf1(variables, forget_bias=0.0)
    gap = lstm_forward(x, other, LENGTHS, projection=projection)[1][1]
    assert np.abs(gap - run[2]).max() > 1e-3


def test_reference_loaded_into_tf1_gives_the_reference(x, tf1_results):
    results, (weights, projection) = tf1_results
    _, run = _tf1_part(results, "loaded")
    assert_close_to_reference(
        run, lstm_forward(x, weights, LENGTHS, projection=projection)
    )


def test_tf1_and_torch_agree_after_conversion(x, tf1_results):
    torch = pytest.importorskip("torch")
    results, _ = tf1_results
    variables, (out, h, c) = _tf1_part(results, "own")
    module = torch.nn.LSTM(D, H, proj_size=P, batch_first=True)
    module.load_state_dict(
        {
            k: torch.from_numpy(v)
            for k, v in lstm_projected_to_torch(
                *lstm_projected_from_tf1(variables, forget_bias=FORGET_BIAS)
            ).items()
        }
    )
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        torch.from_numpy(x),
        torch.from_numpy(LENGTHS),
        batch_first=True,
        enforce_sorted=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with torch.no_grad():
            seq, (h_n, c_n) = module(packed)
    output, _ = torch.nn.utils.rnn.pad_packed_sequence(
        seq, batch_first=True, total_length=T
    )
    np.testing.assert_allclose(output.numpy(), out, atol=ATOL)
    np.testing.assert_allclose(h_n[0].numpy(), h, atol=ATOL)
    np.testing.assert_allclose(c_n[0].numpy(), c, atol=ATOL)


# --- clear errors ---------------------------------------------------------


def _tf1_dict():
    return lstm_projected_to_tf1(*projected(8), forget_bias=1.0)


def _torch_dict():
    return lstm_projected_to_torch(*projected(9))


def _replace(d, key, value):
    d = dict(d)
    if value is None:
        del d[key]
    else:
        d[key] = value
    return d


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: lstm_projected_from_tf1(
                _replace(_tf1_dict(), "projection/kernel", None),
                forget_bias=1.0,
            ),
            r"expected an entry 'projection/kernel'",
        ),
        (
            lambda: lstm_projected_from_tf1(_tf1_dict(), forget_bias=True),
            r"forget_bias must be a finite number",
        ),
        (
            lambda: lstm_projected_from_tf1(
                _replace(_tf1_dict(), "bias", np.zeros(4 * P)),
                forget_bias=1.0,
            ),
            r"bias must have shape \(4H,\) = \(16,\), with H = 4",
        ),
        (
            lambda: lstm_projected_from_tf1(
                _replace(_tf1_dict(), "kernel", np.zeros((P, 4 * H))),
                forget_bias=1.0,
            ),
            r"kernel must have shape \(D \+ P, 4H\) with D >= 1, P = 3",
        ),
        (
            lambda: lstm_projected_from_tf1(
                _replace(_tf1_dict(), "projection/kernel", np.zeros(H)),
                forget_bias=1.0,
            ),
            r"projection/kernel must have rank 2",
        ),
        (
            lambda: lstm_projected_from_torch(
                _replace(_torch_dict(), "weight_hr_l0", None)
            ),
            r"expected an entry 'weight_hr_l0'",
        ),
        (
            lambda: lstm_projected_from_torch(
                _replace(_torch_dict(), "weight_hr_l0", np.zeros((H, P)))
            ),
            (
                r"weight_ih_l0 must have shape \(12, 2\), with \(P, H\) = "
                r"\(4, 3\)"
            ),
        ),
        (
            lambda: lstm_projected_from_torch(
                _replace(_torch_dict(), "weight_hh_l0", np.zeros((4 * H, H)))
            ),
            r"weight_hh_l0 must have shape \(16, 3\)",
        ),
        (
            lambda: lstm_projected_from_torch(
                _replace(_torch_dict(), "bias_hh_l0", np.zeros((2, 4 * H)))
            ),
            r"bias_hh_l0 must have rank 1",
        ),
        (
            lambda: lstm_projected_to_torch(
                projected(1)[0], np.zeros((H + 1, P))
            ),
            r"kernel must have shape \(2, 20\) for an LSTM with a projection",
        ),
        (
            lambda: lstm_projected_to_torch(projected(1)[0], np.zeros((H, 0))),
            r"projection must have shape \(H, P\) with H, P >= 1",
        ),
        (
            lambda: lstm_projected_to_tf1(
                projected(1)[0]._replace(bias=np.zeros(3)),
                projected(1)[1],
                forget_bias=1.0,
            ),
            r"bias must have shape \(16,\)",
        ),
        (
            lambda: lstm_projected_to_torch(
                list(projected(1)[0]), projected(1)[1]
            ),
            r"expected LSTMWeights",
        ),
    ],
)
def test_bad_inputs_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
