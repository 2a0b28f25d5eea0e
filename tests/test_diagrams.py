"""The diagram module: the states it unrolls, the boxes it matches returned
tensors to (on real PyTorch results and on the NumPy reference), the bad
inputs it rejects, and the legibility of what it draws."""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils.rnn import (  # noqa: E402
    pack_padded_sequence,
    pad_packed_sequence,
)

from rnnbook import (  # noqa: E402
    gru_forward,
    gru_from_torch,
    lstm_forward,
    lstm_from_torch,
    random_gru_weights,
    random_lstm_weights,
    random_rnn_weights,
    rnn_forward,
)
from rnnbook.convert import lstm_stack_from_torch  # noqa: E402
from rnnbook.diagrams import (  # noqa: E402
    ZERO,
    Box,
    Unrolled,
    describe,
    draw_unrolled,
    match_returns,
    unroll,
)

N, T, D, H = 3, 4, 2, 3
LENGTHS = np.array([4, 3, 2])
X = np.random.default_rng(0).normal(size=(N, T, D)).astype(np.float32)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def torch_layers(module, convert):
    """The reference weights of every layer (and direction) of ``module``."""
    arrays = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    layers = []
    for layer in range(module.num_layers):
        suffixes = [f"_l{layer}"]
        if module.bidirectional:
            suffixes.append(f"_l{layer}_reverse")
        weights = [convert(arrays, suffix) for suffix in suffixes]
        layers.append(weights[0] if len(weights) == 1 else tuple(weights))
    return layers


def run_torch(module, x, lengths=None):
    """PyTorch's returns as arrays: output (batch first), h_n (and c_n)."""
    inputs = torch.from_numpy(x)
    if lengths is not None:
        inputs = pack_padded_sequence(
            inputs,
            torch.as_tensor(lengths),
            batch_first=True,
            enforce_sorted=False,
        )
    with torch.no_grad():
        output, state = module(inputs)
    if lengths is not None:
        output, _ = pad_packed_sequence(
            output, batch_first=True, total_length=x.shape[1]
        )
    returned = {"output": output.numpy()}
    if isinstance(state, tuple):
        returned["h_n"], returned["c_n"] = (s.numpy() for s in state)
    else:
        returned["h_n"] = state.numpy()
    return returned


def lstm(**kwargs):
    torch.manual_seed(0)
    return nn.LSTM(D, H, batch_first=True, **kwargs)


# --- unroll: every box, from the reference -----------------------------------


def test_unroll_keeps_every_state_of_the_reference():
    weights = random_lstm_weights(D, H, seed=1)
    states = unroll(lstm_forward, X, [weights], LENGTHS)
    outputs, (h_n, c_n) = lstm_forward(X, weights, LENGTHS)
    assert states.h.shape == states.c.shape == (1, 1, N, T, H)
    assert states.cell == "LSTM"
    for n, length in enumerate(LENGTHS):
        np.testing.assert_allclose(
            states.h[0, 0, n, :length], outputs[n, :length], atol=1e-6
        )
        np.testing.assert_allclose(
            states.c[0, 0, n, length - 1], c_n[n], atol=1e-6
        )
        assert np.isnan(states.h[0, 0, n, length:]).all()


def test_unroll_without_lengths_reads_the_padding():
    weights = random_rnn_weights(D, H, seed=2)
    states = unroll(rnn_forward, X, [weights])
    outputs, _ = rnn_forward(X, weights)
    np.testing.assert_allclose(states.h[0, 0], outputs, atol=1e-6)
    assert states.c is None and states.cell == "Elman RNN"


def test_unroll_backward_starts_at_each_last_valid_step():
    forward, backward = (random_gru_weights(D, H, seed=s) for s in (3, 4))
    states = unroll(gru_forward, X, [(forward, backward)], LENGTHS)
    for n, length in enumerate(LENGTHS):
        alone = X[n : n + 1, :length][:, ::-1]
        outputs, h_n = gru_forward(alone, backward)
        np.testing.assert_allclose(
            states.h[0, 1, n, :length], outputs[0, ::-1], atol=1e-6
        )
        np.testing.assert_allclose(states.h[0, 1, n, 0], h_n[0], atol=1e-6)


