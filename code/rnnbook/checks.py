"""Input checks shared by the helpers: each raises a ``ValueError`` that says
what was wrong and what was expected, so a reader's mistake is caught at the
call that made it rather than three reshapes later."""

from __future__ import annotations

import numpy as np

__all__ = [
    "check_sequences",
    "check_lengths",
    "check_initial_state",
    "check_weight",
]


def check_sequences(x, name: str = "x") -> np.ndarray:
    """Return ``x`` as a float array of shape (N, T, D), or raise
    ``ValueError``."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(
            f"{name} must have rank 3, shape (N, T, D) = (batch, time, "
            f"features); got rank {x.ndim} with shape {x.shape}"
        )
    if 0 in x.shape:
        raise ValueError(
            f"{name} must have at least one sequence, step and feature; got "
            f"shape {x.shape}"
        )
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x


def check_lengths(lengths, batch: int | None, steps: int) -> np.ndarray:
    """Return per-sequence lengths, an int array of shape (N,), each in
    ``1..T``.

    ``None`` means every sequence uses all ``steps``; ``batch=None`` skips the
    check of N (for callers that have no batch to compare with).
    """
    if lengths is None:
        if batch is None:
            raise ValueError(
                "lengths is required here: pass one length per sequence, "
                "shape (N,)"
            )
        return np.full(batch, steps, dtype=np.int64)
    raw = np.asarray(lengths)
    if raw.ndim != 1:
        raise ValueError(
            "lengths must have rank 1, shape (N,), one length per sequence; "
            f"got shape {raw.shape}"
        )
    if batch is not None and raw.shape[0] != batch:
        raise ValueError(
            f"lengths has {raw.shape[0]} entries but the batch has N = "
            f"{batch} sequences"
        )
    if not (
        np.issubdtype(raw.dtype, np.integer)
        or np.issubdtype(raw.dtype, np.floating)
    ):
        raise ValueError(
            f"lengths must be numbers of steps; got dtype {raw.dtype}"
        )
    if raw.size and not np.all(np.equal(np.mod(raw, 1), 0)):
        raise ValueError(
            f"lengths must be whole numbers of steps; got {raw.tolist()}"
        )
    lengths = raw.astype(np.int64)
    bad = (lengths < 1) | (lengths > steps)
    if bad.any():
        rows = np.flatnonzero(bad).tolist()
        raise ValueError(
            f"every length must be in 1..T = 1..{steps}; rows {rows} have "
            f"lengths {lengths[bad].tolist()}"
        )
    return lengths


def check_weight(name: str, value, expected_shape: tuple) -> np.ndarray:
    """Return ``value`` as an array of ``expected_shape``, or raise a
    ``ValueError`` naming both shapes."""
    value = np.asarray(value)
    if value.shape != tuple(expected_shape):
        raise ValueError(
            f"{name} must have shape {tuple(expected_shape)}; got "
            f"{value.shape}"
        )
    return value


def check_initial_state(
    initial_state, n_states: int, batch: int, units: int, dtype
) -> tuple:
    """Return the initial state: ``n_states`` arrays of shape (N, H).

    ``None`` gives zeros. One array is accepted where ``n_states == 1``.
    """
    if initial_state is None:
        return tuple(
            np.zeros((batch, units), dtype=dtype) for _ in range(n_states)
        )
    if n_states == 1 and not isinstance(initial_state, (tuple, list)):
        initial_state = (initial_state,)
    if len(initial_state) != n_states:
        what = "(h_0, c_0)" if n_states == 2 else "h_0"
        raise ValueError(
            f"initial_state must be {what}: {n_states} array(s); got "
            f"{len(initial_state)}"
        )
    names = ("h_0", "c_0")
    return tuple(
        check_weight(f"initial_state {names[k]}", s, (batch, units)).astype(
            dtype, copy=False
        )
        for k, s in enumerate(initial_state)
    )
