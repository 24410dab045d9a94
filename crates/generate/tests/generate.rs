//! Generation on the small Magenta fixture bundle (a real `performance_with_dynamics` model,
//! 2×64) and on a hand-set pitch-conditioned model.

use cadenza_generate::*;
use cadenza_model::{ModelConfig, Weights};
use cadenza_performance::{Config, Event};
use std::sync::OnceLock;

const SMALL: &str = "fixtures/magenta/bundles/perf_dyn_small64.mag";
const ASAP_PERFORMANCE: &str = "data/asap/Bach/Prelude/bwv_846/Shi05M.mid";

fn small() -> &'static Weights {
    static W: OnceLock<Weights> = OnceLock::new();
    W.get_or_init(|| Weights::load(&cadenza_shared::require(SMALL)).expect("the fixture bundle"))
}

fn opts(num_steps: u32, seed: u64) -> GenerateOptions {
    GenerateOptions { num_steps, seed, ..Default::default() }
}

fn midi_bytes(s: &Sample) -> Vec<u8> {
    cadenza_midi::to_bytes(&s.sequence)
}

#[test]
fn output_has_exactly_the_requested_length_and_its_midi_parses_back() {
    let w = small();
    let dir = tempfile::tempdir().unwrap();
    // Empty primer: Magenta starts it at step 1 (one TIME_SHIFT(100) from 10 ms).
    let s = &generate(w, &opts(1000, 7), false).unwrap()[0];
    assert_eq!(s.performance.start_step, 1);
    assert_eq!(s.performance.start_step + s.performance.num_steps(), 1000);
    assert_eq!(s.performance.events[0], Event::TimeShift(100));
    assert!(s.sequence.notes.len() > 10, "{} notes", s.sequence.notes.len());
    assert!(s.sequence.total_time <= 10.0 + 1e-9);
    assert!(s.sequence.notes.iter().all(|n| n.end - n.start <= 5.0 + 1e-9), "notes capped at 5 s");
    let path = dir.path().join("a.mid");
    cadenza_midi::write_file(&s.sequence, &path).unwrap();
    let back = cadenza_midi::read_file(&path).unwrap();
    assert_eq!(back.notes.len(), s.sequence.notes.len());
    assert!(back.total_time <= 10.0 + 1e-9 && back.total_time > 10.0 - 5.0, "{}", back.total_time);
    // Same onsets (MIDI ticks round to ~1 ms); ends of overlapping same-pitch notes are
    // re-paired by the reader, as for any MIDI file.
    let onsets = |notes: &[cadenza_notes::Note]| {
        let mut v: Vec<(u8, i64)> = notes.iter().map(|n| (n.pitch, (n.start * 100.0).round() as i64)).collect();
        v.sort_unstable();
        v
    };
    assert_eq!(onsets(&back.notes), onsets(&s.sequence.notes));

    // With a primer the performance starts at 0 and spans exactly num_steps.
    let o = GenerateOptions { primer: Primer::Pitches(vec![60, 64, 67]), ..opts(1000, 7) };
    let s = &generate(w, &o, false).unwrap()[0];
    assert_eq!(s.performance.start_step, 0);
    assert_eq!(s.performance.num_steps(), 1000);
    assert!(s.sequence.total_time <= 10.0 + 1e-9);
    let chord: Vec<_> =
        s.sequence.notes.iter().filter(|n| n.start == 0.0).map(|n| (n.pitch, n.end, n.velocity)).collect();
    assert_eq!(chord, vec![(60, 0.5, 97), (64, 0.5, 97), (67, 0.5, 97)]);
}

#[test]
fn same_seed_same_midi_bytes_different_seed_different() {
    let w = small();
    let a = generate(w, &opts(800, 42), false).unwrap();
    let b = generate(w, &opts(800, 42), false).unwrap();
    let c = generate(w, &opts(800, 43), false).unwrap();
    assert_eq!(midi_bytes(&a[0]), midi_bytes(&b[0]));
    assert_eq!(a[0].log_likelihood, b[0].log_likelihood);
    assert_ne!(midi_bytes(&a[0]), midi_bytes(&c[0]));
}

