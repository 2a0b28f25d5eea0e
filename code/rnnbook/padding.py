"""Working with padded batches: masks from lengths, and the last valid step."""

from __future__ import annotations

import numpy as np

from .checks import check_lengths, check_sequences

__all__ = ["mask_from_lengths", "gather_last_valid"]


def _steps(steps) -> int:
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ValueError(
            f"steps (T) must be a whole number >= 1; got {steps!r}"
        )
    return int(steps)


def mask_from_lengths(lengths, steps: int) -> np.ndarray:
    """Boolean mask of shape (N, T): ``True`` where step ``t < lengths[n]``.

    Args:
        lengths: valid steps per sequence, shape (N,), each in ``1..steps``.
        steps: ``T``, the padded length.
    """
    lengths = check_lengths(lengths, None, _steps(steps))
    return np.arange(_steps(steps))[None, :] < lengths[:, None]


def gather_last_valid(outputs, lengths) -> np.ndarray:
    """The output at each sequence's last valid step.

    Args:
        outputs: per-step outputs, shape (N, T, H), batch first.
        lengths: valid steps per sequence, shape (N,), each in ``1..T``.

    Returns:
        ``last_valid_output`` of shape (N, H): ``outputs[n, lengths[n] - 1]``.
        For a one-direction, one-layer RNN this is the final hidden state
        ``h_n``.
    """
    outputs = check_sequences(outputs, name="outputs")
    batch, steps, _ = outputs.shape
    lengths = check_lengths(lengths, batch, steps)
    return outputs[np.arange(batch), lengths - 1]