def test_unroll_stacks_layers_on_the_outputs_below():
    first = random_gru_weights(D, H, seed=5)
    second = random_gru_weights(H, H, seed=6)
    states = unroll(gru_forward, X, [first, second])
    below, _ = gru_forward(X, first)
    above, _ = gru_forward(below, second)
    np.testing.assert_allclose(states.h[1, 0], above, atol=1e-6)


def test_unroll_takes_the_stacks_of_rnnbook_convert():
    # lstm_stack_from_torch gives (forward,) for one direction and
    # (forward, backward) for two: both are layers unroll accepts as given
    one = lstm(num_layers=2)
    arrays = {k: v.detach().numpy() for k, v in one.state_dict().items()}
    stack = lstm_stack_from_torch(arrays)
    assert [len(layer) for layer in stack] == [1, 1]
    states = unroll(lstm_forward, X, stack, LENGTHS)
    plain = unroll(lstm_forward, X, [w for (w,) in stack], LENGTHS)
    np.testing.assert_array_equal(states.h, plain.h)
    m = match_returns(states, run_torch(one, X, LENGTHS), "torch", LENGTHS)
    assert m["h_n"][1, 2] == Box("h", 2, sequence=3, layer=2)
    two = lstm(bidirectional=True)
    arrays = {k: v.detach().numpy() for k, v in two.state_dict().items()}
    states = unroll(lstm_forward, X, lstm_stack_from_torch(arrays))
    assert states.h.shape == (1, 2, N, T, H)
    with pytest.raises(ValueError, match=r"or \(forward,\); got tuple"):
        unroll(lstm_forward, X, [(WEIGHTS, WEIGHTS, WEIGHTS)])


# --- matching real PyTorch returns -------------------------------------------


def test_packed_lstm_zeros_and_last_valid_states():
    module = lstm()
    returned = run_torch(module, X, LENGTHS)
    states = unroll(
        lstm_forward, X, torch_layers(module, lstm_from_torch), LENGTHS
    )
    m = match_returns(states, returned, "torch", LENGTHS)
    assert m["output"][1, 3] is ZERO and m["output"][2, 2] is ZERO
    assert m["output"][1, 2] == Box("h", 3, sequence=2)
    assert list(m["h_n"][0]) == [
        Box("h", length, sequence=n + 1) for n, length in enumerate(LENGTHS)
    ]
    assert m["c_n"][0, 2] == Box("c", 2, sequence=3)
    text = describe(m)
    assert "at the padded steps (step 4 of sequence 2; steps 3–4 of " in text
    assert "it holds zeros" in text
    assert "(each sequence's last valid step)" in text
    one = describe(m, sequences=[1])
    assert "sequence 2 of a batch of 3, length 3;" in one
    assert "h_n[0] is h at step 3 of sequence 2 (its last valid step)" in one


def test_two_layer_bidirectional_h_n_rows():
    module = lstm(num_layers=2, bidirectional=True)
    returned = run_torch(module, X)
    states = unroll(lstm_forward, X, torch_layers(module, lstm_from_torch))
    m = match_returns(states, returned, "torch")
    expected = [(1, "forward", T), (1, "backward", 1)]
    expected += [(2, "forward", T), (2, "backward", 1)]
    for row, (layer, direction, step) in enumerate(expected):
        for n in range(N):
            assert m["h_n"][row, n] == Box("h", step, n + 1, layer, direction)
    # output holds the top layer only, both halves at step t
    assert m["output"][0, 0, 1] == Box("h", 1, 1, 2, "backward")
    assert m["output"][0, -1, 0] == Box("h", T, 1, 2, "forward")
    # the pitfall: h_n[-1] is the backward state at step 1, which is not
    # the backward half of output[:, -1]
    assert m["h_n"][-1, 0].step == 1
    assert m["output"][0, -1, 1] == Box("h", T, 1, 2, "backward")
    assert "h_n[3] is the backward h of layer 2 at step 1" in describe(m)


