"""Cutting a long sequence into chunks, and the layouts that streaming needs.

A recurrent layer can read a long sequence in pieces, carrying its state
from one call to the next. These helpers do the bookkeeping; the carrying
itself is the chapter's to show.

* :func:`chunk_slices` -- the ``slice`` of each consecutive chunk of the
  time axis (the last one may be shorter);
* :func:`valid_in_chunk` -- how many valid steps each sequence of a padded
  batch has inside one chunk;
* :func:`to_windows` / :func:`from_windows` -- the batch layout of a Keras
  ``stateful=True`` model: batch ``k`` holds window ``k`` of every stream,
  in the same row order;
* :func:`autograd_nodes` -- how many autograd nodes a PyTorch tensor's
  graph holds (without importing PyTorch here).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "autograd_nodes",
    "chunk_slices",
    "from_windows",
    "to_windows",
    "valid_in_chunk",
]


def _positive(name: str, value) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def chunk_slices(steps: int, size: int) -> list[slice]:
    """The slices ``0:size, size:2*size, ...`` that cover ``steps`` steps.

    The last chunk is shorter when ``size`` does not divide ``steps``.
    """
    steps, size = _positive("steps", steps), _positive("size", size)
    return [
        slice(start, min(start + size, steps))
        for start in range(0, steps, size)
    ]


def valid_in_chunk(lengths, piece: slice) -> np.ndarray:
    """The number of valid steps of each sequence inside the chunk
    ``piece`` (a slice of the time axis with a start and a stop).

    A sequence of length ``lengths[n]`` is valid at steps ``0 ..
    lengths[n] - 1``; the result is ``clip(lengths - start, 0, stop -
    start)``: 0 for a sequence that ended before the chunk.
    """
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(
            f"lengths must be a 1-D array of integers; got {lengths!r}"
        )
    if (
        piece.start is None
        or piece.stop is None
        or piece.step
        not in (
            None,
            1,
        )
    ):
        raise ValueError(f"piece must be start:stop; got {piece!r}")
    return np.clip(lengths - piece.start, 0, piece.stop - piece.start)


def to_windows(streams, window: int) -> np.ndarray:
    """``(N, T, ...)`` streams -> ``(K * N, window, ...)`` with ``K = T /
    window``: rows ``k * N .. k * N + N - 1`` are window ``k`` of streams
    ``0 .. N - 1``.

    Fed to a ``stateful=True`` model in batches of ``N`` without shuffling,
    row ``n`` of every batch continues row ``n`` of the batch before.
    """
    streams = np.asarray(streams)
    window = _positive("window", window)
    if streams.ndim < 2 or streams.shape[1] % window:
        raise ValueError(
            f"streams must be (N, T, ...) with T a multiple of {window}; "
            f"got shape {streams.shape}"
        )
    n, t = streams.shape[:2]
    rest = streams.shape[2:]
    return (
        streams.reshape(n, t // window, window, *rest)
        .swapaxes(0, 1)
        .reshape(n * (t // window), window, *rest)
    )


def from_windows(windows, streams: int) -> np.ndarray:
    """The inverse of :func:`to_windows`: ``(K * N, W, ...)`` ->
    ``(N, K * W, ...)`` for ``N = streams``."""
    windows = np.asarray(windows)
    streams = _positive("streams", streams)
    if windows.ndim < 2 or windows.shape[0] % streams:
        raise ValueError(
            f"windows must be (K * {streams}, W, ...); got shape "
            f"{windows.shape}"
        )
    k, w = windows.shape[0] // streams, windows.shape[1]
    rest = windows.shape[2:]
    return (
        windows.reshape(k, streams, w, *rest)
        .swapaxes(0, 1)
        .reshape(streams, k * w, *rest)
    )


def autograd_nodes(tensor) -> int:
    """How many autograd nodes the graph behind a PyTorch ``tensor`` holds:
    its ``grad_fn`` and every node reachable from it through
    ``next_functions`` (0 for a tensor that no graph produced)."""
    seen, todo = set(), [getattr(tensor, "grad_fn", None)]
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        todo.extend(parent for parent, _ in node.next_functions)
    return len(seen)
