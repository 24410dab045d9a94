"""Dev tool: Magenta's own encodings of MIDI files, one JSON line per file, in the format of
`cargo run -p cadenza-midi --example dump_encodings`. Needs note-seq 0.0.5 (pip install note-seq).

Reproduces performance_rnn_create_dataset's eval branch without TensorFlow:
sustain -> split 30 s -> quantize 100 steps/s -> Performance -> truncate 512 -> drop < 32.
"""
import json, sys
import note_seq
from note_seq import sequences_lib, performance_lib
from note_seq.performance_encoder_decoder import PerformanceOneHotEncoding

enc = PerformanceOneHotEncoding(num_velocity_bins=32)

def indices(perf):
    return [enc.encode_event(e) for e in perf]

for path in sys.argv[1:]:
    try:
        ns = note_seq.midi_file_to_note_sequence(path)
    except Exception as e:  # noqa
        print(json.dumps({"path": path, "error": str(e)}))
        continue
    q = sequences_lib.quantize_note_sequence_absolute(ns, 100)
    primer = indices(performance_lib.Performance(q, start_step=0, num_velocity_bins=32))
    ev = []
    sus = sequences_lib.apply_sustain_control_changes(ns)
    for sub in sequences_lib.split_note_sequence(sus, 30.0):
        qs = sequences_lib.quantize_note_sequence_absolute(sub, 100)
        if len(set(n.program for n in qs.notes)) > 1:
            continue
        p = performance_lib.Performance(qs, start_step=0, num_velocity_bins=32)
        if len(p) > 512:
            p.truncate(512)
        if len(p) >= 32:
            ev.append(indices(p))
    print(json.dumps({"path": path, "primer": primer, "eval": ev}))
