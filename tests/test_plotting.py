"""The shared figure: what it draws, and the bad inputs it rejects."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rnnbook.plotting import plot_outputs_and_state  # noqa: E402

OUTPUTS = np.random.default_rng(0).normal(size=(2, 4, 3))


def test_one_heat_map_and_one_state_column_per_sequence():
    fig = plot_outputs_and_state(
        OUTPUTS, OUTPUTS[:, -1], lengths=[4, 2], names=["a", "b"]
    )
    heat_maps = [
        ax
        for ax in fig.axes
        if ax.images and ax.get_xlabel() == "time step $t$"
    ]
    assert len(heat_maps) == 2
    assert [ax.get_title(loc="left") for ax in heat_maps] == [
        "a (length 4)",
        "b (length 2)",
    ]
    hatched = [p for p in heat_maps[1].patches if p.get_hatch()]
    assert len(hatched) == 2, (
        "the two padded steps of the second sequence are hatched"
    )
    assert not [p for p in heat_maps[0].patches if p.get_hatch()]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(outputs=OUTPUTS[0], final_states=OUTPUTS[:, -1]),
            r"outputs must have rank 3",
        ),
        (
            dict(outputs=OUTPUTS, final_states=OUTPUTS[0]),
            r"final_states must have shape \(2, 3\)",
        ),
        (
            dict(outputs=OUTPUTS, final_states=OUTPUTS[:, -1], lengths=[5, 1]),
            r"1\.\.T = 1\.\.4",
        ),
        (
            dict(
                outputs=OUTPUTS,
                final_states=OUTPUTS[:, -1],
                names=["only one"],
            ),
            r"one title per sequence",
        ),
    ],
)
def test_bad_inputs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_outputs_and_state(**kwargs)
