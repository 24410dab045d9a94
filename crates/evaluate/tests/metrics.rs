//! Metrics on real ASAP performances and on hand-computed sequences; Yang & Lerch's
//! comparison; dataset examples decoded back to notes.

use cadenza_evaluate::{
    compare_to_reference, decode_example, evaluate_sequences, load_reference, load_samples, load_sequence,
    sample_metrics, EvalError, Split, FEATURES,
};
use cadenza_notes::transform::sequence_of;
use cadenza_notes::{NoteSequence, Tempo, TimeSignature};
use cadenza_performance::pipeline::{examples, PipelineOptions, PipelineStats};
use cadenza_performance::Config;
use std::path::{Path, PathBuf};

fn asap() -> PathBuf {
    let p = cadenza_shared::require("data/asap");
    assert!(p.is_dir(), "../shared/data/asap must sit beside the project root ({})", p.display());
    p
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

/// A pseudo-random generator without a dependency (64-bit LCG, high bits).
fn lcg(state: &mut u64) -> u64 {
    *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *state >> 33
}

fn random_pitches(seed: u64, n: usize) -> NoteSequence {
    let mut s = seed;
    let notes: Vec<(u8, u8, f64, f64)> = (0..n)
        .map(|i| (36 + (lcg(&mut s) % 48) as u8, 40 + (lcg(&mut s) % 80) as u8, i as f64 * 0.2, i as f64 * 0.2 + 0.3))
        .collect();
    let mut seq = sequence_of(&notes);
    seq.source.path = format!("random#{seed}");
    seq
}

/// Keys of Well-Tempered Clavier preludes known from their BWV numbers (ASAP folder names).
#[test]
fn bach_preludes_are_in_their_keys() {
    for (folder, file, tonic, minor) in [
        ("bwv_846", "Shi05M.mid", "C major", false),
        ("bwv_857", "Bult-ItoS02M.mid", "F minor", true),
        ("bwv_865", "Rizikov01M.mid", "A minor", true),
        ("bwv_854", "LuA01M.mid", "E major", false),
    ] {
        let path = asap().join("Bach/Prelude").join(folder).join(file);
        let m = sample_metrics(&load_sequence(&path).unwrap());
        let key = m.key.as_ref().unwrap();
        assert_eq!(key.name, tonic, "{folder}");
        assert_eq!(key.minor, minor);
        let in_key = m.in_key_ratio.unwrap();
        assert!(in_key > 0.8, "{folder}: in-key ratio {in_key}");
        assert!(m.scale_consistency.unwrap() >= in_key - 1e-12);
        let h = m.pitch_class_entropy.unwrap();
        assert!(h > 2.5 && h < 3.4, "{folder}: entropy {h}");
        assert!(m.note_density.unwrap() > 2.0 && m.polyphony.unwrap() >= 1.0);
        assert_eq!(m.name, path.display().to_string());
        assert!(m.key_consistency.unwrap() > 0.1);
    }
}

#[test]
fn chromatic_and_random_pitches_are_atonal() {
    // Two octaves of chromatic scale, twice: every pitch class equally often.
    let notes: Vec<(u8, u8, f64, f64)> =
        (0..48).map(|i| (60 + (i % 24) as u8, 80, i as f64 * 0.25, i as f64 * 0.25 + 0.25)).collect();
    let m = sample_metrics(&sequence_of(&notes));
    assert!(close(m.pitch_class_entropy, 12f64.log2()));
    assert!(close(m.in_key_ratio, 7.0 / 12.0));
    assert!(close(m.scale_consistency, 7.0 / 12.0));

    let bach = sample_metrics(&load_sequence(&asap().join("Bach/Prelude/bwv_846/Shi05M.mid")).unwrap());
    for seed in 1..6 {
        let r = sample_metrics(&random_pitches(seed, 300));
        assert!(r.pitch_class_entropy.unwrap() > 3.5, "{r:?}");
        assert!(r.in_key_ratio.unwrap() < 0.72, "{:?}", r.in_key_ratio);
        assert!(r.in_key_ratio.unwrap() < bach.in_key_ratio.unwrap() - 0.15);
        assert!(r.pitch_class_entropy.unwrap() > bach.pitch_class_entropy.unwrap() + 0.3);
    }
}

#[test]
fn hand_computed_rhythm_polyphony_density() {
    // A chord spread over 10 ms (one onset), a note at 0.5 s, one at 1.5 s.
    let seq = sequence_of(&[(60, 60, 0.0, 1.0), (64, 80, 0.01, 1.01), (67, 100, 0.5, 1.0), (72, 100, 1.5, 2.0)]);
    let m = sample_metrics(&seq);
    assert_eq!((m.num_notes, m.num_onsets), (4, 3));
    assert!(close(m.ioi_mean, 0.75) && close(m.ioi_std, 0.25), "{m:?}");
    let mut h = vec![0.0; 12];
    h[7] = 0.5; // 0.5 s in [0.5, 0.75)
    h[9] = 0.5; // 1.0 s in [1.0, 1.5)
    assert_eq!(m.ioi_histogram, h);
    // One pair of intervals, 0.5 then 1.0: ratio 1/3 (the third bin past the extreme one).
    let mut r = vec![0.0; 11];
    r[3] = 1.0;
    assert_eq!(m.rhythm_ratio_histogram, r);
    // Σ durations 1 + 1 + 0.5 + 0.5 = 3 over sounding time [0, 1.01] ∪ [1.5, 2] = 1.51.
    assert!(close(m.polyphony, 3.0 / 1.51));
    assert!(close(m.note_density, 2.0));
    assert!(close(m.pitch_range, 12.0));
    assert!(close(m.velocity_mean, 85.0) && close(m.velocity_std, 275f64.sqrt()));
    // 120 qpm 4/4: beats at 0, 0.5, 1, 1.5 s; the beat at 1 s has no onset; one bar only.
    assert!(close(m.empty_beat_rate, 0.25));
    assert_eq!(m.groove_consistency, None);
    assert!((m.seconds - 2.0).abs() < 1e-12);
}

#[test]
fn hand_computed_groove_and_empty_beats() {
    // 4/4 at 120 qpm: bars 0 and 1 in quarters, bar 2 in halves (one onset a little early).
    let mut notes = Vec::new();
    for bar in 0..2 {
        for q in 0..4 {
            notes.push((60, 80, bar as f64 * 2.0 + q as f64 * 0.5, bar as f64 * 2.0 + q as f64 * 0.5 + 0.4));
        }
    }
    notes.push((60, 80, 3.99, 4.9));
    notes.push((60, 80, 5.0, 5.9));
    let m = sample_metrics(&sequence_of(&notes));
    // Hamming distances 0 and 2 of 16 positions: 1 − (0 + 2/16)/2.
    assert!(close(m.groove_consistency, 1.0 - 0.0625), "{:?}", m.groove_consistency);
    // Beats 0..=10, beat 9 (4.5 s) empty.
    assert!(close(m.empty_beat_rate, 1.0 / 11.0), "{:?}", m.empty_beat_rate);

    // The sequence's own tempo and time signature: 3/4 at 60 qpm, bars of 3 s.
    let mut seq = sequence_of(&[
        (60, 80, 0.0, 0.5),
        (62, 80, 1.0, 1.5),
        (64, 80, 2.0, 2.5),
        (65, 80, 3.0, 3.5),
        (67, 80, 4.0, 4.5),
    ]);
    seq.tempos.push(Tempo { time: 0.0, qpm: 60.0 });
    seq.time_signatures.push(TimeSignature { time: 0.0, numerator: 3, denominator: 4 });
    let m = sample_metrics(&seq);
    assert_eq!((m.grid.qpm, m.grid.numerator, m.grid.denominator), (60.0, 3, 4));
    assert!(close(m.groove_consistency, 1.0 - 1.0 / 12.0), "{:?}", m.groove_consistency);
    assert!(close(m.empty_beat_rate, 0.0));
    assert!(close(m.note_density, 5.0 / 4.5));
    assert!(close(m.polyphony, 1.0));
}

/// A score-like passage at 100 qpm (16ths of 150 ms) is on its grid; the same rhythm with
/// 30–40 ms of timing noise on every onset is much less so, and the unit is found without the
/// sequence's tempo.
#[test]
fn on_grid_ratio_separates_a_metronomic_rhythm_from_a_loose_one() {
    let sixteenths = [2u32, 1, 1, 2, 2, 4, 1, 1, 2, 3, 1, 4, 2, 2];
    let passage = |jitter: &[f64]| -> Vec<(u8, u8, f64, f64)> {
        let mut pos = 0u32;
        sixteenths
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                let t = pos as f64 * 0.15 + jitter[i % jitter.len()];
                pos += d;
                (60 + (i % 7) as u8, 80, t.max(0.0), t.max(0.0) + 0.1)
            })
            .collect()
    };
    let strict = sample_metrics(&sequence_of(&passage(&[0.0])));
    assert!(strict.on_grid_ratio.unwrap() > 0.99, "{:?}", strict.on_grid_ratio);
    let loose = sample_metrics(&sequence_of(&passage(&[0.0, 0.035, -0.03, 0.04, -0.035, 0.03])));
    assert!(loose.on_grid_ratio.unwrap() < 0.6, "{:?}", loose.on_grid_ratio);
    assert_eq!(strict.feature("on_grid_ratio"), strict.on_grid_ratio);
    // Eight onsets make seven intervals: too few to say.
    assert_eq!(sample_metrics(&sequence_of(&passage(&[0.0])[..8])).on_grid_ratio, None);
}

