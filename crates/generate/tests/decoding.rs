//! Note-end decoding on real data: the shipped v2 base sampled with and without a note-end
//! model fitted on ASAP's Bach fugue performances, both measured by the same counting.

use cadenza_generate::{generate, Decoding, GenerateOptions, NoteEnds, NoteEvents};
use cadenza_model::Weights;
use cadenza_notes::NoteSequence;
use cadenza_performance::Config;
use std::path::{Path, PathBuf};

fn base() -> Weights {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/perf_dyn_3x256_asap_v2");
    Weights::load(&p).expect("the shipped v2 base")
}

/// Every performance (not the score's MIDI) under `dir`, as read.
fn performances(dir: &Path, out: &mut Vec<NoteSequence>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            performances(&p, out);
        } else if p.extension().is_some_and(|e| e == "mid") && !p.ends_with("midi_score.mid") {
            out.push(cadenza_midi::read_file(&p).expect("an ASAP performance"));
        }
    }
}

/// Endings per note-event of notes sounding 0.5 s or longer.
fn old_rate(n: &NoteEnds) -> f64 {
    let r = n.age_rates();
    let (e, x) = r[4..].iter().fold((0.0, 0u64), |(e, x), &(rate, events)| (e + rate * events as f64, x + events));
    e / x.max(1) as f64
}

#[test]
fn decoding_ends_old_notes_as_the_train_pieces_do() {
    let cfg = Config::PerformanceWithDynamics;
    let mut real = Vec::new();
    performances(&cadenza_shared::require("data/asap/Bach/Fugue"), &mut real);
    assert!(real.len() >= 20, "{} performances", real.len());
    let tokens: Vec<Vec<u16>> = real
        .iter()
        .map(|s| cfg.tokens(&cadenza_performance::pipeline::primer_performance(s, cfg).unwrap()).unwrap())
        .collect();
    let table = NoteEnds::fit(cfg, tokens, "ASAP Bach fugues").unwrap();

    let w = base();
    let sample = |decoding: Option<Decoding>| {
        let o = GenerateOptions {
            num_steps: 3000,
            num_outputs: 16,
            seed: 21,
            note_events: NoteEvents::Paired,
            decoding,
            ..Default::default()
        };
        generate(&w, &o, false).unwrap()
    };
    let plain = sample(None);
    let decoded = sample(Some(Decoding::new(table.clone(), 1.0).unwrap()));
    let counted = |s: &[cadenza_generate::Sample]| {
        NoteEnds::fit(cfg, s.iter().map(|s| s.tokens.clone()).collect::<Vec<_>>(), "samples").unwrap()
    };
    let (t, u, d) = (old_rate(&table), old_rate(&counted(&plain)), old_rate(&counted(&decoded)));
    // Played freely the base ends old notes far too rarely; decoded, at the table's rate.
    assert!(u < 0.7 * t, "undecoded {u:.4} against real {t:.4}");
    assert!((d - t).abs() < 0.25 * t, "decoded {d:.4} against real {t:.4} (undecoded {u:.4})");

    // Over every age, the decoded samples end notes as the table does, the plain ones do not.
    let gap = |n: &NoteEnds| -> f64 {
        n.age_rates().iter().zip(table.age_rates()).map(|(&(r, _), (rt, _))| (r - rt).abs()).sum()
    };
    let (gu, gd) = (gap(&counted(&plain)), gap(&counted(&decoded)));
    eprintln!("old notes' endings per event: real {t:.4}, plain {u:.4}, decoded {d:.4}; summed gap over ages: plain {gu:.4}, decoded {gd:.4}");
    assert!(gd < 0.5 * gu, "summed gap over ages: decoded {gd:.4}, undecoded {gu:.4}");
    // Weight 0 is the network alone, draw for draw.
    let zero = sample(Some(Decoding::new(table, 0.0).unwrap()));
    assert_eq!(zero[3].tokens, plain[3].tokens);
}

#[test]
fn a_broken_or_foreign_note_end_file_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("decoding.json");
    std::fs::write(&bad, b"{\"format\": 1, \"hazard\": [").unwrap();
    let e = NoteEnds::load(&bad).unwrap_err().to_string();
    assert!(e.contains("decoding.json") && e.contains("not a note-end model"), "{e}");
    std::fs::write(
        &bad,
        br#"{"format": 1, "source": "x", "examples": 1, "age_edges_seconds": [1.0],
        "register_edges": [], "polyphony_edges": [], "exposures": [], "ends": [], "hazard": []}"#,
    )
    .unwrap();
    let e = NoteEnds::load(&bad).unwrap_err().to_string();
    assert!(e.contains("other bins"), "{e}");
}
