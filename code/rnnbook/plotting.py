"""Figures shared by the chapters: per-step outputs as a heat map, the final
state beside them."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_outputs_and_state"]


def plot_outputs_and_state(
    outputs, final_states, lengths=None, names=None, state_label="$h_n$"
):
    """Draw each sequence's outputs as a units x time heat map, with its final
    state beside it.

    Args:
        outputs: per-step outputs, shape (N, T, H).
        final_states: the final state of each sequence, shape (N, H).
        lengths: valid steps per sequence, shape (N,); padded steps are
            hatched. ``None``: all valid.
        names: a title per sequence (N strings); defaults to
            ``sequence 1 .. N`` (the book counts from 1).
        state_label: the x tick label of the state column.

    Returns:
        The matplotlib ``Figure``. The step each final state was read from
        is outlined.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from .checks import check_lengths, check_sequences, check_weight

    outputs = check_sequences(outputs, name="outputs")
    batch, steps, units = outputs.shape
    final_states = check_weight("final_states", final_states, (batch, units))
    lengths = check_lengths(lengths, batch, steps)
    names = (
        list(names)
        if names is not None
        else [f"sequence {n + 1}" for n in range(batch)]
    )
    if len(names) != batch:
        raise ValueError(
            f"names must have one title per sequence (N = {batch}); got "
            f"{len(names)}"
        )

    limit = max(np.abs(outputs).max(), np.abs(final_states).max(), 1e-6)
    style = dict(cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    fig, axes = plt.subplots(
        1,
        2 * batch,
        figsize=(min(7.5, 1.9 * batch + 1.3), 3.2),  # fits the text column
        squeeze=False,
        layout="constrained",
        gridspec_kw={"width_ratios": [steps, 1.2] * batch},
    )
    for n in range(batch):
        ax_out, ax_state = axes[0, 2 * n], axes[0, 2 * n + 1]
        image = ax_out.imshow(outputs[n].T, **style)
        for t in range(lengths[n], steps):  # hatch the padded steps
            ax_out.add_patch(
                Rectangle(
                    (t - 0.5, -0.5),
                    1,
                    units,
                    fill=False,
                    hatch="///",
                    color="0.4",
                    lw=0,
                )
            )
        last = lengths[n] - 1
        ax_out.add_patch(
            Rectangle(
                (last - 0.5, -0.5), 1, units, fill=False, ec="black", lw=2.2
            )
        )
        ax_out.set_xticks(
            range(steps), [str(t + 1) for t in range(steps)], fontsize=9
        )
        ax_out.set_yticks(
            range(units), [str(u + 1) for u in range(units)], fontsize=9
        )
        ax_out.set_xlabel("time step $t$")
        ax_out.set_ylabel("unit" if n == 0 else "")
        ax_out.set_title(
            f"{names[n]} (length {lengths[n]})", fontsize=9, loc="left"
        )
        ax_state.imshow(final_states[n][:, None], **style)
        ax_state.add_patch(
            Rectangle((-0.5, -0.5), 1, units, fill=False, ec="black", lw=2.2)
        )
        ax_state.set_xticks([0], [state_label])
        ax_state.set_yticks([])
    fig.colorbar(
        image, ax=list(axes.ravel()), shrink=0.85, label="value of $h_t$"
    )
    return fig
