#!/usr/bin/env python3
"""Dump what note-seq's MusicXML importer makes of each file, as one JSON line per file.

Dev tool for checking `magenta_compat` mode against the Python oracle; it needs note-seq:

    /work/ref/venv/bin/python crates/musicxml/tools/dump_notes.py FILE... > oracle.jsonl

Times are written as the integer bits of the f64 (`start`, `end`, ...) so that a comparison
is exact, and as decimal (`start_s`) for reading. A file note-seq rejects gets `"error"`.
"""
import json
import struct
import sys
import warnings

warnings.filterwarnings("ignore")

from note_seq import musicxml_reader  # noqa: E402


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", float(x)))[0]


def dump(path):
    try:
        ns = musicxml_reader.musicxml_file_to_sequence_proto(path)
    except Exception as e:  # note-seq lets ValueError, AttributeError, ... through too
        return {"path": path, "error": "%s: %s" % (type(e).__name__, e)}
    return {
        "path": path,
        "total_time": bits(ns.total_time),
        "total_time_s": ns.total_time,
        # pitch, velocity, start bits, end bits, instrument, program, part, voice
        "notes": [[n.pitch, n.velocity, bits(n.start_time), bits(n.end_time),
                   n.instrument, n.program, n.part, n.voice] for n in ns.notes],
        "tempos": [[bits(t.time), bits(t.qpm)] for t in ns.tempos],
        "time_signatures": [[bits(t.time), t.numerator, t.denominator]
                            for t in ns.time_signatures],
        "key_signatures": [[bits(k.time), k.key, k.mode] for k in ns.key_signatures],
    }


def main():
    for path in sys.argv[1:]:
        print(json.dumps(dump(path)), flush=True)


if __name__ == "__main__":
    main()
