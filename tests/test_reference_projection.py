"""Unit tests for ``rnnbook.lstm_forward(..., projection=...)``.

The projected LSTM (TF1 ``LSTMCell(num_proj=P)``, PyTorch
``nn.LSTM(proj_size=P)``) computes ``h_t = (o_t * tanh(c_t)) @ P``. It is
checked against a hand-unrolled loop over one sequence at a time, written
from the equations (separate gate matrices, no batching, no masking), and
against PyTorch's own ``nn.LSTM(proj_size=P)``, whose weights are read here
without the book's converters.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rnnbook import LSTMWeights, lstm_forward, random_lstm_weights, sigmoid

N, T, D, H, P = 3, 5, 2, 4, 3
LENGTHS = np.array([5, 2, 3])


@pytest.fixture
def x():
    return np.random.default_rng(11).normal(size=(N, T, D))


@pytest.fixture
def weights():
    """Projected LSTM weights: kernel (D, 4H), recurrent (P, 4H), bias."""
    rng = np.random.default_rng(12)
    return LSTMWeights(
        rng.normal(size=(D, 4 * H)) * 0.5,
        rng.normal(size=(P, 4 * H)) * 0.5,
        rng.normal(size=4 * H) * 0.5,
    )


@pytest.fixture
def projection():
    return np.random.default_rng(13).normal(size=(H, P))


def unrolled_projected(seq, w, proj, h=None, c=None):
    """One sequence, one gate at a time, straight from the equations."""
    gate = lambda m, k: m[..., k * H : (k + 1) * H]  # noqa: E731
    h = np.zeros(P) if h is None else h
    c = np.zeros(H) if c is None else c
    hs, cs = [], []
    for x_t in seq:
        pre = [
            gate(w.kernel, k).T @ x_t
            + gate(w.recurrent_kernel, k).T @ h
            + gate(w.bias, k)
            for k in range(4)
        ]
        i, f, g, o = (
            1 / (1 + np.exp(-pre[0])),
            1 / (1 + np.exp(-pre[1])),
            np.tanh(pre[2]),
            1 / (1 + np.exp(-pre[3])),
        )
        c = f * c + i * g
        h = proj.T @ (o * np.tanh(c))
        hs.append(h)
        cs.append(c)
    return hs, cs


def test_projection_matches_the_unrolled_loop(x, weights, projection):
    outputs, (h_n, c_n) = lstm_forward(
        x, weights, LENGTHS, projection=projection
    )
    assert outputs.shape == (N, T, P)
    assert h_n.shape == (N, P) and c_n.shape == (N, H)
    for n, length in enumerate(LENGTHS):
        hs, cs = unrolled_projected(x[n, :length], weights, projection)
        np.testing.assert_allclose(outputs[n, :length], hs, atol=1e-12)
        np.testing.assert_array_equal(outputs[n, length:], 0.0)
        np.testing.assert_allclose(h_n[n], hs[-1], atol=1e-12)
        np.testing.assert_allclose(c_n[n], cs[-1], atol=1e-12)


def test_identity_projection_is_the_plain_lstm(x):
    w = random_lstm_weights(D, H, seed=5)
    plain = lstm_forward(x, w, LENGTHS)
    projected = lstm_forward(x, w, LENGTHS, projection=np.eye(H))
    np.testing.assert_allclose(projected[0], plain[0], atol=1e-7)
    for a, b in zip(projected[1], plain[1]):
        np.testing.assert_allclose(a, b, atol=1e-7)


def test_the_projection_is_applied_after_the_output_gate(x, weights):
    """Scaling the projection scales h_t only at step 1 (h_0 = 0): later
    steps read the scaled h. A projection applied to c_t (not to
    o_t * tanh(c_t)) would give another output at step 1."""
    projection = np.random.default_rng(3).normal(size=(H, P))
    outputs, _ = lstm_forward(x, weights, projection=projection)
    doubled, _ = lstm_forward(x, weights, projection=2 * projection)
    np.testing.assert_allclose(doubled[:, 0], 2 * outputs[:, 0], atol=1e-12)
    assert np.abs(doubled[:, 1:] - 2 * outputs[:, 1:]).max() > 1e-3
    pre = x[:, 0] @ weights.kernel + weights.bias
    i, f, g, o = np.split(pre, 4, axis=-1)
    c_1 = sigmoid(i) * np.tanh(g)
    np.testing.assert_allclose(
        outputs[:, 0], (sigmoid(o) * np.tanh(c_1)) @ projection, atol=1e-12
    )


def test_initial_state_is_projected_width(x, weights, projection):
    rng = np.random.default_rng(4)
    h_0, c_0 = rng.normal(size=(N, P)), rng.normal(size=(N, H))
    outputs, (h_n, c_n) = lstm_forward(
        x, weights, initial_state=(h_0, c_0), projection=projection
    )
    for n in range(N):
        hs, cs = unrolled_projected(x[n], weights, projection, h_0[n], c_0[n])
        np.testing.assert_allclose(outputs[n], hs, atol=1e-12)
        np.testing.assert_allclose(c_n[n], cs[-1], atol=1e-12)
    zero = lstm_forward(x, weights, projection=projection)[1][0]
    assert np.abs(zero - h_n).max() > 1e-3


def test_matches_torch_proj_size():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.LSTM(D, H, proj_size=P, batch_first=True)
    with torch.no_grad():  # non-zero biases, both of them
        module.bias_ih_l0.uniform_(-1, 1)
        module.bias_hh_l0.uniform_(-1, 1)
    xt = torch.randn(N, T, D)
    with warnings.catch_warnings():  # oneDNN has no projection kernel
        warnings.simplefilter("ignore", UserWarning)
        with torch.no_grad():
            output, (h_n, c_n) = module(xt)
    weights = LSTMWeights(
        module.weight_ih_l0.detach().numpy().T,
        module.weight_hh_l0.detach().numpy().T,
        (module.bias_ih_l0 + module.bias_hh_l0).detach().numpy(),
    )
    projection = module.weight_hr_l0.detach().numpy().T
    ref, (ref_h, ref_c) = lstm_forward(
        xt.numpy(), weights, projection=projection
    )
    np.testing.assert_allclose(ref, output.numpy(), atol=1e-5)
    np.testing.assert_allclose(ref_h, h_n[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(ref_c, c_n[0].numpy(), atol=1e-5)
    # read without the transpose, the projection is another model
    with pytest.raises(ValueError, match="projection"):
        lstm_forward(xt.numpy(), weights, projection=projection.T)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"projection": np.zeros((H,))}, r"projection must have shape \(H, P"),
        ({"projection": np.zeros((0, P))}, r"projection must have shape"),
        (
            {"projection": np.zeros((H + 1, P))},
            r"kernel must have shape \(D, 4H\) = \(2, 20\), with H = 5",
        ),
        (
            {"recurrent": np.zeros((H, 4 * H))},
            r"recurrent_kernel must have shape \(P, 4H\) = \(3, 16\)",
        ),
        ({"bias": np.zeros(4 * P)}, r"bias must have shape \(16,\)"),
        ({"initial_state": np.zeros((N, P))}, r"initial_state must be"),
        (
            {"initial_state": (np.zeros((N, H)), np.zeros((N, H)))},
            r"initial_state h_0 must have shape \(3, 3\)",
        ),
        (
            {"initial_state": (np.zeros((N, P)), np.zeros((N, P)))},
            r"initial_state c_0 must have shape \(3, 4\)",
        ),
    ],
)
def test_bad_projected_inputs_raise_clear_errors(
    x, weights, projection, change, message
):
    w = weights
    if "recurrent" in change:
        w = w._replace(recurrent_kernel=change["recurrent"])
    if "bias" in change:
        w = w._replace(bias=change["bias"])
    with pytest.raises(ValueError, match=message):
        lstm_forward(
            x,
            w,
            initial_state=change.get("initial_state"),
            projection=change.get("projection", projection),
        )