#[test]
fn key_consistency_falls_when_the_music_modulates() {
    let c_major = [60u8, 62, 64, 65, 67, 69, 71, 72];
    let fsharp_major = [66u8, 68, 70, 71, 73, 75, 77, 78];
    let scale_run = |pitches: &[u8], from: f64, seconds: f64| -> Vec<(u8, u8, f64, f64)> {
        (0..(seconds / 0.25) as usize)
            .map(|i| (pitches[i % pitches.len()], 80, from + i as f64 * 0.25, from + i as f64 * 0.25 + 0.25))
            .collect()
    };
    let steady = sample_metrics(&sequence_of(&scale_run(&c_major, 0.0, 16.0)));
    assert_eq!(steady.key.as_ref().unwrap().name, "C major");
    assert!(close(steady.key_consistency, 1.0));
    assert!(close(steady.in_key_ratio, 1.0));
    // 16 s in C major, then 8 s in F# major: the whole is C major, 4 of 6 windows agree.
    let mut notes = scale_run(&c_major, 0.0, 16.0);
    notes.extend(scale_run(&fsharp_major, 16.0, 8.0));
    let m = sample_metrics(&sequence_of(&notes));
    assert_eq!(m.key.as_ref().unwrap().name, "C major");
    assert!(close(m.key_consistency, 4.0 / 6.0), "{:?}", m.key_consistency);
    assert!(m.in_key_ratio.unwrap() < 0.8);
}