#[test]
fn a_batch_samples_what_single_runs_with_the_matching_seeds_sample() {
    let w = small();
    let batch = generate(w, &GenerateOptions { num_outputs: 4, ..opts(600, 100) }, false).unwrap();
    assert_eq!(batch.len(), 4);
    for (i, s) in batch.iter().enumerate() {
        let single = &generate(w, &opts(600, 100 + i as u64), false).unwrap()[0];
        assert_eq!(s.seed, 100 + i as u64);
        assert_eq!(s.tokens, single.tokens, "output {i}");
        assert!((s.log_likelihood - single.log_likelihood).abs() < 1e-3);
    }
    assert_ne!(batch[0].tokens, batch[1].tokens);
}

/// The sampler's score is the model's own log-likelihood of what it drew (temperature 1):
/// proof that every drawn event was fed back with the right state.
#[test]
fn score_is_the_models_log_likelihood_of_the_drawn_events() {
    let w = small();
    let o = GenerateOptions { primer: Primer::Pitches(vec![60, 67]), ..opts(700, 3) };
    let s = &generate(w, &o, false).unwrap()[0];
    let (ll, _) = cadenza_model::log_likelihood(w, &s.drawn_tokens, false);
    assert!((ll - s.log_likelihood).abs() < 1e-3 * ll.abs().max(1.0), "{ll} vs {}", s.log_likelihood);
    // The drawn events end where the span is filled; the output is those events, cut.
    assert!(s.drawn_tokens.len() >= s.tokens.len());
    assert_eq!(s.tokens[..s.tokens.len() - 1], s.drawn_tokens[..s.tokens.len() - 1]);

    // Temperature 0.5 sharpens the distribution: the tempered score is higher per event.
    let cold = &generate(w, &GenerateOptions { temperature: 0.5, ..o.clone() }, false).unwrap()[0];
    let per = |s: &Sample| s.log_likelihood / s.drawn_tokens.len() as f64;
    assert!(per(cold) > per(s), "{} vs {}", per(cold), per(s));
}

#[test]
fn beam_search_returns_the_best_of_its_beams() {
    let w = small();
    for spi in [1usize, 8] {
        let o = GenerateOptions {
            beam_size: 4,
            branch_factor: 2,
            steps_per_iteration: spi,
            num_outputs: 2,
            ..opts(400, 11)
        };
        let samples = generate(w, &o, false).unwrap();
        for s in &samples {
            assert_eq!(s.beam_scores.len(), 8);
            assert_eq!(s.log_likelihood, s.beam_scores[0]);
            assert!(s.beam_scores.iter().all(|&b| s.log_likelihood >= b), "{:?}", s.beam_scores);
            assert!(s.beam_scores.windows(2).all(|p| p[0] >= p[1]));
            assert_eq!(s.performance.start_step + s.performance.num_steps(), 400);
            // The chosen beam's score is the model's likelihood of its events.
            let (ll, _) = cadenza_model::log_likelihood(w, &s.drawn_tokens, false);
            assert!((ll - s.log_likelihood).abs() < 1e-3 * ll.abs(), "{ll} vs {}", s.log_likelihood);
        }
        assert_ne!(samples[0].tokens, samples[1].tokens);
    }
    // Beams are kept for their likelihood: on average they beat plain samples.
    let plain: f64 = generate(w, &GenerateOptions { num_outputs: 4, ..opts(400, 50) }, false)
        .unwrap()
        .iter()
        .map(|s| s.log_likelihood / s.drawn_tokens.len() as f64)
        .sum();
    let beam: f64 =
        generate(w, &GenerateOptions { num_outputs: 4, beam_size: 4, branch_factor: 2, ..opts(400, 50) }, false)
            .unwrap()
            .iter()
            .map(|s| s.log_likelihood / s.drawn_tokens.len() as f64)
            .sum();
    assert!(beam > plain, "beam {beam} vs plain {plain}");
}

