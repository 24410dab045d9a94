//! The losses' gradients, rows and costs, against formulas, finite differences and hand-made
//! examples.

use super::rows::*;
use super::*;
use burn::tensor::{Device, Tensor};
use cadenza_performance::EncodedExample;
use rand::{Rng, SeedableRng};

fn ex(events: &[Event]) -> EncodedExample {
    let oh = Config::Performance.one_hot();
    EncodedExample {
        tokens: events.iter().map(|e| oh.encode(e).unwrap() as u16).collect(),
        disable_conditioning: false,
    }
}

/// The autodiff gradient of the expected cost equals q·(cost − E)/|P| and central
/// differences of the same function computed in f64.
#[test]
fn expected_cost_gradient_matches_formula_and_finite_differences() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let (n, c) = (5, 12);
    let z: Vec<f32> = (0..n * c).map(|_| rng.gen_range(-2.0..2.0)).collect();
    let rows = CostRows {
        positions: vec![0, 2, 4],
        costs: (0..3 * 4).map(|_| rng.gen_range(0.0..1.0)).collect(),
        width: 4,
        offset: 3,
    };
    let f64_loss = |z: &[f32]| -> f64 {
        let mut tot = 0.0;
        for (i, &p) in rows.positions.iter().enumerate() {
            let blk: Vec<f64> = (0..4).map(|k| z[p as usize * c + 3 + k] as f64).collect();
            let mx = blk.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = blk.iter().map(|v| (v - mx).exp()).collect();
            let s: f64 = e.iter().sum();
            tot += (0..4).map(|k| e[k] / s * rows.costs[i * 4 + k] as f64).sum::<f64>();
        }
        tot / 3.0
    };
    let dev = Device::flex().autodiff();
    let zt = Tensor::<2>::from_data(TensorData::new(z.clone(), [n, c]), &dev).require_grad();
    let loss = expected_cost(&zt, &rows).unwrap();
    assert!((loss.clone().into_scalar::<f32>() as f64 - f64_loss(&z)).abs() < 1e-6);
    let grads = loss.backward();
    let g: Vec<f32> = zt.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
    let eps = 1e-3f32;
    for i in 0..n * c {
        let (mut a, mut b) = (z.clone(), z.clone());
        a[i] += eps;
        b[i] -= eps;
        let num = (f64_loss(&a) - f64_loss(&b)) / (2.0 * eps as f64);
        assert!((num - g[i] as f64).abs() < 1e-4, "logit {i}: autodiff {} vs numeric {num}", g[i]);
    }
    // Rows without a target in the block, and columns outside it, get no gradient.
    assert!(g[c..2 * c].iter().all(|&v| v == 0.0));
    assert!(g[..3].iter().all(|&v| v == 0.0));
    assert!(g.iter().any(|&v| v.abs() > 1e-3));
}

#[test]
fn rhythm_cost_is_ordinal() {
    let e = ex(&[Event::NoteOn(60), Event::TimeShift(50)]);
    let b = Batch::new(Config::Performance, &[e], vec![0]);
    let rows = rhythm_rows(Config::Performance, &b);
    assert_eq!(rows.positions, vec![0]);
    // 490 ms (class 49) for 500 ms costs 0.1; 10 ms costs 4.9; exact costs 0.
    assert!((rows.costs[48] - 0.1).abs() < 1e-6 && (rows.costs[0] - 4.9).abs() < 1e-6 && rows.costs[49] == 0.0);
    // A model sure of 490 ms pays less than one sure of 10 ms (cross-entropy: the same).
    let mk = |class: usize| {
        let mut z = vec![0.0f32; 388];
        z[class] = 30.0;
        Tensor::<2>::from_data(TensorData::new(z, [1, 388]), &Device::flex())
    };
    let near = expected_cost(&mk(256 + 48), &rows).unwrap().into_scalar::<f32>();
    let far = expected_cost(&mk(256), &rows).unwrap().into_scalar::<f32>();
    assert!(near < 0.11 && far > 4.8, "{near} {far}");
}

