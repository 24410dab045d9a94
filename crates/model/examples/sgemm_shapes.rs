//! SGEMM throughput of the `gemm` crate at the training step's shapes, 1 and 2 threads,
//! next to the core's measured FMA peak (independent zmm FMA chains, no memory).
//! `cargo run --release -p cadenza-model --example sgemm_shapes`
//!
//! On the 2-vCPU dev VM (CPU family 25 model 17 = Zen 4 "Genoa", 512-bit ops double-pumped:
//! zmm and ymm FMAs both peak at ~113-115 GFLOP/s = 32 FLOP/cycle per core, ~224 for two)
//! the gemm crate reaches 99-105 GFLOP/s on one thread (86-91% of peak) and 180-207 on two at
//! these shapes, so no hand-written kernel can beat it by more than ~1.1x.
use std::time::Instant;

/// # Safety
/// The CPU must have AVX-512F (checked by the caller).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_peak(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_set1_ps(0.0); 12];
    let a = _mm512_set1_ps(1.000_000_1);
    let b = _mm512_set1_ps(1e-9);
    for _ in 0..iters {
        for r in acc.iter_mut() {
            *r = _mm512_fmadd_ps(*r, a, b);
        }
    }
    let mut s = _mm512_set1_ps(0.0);
    for r in acc {
        s = _mm512_add_ps(s, r);
    }
    _mm512_reduce_add_ps(s)
}

/// Core clock estimate: a chain of dependent integer adds retires one per cycle.
fn clock_ghz() -> f64 {
    let n: u64 = 2_000_000_000;
    let t = Instant::now();
    let mut x: u64 = 0;
    for _ in 0..n / 4 {
        // SAFETY: four register adds, no memory, no flags anyone reads.
        unsafe { std::arch::asm!("add {0}, 1", "add {0}, 1", "add {0}, 1", "add {0}, 1", inout(reg) x) };
    }
    let secs = t.elapsed().as_secs_f64();
    std::hint::black_box(x);
    n as f64 / secs / 1e9
}

/// # Safety
/// The CPU must have AVX2 and FMA (checked by the caller).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_peak_ymm(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_set1_ps(0.0); 12];
    let a = _mm256_set1_ps(1.000_000_1);
    let b = _mm256_set1_ps(1e-9);
    for _ in 0..iters {
        for r in acc.iter_mut() {
            *r = _mm256_fmadd_ps(*r, a, b);
        }
    }
    let mut s = 0.0;
    for r in acc {
        let mut o = [0f32; 8];
        _mm256_storeu_ps(o.as_mut_ptr(), r);
        s += o.iter().sum::<f32>();
    }
    s
}

fn gemm_crate(m: usize, n: usize, k: usize, c: &mut [f32], a: &[f32], ta: bool, b: &[f32], threads: usize) {
    let (a_rs, a_cs) = if ta { (1isize, m as isize) } else { (k as isize, 1isize) };
    let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: the callers' buffers hold m×k, k×n and m×n floats, the strides stay inside them.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") {
        let iters = 50_000_000;
        let t = Instant::now();
        // SAFETY (here and below): AVX-512F was detected above; AVX2 + FMA come with it.
        let s = unsafe { fma_peak(iters) };
        let secs = t.elapsed().as_secs_f64();
        let t2 = Instant::now();
        let s2 = unsafe { fma_peak_ymm(iters) };
        println!(
            "FMA peak ymm (1 core): {:.1} GFLOP/s ({s2})",
            (iters * 12 * 8 * 2) as f64 / t2.elapsed().as_secs_f64() / 1e9
        );
        let t2 = Instant::now();
        let both: f32 = std::thread::scope(|sc| {
            let h: Vec<_> = (0..2).map(|_| sc.spawn(|| unsafe { fma_peak(iters) })).collect();
            h.into_iter().map(|h| h.join().unwrap()).sum()
        });
        println!(
            "FMA peak zmm (2 threads): {:.1} GFLOP/s ({both})",
            (2 * iters * 12 * 16 * 2) as f64 / t2.elapsed().as_secs_f64() / 1e9
        );
        let g = (iters * 12 * 16 * 2) as f64 / secs / 1e9;
        let ghz = clock_ghz();
        println!(
            "FMA peak (1 core, 12 zmm chains): {g:.1} GFLOP/s at ~{ghz:.2} GHz = {:.1} FLOP/cycle (checksum {s})",
            g / ghz
        );
    }
    let shapes: [(usize, usize, usize, bool, &str); 4] = [
        (1024, 1024, 1024, false, "1024^3"),
        (24528, 2048, 512, false, "x·W [TB,512]x[512,2048]"),
        (512, 2048, 24528, true, "X^T·dY [512,TB]x[TB,2048]"),
        (24528, 388, 512, false, "logits [TB,512]x[512,388]"),
    ];
    for (m, n, k, ta, name) in shapes {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0.0f32; m * n];
        let flop = 2.0 * (m * n * k) as f64;
        for threads in [1, 2] {
            gemm_crate(m, n, k, &mut c, &a, ta, &b, threads);
            let reps = ((20e9 / flop).ceil() as usize).max(2);
            let t = Instant::now();
            for _ in 0..reps {
                gemm_crate(m, n, k, &mut c, &a, ta, &b, threads);
            }
            let g = flop * reps as f64 / t.elapsed().as_secs_f64() / 1e9;
            println!("{name:30} m={m:5} n={n:4} k={k:5} threads={threads}: gemm crate {g:6.1} GFLOP/s");
        }
    }
}