#[test]
fn a_real_primer_is_kept_at_the_start() {
    let w = small();
    let primer = cadenza_shared::require(ASAP_PERFORMANCE);
    let o = GenerateOptions { primer: Primer::File(primer.clone()), primer_seconds: Some(4.0), ..opts(1200, 5) };
    let s = &generate(w, &o, false).unwrap()[0];
    // The primer's own encoding, padded to the generate start, opens the output.
    let seq = cadenza_generate::primer::primer_sequence(&o.primer, Some(4.0)).unwrap();
    assert!(seq.notes.len() > 10);
    let p = cadenza_generate::primer::primer_performance(&seq, Config::PerformanceWithDynamics, 1200).unwrap();
    assert_eq!(s.primer_events, p.performance.events.len());
    assert_eq!(s.performance.events[..s.primer_events], p.performance.events[..]);
    assert_eq!(s.performance.num_steps(), 1200);
    // Its notes come out as they went in (quantised to 10 ms), before anything generated.
    let cut = seq.total_time;
    let mut out: Vec<(u8, i64, i64)> = s
        .sequence
        .notes
        .iter()
        .filter(|n| n.start < cut)
        .map(|n| (n.pitch, (n.start * 100.0).round() as i64, (n.end.min(cut) * 100.0).round() as i64))
        .collect();
    let mut inp: Vec<(u8, i64, i64)> =
        seq.notes.iter().map(|n| (n.pitch, (n.start * 100.0).round() as i64, (n.end * 100.0).round() as i64)).collect();
    out.sort_unstable();
    inp.sort_unstable();
    assert_eq!(out, inp);
    assert!(s.sequence.notes.iter().any(|n| n.start > cut), "something was generated after the primer");
}

#[test]
fn melody_primer() {
    let o = GenerateOptions { primer: Primer::Melody(vec![60, -2, 62, -2, 64, -1, -2, 65]), ..opts(500, 1) };
    let s = &generate(small(), &o, false).unwrap()[0];
    let first: Vec<(u8, i64, i64)> = s
        .sequence
        .notes
        .iter()
        .take(4)
        .map(|n| (n.pitch, (n.start * 100.0).round() as i64, (n.end * 100.0).round() as i64))
        .collect();
    // 16ths of 0.125 s, quantised to 10 ms as note-seq does (0.625 s → step 63).
    assert_eq!(first, vec![(60, 0, 25), (62, 25, 50), (64, 50, 63), (65, 88, 100)]);
    assert_eq!(s.performance.num_steps(), 500);
}

#[test]
fn bad_requests_are_clear_errors() {
    let w = small();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.mid");
    std::fs::write(&bad, b"MThd\0\0\0\x06garbage").unwrap();
    let e = generate(w, &GenerateOptions { primer: Primer::File(bad.clone()), ..opts(500, 0) }, false).unwrap_err();
    assert!(matches!(e, GenerateError::PrimerFile { .. }), "{e}");
    assert!(e.to_string().contains("broken.mid"), "{e}");
    let missing = dir.path().join("missing.mid");
    let e = generate(w, &GenerateOptions { primer: Primer::File(missing), ..opts(500, 0) }, false).unwrap_err();
    assert!(e.to_string().contains("missing.mid"), "{e}");
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = generate(w, &GenerateOptions { temperature: t, ..opts(500, 0) }, false).unwrap_err();
        assert!(matches!(e, GenerateError::Temperature(_)), "{e}");
        assert!(e.to_string().contains("temperature"), "{e}");
    }
    let e = generate(w, &GenerateOptions { beam_size: 0, ..opts(500, 0) }, false).unwrap_err();
    assert_eq!(e.to_string(), "beam size must be at least 1, got 0");
    let e = generate(w, &GenerateOptions { branch_factor: 0, ..opts(500, 0) }, false).unwrap_err();
    assert!(e.to_string().contains("branch factor"), "{e}");
    let e = generate(w, &GenerateOptions { primer: Primer::Pitches(vec![60]), ..opts(50, 0) }, false).unwrap_err();
    assert!(matches!(e, GenerateError::PrimerTooLong { .. }), "{e}");
    let e = generate(w, &GenerateOptions { primer: Primer::Melody(vec![60, 300]), ..opts(500, 0) }, false).unwrap_err();
    assert!(matches!(e, GenerateError::PrimerValue(_)), "{e}");

    // Controls for a model without them: a warning, as Magenta, and the same output.
    let mut o = opts(300, 9);
    o.controls.notes_per_second = vec![4.0];
    o.controls.pitch_class_histogram = vec![vec![1.0; 12]];
    let g = cadenza_generate::sampler::generate_report(w, &o, false).unwrap();
    assert_eq!(g.warnings.len(), 2, "{:?}", g.warnings);
    assert_eq!(g.samples[0].tokens, generate(w, &opts(300, 9), false).unwrap()[0].tokens);
    // A histogram of the wrong length is an error even so.
    o.controls.pitch_class_histogram = vec![vec![1.0; 11]];
    let e = generate(w, &o, false).unwrap_err();
    assert!(matches!(e, GenerateError::HistogramLength { index: 0, len: 11 }), "{e}");

    // Note-based encoding: refused by name.
    let notes = Weights::init(ModelConfig::new(Config::PerformanceWithDynamicsAndNoteEncoding, vec![8]), 0);
    let e = generate(&notes, &opts(300, 0), false).unwrap_err();
    assert!(matches!(e, GenerateError::Model(_)), "{e}");
}