/// The RPS equals the EMD for a sure prediction, is lowest in expectation at the true
/// distribution (proper) where the EMD prefers the median, and its gradient matches
/// central differences.
#[test]
fn rps_is_proper_and_its_gradient_is_right() {
    let e = ex(&[Event::NoteOn(60), Event::TimeShift(50), Event::NoteOff(60), Event::TimeShift(20)]);
    let b = Batch::new(Config::Performance, &[e], vec![0]);
    let (emd_rows, rps_rows) = (rhythm_rows(Config::Performance, &b), rhythm_cdf_rows(Config::Performance, &b));
    assert_eq!(rps_rows.positions, emd_rows.positions);
    let c = Config::Performance.num_logits();
    let sure = |classes: [usize; 2]| {
        let mut z = vec![0.0f32; 3 * c];
        for (row, k) in [0usize, 2].into_iter().zip(classes) {
            z[row * c + 256 + k] = 40.0;
        }
        Tensor::<2>::from_data(TensorData::new(z, [3, c]), &Device::flex())
    };
    for classes in [[49, 19], [39, 29], [0, 99]] {
        let z = sure(classes);
        let (a, r) = (
            expected_cost(&z, &emd_rows).unwrap().into_scalar::<f32>(),
            ranked_probability_score(&z, &rps_rows).unwrap().into_scalar::<f32>(),
        );
        assert!((a - r).abs() < 1e-4, "{classes:?}: emd {a} rps {r}");
    }
    // A context followed by 100 ms or 500 ms, half each. Expected score of predicting
    // p·δ(100) + (1−p)·δ(500) over that mixture of targets, in f64.
    let expected = |p: f64, rps: bool| {
        let pred = |j: usize| {
            if j >= 500 {
                1.0
            } else if j >= 100 {
                p
            } else {
                0.0
            }
        };
        let mut tot = 0.0;
        for t in [100usize, 500] {
            let s: f64 = (10..=1000)
                .step_by(10)
                .map(|j| {
                    let d = pred(j) - if j >= t { 1.0 } else { 0.0 };
                    if rps {
                        d * d
                    } else {
                        d.abs()
                    }
                })
                .sum();
            tot += 0.5 * s / 100.0;
        }
        tot
    };
    let best = |rps: bool| {
        (0..=100)
            .map(|i| i as f64 / 100.0)
            .min_by(|&a, &b| expected(a, rps).partial_cmp(&expected(b, rps)).unwrap())
            .unwrap()
    };
    assert!((best(true) - 0.5).abs() < 1e-9, "RPS is lowest at the true 0.5, got {}", best(true));
    // The EMD is flat in p here (any split between the two is a median): it does not
    // reward the true distribution, and anything that tips it collapses the choice.
    assert!(
        (expected(0.0, false) - expected(1.0, false)).abs() < 1e-9
            && (expected(0.5, false) - expected(0.0, false)).abs() < 1e-9
    );
    // Gradient against central differences of the f64 score.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let z: Vec<f32> = (0..3 * c).map(|_| rng.gen_range(-2.0..2.0)).collect();
    let f64_rps = |z: &[f32]| -> f64 {
        let mut tot = 0.0;
        for (i, &p) in rps_rows.positions.iter().enumerate() {
            let blk: Vec<f64> = (0..100).map(|k| z[p as usize * c + 256 + k] as f64).collect();
            let mx = blk.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = blk.iter().map(|v| (v - mx).exp()).collect();
            let s: f64 = e.iter().sum();
            let mut cdf = 0.0;
            for k in 0..100 {
                cdf += e[k] / s;
                let d = cdf - rps_rows.costs[i * 100 + k] as f64;
                tot += d * d / 10.0;
            }
        }
        tot / rps_rows.positions.len() as f64
    };
    let dev = Device::flex().autodiff();
    let zt = Tensor::<2>::from_data(TensorData::new(z.clone(), [3, c]), &dev).require_grad();
    let loss = ranked_probability_score(&zt, &rps_rows).unwrap();
    assert!((loss.clone().into_scalar::<f32>() as f64 - f64_rps(&z)).abs() < 1e-5);
    let g: Vec<f32> = zt.grad(&loss.backward()).unwrap().into_data().try_to_vec::<f32>().unwrap();
    let eps = 1e-2f32;
    for i in (0..3 * c).filter(|i| i % c >= 250) {
        let (mut a, mut b) = (z.clone(), z.clone());
        a[i] += eps;
        b[i] -= eps;
        let num = (f64_rps(&a) - f64_rps(&b)) / (2.0 * eps as f64);
        assert!((num - g[i] as f64).abs() < 1e-4, "logit {i}: autodiff {} vs numeric {num}", g[i]);
    }
    assert!(g[c..2 * c].iter().all(|&v| v == 0.0), "the NOTE_OFF target row has no rhythm gradient");
}

