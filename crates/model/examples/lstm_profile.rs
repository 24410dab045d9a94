//! Times the fused LSTM kernels alone at the training shape (T=511, B=48, H=512) and the
//! machine's SGEMM, to see where a training step's time goes. Pass `fwd`, `bwd`, `sgemm` or
//! nothing (all); run under `perf stat -e cycles` to get FLOP per cycle on a busy machine.
//! `cargo run --release -p cadenza-model --example lstm_profile [part] [reps]`
use cadenza_model::kernels::{lstm_backward, lstm_forward, sgemm};
use std::time::Instant;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn mallopt(param: i32, value: i32) -> i32;
}

fn main() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOPT").is_some() {
        // M_MMAP_MAX = 0, M_TRIM_THRESHOLD = max: big buffers are reused, not re-faulted.
        // SAFETY: mallopt only changes glibc's allocation strategy.
        unsafe {
            mallopt(-4, 0);
            mallopt(-1, i32::MAX);
        }
    }
    let args: Vec<String> = std::env::args().collect();
    let part = args.get(1).map(|s| s.as_str()).unwrap_or("all");
    let reps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2);
    let (t, b, h) = (511usize, 48usize, 512usize);
    let g4 = 4 * h;
    let mut s = 1u32;
    let mut rnd = |n: usize, sc: f32| -> Vec<f32> {
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                ((s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * sc
            })
            .collect()
    };
    let xw = rnd(t * b * g4, 1.0);
    let kh = rnd(h * g4, 0.05);
    let dh = rnd(t * b * h, 0.01);
    let zero = vec![0.0f32; b * h];
    if part == "all" || part == "sgemm" {
        let n = 1024;
        let a = rnd(n * n, 1.0);
        let mut c = vec![0.0f32; n * n];
        for _ in 0..reps + 1 {
            let t0 = Instant::now();
            sgemm(n, n, n, &mut c, &a, false, &a, false, false);
            let e = t0.elapsed().as_secs_f64();
            println!("sgemm 1024³: {:.1} GFLOP/s", 2.0 * (n * n * n) as f64 / e / 1e9);
        }
    }
    let (_, tape) = lstm_forward(&xw, &kh, &zero, &zero, t, b, h);
    let fl = 2.0 * (t * b * h * g4) as f64;
    if part == "all" || part == "fwd" {
        for _ in 0..reps {
            let t0 = Instant::now();
            let (_out, _tape) = lstm_forward(&xw, &kh, &zero, &zero, t, b, h);
            let f = t0.elapsed().as_secs_f64();
            println!("lstm_forward {:.3} s ({:.1} GFLOP/s)", f, fl / f / 1e9);
        }
    }
    if part == "all" || part == "bwd" {
        for _ in 0..reps {
            let t0 = Instant::now();
            let g = lstm_backward(&dh, &kh, &tape, t, b, h);
            let bw = t0.elapsed().as_secs_f64();
            println!("lstm_backward {:.3} s ({:.1} GFLOP/s) [chk {}]", bw, 2.0 * fl / bw / 1e9, g.dk_h[7]);
        }
    }
}