def test_packed_bidirectional_backward_state_at_step_1():
    module = lstm(bidirectional=True)
    returned = run_torch(module, X, LENGTHS)
    layers = torch_layers(module, lstm_from_torch)
    m = match_returns(
        unroll(lstm_forward, X, layers, LENGTHS), returned, "torch", LENGTHS
    )
    assert [b.step for b in m["h_n"][1]] == [1, 1, 1]
    assert [b.step for b in m["h_n"][0]] == LENGTHS.tolist()
    assert m["output"][2, 3, 0] is ZERO and m["output"][2, 3, 1] is ZERO
    # the backward half at the last valid step is its FIRST state
    assert m["output"][1, 2, 1] == Box("h", 3, 2, 1, "backward")


def test_unpacked_gru_reads_the_padding():
    torch.manual_seed(1)
    module = nn.GRU(D, H, batch_first=True)
    returned = run_torch(module, X)  # padded batch, lengths not given
    states = unroll(gru_forward, X, torch_layers(module, gru_from_torch))
    m = match_returns(states, returned, "torch", LENGTHS)
    assert m["output"][2, 3] == Box("h", 4, sequence=3)  # from padding
    assert [b.step for b in m["h_n"][0]] == [T, T, T]
    text = describe(m)
    assert "it holds the state computed from the padding" in text
    assert "(sequences 2 and 3 after reading padding)" in text


def test_swapping_h_n_rows_fails_the_strict_matching():
    module = lstm(bidirectional=True)
    returned = run_torch(module, X)
    states = unroll(lstm_forward, X, torch_layers(module, lstm_from_torch))
    swapped = dict(returned, h_n=returned["h_n"][[1, 0]])
    with pytest.raises(ValueError, match=r"h_n\[0, 0\] equals h_1 of seq"):
        match_returns(states, swapped, "torch")
    loose = match_returns(states, swapped, "torch", strict=False)
    assert loose["h_n"][0, 0] == Box("h", 1, 1, 1, "backward")


def test_time_major_output():
    module = lstm()
    module.batch_first = False
    with torch.no_grad():
        output, (h_n, c_n) = module(torch.from_numpy(X).transpose(0, 1))
    states = unroll(lstm_forward, X, torch_layers(module, lstm_from_torch))
    returned = {"output": output, "h_n": h_n, "c_n": c_n}
    m = match_returns(states, returned, "torch", time_major=True)
    assert m["output"][0, 2] == Box("h", 1, sequence=3)  # output[t, n]
    with pytest.raises(ValueError, match=r"\(N, T, units\) = \(3, 4,"):
        match_returns(states, returned, "torch")


def test_states_from_a_cell_loop():
    torch.manual_seed(2)
    cell = nn.LSTMCell(D, H)
    h = c = torch.zeros(N, H)
    hs, cs = [], []
    with torch.no_grad():
        for t in range(T):
            h, c = cell(torch.from_numpy(X[:, t]), (h, c))
            hs.append(h.numpy())
            cs.append(c.numpy())
    states = Unrolled(np.stack(hs, 1), np.stack(cs, 1), "LSTM")
    returned = {"outputs": np.stack(hs, 1), "h_n": h, "c_n": c}
    m = match_returns(states, returned, "reference")
    assert m["c_n"][1] == Box("c", T, sequence=2)


# --- matching the other frameworks' conventions (built from the reference) ---


def keras_like(weights):
    """Keras's masked LSTM: the padded steps repeat the last output."""
    outputs, (h, c) = lstm_forward(X, weights, LENGTHS)
    seq = outputs.copy()
    for n, length in enumerate(LENGTHS):
        seq[n, length:] = outputs[n, length - 1]
    return {"seq": seq, "h": h, "c": c}


def test_keras_repeated_outputs_match_the_last_valid_box():
    weights = random_lstm_weights(D, H, seed=7)
    states = unroll(lstm_forward, X, [weights], LENGTHS)
    m = match_returns(states, keras_like(weights), "keras", LENGTHS)
    assert list(m["seq"][2]) == [Box("h", s, 3) for s in (1, 2, 2, 2)]
    assert "it repeats the last valid output" in describe(m)