#[test]
fn harmony_cost_prefers_the_key_and_consonance() {
    // C major context (C E G C E G …), then C and E sounding: the next note is scored.
    let mut evs = Vec::new();
    for _ in 0..4 {
        for p in [60u8, 64, 67, 65, 62, 71] {
            evs.extend([Event::NoteOn(p), Event::TimeShift(10), Event::NoteOff(p)]);
        }
    }
    evs.extend([Event::NoteOn(48), Event::NoteOn(52), Event::NoteOn(67)]);
    let b = Batch::new(Config::Performance, &[ex(&evs)], vec![0]);
    let rows = harmony_rows(Config::Performance, &b);
    let last = rows.positions.len() - 1;
    let cost = &rows.costs[last * 128..(last + 1) * 128];
    // Sounding C3, E3: G is consonant and in key, F# out of key, C# and F dissonant.
    assert!(cost[67] < cost[65] && cost[65] < cost[66], "G {} F {} F# {}", cost[67], cost[65], cost[66]);
    assert!(cost[61] > 0.7 && cost[67] < 0.15, "C# {} G {}", cost[61], cost[67]);
    // Nothing sounding: pure scale membership (C D E F G A B over MIDI 0..127: 75 pitches).
    assert_eq!(rows.costs[..128].iter().filter(|&&c| c == 0.0).count(), 75);
    assert!(rows.costs[..128].iter().all(|&c| c == 0.0 || c == 1.0));
}

/// The key loss marks the target's side of the scale, is lowest where the model's in-key
/// share equals the music's (proper, where the tension cost wants all mass in the key),
/// and its gradient matches central differences.
#[test]
fn key_loss_is_proper_and_its_gradient_is_right() {
    // C major context, then an in-key E and an out-of-key F#.
    let mut evs = Vec::new();
    for _ in 0..4 {
        for p in [60u8, 64, 67, 65, 62, 71] {
            evs.extend([Event::NoteOn(p), Event::TimeShift(10), Event::NoteOff(p)]);
        }
    }
    evs.extend([Event::NoteOn(64), Event::NoteOn(66)]);
    let b = Batch::new(Config::Performance, &[ex(&evs)], vec![0]);
    let rows = key_rows(Config::Performance, &b);
    assert_eq!(rows.positions, harmony_rows(Config::Performance, &b).positions);
    let n = rows.positions.len();
    let row = |i: usize| &rows.costs[i * 128..(i + 1) * 128];
    // The E's row holds the 75 pitches of C major, the F#'s the 53 outside it.
    assert!(row(n - 2)[64] == 1.0 && row(n - 2)[66] == 0.0 && row(n - 2).iter().sum::<f32>() == 75.0);
    assert!(row(n - 1)[66] == 1.0 && row(n - 1)[64] == 0.0 && row(n - 1).iter().sum::<f32>() == 53.0);
    // Proper: over the last two targets (one in, one out), the loss of a model whose
    // in-key share is s, spread evenly inside each side, is lowest at s = 1/2.
    let c = Config::Performance.num_logits();
    let last2 = CostRows {
        positions: rows.positions[n - 2..].to_vec(),
        costs: rows.costs[(n - 2) * 128..].to_vec(),
        ..rows.clone()
    };
    let at_share = |s: f64| {
        let mut z = vec![0.0f32; b.t * c];
        for &p in &last2.positions {
            for k in 0..128 {
                let inside = row(n - 2)[k] == 1.0;
                z[p as usize * c + k] = if inside { (s / 75.0).ln() } else { ((1.0 - s) / 53.0).ln() } as f32;
            }
        }
        let zt = Tensor::<2>::from_data(TensorData::new(z, [b.t, c]), &Device::flex());
        side_log_loss(&zt, &last2).unwrap().into_scalar::<f32>() as f64
    };
    let best = (1..100).map(|i| i as f64 / 100.0).min_by(|&a, &x| at_share(a).partial_cmp(&at_share(x)).unwrap());
    assert_eq!(best, Some(0.5));
    assert!((at_share(0.5) - std::f64::consts::LN_2).abs() < 1e-5);
    // Gradient against central differences of the f64 loss.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let z: Vec<f32> = (0..b.t * c).map(|_| rng.gen_range(-2.0..2.0)).collect();
    let f64_loss = |z: &[f32]| -> f64 {
        let mut tot = 0.0;
        for (i, &p) in last2.positions.iter().enumerate() {
            let blk: Vec<f64> = (0..128).map(|k| z[p as usize * c + k] as f64).collect();
            let mx = blk.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = blk.iter().map(|v| (v - mx).exp()).collect();
            let inside: f64 = (0..128).map(|k| e[k] * last2.costs[i * 128 + k] as f64).sum();
            tot -= (inside / e.iter().sum::<f64>()).ln();
        }
        tot / 2.0
    };
    let dev = Device::flex().autodiff();
    let zt = Tensor::<2>::from_data(TensorData::new(z.clone(), [b.t, c]), &dev).require_grad();
    let loss = side_log_loss(&zt, &last2).unwrap();
    assert!((loss.clone().into_scalar::<f32>() as f64 - f64_loss(&z)).abs() < 1e-5);
    let g: Vec<f32> = zt.grad(&loss.backward()).unwrap().into_data().try_to_vec::<f32>().unwrap();
    let eps = 1e-2f32;
    for &p in &last2.positions {
        for i in (p as usize * c..(p as usize + 1) * c).step_by(7) {
            let (mut a, mut x) = (z.clone(), z.clone());
            a[i] += eps;
            x[i] -= eps;
            let num = (f64_loss(&a) - f64_loss(&x)) / (2.0 * eps as f64);
            assert!((num - g[i] as f64).abs() < 1e-4, "logit {i}: autodiff {} vs numeric {num}", g[i]);
        }
    }
    assert!(g[..(last2.positions[0] as usize) * c].iter().all(|&v| v == 0.0), "earlier rows get no gradient");
}

