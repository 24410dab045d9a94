"""Dev tool: checks `.mag` bundles that Cadenza exported with Magenta itself.

Needs the TensorFlow venv of tools/magenta_speed.py (tensorflow-cpu 2.15.1, magenta 2.1.4);
never run in CI. Usage:

    /tmp/tfenv/bin/python tools/magenta_export_check.py BUNDLE EVENTS.json PROBS.json [...]

one triple per bundle:
  BUNDLE       a bundle written by `cadenza export` (with or without --template);
  EVENTS.json  {"class_indices": [...]} of the primer (what `cadenza encode` prints);
  PROBS.json   `cadenza likelihood --model BUNDLE --events EVENTS.json --dump-probs PROBS.json`.

For each bundle it
  1. loads it exactly as `performance_rnn_generate --bundle_file` does
     (`PerformanceRnnSequenceGenerator(bundle=...).initialize()`: import_meta_graph, then the
     bundle's SaverDef restores the V1 checkpoint);
  2. runs the graph's `softmax` collection over the primer in one `session.run` (zero initial
     state, temperature 1.0; conditioned configs get the control signals Magenta's training
     pipeline extracts from the primer) and compares every row that scores an event with
     Cadenza's dump: prints the largest absolute difference;
  3. runs `performance_rnn_generate --bundle_file BUNDLE --num_steps 300` in a subprocess and
     checks that it wrote a MIDI file with notes.
Exits 1 if any softmax differs by more than 1e-5 or a generation fails.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import note_seq
from magenta.models.performance_rnn import performance_sequence_generator
from magenta.models.shared import sequence_generator_bundle
from note_seq.performance_lib import Performance

TOL = 1e-5


def performance(enc, indices, nvb):
    perf = Performance(steps_per_second=100, num_velocity_bins=nvb)
    for i in indices:
        perf.append(enc.class_index_to_event(i, perf))
    return perf


def magenta_softmax(path, indices):
    bundle = sequence_generator_bundle.read_bundle_file(path)
    gid = bundle.generator_details.id
    gen = performance_sequence_generator.get_generator_map()[gid](checkpoint=None, bundle=bundle)
    gen.initialize()
    model = gen._model
    config = model._config
    enc = config.encoder_decoder
    full = performance(enc, indices, config.num_velocity_bins)
    prefix = performance(enc, indices[:-1], config.num_velocity_bins)
    if config.control_signals:
        if config.optional_conditioning:
            raise SystemExit(f"{path}: optional conditioning is not covered by this check")
        controls = list(zip(*[c.extract(full) for c in config.control_signals]))
        inputs = enc.get_inputs_batch([controls], [prefix], full_length=True)
    else:
        inputs = enc.get_inputs_batch([prefix], full_length=True)
    g = model._session.graph
    init = g.get_collection("initial_state")
    feed = {g.get_collection("inputs")[0]: inputs, tuple(init): tuple(model._session.run(init))}
    temperature = g.get_collection("temperature")
    if temperature:
        feed[temperature[0]] = 1.0
    softmax = model._session.run(g.get_collection("softmax")[0], feed)[0]
    nodes = len(g.as_graph_def().node)
    return gid, softmax, nodes


def generate(path, gid):
    out = tempfile.mkdtemp(prefix="magenta_gen_")
    cmd = [sys.executable, "-m", "magenta.models.performance_rnn.performance_rnn_generate",
           f"--bundle_file={path}", f"--output_dir={out}", "--num_outputs=1", "--num_steps=300"]
    if "conditioned" in gid:
        cmd += ["--notes_per_second=3", "--pitch_class_histogram=[1,0,1,0,1,1,0,1,0,1,0,1]"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    mids = glob.glob(os.path.join(out, "*.mid"))
    if r.returncode != 0 or not mids:
        return f"generate failed (rc {r.returncode}): {r.stderr[-800:]}"
    ns = note_seq.midi_file_to_note_sequence(mids[0])
    return f"generated {os.path.basename(mids[0])}: {len(ns.notes)} notes, {ns.total_time:.1f} s"


def main(args):
    if not args or len(args) % 3:
        raise SystemExit(__doc__)
    ok = True
    for path, events, probs in zip(args[0::3], args[1::3], args[2::3]):
        indices = json.load(open(events))["class_indices"]
        cadenza = np.array(json.load(open(probs))["softmax"], dtype=np.float64)
        gid, softmax, nodes = magenta_softmax(path, indices)
        rows = len(indices) - 1
        diff = float(np.abs(softmax[:rows] - cadenza[:rows]).max())
        gen = generate(path, gid)
        good = diff <= TOL and not gen.startswith("generate failed")
        ok &= good
        print(json.dumps({"bundle": path, "generator_id": gid, "graph_nodes": nodes, "rows": rows,
                          "classes": int(softmax.shape[1]), "max_abs_softmax_diff": diff,
                          "generate": gen, "ok": good}), flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main(sys.argv[1:])