/// A pitch-conditioned model with hand-set weights (no training): the 12 histogram inputs
/// drive 12 LSTM units one to one, each unit's output raises the logits of every NOTE_ON of
/// its pitch class. Everything else is zero, so without conditioning every event is about
/// equally likely.
fn hand_set_pitch_model() -> Weights {
    let mc = ModelConfig::new(Config::PitchConditionedPerformanceWithDynamics, vec![32]);
    let mut w = Weights::init(mc, 0);
    let h = 32;
    let g4 = 4 * h;
    let c = w.config.num_logits();
    w.kernels[0].iter_mut().for_each(|x| *x = 0.0);
    w.biases[0].iter_mut().for_each(|x| *x = 0.0);
    w.fc_w.iter_mut().for_each(|x| *x = 0.0);
    w.fc_b.iter_mut().for_each(|x| *x = 0.0);
    for u in 0..12 {
        // Gates i, j, f, o: input and output open, no memory (f + 1 = −9), and the
        // candidate j = tanh(30 · (histogram[u] − 1/12)): positive for in-key classes.
        w.biases[0][u] = 10.0;
        w.biases[0][h + u] = -30.0 / 12.0;
        w.biases[0][2 * h + u] = -10.0;
        w.biases[0][3 * h + u] = 10.0;
        // Control rows come first in the kernel: row u is histogram class u.
        w.kernels[0][u * g4 + h + u] = 30.0;
        for p in (u..128).step_by(12) {
            w.fc_w[u * c + p] = 6.0;
        }
    }
    w
}

fn in_c_major_ratio(samples: &[Sample]) -> f64 {
    const C_MAJOR: [usize; 7] = [0, 2, 4, 5, 7, 9, 11];
    let mut n = 0usize;
    let mut inside = 0usize;
    for s in samples {
        for e in &s.performance.events[s.primer_events..] {
            if let Event::NoteOn(p) = e {
                n += 1;
                inside += C_MAJOR.contains(&((*p % 12) as usize)) as usize;
            }
        }
    }
    assert!(n > 100, "{n} notes");
    inside as f64 / n as f64
}