/// The names the command line offers, `name`, `parse` and the serde names of
/// `hparams.json` are one list.
#[test]
fn cost_names_agree_everywhere() {
    for (i, c) in RhythmCost::ALL.into_iter().enumerate() {
        assert_eq!((RhythmCost::NAMES[i], RhythmCost::parse(c.name())), (c.name(), Some(c)));
        assert_eq!(serde_json::to_value(c).unwrap(), c.name());
    }
    for (i, c) in HarmonyCost::ALL.into_iter().enumerate() {
        assert_eq!((HarmonyCost::NAMES[i], HarmonyCost::parse(c.name())), (c.name(), Some(c)));
        assert_eq!(serde_json::to_value(c).unwrap(), c.name());
    }
    assert_eq!((RhythmCost::parse("l2"), HarmonyCost::parse("")), (None, None));
}

/// `elapsed` is the log loss of a partition of the shifts that depends on the history and
/// the target alone (so it is proper); `ratio`'s set also depends on what comes after.
#[test]
fn elapsed_sets_partition_the_shifts_and_ratio_sets_read_ahead() {
    use Event::*;
    let set = |t: u32, after: &[Event], lookahead: bool| -> Vec<usize> {
        let mut evs = vec![NoteOn(60), TimeShift(40), NoteOn(62), TimeShift(30), NoteOn(64), TimeShift(t)];
        evs.extend_from_slice(after);
        let b = Batch::new(Config::Performance, &[ex(&evs)], vec![0]);
        let rows = ratio_rows(Config::Performance, &b, lookahead);
        let i = rows.positions.iter().position(|&p| p == 4).expect("a row for the last shift");
        (0..100).filter(|&k| rows.costs[i * 100 + k] == 1.0).map(|k| k + 1).collect()
    };
    let sets: Vec<Vec<usize>> = (1..=100).map(|t| set(t, &[NoteOn(65)], false)).collect();
    for (t, s) in sets.iter().enumerate() {
        assert!(s.contains(&(t + 1)), "target {} outside its own set {s:?}", t + 1);
        for k in s {
            assert_eq!(&sets[k - 1], s, "shifts {} and {k} share a set but not their sets", t + 1);
        }
    }
    assert!(sets.iter().collect::<std::collections::HashSet<_>>().len() > 2);
    // The same target, a different future: elapsed keeps its set, ratio changes it.
    let later = [TimeShift(60), NoteOn(65)];
    assert_eq!(set(20, &[NoteOn(65)], false), set(20, &later, false));
    assert_ne!(set(20, &[NoteOn(65)], true), set(20, &later, true));
}