def test_swapped_h_and_c_fail_the_strict_matching():
    weights = random_lstm_weights(D, H, seed=7)
    states = unroll(lstm_forward, X, [weights], LENGTHS)
    returned = keras_like(weights)
    swapped = dict(returned, h=returned["c"], c=returned["h"])
    with pytest.raises(ValueError, match=r"h\[0\] equals c_4 of sequence 1"):
        match_returns(states, swapped, "keras", LENGTHS)


def test_tf1_names_for_stacked_and_bidirectional_states():
    layers = [random_gru_weights(D, H, seed=8), random_gru_weights(H, H, 9)]
    states = unroll(gru_forward, X, layers, LENGTHS)
    below, first = gru_forward(X, layers[0], LENGTHS)
    outputs, second = gru_forward(below, layers[1], LENGTHS)
    returned = {"outputs": outputs, "state[0]": first, "state[1]": second}
    m = match_returns(states, returned, "tf1", LENGTHS)
    assert m["state[0]"][1] == Box("h", 3, 2, layer=1)
    swapped = dict(returned, **{"state[0]": second, "state[1]": first})
    with pytest.raises(ValueError, match=r"h of layer 1 of sequence 1"):
        match_returns(states, swapped, "tf1", LENGTHS)


def test_another_sequence_is_found_and_named():
    weights = random_lstm_weights(D, H, seed=7)
    states = unroll(lstm_forward, X, [weights], LENGTHS)
    returned = keras_like(weights)
    shuffled = dict(returned, h=returned["h"][[1, 0, 2]])
    with pytest.raises(ValueError, match=r"h\[0\] equals h_3 of sequence 2"):
        match_returns(states, shuffled, "keras", LENGTHS)
    m = match_returns(states, shuffled, "keras", LENGTHS, strict=False)
    assert m["h"][0] == Box("h", 3, sequence=2)
    fig = draw_unrolled(m)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("h = h_3 of sequence 2" in t for t in texts)


def test_a_vector_that_is_no_box_is_an_error_naming_it():
    module = lstm()
    returned = run_torch(module, X, LENGTHS)
    states = unroll(
        lstm_forward, X, torch_layers(module, lstm_from_torch), LENGTHS
    )
    returned["h_n"] = returned["h_n"].copy()
    returned["h_n"][0, 1, 0] += 0.01
    with pytest.raises(ValueError, match=r"h_n\[0, 1\] matches no box"):
        match_returns(states, returned, "torch", LENGTHS)
    # an unpacked run read the padding: its h_n is no box of a layer told
    # the lengths (and the message names the nearest box)
    unpacked = run_torch(module, X)
    with pytest.raises(
        ValueError, match=r"h_n\[0, 1\] matches no box.*nearest"
    ):
        match_returns(states, {"h_n": unpacked["h_n"]}, "torch", LENGTHS)


def test_two_equal_boxes_are_ambiguous():
    h = np.arange(T * H, dtype=float).reshape(1, T, H)
    h[0, 2] = h[0, 1]
    returned = {"outputs": h, "h_n": h[:, -1]}
    with pytest.raises(ValueError, match=r"outputs\[0, 1\] matches more "):
        match_returns(Unrolled(h), returned, "reference")


# --- bad inputs --------------------------------------------------------------

