"""Unit tests for rnnbook.streaming (chunks, windows, autograd graph size).

Each helper is checked against a plain loop written from its definition,
and on the inputs it must refuse.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnbook.streaming import (
    autograd_nodes,
    chunk_slices,
    from_windows,
    to_windows,
    valid_in_chunk,
)


@pytest.mark.parametrize("steps, size", [(10, 3), (9, 3), (1, 5), (7, 1)])
def test_chunk_slices_cover_every_step_once_in_order(steps, size):
    pieces = chunk_slices(steps, size)
    covered = [t for p in pieces for t in range(steps)[p]]
    assert covered == list(range(steps))
    assert all(p.stop - p.start == size for p in pieces[:-1])
    assert 1 <= pieces[-1].stop - pieces[-1].start <= size


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_chunk_slices_refuse_a_size_that_is_not_positive(bad):
    with pytest.raises(ValueError, match="positive integer"):
        chunk_slices(10, bad)


def test_valid_in_chunk_counts_the_valid_steps_of_each_sequence():
    lengths = np.array([10, 7, 2, 4])
    for piece in chunk_slices(10, 4):
        expected = [
            sum(1 for t in range(piece.start, piece.stop) if t < n)
            for n in lengths
        ]
        np.testing.assert_array_equal(valid_in_chunk(lengths, piece), expected)


def test_valid_in_chunk_refuses_what_it_cannot_read():
    with pytest.raises(ValueError, match="integers"):
        valid_in_chunk(np.array([2.0, 3.0]), slice(0, 2))
    with pytest.raises(ValueError, match="start:stop"):
        valid_in_chunk(np.array([2, 3]), slice(None, 2))


def test_windows_put_window_k_of_every_stream_in_batch_k():
    n, t, w = 3, 8, 2
    streams = np.arange(n * t * 2).reshape(n, t, 2)
    windows = to_windows(streams, w)
    assert windows.shape == (n * t // w, w, 2)
    for k in range(t // w):
        for row in range(n):
            np.testing.assert_array_equal(
                windows[k * n + row], streams[row, k * w : (k + 1) * w]
            )
    np.testing.assert_array_equal(from_windows(windows, n), streams)


def test_windows_work_without_a_feature_axis_and_refuse_bad_shapes():
    streams = np.arange(12).reshape(2, 6)
    np.testing.assert_array_equal(
        from_windows(to_windows(streams, 3), 2), streams
    )
    with pytest.raises(ValueError, match="multiple of 4"):
        to_windows(streams, 4)
    with pytest.raises(ValueError, match="K \\* 5"):
        from_windows(to_windows(streams, 3), 5)


def test_autograd_nodes_counts_each_node_once():
    assert autograd_nodes(torch.ones(2)) == 0
    a = torch.ones(2, requires_grad=True)
    b = a * 2  # MulBackward0 -> AccumulateGrad
    assert autograd_nodes(b) == 2
    c = b + b  # the shared node b is counted once
    assert autograd_nodes(c) == 3
    assert autograd_nodes(c.detach()) == 0