#[test]
fn a_sample_without_notes_still_has_metrics() {
    let mut empty = NoteSequence::new();
    empty.total_time = 10.0;
    empty.source.path = "empty".into();
    let m = sample_metrics(&empty);
    assert_eq!(m.num_notes, 0);
    assert_eq!(m.note_density, Some(0.0));
    for f in FEATURES {
        if f != "note_density" {
            assert_eq!(m.feature(f), None, "{f}");
        }
    }
    let json = serde_json::to_string(&m).unwrap();
    assert!(!json.contains("NaN") && !json.contains("inf"), "{json}");
    // One note: defined where it can be.
    let one = sample_metrics(&sequence_of(&[(60, 90, 1.0, 2.0)]));
    assert_eq!(one.key.as_ref().map(|k| k.name.as_str()), Some("C major"));
    assert!(close(one.pitch_class_entropy, 0.0) && close(one.in_key_ratio, 1.0) && close(one.polyphony, 1.0));
    assert_eq!((one.ioi_mean, one.groove_consistency), (None, None));
    assert!(close(one.empty_beat_rate, 0.0));

    let e = evaluate_sequences(&[empty, random_pitches(1, 50)]);
    let s = e.summary("pitch_class_entropy").unwrap();
    assert_eq!(s.n, 1);
    assert_eq!(e.summary("note_density").unwrap().n, 2);
    assert!(!serde_json::to_string(&e).unwrap().contains("NaN"));
}

