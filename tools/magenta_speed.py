#!/usr/bin/env python3
"""Magenta's own Performance RNN training speed on this machine, for `cadenza bench train`.

Runs Magenta's training loop (`events_rnn_train.run_training`, the code behind
`performance_rnn_train`) on the same work as `cadenza bench train`: config
performance_with_dynamics, 3x512 LSTM, batch 48, every sequence 512 events, dropout keep 0.5,
Adam with clip_norm 3. The examples are random events (the cost of a step does not depend on
which events they are), written as Magenta's SequenceExamples. Speed is read from TensorFlow's
StepCounterHook (`global_step/sec`), the figure a Magenta user sees in the log.

Setup (PyPI only; the versions of shared/fixtures/magenta/README.md):
    python3 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu==2.15.1 tf-slim==1.1.0 numpy==1.26.4 \
        protobuf==4.25.9 tensorflow-probability==0.23.0 note-seq==0.0.5
    /tmp/tfenv/bin/pip install --no-deps magenta==2.1.4
Run:
    /tmp/tfenv/bin/python tools/magenta_speed.py --steps 25 --every 5 [--json out.json]
"""
import argparse
import json
import logging
import os
import re
import resource
import tempfile
import time

# tf-slim 1.1.0 uses an alias that TensorFlow >= 2.13 removed (the fixtures' shim, in memory).
from tensorflow.python.framework import indexed_slices, ops  # noqa: E402

ops.IndexedSlices = indexed_slices.IndexedSlices

import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402
from magenta.pipelines.pipelines_common import make_sequence_example  # noqa: E402
from magenta.models.performance_rnn import performance_model  # noqa: E402
from magenta.models.shared import events_rnn_graph, events_rnn_train  # noqa: E402


class Rates(logging.Handler):
    """Collects the `global_step/sec` figures TensorFlow logs."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def emit(self, record):
        m = re.search(r"global_step/sec: ([0-9.eE+-]+)", record.getMessage())
        if m:
            self.rates.append(float(m.group(1)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--every", type=int, default=5, help="summary frequency (steps)")
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--events", type=int, default=512)
    ap.add_argument("--layers", default="512,512,512")
    ap.add_argument("--json", help="write the result here")
    a = ap.parse_args()

    config = performance_model.default_configs["performance_with_dynamics"]
    layers = [int(x) for x in a.layers.split(",")]
    config.hparams.parse(f"batch_size={a.batch},rnn_layer_sizes={layers},dropout_keep_prob=0.5")
    enc = config.encoder_decoder
    depth = enc.input_size
    rng = np.random.default_rng(0)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "train.tfrecord")
        with tf.io.TFRecordWriter(path) as w:
            for _ in range(4 * a.batch):
                labels = rng.integers(0, enc.num_classes, a.events).tolist()
                inputs = np.zeros((a.events, depth), np.float32)
                inputs[np.arange(a.events), labels] = 1.0  # one-hot, as the encoder writes
                ex = make_sequence_example(inputs.tolist(), labels)
                w.write(ex.SerializeToString())
        build = events_rnn_graph.get_build_graph_fn("train", config, [path])
        rates = Rates()
        logging.getLogger("tensorflow").addHandler(rates)
        tf.logging.set_verbosity(tf.logging.INFO)
        t0 = time.time()
        events_rnn_train.run_training(build, os.path.join(tmp, "run"), num_training_steps=a.steps,
                                      summary_frequency=a.every, save_checkpoint_secs=10**6)
        wall = time.time() - t0

    # The first window includes graph warm-up; report the steady windows after it.
    steady = rates.rates[1:] or rates.rates
    sps = sum(steady) / len(steady)
    out = {
        "impl": "magenta performance_rnn_train (TensorFlow %s)" % tf.__version__,
        "config": "performance_with_dynamics",
        "layers": layers,
        "batch": a.batch,
        "events": a.events,
        "steps": a.steps,
        "steps_per_second_windows": rates.rates,
        "steps_per_second": sps,
        "tokens_per_second": sps * a.batch * a.events,
        "wall_seconds": wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "threads": os.cpu_count(),
    }
    print(json.dumps(out, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