WEIGHTS = random_lstm_weights(D, H, seed=7)
STATES = unroll(lstm_forward, X, [WEIGHTS])
OUT, (H_N, C_N) = lstm_forward(X, WEIGHTS)
GOOD = {"output": OUT, "h_n": H_N[None], "c_n": C_N[None]}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(framework="pytorch"), r"framework must be one of \["),
        (
            dict(returned={"hn": H_N[None]}),
            r"PyTorch returns no tensor named 'hn'; the names are: output",
        ),
        (
            dict(returned={"h_n": H_N}),
            r"returned\['h_n'\] must have shape \(L\*K, N, units\) = "
            r"\(1, 3, 'units'\)",
        ),
        (
            dict(returned={"output": OUT[..., :2]}),
            r"units in \[3\]",
        ),
        (dict(returned={}), r"non-empty dict"),
        (dict(returned=[OUT]), r"non-empty dict"),
        (dict(returned={"output": "abc"}), r"array of numbers"),
        (dict(atol=-1e-6), r"atol must be in \[0, 0\.1\)"),
        (dict(atol=0.5), r"cannot tell one state from another"),
        (dict(atol=float("nan")), r"atol must be a finite number"),
        (dict(atol=True), r"atol must be a finite number"),
        (dict(atol="1e-5"), r"atol must be a finite number"),
        (dict(lengths=[5, 1, 1]), r"1\.\.T = 1\.\.4"),
        (dict(lengths=[4, 4]), r"batch has N = 3"),
        (dict(states=OUT), r"states must be an Unrolled"),
        (dict(states=Unrolled(OUT[0])), r"states\.h must have shape"),
        (
            dict(states=Unrolled(STATES.h, STATES.c[:, :, :2])),
            r"states\.c must have shape \(L, K, N, T, H_c\)",
        ),
    ],
)
def test_match_returns_rejects(kwargs, message):
    arguments = dict(states=STATES, returned=GOOD, framework="torch")
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        match_returns(**arguments)


@pytest.mark.parametrize(
    "framework, name, message",
    [
        ("tf1", "final", r"TensorFlow 1 \(dynamic_rnn\) returns no tensor"),
        ("keras", "state_h", r"Keras returns no tensor named 'state_h'"),
        ("reference", "output", r"the NumPy reference returns no tensor"),
        ("torch", 3, r"non-empty strings; got 3"),
    ],
)
def test_names_each_framework_does_not_return(framework, name, message):
    with pytest.raises(ValueError, match=message):
        match_returns(STATES, {name: H_N}, framework)


@pytest.mark.parametrize(
    "args, message",
    [
        ((len, X, [WEIGHTS]), r"rank 3"),
        ((None, X, [WEIGHTS]), r"forward must be a reference forward"),
        ((lstm_forward, X, []), r"one entry per layer"),
        ((lstm_forward, X, [WEIGHTS.kernel]), r"layer 1 must be a weights"),
        (
            (lstm_forward, X, [WEIGHTS, (WEIGHTS, WEIGHTS)]),
            r"the same number of directions",
        ),
        ((lstm_forward, X[0], [WEIGHTS]), r"x must have rank 3"),
    ],
)
def test_unroll_rejects(args, message):
    forward, x, layers = args
    if forward is len:  # a valid call with a bad x, checked by x's rank
        x = x[0]
        forward = lstm_forward
    with pytest.raises(ValueError, match=message):
        unroll(forward, x, layers)


def test_draw_and_describe_reject():
    m = match_returns(STATES, GOOD, "torch")
    with pytest.raises(ValueError, match=r"needs the result of match_ret"):
        draw_unrolled(GOOD)
    with pytest.raises(ValueError, match=r"needs the result of match_ret"):
        describe(STATES)
    with pytest.raises(ValueError, match=r"batch indices in 0\.\.2"):
        draw_unrolled(m, sequences=[3])
    with pytest.raises(ValueError, match=r"batch indices in 0\.\.2"):
        draw_unrolled(m, sequences=[0, 0])
    with pytest.raises(ValueError, match=r"batch indices in 0\.\.2"):
        describe(m, sequences=[-1])
    with pytest.raises(ValueError, match=r"title must be a string"):
        draw_unrolled(m, title=1)
    long_x = np.random.default_rng(2).normal(size=(1, 13, D))
    long = unroll(lstm_forward, long_x, [WEIGHTS])
    out, (h, c) = lstm_forward(long_x, WEIGHTS)
    wide = match_returns(long, {"h_n": h[None]}, "torch", strict=False)
    with pytest.raises(ValueError, match=r"at most T = 12 steps"):
        draw_unrolled(wide)


