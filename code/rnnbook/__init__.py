"""rnnbook: the small library behind the book *Outputs versus states*.

* :mod:`rnnbook.reference` — a NumPy forward pass for the Elman RNN, LSTM
  and GRU that returns both the per-step outputs and the final state of a
  padded batch;
* :mod:`rnnbook.padding` — masks from lengths and the last valid step;
* :mod:`rnnbook.plotting` — the heat map of outputs beside the final state;
* :mod:`rnnbook.convert` — LSTM and GRU weights between the reference
  layout, PyTorch, Keras and TF1;
* :mod:`rnnbook.diagrams` — diagrams of the unrolled network, drawn from
  returned values matched to the states;
* :mod:`rnnbook.display` — ``glue``: computed values in the text, with or
  without the book build; ``claim``: a trained model's number asserted
  against its threshold, both glued for the seed sweep;
* :mod:`rnnbook.checks` — the input checks behind the clear error messages.
"""

from .convert import (
    gru_from_keras,
    gru_from_tf1,
    gru_from_torch,
    gru_to_keras,
    gru_to_tf1,
    gru_to_torch,
    lstm_from_keras,
    lstm_from_tf1,
    lstm_from_torch,
    lstm_projected_from_tf1,
    lstm_projected_from_torch,
    lstm_projected_to_tf1,
    lstm_projected_to_torch,
    lstm_to_keras,
    lstm_to_tf1,
    lstm_to_torch,
)
from .padding import gather_last_valid, mask_from_lengths
from .reference import (
    GRUWeights,
    LSTMWeights,
    RNNWeights,
    gru_forward,
    lstm_forward,
    random_gru_weights,
    random_lstm_weights,
    random_rnn_weights,
    rnn_forward,
    sigmoid,
)

__all__ = [
    "GRUWeights",
    "LSTMWeights",
    "RNNWeights",
    "gather_last_valid",
    "gru_forward",
    "gru_from_keras",
    "gru_from_tf1",
    "gru_from_torch",
    "gru_to_keras",
    "gru_to_tf1",
    "gru_to_torch",
    "lstm_forward",
    "lstm_from_keras",
    "lstm_from_tf1",
    "lstm_from_torch",
    "lstm_projected_from_tf1",
    "lstm_projected_from_torch",
    "lstm_projected_to_tf1",
    "lstm_projected_to_torch",
    "lstm_to_keras",
    "lstm_to_tf1",
    "lstm_to_torch",
    "mask_from_lengths",
    "random_gru_weights",
    "random_lstm_weights",
    "random_rnn_weights",
    "rnn_forward",
    "sigmoid",
]
