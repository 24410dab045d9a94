//! Drift on real music: the shipped v2 base, fed real ASAP performances (teacher forced),
//! predicts the endings of young notes close to how often they happen; playing alone with
//! Magenta's sampler it ends notes far less often, its notes pile up more the longer it plays,
//! and its durations spread wider than the pianists' in every slice of time.

use cadenza_judge::drift::{drift, render_drift, DriftOptions, AGE_BINS};
use cadenza_judge::{load_items, Exclude, GroupBy, Item};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The first performance of each of a few ASAP pieces, one group per piece.
fn performances(n: usize) -> Vec<Item> {
    let asap = cadenza_shared::require("data/asap");
    let mut files = Vec::new();
    for piece in [
        "Bach/Fugue/bwv_848",
        "Bach/Fugue/bwv_854",
        "Chopin/Etudes_op_10/3",
        "Beethoven/Piano_Sonatas/11-1",
        "Schubert/Impromptu_op.90_D.899/3",
        "Mozart/Piano_Sonatas/8-1",
        "Haydn/Keyboard_Sonatas/39-1",
        "Chopin/Ballades/2",
    ] {
        let dir = asap.join(piece);
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        let mut mids: Vec<PathBuf> = rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "mid") && !p.to_string_lossy().contains("midi_score"))
            .collect();
        mids.sort();
        files.extend(mids.into_iter().take(1));
    }
    assert!(files.len() >= n, "only {} of the chosen ASAP pieces found", files.len());
    files.truncate(n);
    load_items(&files, GroupBy::Folder, &Exclude::default()).unwrap()
}

#[test]
fn the_base_runs_free_unlike_it_predicts() {
    let w = cadenza_model::Weights::load(&root().join("models/perf_dyn_3x256_asap_v2")).unwrap();
    let opts = cadenza_generate::GenerateOptions { num_steps: 3000, num_outputs: 8, seed: 3, ..Default::default() };
    let samples: Vec<Item> = cadenza_generate::generate(&w, &opts, false)
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, s)| Item { name: format!("s{i}"), group: format!("s{i}"), sequence: s.sequence })
        .collect();
    let reference = performances(8);
    let o = DriftOptions { slice_seconds: 10.0, total_seconds: 30.0, bootstrap: 200, seed: 0 };
    let r = drift(&samples, &reference, Some(&w), w.config.config, &o);
    eprintln!("{}", render_drift(&r));
    assert_eq!(r.slices, vec![0.0, 10.0, 20.0]);
    let labels: Vec<&str> = r.hazard.iter().map(|h| h.label.as_str()).collect();
    assert_eq!(labels, ["real", "teacher_forced", "free_running"]);
    let (real, tf, free) = (&r.hazard[0], &r.hazard[1], &r.hazard[2]);
    assert_eq!(real.by_age.len(), AGE_BINS.len() + 1);
    // Fed real music, the model predicts the endings of young notes close to how often they
    // happen (measured: 0.039 against 0.049 under 50 ms, 0.129 against 0.150 under 0.2 s).
    for k in 0..2 {
        let (r_h, t_h) = (real.by_age[k].0, tf.by_age[k].0);
        assert!(real.by_age[k].1 >= 1000, "age bin {k}: {} notes", real.by_age[k].1);
        assert!(t_h > r_h / 1.5 && t_h < r_h * 1.5, "age bin {k}: teacher forced {t_h:.4} against real {r_h:.4}");
    }
    // Playing alone (Magenta's sampler), it ends notes far less often than pianists do, at every
    // age, and its notes pile up: the polyphony gap opens as the sample goes on.
    for k in 0..AGE_BINS.len() {
        let (r_h, f_h) = (real.by_age[k], free.by_age[k]);
        if r_h.1 >= 1000 && f_h.1 >= 1000 {
            assert!(f_h.0 < r_h.0, "age bin {k}: free running {:.4} against real {:.4}", f_h.0, r_h.0);
        }
    }
    let poly = r.features.iter().find(|f| f.feature == "polyphony").unwrap();
    let open = poly.opening.unwrap();
    assert!(open.lo > 0.0, "the polyphony gap does not open: {open:?}");
    // Its durations spread wider than the pianists' in every slice.
    let spread = r.features.iter().find(|f| f.feature == "duration_log_std").unwrap();
    for k in 0..r.slices.len() {
        let (s, re) = (spread.samples[k].unwrap(), spread.reference[k].unwrap());
        assert!(s.mean > re.mean, "slice {k}: duration spread {:.3} against {:.3}", s.mean, re.mean);
        assert!(s.lo <= s.mean && s.mean <= s.hi, "{s:?}");
    }
    let svg = cadenza_judge::drift::drift_svg(&r);
    assert!(svg.starts_with("<svg") && svg.matches("<polyline").count() >= 2 * r.features.len());
}