#[test]
fn key_conditioning_moves_the_pitch_classes() {
    let w = hand_set_pitch_model();
    // What `--key "A, B"` builds (the flag's parsing is tested with the binary).
    let args = |keys: &str| -> GenerateOptions {
        let pitch_class_histogram = keys
            .split(',')
            .map(|k| {
                let (tonic, minor) = cadenza_generate::options::parse_key(k).unwrap();
                cadenza_performance::controls::key_histogram(tonic, minor).to_vec()
            })
            .collect();
        GenerateOptions {
            num_steps: 1500,
            num_outputs: 4,
            seed: 5,
            controls: Controls { pitch_class_histogram, ..Default::default() },
            ..Default::default()
        }
    };
    let c = generate(&w, &args("C major"), false).unwrap();
    let fs = generate(&w, &args("F# major"), false).unwrap();
    let (rc, rfs) = (in_c_major_ratio(&c), in_c_major_ratio(&fs));
    // Uniform pitch classes would give 7/12 = 0.58.
    assert!(rc > 0.8, "C major: {rc}");
    assert!(rfs < 0.4, "F# major: {rfs}");

    // Time-varying: C major for the first half, F# major for the second.
    let both = generate(&w, &args("C major, F# major"), false).unwrap();
    let halves = |s: &Sample| {
        let mut step = s.performance.start_step;
        let (mut a, mut b) = ((0, 0), (0, 0));
        for e in &s.performance.events[s.primer_events..] {
            match e {
                Event::TimeShift(d) => step += *d as i64,
                Event::NoteOn(p) => {
                    let inside = [0, 2, 4, 5, 7, 9, 11].contains(&(p % 12)) as usize;
                    if step < 700 {
                        a = (a.0 + inside, a.1 + 1);
                    } else if step > 800 {
                        b = (b.0 + inside, b.1 + 1);
                    }
                }
                _ => {}
            }
        }
        (a, b)
    };
    let (mut a, mut b) = ((0, 0), (0, 0));
    for s in &both {
        let (x, y) = halves(s);
        a = (a.0 + x.0, a.1 + x.1);
        b = (b.0 + y.0, b.1 + y.1);
    }
    let (ra, rb) = (a.0 as f64 / a.1 as f64, b.0 as f64 / b.1 as f64);
    assert!(ra > 0.8 && rb < 0.4, "first half {ra}, second half {rb}");

    // Conditioned model: a missing control is a warning and the default.
    let g = cadenza_generate::sampler::generate_report(&w, &opts(200, 0), false).unwrap();
    assert_eq!(g.warnings.len(), 1, "{:?}", g.warnings);
    let mut bad = opts(200, 0);
    bad.controls.pitch_class_histogram = vec![vec![1.0; 13]];
    assert!(matches!(generate(&w, &bad, false), Err(GenerateError::HistogramLength { len: 13, .. })));
}

#[test]
fn paired_note_events_are_well_formed_and_any_is_magentas_draw() {
    let w = small();
    let any = generate(w, &GenerateOptions { num_outputs: 4, ..opts(3000, 21) }, false).unwrap();
    let paired =
        generate(w, &GenerateOptions { num_outputs: 4, note_events: NoteEvents::Paired, ..opts(3000, 21) }, false)
            .unwrap();
    let (mut bad_any, mut never_any, mut never_paired) = (0, 0, 0);
    for (a, p) in any.iter().zip(&paired) {
        let (pa, pp) = (a.performance.note_pairing(), p.performance.note_pairing());
        // The fixture model is barely trained: it writes unmatched NOTE_OFFs and re-strikes.
        bad_any += pa.unmatched_note_offs + pa.restruck;
        never_any += pa.never_ended;
        never_paired += pp.never_ended;
        assert_eq!((pp.unmatched_note_offs, pp.restruck), (0, 0), "seed {}: {pp:?}", p.seed);
        assert!(pp.note_ons > 20, "{pp:?}");
        // The score is a log-probability of the drawn events (each ≤ 0, finite).
        assert!(p.log_likelihood.is_finite() && p.log_likelihood < 0.0);
    }
    assert!(bad_any > 0, "the unconstrained sampler should show what the pairing prevents");
    assert!(never_paired < never_any, "paired leaves fewer notes hanging: {never_paired} vs {never_any}");
    // Any is the plain draw (the one the Magenta-exact sampling tests check): deterministic per seed.
    let again = generate(w, &GenerateOptions { num_outputs: 4, note_events: NoteEvents::Any, ..opts(3000, 21) }, false)
        .unwrap();
    assert_eq!(again[0].tokens, any[0].tokens);
}