def test_at_most_four_panels():
    x = np.random.default_rng(1).normal(size=(5, 2, D))
    states = unroll(lstm_forward, x, [WEIGHTS])
    m = match_returns(
        states, {"h_n": lstm_forward(x, WEIGHTS)[1][0][None]}, "torch"
    )
    with pytest.raises(ValueError, match=r"N = 5 sequences; a diagram"):
        draw_unrolled(m)
    assert draw_unrolled(m, sequences=[0, 4]) is not None


# --- what the figure shows, and that it is legible ---------------------------


def displayed_px(fig, points):
    """Text height in pixels when the figure is shown at most 700 px wide."""
    width_px = fig.get_figwidth() * fig.dpi
    return points * fig.dpi / 72 * min(1.0, 700 / width_px)


def all_texts(fig):
    texts = list(fig.axes[0].texts)
    legend = fig.axes[0].get_legend()
    return texts + (list(legend.get_texts()) if legend else [])


def figures():
    module = lstm(num_layers=2, bidirectional=True)
    bi = run_torch(module, X)
    bi_states = unroll(lstm_forward, X, torch_layers(module, lstm_from_torch))
    packed_module = lstm()
    packed = run_torch(packed_module, X, LENGTHS)
    packed_states = unroll(
        lstm_forward,
        X,
        torch_layers(packed_module, lstm_from_torch),
        LENGTHS,
    )
    yield match_returns(bi_states, bi, "torch"), [0]
    yield match_returns(packed_states, packed, "torch", LENGTHS), None
    keras_states = unroll(lstm_forward, X, [WEIGHTS], LENGTHS)
    keras = match_returns(keras_states, keras_like(WEIGHTS), "keras", LENGTHS)
    yield keras, None
    narrow = X[:, :2]
    backward = random_lstm_weights(D, H, seed=8)
    two_steps = unroll(lstm_forward, narrow, [(WEIGHTS, backward)], [2, 1, 2])
    out, (h, c) = lstm_forward(narrow, WEIGHTS, [2, 1, 2])
    returned = {"output_fw": out, "output_state_fw.h": h}
    yield match_returns(two_steps, returned, "tf1", [2, 1, 2]), [1]


@pytest.mark.parametrize("case", range(4))
def test_figures_are_legible_at_the_text_width(case):
    matched, sequences = list(figures())[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = draw_unrolled(matched, sequences=sequences, title="A title")
        fig.canvas.draw()
    assert fig.get_figwidth() <= 7.5
    # what is saved (bbox_inches="tight", as Jupyter does) fits as well
    tight = fig.get_tightbbox(fig.canvas.get_renderer())
    assert tight.width <= 7.5 and tight.x0 >= -0.01
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    sizes = [displayed_px(fig, t.get_fontsize()) for t in all_texts(fig)]
    assert min(sizes) >= 10, "every label is at least 10 px when shown"


def test_tags_sit_on_the_boxes_the_values_matched():
    module = lstm(bidirectional=True)
    returned = run_torch(module, X[:1])
    states = unroll(lstm_forward, X[:1], torch_layers(module, lstm_from_torch))
    m = match_returns(states, returned, "torch")
    fig = draw_unrolled(m)
    tags = {t.get_text(): t.get_position() for t in fig.axes[0].texts}
    assert tags["h_n[0]"][0] == T  # the forward state: last column
    assert tags["h_n[1]"][0] == 1  # the backward state: first column
    assert tags["c_n[1]"][0] == 1
    assert tags["c_n[1]"][1] < tags["h_n[1]"][1]  # c tagged below its box


def test_zero_cells_are_drawn_as_zeros():
    module = lstm()
    returned = run_torch(module, X, LENGTHS)
    states = unroll(
        lstm_forward, X, torch_layers(module, lstm_from_torch), LENGTHS
    )
    m = match_returns(states, returned, "torch", LENGTHS)
    fig = draw_unrolled(m)
    texts = [t.get_text() for t in fig.axes[0].texts]
    padded = int(sum(T - LENGTHS))
    assert texts.count("0") == padded and texts.count("pad") == padded
    assert "sequence 3 (length 2)" in texts