/// The ratio loss's sets: the shifts that would give the next inter-onset interval the
/// target's simple ratio with the last one, counting time already waited and time still to
/// wait after a NOTE_OFF.
#[test]
fn ratio_rows_hold_the_shifts_of_the_targets_ratio() {
    use Event::*;
    let evs = [
        NoteOn(60),
        TimeShift(50),
        NoteOn(62),
        TimeShift(50),
        NoteOn(64),
        TimeShift(25),
        NoteOn(65),
        TimeShift(50),
        NoteOn(67),
        TimeShift(30),
        NoteOff(67),
        TimeShift(20),
        NoteOn(69),
        NoteOn(72),
        TimeShift(20),
    ];
    let b = Batch::new(Config::Performance, &[ex(&evs)], vec![0]);
    let rows = ratio_rows(Config::Performance, &b, true);
    let members =
        |i: usize| -> Vec<usize> { (0..100).filter(|&k| rows.costs[i * 100 + k] == 1.0).map(|k| k + 1).collect() };
    // No ratio before two onsets (position 0), nor for the last shift, with no onset after
    // it; every other shift target has one.
    assert_eq!(rows.positions, vec![2, 4, 6, 8, 10]);
    // 50 after 50 is 1:1: the shifts 41..=61 give 50/(50+k) in [0.45, 0.55).
    assert_eq!(members(0), (41..=61).collect::<Vec<_>>());
    // 25 after 50 is 2:1: 21..=28 give 50/(50+k) in [19/30, 17/24).
    assert_eq!(members(1), (21..=28).collect::<Vec<_>>());
    // 50 after 25 is 1:2, a ratio of 1/3: 25/(25+k) in [7/24, 11/30) for k = 44..=60.
    assert_eq!(members(2), (44..=60).collect::<Vec<_>>());
    // A 30 shift, a NOTE_OFF, then 20 more before the onset: the interval is k + 20.
    assert_eq!(members(3), (21..=41).collect::<Vec<_>>());
    // The 20 after the NOTE_OFF: 30 already waited, so the interval is 30 + k.
    assert_eq!(members(4), (11..=31).collect::<Vec<_>>());
    // The loss prefers a model sure of a shift in the set to one sure of a shift outside.
    let c = Config::Performance.num_logits();
    let sure = |k: usize| {
        let mut z = vec![0.0f32; b.t * c];
        for &p in &rows.positions {
            z[p as usize * c + 256 + k - 1] = 30.0;
        }
        let z = Tensor::<2>::from_data(TensorData::new(z, [b.t, c]), &Device::flex());
        side_log_loss(&z, &rows).unwrap().into_scalar::<f32>()
    };
    assert!(sure(41) < sure(5), "{} {}", sure(41), sure(5));

    // Without lookahead the interval ends with the shift: the same sets wherever an onset
    // follows the shift at once, and a row for the last shift too.
    let rows = ratio_rows(Config::Performance, &b, false);
    let members =
        |i: usize| -> Vec<usize> { (0..100).filter(|&k| rows.costs[i * 100 + k] == 1.0).map(|k| k + 1).collect() };
    assert_eq!(rows.positions, vec![2, 4, 6, 8, 10, 13]);
    assert_eq!(members(0), (41..=61).collect::<Vec<_>>());
    assert_eq!(members(1), (21..=28).collect::<Vec<_>>());
    assert_eq!(members(2), (44..=60).collect::<Vec<_>>());
    // The 30 before the NOTE_OFF: 50/80 is near 3:2 (0.6), whose bin [0.55, 19/30) holds
    // 50/(50+k) for k = 29..=40.
    assert_eq!(members(3), (29..=40).collect::<Vec<_>>());
    assert_eq!(members(4), (11..=31).collect::<Vec<_>>());
    // The last 20 after an interval of 50 (the chord at 225 is one onset): 50/70 lies in
    // [17/24, 0.775), which holds 50/(50+k) for k = 15..=20.
    assert_eq!(members(5), (15..=20).collect::<Vec<_>>());
}