fn preludes(n: usize) -> Vec<NoteSequence> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(asap().join("Bach/Prelude")).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    for d in dirs.into_iter().take(n) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "mid") && !p.ends_with("midi_score.mid"))
            .collect();
        files.sort();
        out.push(load_sequence(&files[0]).unwrap());
    }
    out
}

#[test]
fn overlap_against_itself_and_against_noise() {
    let bach = evaluate_sequences(&preludes(10));
    let same = compare_to_reference(&bach, &bach);
    assert_eq!(same.features.len(), FEATURES.len());
    for f in &same.features {
        let d = f.distribution.unwrap_or_else(|| panic!("{}: no comparison", f.feature));
        assert!(d.overlap_area > 0.999, "{}: {d:?}", f.feature);
        assert!(d.kl_divergence < 1e-6, "{}: {d:?}", f.feature);
    }
    assert!(same.mean_overlap_area.unwrap() > 0.999);

    let noise = evaluate_sequences(&(1..11).map(|s| random_pitches(s, 200)).collect::<Vec<_>>());
    let c = compare_to_reference(&noise, &bach);
    let get = |name: &str| c.features.iter().find(|f| f.feature == name).unwrap();
    for name in ["in_key_ratio", "pitch_class_entropy", "scale_consistency"] {
        let d = get(name).distribution.unwrap();
        assert!(d.overlap_area < 0.1, "{name}: {d:?}");
        assert!(d.kl_divergence > 2.0, "{name}: {d:?}");
        let inter = get(name).inter_set.unwrap();
        let inter_self = same.features.iter().find(|f| f.feature == name).unwrap().inter_set.unwrap();
        assert!(inter_self.overlap_area > 0.85, "{name} inter-set with itself: {inter_self:?}");
        assert!(inter.overlap_area < inter_self.overlap_area - 0.5, "{name} inter-set: {inter:?}");
        assert!(inter.kl_divergence > 1.0, "{name} inter-set: {inter:?}");
    }
    assert!(c.mean_overlap_area.unwrap() < same.mean_overlap_area.unwrap() - 0.3);
    assert_eq!((c.num_samples, c.num_reference), (10, 10));
}

/// Every config's examples decode back to the notes they encode (10 ms steps, velocity bins).
#[test]
fn dataset_examples_decode_to_their_notes() {
    let seq = sequence_of(&[
        (60, 100, 0.0, 0.5),
        (64, 70, 0.0, 0.5),
        (67, 40, 0.52, 1.5),
        (72, 127, 1.0, 3.2),
        (48, 90, 2.0, 2.25),
    ]);
    for config in Config::ALL {
        let opts = PipelineOptions { config, min_events: 1, ..Default::default() };
        let ex = examples(&seq, &opts, &[0], &[1.0], &mut PipelineStats::default());
        assert!(!ex.is_empty(), "{config:?}");
        let decoded = decode_example(config, &ex[0].encoded.tokens);
        let mut got: Vec<(u8, i64, i64)> = decoded
            .notes
            .iter()
            .map(|n| (n.pitch, (n.start * 100.0).round() as i64, (n.end * 100.0).round() as i64))
            .collect();
        got.sort();
        assert_eq!(got, vec![(48, 200, 225), (60, 0, 50), (64, 0, 50), (67, 52, 150), (72, 100, 320)], "{config:?}");
        let vel: Vec<u8> = decoded.notes.iter().map(|n| n.velocity).collect();
        if config.num_velocity_bins() == 0 {
            assert!(vel.iter().all(|&v| v == 100), "{config:?}");
        } else {
            let loud = decoded.notes.iter().find(|n| n.pitch == 72).unwrap().velocity;
            let soft = decoded.notes.iter().find(|n| n.pitch == 67).unwrap().velocity;
            assert!(loud > 100 && soft < 50, "{config:?}: {vel:?}");
        }
    }
}

