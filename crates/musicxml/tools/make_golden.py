#!/usr/bin/env python3
"""Write the compat-mode golden files in tests/golden/ from note-seq itself.

    /work/ref/venv/bin/python crates/musicxml/tools/make_golden.py ASAP_DIR REL_PATH...

Each golden holds note-seq's note count, total_time, tempos, time and key signatures, the
first 16 notes, and a SHA-256 over every note in order, hashed as
pitch u8, velocity u8, start f64 bits u64 LE, end bits u64 LE, instrument, program, part,
voice (u32 LE each), so the Rust test can check all notes bit for bit without Python.
"""
import hashlib
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(__file__))
from dump_notes import dump  # noqa: E402


def main():
    root, rels = sys.argv[1], sys.argv[2:]
    out_dir = os.path.join(os.path.dirname(__file__), "..", "tests", "golden")
    os.makedirs(out_dir, exist_ok=True)
    for rel in rels:
        d = dump(os.path.join(root, rel))
        h = hashlib.sha256()
        for p, v, s, e, i, prog, part, voice in d["notes"]:
            h.update(struct.pack("<BBQQIIII", p, v, s, e, i, prog, part, voice))
        golden = {
            "file": rel,
            "source": "note-seq 0.0.5 musicxml_file_to_sequence_proto (tools/make_golden.py)",
            "num_notes": len(d["notes"]),
            "total_time": d["total_time_s"],
            "total_time_bits": d["total_time"],
            "notes_sha256": h.hexdigest(),
            "first_notes": d["notes"][:16],
            "tempos": d["tempos"],
            "time_signatures": d["time_signatures"],
            "key_signatures": d["key_signatures"],
        }
        name = rel.replace("/xml_score.mxl", "").replace("/", "__") + ".json"
        with open(os.path.join(out_dir, name), "w") as f:
            json.dump(golden, f, indent=1)
            f.write("\n")
        print(name, golden["num_notes"], golden["total_time"])


if __name__ == "__main__":
    main()