/// A score at 120 qpm (16ths of 12.5 steps, rounded): the grid rows hold the shifts that
/// land a whole number of 16ths after the last onset, the sets partition the shifts by the
/// target alone, and a row with rubato has no grid and no rows.
#[test]
fn grid_rows_hold_the_shifts_that_land_on_the_examples_grid() {
    use Event::*;
    // Onsets at rounded multiples of 12.5 steps: 16ths, 8ths and a dotted 8th.
    let sixteenths = [1u32, 1, 2, 1, 1, 2, 3, 1, 2, 2, 1, 1, 2];
    let score = |jitter: &[i64]| -> Vec<Event> {
        let mut evs = vec![NoteOn(60)];
        let (mut pos, mut prev) = (0u32, 0i64);
        for (i, &d) in sixteenths.iter().enumerate() {
            pos += d;
            let at = (pos as f64 * 12.5).round() as i64 + jitter[i % jitter.len()];
            evs.push(TimeShift((at - prev) as u32));
            evs.push(NoteOn(60 + (i % 5) as u8));
            prev = at;
        }
        evs.push(TimeShift(20));
        evs
    };
    let on = |d: usize| cadenza_performance::rhythm::on_grid(d as f64, 12.5);
    let b = Batch::new(Config::Performance, &[ex(&score(&[0]))], vec![0]);
    let rows = grid_rows(Config::Performance, &b);
    // Every shift has a row (each follows an onset), the trailing 20 too.
    assert_eq!(rows.positions, (0..=sixteenths.len() as i64).map(|i| 2 * i).collect::<Vec<_>>());
    let members =
        |i: usize| -> Vec<usize> { (0..100).filter(|&k| rows.costs[i * 100 + k] == 1.0).map(|k| k + 1).collect() };
    // The first shift (12 or 13 steps, one 16th) is on the grid: the set is the shifts a
    // whole number of 16ths long, within a step.
    let on_set: Vec<usize> = (1..=100).filter(|&k| on(k)).collect();
    assert_eq!(members(0), on_set);
    assert!(on_set.starts_with(&[12, 13, 24, 25, 26, 37]) && on_set.len() < 30, "{on_set:?}");
    // The trailing 20 steps after the last onset is off the grid: its set is the rest.
    let last = rows.positions.len() - 1;
    assert_eq!(members(last), (1..=100).filter(|&k| !on(k)).collect::<Vec<_>>());
    // The loss prefers a model sure of a shift on the grid to one sure of an off-grid one.
    let c = Config::Performance.num_logits();
    let sure = |k: usize| {
        let mut z = vec![0.0f32; b.t * c];
        for &p in &rows.positions[..last] {
            z[p as usize * c + 256 + k - 1] = 30.0;
        }
        let z = Tensor::<2>::from_data(TensorData::new(z, [b.t, c]), &Device::flex());
        let only_on = CostRows {
            positions: rows.positions[..last].to_vec(),
            costs: rows.costs[..last * 100].to_vec(),
            ..rows.clone()
        };
        side_log_loss(&z, &only_on).unwrap().into_scalar::<f32>()
    };
    assert!(sure(25) < 1e-3 && sure(19) > 5.0, "{} {}", sure(25), sure(19));
    // A played version, every onset 3–4 steps (30–40 ms) early or late: no grid, no rows.
    let b = Batch::new(Config::Performance, &[ex(&score(&[3, -4, 4, -3, 3]))], vec![0]);
    assert!(grid_rows(Config::Performance, &b).positions.is_empty());
}

#[test]
fn shift_error_counts_only_shift_targets() {
    let e = ex(&[Event::NoteOn(60), Event::TimeShift(50), Event::NoteOff(60), Event::TimeShift(20)]);
    let b = Batch::new(Config::Performance, &[e], vec![0]);
    let c = Config::Performance.num_logits();
    let mut logits = vec![0.0f32; 3 * c];
    logits[256 + 39] = 50.0; // predicts 400 ms where 500 ms follows
    logits[2 * c + 256 + 19] = 50.0; // exact
    let mut s = ShiftErrorSum::default();
    s.add(Config::Performance, &b, &logits);
    let r = s.finish();
    assert_eq!(r.positions, 2);
    assert!((r.argmax - 5.0).abs() < 1e-9 && (r.expected - 5.0).abs() < 1e-6, "{r:?}");
}