#[test]
fn reference_dataset_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    let inputs = vec![asap().join("Bach/Prelude/bwv_846"), asap().join("Bach/Prelude/bwv_854")];
    let opts = cadenza_dataset::BuildOptions {
        eval_ratio: 0.5,
        transpositions: vec![0],
        stretches: vec![1.0],
        ..Default::default()
    };
    let stats = cadenza_dataset::build(&inputs, &out, &opts).unwrap();
    let eval = load_reference(&out, Split::Eval).unwrap();
    assert_eq!(eval.len(), stats.eval.examples);
    assert!(eval.iter().all(|s| !s.notes.is_empty() && s.source.path.starts_with("eval.examples#")));
    let train = load_reference(&out, Split::Train).unwrap();
    assert_eq!(train.len(), stats.train.examples);
    // Both pieces are major-key preludes: the decoded examples stay in key.
    let e = evaluate_sequences(&train);
    assert!(e.summary("in_key_ratio").unwrap().mean.unwrap() > 0.8);

    // A folder reference is read like the samples.
    assert_eq!(load_reference(&asap().join("Bach/Prelude/bwv_846"), Split::Eval).unwrap().len(), 3);
    // Errors name what is wrong.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(matches!(load_samples(&empty), Err(EvalError::NoFiles(_))));
    let bad = tmp.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("broken.mid"), b"not a midi file").unwrap();
    let err = load_samples(&bad).unwrap_err().to_string();
    assert!(err.contains("broken.mid"), "{err}");
    assert!(load_samples(Path::new("/nonexistent/cadenza")).is_err());
}

/// The interval-ratio histogram does not move with the tempo (the IOI histogram does).
#[test]
fn rhythm_ratios_are_tempo_invariant() {
    // Long-short-short…: quarter, eighth, eighth at 120 qpm, then the same 4 % faster (the
    // demo's case: its eval pieces' eighths are 0.21-0.24 s, the models' 0.25 s).
    let at = |scale: f64| {
        let mut t = 0.0;
        let mut notes = Vec::new();
        for i in 0..24 {
            notes.push((60 + (i % 5) as u8, 80, t, t + 0.1));
            t += scale * [0.5, 0.25, 0.25][i % 3];
        }
        sample_metrics(&sequence_of(&notes))
    };
    let (a, b) = (at(1.0), at(0.96));
    assert_eq!(a.rhythm_ratio_histogram, b.rhythm_ratio_histogram);
    assert_ne!(a.ioi_histogram, b.ioi_histogram, "the IOI bins should differ at the two tempi");
    // Pairs: (0.5, 0.25) → 2/3, (0.25, 0.25) → 1/2, (0.25, 0.5) → 1/3, in equal thirds.
    let sum: f64 = a.rhythm_ratio_histogram.iter().sum();
    assert!((sum - 1.0).abs() < 1e-12);
    for bin in [3, 5, 7] {
        assert!((a.rhythm_ratio_histogram[bin] - 1.0 / 3.0).abs() < 0.05, "{:?}", a.rhythm_ratio_histogram);
    }
}
