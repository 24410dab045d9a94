//! Plain-f32 kernels of TensorFlow's `BasicLSTMCell` layer.
//!
//! The cell (magenta-compat.md §4.1): `z = [x, h] · K + b`, gate blocks `i, j, f, o`,
//! `c' = c ⊙ σ(f + 1) + σ(i) ⊙ tanh(j)`, `h' = tanh(c') ⊙ σ(o)`. The input half of `K` is
//! applied for all steps at once by the caller (a row gather for one-hot inputs); these
//! kernels run the recurrence.
//!
//! Two implementations of the same arithmetic:
//! * the fast path (x86-64 with AVX-512, `H` a multiple of 16): the recurrent kernel is packed
//!   once into column blocks that hold the four gates of 16 units side by side, so one
//!   register-blocked microkernel computes `h · K_h` for those units and the gate math runs on
//!   the accumulators still in registers. The units are split over a small team of threads
//!   (one per core) that meet at a spin barrier once per time step. Backpropagation through
//!   time does the same with `K_hᵀ`, and the recurrent weight gradient is one large GEMM;
//! * the portable path: one `gemm`-crate GEMM per step and scalar gate math.
//!
//! Every output element is computed by one thread in a fixed order whatever the number of
//! threads, so results are bit-for-bit reproducible on a machine. σ, tanh and exp are
//! vectorised Cephes approximations (within a few ULP of libm; see the tests).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// Forget-gate bias TensorFlow adds at run time (not stored in the checkpoint).
pub const FORGET_BIAS: f32 = 1.0;

/// `dst[m×n] = (accumulate ? dst : 0) + a[m×k] · b[k×n]`, all row-major, with optional
/// transposed views (`ta`: a is stored k×m; `tb`: b is stored n×k).
#[allow(clippy::too_many_arguments)]
pub fn sgemm(m: usize, n: usize, k: usize, dst: &mut [f32], a: &[f32], ta: bool, b: &[f32], tb: bool, accumulate: bool) {
    assert!(dst.len() >= m * n && a.len() >= m * k && b.len() >= k * n, "sgemm: buffers too small");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].iter_mut().for_each(|x| *x = 0.0);
        }
        return;
    }
    let (a_rs, a_cs) = if ta { (1isize, m as isize) } else { (k as isize, 1isize) };
    let (b_rs, b_cs) = if tb { (1isize, k as isize) } else { (n as isize, 1isize) };
    let par = if m * n * k >= 1 << 18 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    // SAFETY: the asserts above keep every access of the strided views inside the slices.
    unsafe {
        gemm::gemm(m, n, k, dst.as_mut_ptr(), 1, n as isize, accumulate, a.as_ptr(), a_cs, a_rs, b.as_ptr(), b_cs, b_rs, 1.0, 1.0, false, false, false, par);
    }
}

// ---------------------------------------------------------------------------------------
// Transcendentals (Cephes single precision), scalar versions of the SIMD ones below.

const EXP_HI: f32 = 88.0;
const EXP_LO: f32 = -87.0;
const LOG2E: f32 = std::f32::consts::LOG2_E;
const EXP_C1: f32 = 0.693_359_4;
const EXP_C2: f32 = -2.121_944_4e-4;
const EXP_P: [f32; 6] = [1.987_569_1e-4, 1.398_2e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 5.000_000_1e-1];
const TANH_P: [f32; 5] = [-5.704_988_7e-3, 2.063_908_9e-2, -5.373_971_6e-2, 1.333_144_2e-1, -3.333_328_2e-1];
const TANH_SMALL: f32 = 0.625;

/// e^x, Cephes `expf` (≤ 2 ULP); inputs clamped to [−87, 88].
#[inline]
pub fn exp_approx(x: f32) -> f32 {
    let x = x.clamp(EXP_LO, EXP_HI);
    let fx = (x * LOG2E).round();
    let r = x - fx * EXP_C1 - fx * EXP_C2;
    let mut y = EXP_P[0];
    for &p in &EXP_P[1..] {
        y = y * r + p;
    }
    let y = y * (r * r) + r + 1.0;
    y * f32::from_bits((((fx as i32) + 127) as u32) << 23)
}

#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp_approx(-x))
}

/// tanh, Cephes `tanhf`: an odd polynomial below 0.625, `1 − 2/(e^{2|x|} + 1)` above.
#[inline]
pub fn tanh_approx(x: f32) -> f32 {
    let ax = x.abs();
    if ax < TANH_SMALL {
        let z = x * x;
        let mut y = TANH_P[0];
        for &p in &TANH_P[1..] {
            y = y * z + p;
        }
        y * z * x + x
    } else {
        let t = 1.0 - 2.0 / (exp_approx(2.0 * ax) + 1.0);
        t.copysign(x)
    }
}

// ---------------------------------------------------------------------------------------
// A team of threads, one per core, that run one closure together and can meet at a barrier.

/// A sense-counting spin barrier for the threads of one [`team_run`] call.
pub struct SpinBarrier {
    n: usize,
    count: AtomicUsize,
    gen: AtomicUsize,
}

impl SpinBarrier {
    fn new(n: usize) -> Self {
        SpinBarrier { n, count: AtomicUsize::new(0), gen: AtomicUsize::new(0) }
    }

    pub fn wait(&self) {
        if self.n <= 1 {
            return;
        }
        let g = self.gen.load(Ordering::Acquire);
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            self.count.store(0, Ordering::Relaxed);
            self.gen.fetch_add(1, Ordering::Release);
        } else {
            let mut spins = 0u32;
            while self.gen.load(Ordering::Acquire) == g {
                spins += 1;
                if spins < 1 << 8 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }
}

type Job = dyn Fn(usize, usize, &SpinBarrier) + Sync;

struct Shared {
    n: usize,
    job: Mutex<Option<&'static Job>>,
    epoch: AtomicUsize,
    done: AtomicUsize,
    panicked: AtomicBool,
    sleeping: AtomicUsize,
    m: Mutex<()>,
    cv: Condvar,
    barrier: SpinBarrier,
}

struct Team {
    shared: Arc<Shared>,
    busy: Mutex<()>,
}

/// Threads of the team: `CADENZA_THREADS`, else the available cores (at most 8: the per-step
/// work of a 512-unit layer does not feed more).
pub fn team_threads() -> usize {
    team().shared.n
}

fn team() -> &'static Team {
    static TEAM: OnceLock<Team> = OnceLock::new();
    TEAM.get_or_init(|| {
        let n = std::env::var("CADENZA_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8))
            .max(1);
        let shared = Arc::new(Shared {
            n,
            job: Mutex::new(None),
            epoch: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            sleeping: AtomicUsize::new(0),
            m: Mutex::new(()),
            cv: Condvar::new(),
            barrier: SpinBarrier::new(n),
        });
        for tid in 1..n {
            let s = shared.clone();
            std::thread::Builder::new().name(format!("cadenza-team-{tid}")).spawn(move || helper(s, tid)).expect("spawn team thread");
        }
        Team { shared, busy: Mutex::new(()) }
    })
}

fn helper(s: Arc<Shared>, tid: usize) {
    let mut seen = 0usize;
    loop {
        let start = std::time::Instant::now();
        let mut spins = 0u32;
        while s.epoch.load(Ordering::Acquire) == seen {
            spins += 1;
            if spins % 256 != 0 {
                std::hint::spin_loop();
                continue;
            }
            if start.elapsed().as_micros() < 200 {
                continue;
            }
            let mut g = s.m.lock().unwrap_or_else(|e| e.into_inner());
            s.sleeping.fetch_add(1, Ordering::SeqCst);
            while s.epoch.load(Ordering::SeqCst) == seen {
                g = s.cv.wait_timeout(g, std::time::Duration::from_millis(20)).unwrap_or_else(|e| e.into_inner()).0;
            }
            s.sleeping.fetch_sub(1, Ordering::SeqCst);
        }
        seen = s.epoch.load(Ordering::Acquire);
        let job = (*s.job.lock().unwrap_or_else(|e| e.into_inner())).expect("a published job");
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(tid, s.n, &s.barrier))).is_err() {
            s.panicked.store(true, Ordering::SeqCst);
        }
        s.done.fetch_add(1, Ordering::AcqRel);
    }
}

/// Runs `job(tid, n, barrier)` on every thread of the team (the caller is thread 0) and returns
/// when all are done. A nested or concurrent call runs the job alone (`n` = 1), so `job` must
/// give the same result for any `n`.
pub fn team_run(job: &(dyn Fn(usize, usize, &SpinBarrier) + Sync)) {
    let t = team();
    let s = &t.shared;
    let guard = if s.n > 1 { t.busy.try_lock().ok() } else { None };
    if guard.is_none() {
        job(0, 1, &SpinBarrier::new(1));
        return;
    }
    // SAFETY: the helpers only use the job between the epoch bump below and their `done`
    // increment, and this call does not return before every helper has incremented `done`.
    let job_static: &'static Job = unsafe { std::mem::transmute::<&(dyn Fn(usize, usize, &SpinBarrier) + Sync + '_), &'static Job>(job) };
    *s.job.lock().unwrap_or_else(|e| e.into_inner()) = Some(job_static);
    s.done.store(0, Ordering::SeqCst);
    s.epoch.fetch_add(1, Ordering::SeqCst);
    if s.sleeping.load(Ordering::SeqCst) > 0 {
        let _g = s.m.lock().unwrap_or_else(|e| e.into_inner());
        s.cv.notify_all();
    }
    let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(0, s.n, &s.barrier)));
    let mut spins = 0u32;
    while s.done.load(Ordering::Acquire) < s.n - 1 {
        spins += 1;
        if spins < 1 << 8 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    *s.job.lock().unwrap_or_else(|e| e.into_inner()) = None;
    drop(guard);
    if let Err(e) = mine {
        std::panic::resume_unwind(e);
    }
    if s.panicked.swap(false, Ordering::SeqCst) {
        panic!("a cadenza team thread panicked");
    }
}

/// The `tid`-th of `n` contiguous parts of `0..len`.
#[inline]
pub fn part(len: usize, tid: usize, n: usize) -> std::ops::Range<usize> {
    (len * tid / n)..(len * (tid + 1) / n)
}

/// A raw pointer that threads of one [`team_run`] share to write disjoint parts of a buffer.
#[derive(Clone, Copy)]
pub struct SharedMut(pub *mut f32);
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    #[inline]
    pub fn p(self) -> *mut f32 {
        self.0
    }
}

// ---------------------------------------------------------------------------------------
// Packed right-hand operands.

/// Width of a column block of a [`Packed`] matrix: four 16-lane panels.
pub const BLOCK: usize = 64;

/// A `k × n` right-hand operand stored as column blocks of up to [`BLOCK`] columns (a multiple
/// of 16, zero-padded), each block `k` rows of its width contiguous: what the microkernel
/// streams. Packed column `j` is source column `src(j)`.
#[derive(Debug, Clone)]
pub struct Packed {
    pub k: usize,
    /// Columns (before padding).
    pub n: usize,
    data: Vec<f32>,
}

impl Packed {
    fn build(k: usize, n: usize, get: impl Fn(usize, usize) -> f32) -> Packed {
        let n_pad = n.div_ceil(16) * 16;
        let mut data = vec![0.0f32; k * n_pad];
        for blk in 0..n_pad.div_ceil(BLOCK) {
            let c0 = blk * BLOCK;
            let w = BLOCK.min(n_pad - c0);
            let base = c0 * k;
            for kk in 0..k {
                for c in 0..w {
                    if c0 + c < n {
                        data[base + kk * w + c] = get(kk, c0 + c);
                    }
                }
            }
        }
        Packed { k, n, data }
    }

    /// `b`: row-major `k × n`.
    pub fn new(b: &[f32], k: usize, n: usize) -> Packed {
        assert!(b.len() >= k * n);
        Packed::build(k, n, |kk, c| b[kk * n + c])
    }

    /// The transpose of row-major `b` (`n × k`, so the result is `k × n`).
    pub fn new_transposed(b: &[f32], k: usize, n: usize) -> Packed {
        assert!(b.len() >= k * n);
        Packed::build(k, n, |kk, c| b[c * k + kk])
    }

    /// An LSTM kernel `[rows, 4H]` (gate blocks i, j, f, o) with the columns reordered so that
    /// block `u` holds the four gates of units `16u .. 16u + 16`. `H` must be a multiple of 16.
    pub fn lstm(k: &[f32], rows: usize, hid: usize) -> Packed {
        assert!(hid % 16 == 0 && k.len() >= rows * 4 * hid);
        let g4 = 4 * hid;
        Packed::build(rows, g4, |kk, j| {
            let (u0, g, lane) = (j / BLOCK * 16, (j % BLOCK) / 16, j % 16);
            k[kk * g4 + g * hid + u0 + lane]
        })
    }

    pub fn blocks(&self) -> usize {
        self.n.div_ceil(16).div_ceil(4)
    }

    /// (first column, width, data offset) of block `b`.
    #[inline]
    fn block(&self, b: usize) -> (usize, usize, usize) {
        let n_pad = self.n.div_ceil(16) * 16;
        let c0 = b * BLOCK;
        (c0, BLOCK.min(n_pad - c0), c0 * self.k)
    }
}

/// Whether the AVX-512 kernels run on this machine.
pub fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static OK: OnceLock<bool> = OnceLock::new();
        *OK.get_or_init(|| std::env::var_os("CADENZA_NO_SIMD").is_none() && is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One left-hand operand segment: rows at `a + r·lda`, `k` columns, multiplying packed rows
/// `k0 .. k0 + k`.
#[derive(Clone, Copy)]
pub struct Seg {
    pub a: *const f32,
    pub lda: usize,
    pub k0: usize,
    pub k: usize,
}
unsafe impl Send for Seg {}
unsafe impl Sync for Seg {}

#[cfg(target_arch = "x86_64")]
pub mod avx512 {
    //! The AVX-512 microkernels. Every function requires `avx512f` (check
    //! [`super::simd_available`]) and raw pointers valid for the documented extents.
    use super::{Packed, Seg, EXP_C1, EXP_C2, EXP_HI, EXP_LO, EXP_P, FORGET_BIAS, LOG2E, TANH_P, TANH_SMALL};
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn set1(x: f32) -> __m512 {
        _mm512_set1_ps(x)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn exp(x: __m512) -> __m512 {
        let x = _mm512_min_ps(_mm512_max_ps(x, set1(EXP_LO)), set1(EXP_HI));
        let fx = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(x, set1(LOG2E)));
        let r = _mm512_fnmadd_ps(fx, set1(EXP_C1), x);
        let r = _mm512_fnmadd_ps(fx, set1(EXP_C2), r);
        let mut y = set1(EXP_P[0]);
        y = _mm512_fmadd_ps(y, r, set1(EXP_P[1]));
        y = _mm512_fmadd_ps(y, r, set1(EXP_P[2]));
        y = _mm512_fmadd_ps(y, r, set1(EXP_P[3]));
        y = _mm512_fmadd_ps(y, r, set1(EXP_P[4]));
        y = _mm512_fmadd_ps(y, r, set1(EXP_P[5]));
        let y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, set1(1.0)));
        _mm512_scalef_ps(y, fx)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn sigmoid(x: __m512) -> __m512 {
        let one = set1(1.0);
        _mm512_div_ps(one, _mm512_add_ps(one, exp(_mm512_sub_ps(_mm512_setzero_ps(), x))))
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn tanh(x: __m512) -> __m512 {
        let ax = _mm512_abs_ps(x);
        let z = _mm512_mul_ps(x, x);
        let mut y = set1(TANH_P[0]);
        y = _mm512_fmadd_ps(y, z, set1(TANH_P[1]));
        y = _mm512_fmadd_ps(y, z, set1(TANH_P[2]));
        y = _mm512_fmadd_ps(y, z, set1(TANH_P[3]));
        y = _mm512_fmadd_ps(y, z, set1(TANH_P[4]));
        let small = _mm512_fmadd_ps(_mm512_mul_ps(y, z), x, x);
        let e = exp(_mm512_add_ps(ax, ax));
        let big = _mm512_sub_ps(set1(1.0), _mm512_div_ps(set1(2.0), _mm512_add_ps(e, set1(1.0))));
        let sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(i32::MIN));
        let big = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(big), sign));
        let m = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(ax, set1(TANH_SMALL));
        _mm512_mask_blend_ps(m, big, small)
    }

    /// `acc[r][p] += Σ_k a[r][k] · B[k][16p..16p+16]` over the segments; `b` is the block
    /// start, its rows `P·16` wide.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn mk<const R: usize, const P: usize>(acc: &mut [[__m512; P]; R], segs: &[Seg], b: *const f32) {
        for s in segs {
            let a = s.a;
            let bs = b.add(s.k0 * P * 16);
            let mut kk = 0;
            while kk < s.k {
                let bb = bs.add(kk * P * 16);
                let mut bv = [_mm512_setzero_ps(); P];
                for p in 0..P {
                    bv[p] = _mm512_loadu_ps(bb.add(16 * p));
                }
                for r in 0..R {
                    let av = _mm512_set1_ps(*a.add(r * s.lda + kk));
                    for p in 0..P {
                        acc[r][p] = _mm512_fmadd_ps(av, bv[p], acc[r][p]);
                    }
                }
                kk += 1;
            }
        }
    }

    /// One LSTM step for rows `r0 .. r0 + R` and unit block `ub` (units `16ub ..`): `z` starts
    /// from `init` (row stride `ldi`, gate blocks i, j, f, o of `H` each), adds the segments
    /// times the packed kernel, then the cell: reads `c_in`, writes `c_out` (may alias), `h_out`
    /// (row strides `hid`) and, when not null, the activated gates (row stride `4H`).
    #[inline]
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn cell_rows<const R: usize>(
        r0: usize, ub: usize, hid: usize, init: *const f32, ldi: usize, segs: &[Seg], kp: &Packed, c_in: *const f32, c_out: *mut f32, h_out: *mut f32, gates: *mut f32,
    ) {
        let u0 = ub * 16;
        let mut acc = [[_mm512_setzero_ps(); 4]; R];
        for r in 0..R {
            for g in 0..4 {
                acc[r][g] = _mm512_loadu_ps(init.add((r0 + r) * ldi + g * hid + u0));
            }
        }
        let segs_r: [Seg; 2] = [
            Seg { a: segs[0].a.add(r0 * segs[0].lda), ..segs[0] },
            if segs.len() > 1 { Seg { a: segs[1].a.add(r0 * segs[1].lda), ..segs[1] } } else { Seg { k: 0, ..segs[0] } },
        ];
        let (_, _, off) = kp.block(ub);
        mk::<R, 4>(&mut acc, &segs_r[..segs.len().min(2)], kp.data.as_ptr().add(off));
        for r in 0..R {
            let row = r0 + r;
            let i = sigmoid(acc[r][0]);
            let j = tanh(acc[r][1]);
            let f = sigmoid(_mm512_add_ps(acc[r][2], set1(FORGET_BIAS)));
            let o = sigmoid(acc[r][3]);
            let cp = _mm512_loadu_ps(c_in.add(row * hid + u0));
            let c = _mm512_fmadd_ps(cp, f, _mm512_mul_ps(i, j));
            _mm512_storeu_ps(c_out.add(row * hid + u0), c);
            _mm512_storeu_ps(h_out.add(row * hid + u0), _mm512_mul_ps(tanh(c), o));
            if !gates.is_null() {
                let gp = gates.add(row * 4 * hid + u0);
                _mm512_storeu_ps(gp, i);
                _mm512_storeu_ps(gp.add(hid), j);
                _mm512_storeu_ps(gp.add(2 * hid), f);
                _mm512_storeu_ps(gp.add(3 * hid), o);
            }
        }
    }

    /// [`cell_rows`] over rows `0..b` (groups of 6) for unit blocks `ubs`.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn cell(
        b: usize, ubs: std::ops::Range<usize>, hid: usize, init: *const f32, ldi: usize, segs: &[Seg], kp: &Packed, c_in: *const f32, c_out: *mut f32, h_out: *mut f32, gates: *mut f32,
    ) {
        for ub in ubs.clone() {
            if ldi != 0 && ub + 1 < ubs.end {
                // The next block's `init` lines (a strided gather the hardware prefetcher
                // misses): fetched into L2 while this block computes.
                for row in 0..b {
                    for g in 0..4 {
                        _mm_prefetch::<_MM_HINT_T1>(init.add(row * ldi + g * hid + (ub + 1) * 16) as *const i8);
                    }
                }
            }
            let mut r0 = 0;
            while r0 < b {
                let r = (b - r0).min(6);
                match r {
                    6 => cell_rows::<6>(r0, ub, hid, init, ldi, segs, kp, c_in, c_out, h_out, gates),
                    5 => cell_rows::<5>(r0, ub, hid, init, ldi, segs, kp, c_in, c_out, h_out, gates),
                    4 => cell_rows::<4>(r0, ub, hid, init, ldi, segs, kp, c_in, c_out, h_out, gates),
                    3 => cell_rows::<3>(r0, ub, hid, init, ldi, segs, kp, c_in, c_out, h_out, gates),
                    2 => cell_rows::<2>(r0, ub, hid, init, ldi, segs, kp, c_in, c_out, h_out, gates),
                    _ => cell_rows::<1>(r0, ub, hid, init, ldi, segs, kp, c_in, c_out, h_out, gates),
                }
                r0 += r;
            }
        }
    }

    /// Rows `r0 .. r0 + R` of one column block: the accumulators start from `init` (a row
    /// broadcast), from `out` itself (`from_out`, a later k-chunk) or zero.
    #[inline]
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_rows<const R: usize, const P: usize>(r0: usize, c0: usize, off: usize, n: usize, init: *const f32, from_out: bool, out: *mut f32, ldo: usize, segs: &[Seg], kp: &Packed) {
        let mut acc = [[_mm512_setzero_ps(); P]; R];
        for r in 0..R {
            let src = if from_out { out.add((r0 + r) * ldo) as *const f32 } else { init };
            if src.is_null() {
                continue;
            }
            for p in 0..P {
                let c = c0 + 16 * p;
                acc[r][p] = if c + 16 <= n {
                    _mm512_loadu_ps(src.add(c))
                } else if c < n {
                    _mm512_maskz_loadu_ps(((1u32 << (n - c)) - 1) as u16, src.add(c))
                } else {
                    _mm512_setzero_ps()
                };
            }
        }
        let mut segs_r = [Seg { a: std::ptr::null(), lda: 0, k0: 0, k: 0 }; 2];
        for (d, s) in segs_r.iter_mut().zip(segs) {
            *d = Seg { a: s.a.add(r0 * s.lda), ..*s };
        }
        mk::<R, P>(&mut acc, &segs_r[..segs.len().min(2)], kp.data.as_ptr().add(off));
        for r in 0..R {
            let o = out.add((r0 + r) * ldo);
            for p in 0..P {
                let c = c0 + 16 * p;
                if c + 16 <= n {
                    _mm512_storeu_ps(o.add(c), acc[r][p]);
                } else if c < n {
                    _mm512_mask_storeu_ps(o.add(c), ((1u32 << (n - c)) - 1) as u16, acc[r][p]);
                }
            }
        }
    }

    /// Packed rows per k-chunk of [`gemm`]: a 64-column chunk is 128 KiB, so it stays in L2
    /// while every row group streams it.
    const KC: usize = 512;

    /// `out[r][cols of blocks] = init (a row broadcast to every row, or 0 when null) +
    /// Σ segs · packed` for rows `0..b`, column blocks `blocks`, output row stride `ldo`.
    /// The k-loop runs in chunks of [`KC`] rows, partial sums kept in `out` (exact: the same
    /// f32 additions in the same order).
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn gemm(b: usize, blocks: std::ops::Range<usize>, init: *const f32, out: *mut f32, ldo: usize, segs: &[Seg], kp: &Packed) {
        macro_rules! rows {
            ($p:literal, $r0:expr, $r:expr, $c0:expr, $off:expr, $first:expr, $cs:expr) => {
                match $r {
                    6 => gemm_rows::<6, $p>($r0, $c0, $off, kp.n, init, !$first, out, ldo, $cs, kp),
                    5 => gemm_rows::<5, $p>($r0, $c0, $off, kp.n, init, !$first, out, ldo, $cs, kp),
                    4 => gemm_rows::<4, $p>($r0, $c0, $off, kp.n, init, !$first, out, ldo, $cs, kp),
                    3 => gemm_rows::<3, $p>($r0, $c0, $off, kp.n, init, !$first, out, ldo, $cs, kp),
                    2 => gemm_rows::<2, $p>($r0, $c0, $off, kp.n, init, !$first, out, ldo, $cs, kp),
                    _ => gemm_rows::<1, $p>($r0, $c0, $off, kp.n, init, !$first, out, ldo, $cs, kp),
                }
            };
        }
        for blk in blocks {
            let (c0, w, off) = kp.block(blk);
            let mut kc0 = 0;
            loop {
                let kc1 = (kc0 + KC).min(kp.k);
                // The segments' parts inside packed rows kc0..kc1.
                let mut cs = [Seg { a: std::ptr::null(), lda: 0, k0: 0, k: 0 }; 2];
                let mut ncs = 0;
                for s in segs {
                    let (lo, hi) = (s.k0.max(kc0), (s.k0 + s.k).min(kc1));
                    if lo < hi {
                        cs[ncs] = Seg { a: s.a.add(lo - s.k0), lda: s.lda, k0: lo, k: hi - lo };
                        ncs += 1;
                    }
                }
                let first = kc0 == 0;
                let mut r0 = 0;
                while r0 < b {
                    let r = (b - r0).min(6);
                    match w / 16 {
                        4 => rows!(4, r0, r, c0, off, first, &cs[..ncs]),
                        3 => rows!(3, r0, r, c0, off, first, &cs[..ncs]),
                        2 => rows!(2, r0, r, c0, off, first, &cs[..ncs]),
                        _ => rows!(1, r0, r, c0, off, first, &cs[..ncs]),
                    }
                    r0 += r;
                }
                if kc1 >= kp.k {
                    break;
                }
                kc0 = kc1;
            }
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn fmix32(h: __m512i) -> __m512i {
        let h = _mm512_xor_si512(h, _mm512_srli_epi32::<16>(h));
        let h = _mm512_mullo_epi32(h, _mm512_set1_epi32(0x85EB_CA6Bu32 as i32));
        let h = _mm512_xor_si512(h, _mm512_srli_epi32::<13>(h));
        let h = _mm512_mullo_epi32(h, _mm512_set1_epi32(0xC2B2_AE35u32 as i32));
        _mm512_xor_si512(h, _mm512_srli_epi32::<16>(h))
    }

    /// [`super::apply_dropout`] on whole 16-lane chunks (element numbers from `first`);
    /// returns how many elements it did.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dropout(src: &[f32], dst: &mut [f32], first: u32, seed: u64, th: u32, scale: f32) -> usize {
        let n = src.len().min(dst.len()) / 16 * 16;
        let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let (lo, hi) = (_mm512_set1_epi32(seed as u32 as i32), _mm512_set1_epi32((seed >> 32) as u32 as i32));
        let golden = _mm512_set1_epi32(0x9E37_79B1u32 as i32);
        let thv = _mm512_set1_epi32(th as i32);
        let sc = _mm512_set1_ps(scale);
        let mut k = 0;
        while k < n {
            let idx = _mm512_add_epi32(_mm512_set1_epi32(first.wrapping_add(k as u32) as i32), lanes);
            let h = fmix32(_mm512_xor_si512(_mm512_mullo_epi32(idx, golden), lo));
            let h = fmix32(_mm512_xor_si512(h, hi));
            let keep = _mm512_cmplt_epu32_mask(_mm512_srli_epi32::<8>(h), thv);
            let x = _mm512_loadu_ps(src.as_ptr().add(k));
            _mm512_storeu_ps(dst.as_mut_ptr().add(k), _mm512_maskz_mul_ps(keep, x, sc));
            k += 16;
        }
        n
    }

    /// The elementwise part of one BPTT step for rows `0..b`, units `us` (multiples of 16):
    /// from the gates, the cell states and dL/dh (`dh_out + dh_next`), writes dz (row stride
    /// 4H) and updates `dc` in place.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn bptt_cell(b: usize, us: std::ops::Range<usize>, hid: usize, gates: *const f32, c_prev: *const f32, c_cur: *const f32, dh_out: *const f32, dh_next: *const f32, dc: *mut f32, dz: *mut f32) {
        let one = set1(1.0);
        for r in 0..b {
            let mut u = us.start;
            while u < us.end {
                let k = r * hid + u;
                let g = gates.add(r * 4 * hid + u);
                let (i, j, f, o) = (_mm512_loadu_ps(g), _mm512_loadu_ps(g.add(hid)), _mm512_loadu_ps(g.add(2 * hid)), _mm512_loadu_ps(g.add(3 * hid)));
                let tc = tanh(_mm512_loadu_ps(c_cur.add(k)));
                let dh = _mm512_add_ps(_mm512_loadu_ps(dh_out.add(k)), _mm512_loadu_ps(dh_next.add(k)));
                let dcv = _mm512_add_ps(_mm512_loadu_ps(dc.add(k)), _mm512_mul_ps(_mm512_mul_ps(dh, o), _mm512_fnmadd_ps(tc, tc, one)));
                let d = dz.add(r * 4 * hid + u);
                _mm512_storeu_ps(d, _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(dcv, j), i), _mm512_sub_ps(one, i)));
                _mm512_storeu_ps(d.add(hid), _mm512_mul_ps(_mm512_mul_ps(dcv, i), _mm512_fnmadd_ps(j, j, one)));
                _mm512_storeu_ps(d.add(2 * hid), _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(dcv, _mm512_loadu_ps(c_prev.add(k))), f), _mm512_sub_ps(one, f)));
                _mm512_storeu_ps(d.add(3 * hid), _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(dh, tc), o), _mm512_sub_ps(one, o)));
                _mm512_storeu_ps(dc.add(k), _mm512_mul_ps(dcv, f));
                u += 16;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Dropout masks from a counter-based hash: element `i` of a mask is a pure function of
// (seed, i), so the forward and backward passes (and any thread split) agree without storing it.

/// The keep threshold of `keep_prob` on the 24-bit uniform of [`dropout_keeps`].
#[inline]
pub fn dropout_threshold(keep_prob: f32) -> u32 {
    (keep_prob.clamp(0.0, 1.0) as f64 * (1u64 << 24) as f64).round() as u32
}

#[inline]
fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}

/// Whether element `i` survives dropout: two rounds of MurmurHash3's finaliser over (seed, i)
/// give a uniform `u = k / 2²⁴`, kept when `u < keep_prob`.
#[inline]
pub fn dropout_keeps(seed: u64, i: u64, threshold: u32) -> bool {
    let h = fmix32((i as u32).wrapping_mul(0x9E37_79B1) ^ seed as u32);
    let h = fmix32(h ^ (seed >> 32) as u32);
    (h >> 8) < threshold
}

/// `dst[i] = src[i] · mask_i / keep_prob` (inverted dropout, TensorFlow's scaling), split over
/// the team.
pub fn apply_dropout(src: &[f32], dst: &mut [f32], keep_prob: f32, seed: u64) {
    assert_eq!(src.len(), dst.len());
    assert!(src.len() <= u32::MAX as usize, "dropout: too many elements");
    let th = dropout_threshold(keep_prob);
    let scale = 1.0 / keep_prob;
    let d = SharedMut(dst.as_mut_ptr());
    let len = src.len();
    team_run(&|tid, n, _| {
        let r = part(len, tid, n);
        // SAFETY: each thread writes its own range.
        let out = unsafe { std::slice::from_raw_parts_mut(d.p().add(r.start), r.len()) };
        let mut done = 0;
        #[cfg(target_arch = "x86_64")]
        if simd_available() {
            // SAFETY: AVX-512 checked; the slices bound every access.
            done = unsafe { avx512::dropout(&src[r.clone()], out, r.start as u32, seed, th, scale) };
        }
        for k in done..r.len() {
            let x = src[r.start + k];
            out[k] = if dropout_keeps(seed, (r.start + k) as u64, th) { x * scale } else { 0.0 };
        }
    });
}

// ---------------------------------------------------------------------------------------
// The layer.

/// What the forward pass keeps for the backward pass.
#[derive(Debug, Clone, Default)]
pub struct LstmTape {
    /// Activated gates per step: σ(i), tanh(j), σ(f+1), σ(o): [T, B, 4H].
    pub gates: Vec<f32>,
    /// Cell states c_0..c_T: [T+1, B, H].
    pub c: Vec<f32>,
    /// Hidden states h_0..h_T: [T+1, B, H].
    pub h: Vec<f32>,
}

fn uninit_vec(n: usize) -> Vec<f32> {
    // Every element is written before it is read (callers fill the whole buffer); zeroing
    // first would touch ~1 GB per training step for nothing.
    let mut v = Vec::with_capacity(n);
    // SAFETY: f32 has no invalid bit patterns; see above for the initialisation.
    #[allow(clippy::uninit_vec)]
    unsafe {
        v.set_len(n)
    };
    v
}

/// Runs the recurrence over `t` steps for a batch of `b`. `xw` holds `x·K_x + bias` for every
/// step ([T, B, 4H]); `k_h` is the recurrent half of the kernel ([H, 4H]); `h0`, `c0` are the
/// initial state ([B, H]). Returns h_1..h_T ([T, B, H]) and the tape.
pub fn lstm_forward(xw: &[f32], k_h: &[f32], h0: &[f32], c0: &[f32], t: usize, b: usize, hid: usize) -> (Vec<f32>, LstmTape) {
    let g4 = 4 * hid;
    assert_eq!(xw.len(), t * b * g4, "lstm_forward: xw shape");
    assert_eq!(k_h.len(), hid * g4, "lstm_forward: k_h shape");
    assert!(h0.len() == b * hid && c0.len() == b * hid, "lstm_forward: state shape");
    if simd_available() && hid % 16 == 0 && t > 0 && b > 0 {
        #[cfg(target_arch = "x86_64")]
        return lstm_forward_simd(xw, k_h, h0, c0, t, b, hid);
    }
    lstm_forward_portable(xw, k_h, h0, c0, t, b, hid)
}

#[cfg(target_arch = "x86_64")]
fn lstm_forward_simd(xw: &[f32], k_h: &[f32], h0: &[f32], c0: &[f32], t: usize, b: usize, hid: usize) -> (Vec<f32>, LstmTape) {
    let g4 = 4 * hid;
    let bh = b * hid;
    let kp = Packed::lstm(k_h, hid, hid);
    let mut tape = LstmTape { gates: uninit_vec(t * b * g4), c: uninit_vec((t + 1) * bh), h: uninit_vec((t + 1) * bh) };
    tape.c[..bh].copy_from_slice(c0);
    tape.h[..bh].copy_from_slice(h0);
    let (gp, cp, hp) = (SharedMut(tape.gates.as_mut_ptr()), SharedMut(tape.c.as_mut_ptr()), SharedMut(tape.h.as_mut_ptr()));
    let nub = hid / 16;
    let groups = b.div_ceil(6);
    team_run(&|tid, n, bar| {
        if groups >= n {
            // Enough rows for every thread: split the batch (rows are independent through
            // time), so the threads never wait for each other.
            let gr = part(groups, tid, n);
            let (r0, r1) = (gr.start * 6, (gr.end * 6).min(b));
            if r0 >= r1 {
                return;
            }
            for s in 0..t {
                let seg = Seg { a: unsafe { hp.p().add(s * bh + r0 * hid) }, lda: hid, k0: 0, k: hid };
                // SAFETY: this thread reads and writes only rows r0..r1 of every buffer.
                unsafe {
                    avx512::cell(
                        r1 - r0,
                        0..nub,
                        hid,
                        xw.as_ptr().add(s * b * g4 + r0 * g4),
                        g4,
                        &[seg],
                        &kp,
                        cp.p().add(s * bh + r0 * hid),
                        cp.p().add((s + 1) * bh + r0 * hid),
                        hp.p().add((s + 1) * bh + r0 * hid),
                        gp.p().add(s * b * g4 + r0 * g4),
                    );
                }
            }
            return;
        }
        let ubs = part(nub, tid, n);
        for s in 0..t {
            let seg = Seg { a: unsafe { hp.p().add(s * bh) }, lda: hid, k0: 0, k: hid };
            // SAFETY: this thread writes only its units of step s + 1 (c, h) and of step s's
            // gates; everyone reads h_s, complete since the previous barrier.
            unsafe {
                avx512::cell(b, ubs.clone(), hid, xw.as_ptr().add(s * b * g4), g4, &[seg], &kp, cp.p().add(s * bh), cp.p().add((s + 1) * bh), hp.p().add((s + 1) * bh), gp.p().add(s * b * g4));
            }
            bar.wait();
        }
    });
    let out = tape.h[bh..].to_vec();
    (out, tape)
}

fn lstm_forward_portable(xw: &[f32], k_h: &[f32], h0: &[f32], c0: &[f32], t: usize, b: usize, hid: usize) -> (Vec<f32>, LstmTape) {
    let g4 = 4 * hid;
    let bh = b * hid;
    let mut tape = LstmTape { gates: vec![0.0; t * b * g4], c: vec![0.0; (t + 1) * bh], h: vec![0.0; (t + 1) * bh] };
    tape.c[..bh].copy_from_slice(c0);
    tape.h[..bh].copy_from_slice(h0);
    let mut z = vec![0.0f32; b * g4];
    for s in 0..t {
        z.copy_from_slice(&xw[s * b * g4..(s + 1) * b * g4]);
        let (hs, _) = tape.h.split_at(bh * (s + 1));
        sgemm(b, g4, hid, &mut z, &hs[bh * s..], false, k_h, false, true);
        let gates = &mut tape.gates[s * b * g4..(s + 1) * b * g4];
        let (c_prev, c_next) = tape.c.split_at_mut(bh * (s + 1));
        let c_prev = &c_prev[bh * s..];
        let c_next = &mut c_next[..bh];
        let h_next = &mut tape.h[bh * (s + 1)..bh * (s + 2)];
        for r in 0..b {
            let zr = &z[r * g4..(r + 1) * g4];
            let gr = &mut gates[r * g4..(r + 1) * g4];
            for u in 0..hid {
                let i = sigmoid(zr[u]);
                let j = tanh_approx(zr[hid + u]);
                let f = sigmoid(zr[2 * hid + u] + FORGET_BIAS);
                let o = sigmoid(zr[3 * hid + u]);
                let c = c_prev[r * hid + u] * f + i * j;
                c_next[r * hid + u] = c;
                h_next[r * hid + u] = tanh_approx(c) * o;
                gr[u] = i;
                gr[hid + u] = j;
                gr[2 * hid + u] = f;
                gr[3 * hid + u] = o;
            }
        }
    }
    let out = tape.h[bh..].to_vec();
    (out, tape)
}

/// Gradients of one LSTM layer.
pub struct LstmGrads {
    /// dL/d(x·K_x + bias) for every step: [T, B, 4H] (so dK_x = xᵀ·dz and dbias = Σ dz).
    pub dxw: Vec<f32>,
    /// dL/dK_h: [H, 4H].
    pub dk_h: Vec<f32>,
    pub dh0: Vec<f32>,
    pub dc0: Vec<f32>,
}

/// Backpropagation through time. `dh_out` is dL/dh_1..h_T ([T, B, H]).
pub fn lstm_backward(dh_out: &[f32], k_h: &[f32], tape: &LstmTape, t: usize, b: usize, hid: usize) -> LstmGrads {
    let bh = b * hid;
    assert_eq!(dh_out.len(), t * bh, "lstm_backward: dh shape");
    assert_eq!(k_h.len(), hid * 4 * hid, "lstm_backward: k_h shape");
    assert!(tape.gates.len() == t * b * 4 * hid && tape.c.len() == (t + 1) * bh && tape.h.len() == (t + 1) * bh, "lstm_backward: tape shape");
    if simd_available() && hid % 16 == 0 && t > 0 && b > 0 {
        #[cfg(target_arch = "x86_64")]
        return lstm_backward_simd(dh_out, k_h, tape, t, b, hid);
    }
    lstm_backward_portable(dh_out, k_h, tape, t, b, hid)
}

#[cfg(target_arch = "x86_64")]
fn lstm_backward_simd(dh_out: &[f32], k_h: &[f32], tape: &LstmTape, t: usize, b: usize, hid: usize) -> LstmGrads {
    let g4 = 4 * hid;
    let bh = b * hid;
    // dh_{s} = dz_s · K_hᵀ: K_hᵀ is [4H, H], its column blocks are blocks of 64 units.
    let kt = Packed::new_transposed(k_h, g4, hid);
    let mut dz = uninit_vec(t * b * g4);
    let mut dh_next = vec![0.0f32; bh];
    let mut dc = vec![0.0f32; bh];
    let (dzp, dhp, dcp) = (SharedMut(dz.as_mut_ptr()), SharedMut(dh_next.as_mut_ptr()), SharedMut(dc.as_mut_ptr()));
    let nblk = kt.blocks();
    let groups = b.div_ceil(6);
    team_run(&|tid, n, bar| {
        if groups >= n {
            // Split the batch: each thread runs BPTT for its rows alone, no barriers.
            let gr = part(groups, tid, n);
            let (r0, r1) = (gr.start * 6, (gr.end * 6).min(b));
            if r0 >= r1 {
                return;
            }
            for s in (0..t).rev() {
                // SAFETY: this thread reads and writes only rows r0..r1 of every buffer.
                unsafe {
                    avx512::bptt_cell(
                        r1 - r0,
                        0..hid,
                        hid,
                        tape.gates.as_ptr().add(s * b * g4 + r0 * g4),
                        tape.c.as_ptr().add(s * bh + r0 * hid),
                        tape.c.as_ptr().add((s + 1) * bh + r0 * hid),
                        dh_out.as_ptr().add(s * bh + r0 * hid),
                        dhp.p().add(r0 * hid),
                        dcp.p().add(r0 * hid),
                        dzp.p().add(s * b * g4 + r0 * g4),
                    );
                    let seg = Seg { a: dzp.p().add(s * b * g4 + r0 * g4), lda: g4, k0: 0, k: g4 };
                    avx512::gemm(r1 - r0, 0..nblk, std::ptr::null(), dhp.p().add(r0 * hid), hid, &[seg], &kt);
                }
            }
            return;
        }
        let blks = part(nblk, tid, n);
        let us = (blks.start * BLOCK).min(hid)..(blks.end * BLOCK).min(hid);
        for s in (0..t).rev() {
            // SAFETY: the elementwise part touches only this thread's units (dz columns of its
            // units, dc, and dh_next, which only this thread writes); the GEMM reads all of dz_s
            // (complete after the barrier) and writes this thread's units of dh_next.
            unsafe {
                avx512::bptt_cell(
                    b,
                    us.clone(),
                    hid,
                    tape.gates.as_ptr().add(s * b * g4),
                    tape.c.as_ptr().add(s * bh),
                    tape.c.as_ptr().add((s + 1) * bh),
                    dh_out.as_ptr().add(s * bh),
                    dhp.p(),
                    dcp.p(),
                    dzp.p().add(s * b * g4),
                );
            }
            bar.wait();
            let seg = Seg { a: unsafe { dzp.p().add(s * b * g4) }, lda: g4, k0: 0, k: g4 };
            unsafe { avx512::gemm(b, blks.clone(), std::ptr::null(), dhp.p(), hid, &[seg], &kt) };
        }
    });
    // dK_h = Σ_s h_sᵀ dz_s over all T·B rows at once: [H, T·B] × [T·B, 4H].
    let mut dk_h = uninit_vec(hid * g4);
    sgemm(hid, g4, t * b, &mut dk_h, &tape.h[..t * bh], true, &dz, false, false);
    LstmGrads { dxw: dz, dk_h, dh0: dh_next, dc0: dc }
}

fn lstm_backward_portable(dh_out: &[f32], k_h: &[f32], tape: &LstmTape, t: usize, b: usize, hid: usize) -> LstmGrads {
    let g4 = 4 * hid;
    let bh = b * hid;
    let mut dz = vec![0.0f32; t * b * g4];
    let mut dh_next = vec![0.0f32; bh];
    let mut dc_next = vec![0.0f32; bh];
    for s in (0..t).rev() {
        let gates = &tape.gates[s * b * g4..(s + 1) * b * g4];
        let c_prev = &tape.c[s * bh..(s + 1) * bh];
        let c_cur = &tape.c[(s + 1) * bh..(s + 2) * bh];
        let dzs = &mut dz[s * b * g4..(s + 1) * b * g4];
        for r in 0..b {
            for u in 0..hid {
                let k = r * hid + u;
                let g = &gates[r * g4..(r + 1) * g4];
                let (i, j, f, o) = (g[u], g[hid + u], g[2 * hid + u], g[3 * hid + u]);
                let tc = tanh_approx(c_cur[k]);
                let dh = dh_out[s * bh + k] + dh_next[k];
                let dc = dc_next[k] + dh * o * (1.0 - tc * tc);
                let d = &mut dzs[r * g4..(r + 1) * g4];
                d[u] = dc * j * i * (1.0 - i);
                d[hid + u] = dc * i * (1.0 - j * j);
                d[2 * hid + u] = dc * c_prev[k] * f * (1.0 - f);
                d[3 * hid + u] = dh * tc * o * (1.0 - o);
                dc_next[k] = dc * f;
            }
        }
        // dh_{s} = dz_s · K_hᵀ
        sgemm(b, hid, g4, &mut dh_next, dzs, false, k_h, true, false);
    }
    let mut dk_h = vec![0.0f32; hid * g4];
    sgemm(hid, g4, t * b, &mut dk_h, &tape.h[..t * bh], true, &dz, false, false);
    LstmGrads { dxw: dz, dk_h, dh0: dh_next, dc0: dc_next }
}

/// One step for inference (no tape): updates `h`, `c` ([B, H]) in place from `xw` ([B, 4H]).
/// The portable path; [`crate::Stepper`] runs the packed, multi-threaded one.
pub fn lstm_step(xw: &[f32], k_h: &[f32], h: &mut [f32], c: &mut [f32], b: usize, hid: usize, z: &mut Vec<f32>) {
    let g4 = 4 * hid;
    z.clear();
    z.extend_from_slice(&xw[..b * g4]);
    if b == 1 {
        gemv_acc(h, k_h, hid, g4, z);
    } else {
        sgemm(b, g4, hid, z, h, false, k_h, false, true);
    }
    for r in 0..b {
        let zr = &z[r * g4..(r + 1) * g4];
        for u in 0..hid {
            let i = sigmoid(zr[u]);
            let j = tanh_approx(zr[hid + u]);
            let f = sigmoid(zr[2 * hid + u] + FORGET_BIAS);
            let o = sigmoid(zr[3 * hid + u]);
            let cc = c[r * hid + u] * f + i * j;
            c[r * hid + u] = cc;
            h[r * hid + u] = tanh_approx(cc) * o;
        }
    }
}

/// `y[n] += x[k] · w[k×n]` for a single row: a GEMV the batch-1 sampling path uses, because
/// a GEMM kernel tuned for big blocks wastes most of its time packing a 1-row operand.
pub fn gemv_acc(x: &[f32], w: &[f32], k: usize, n: usize, y: &mut [f32]) {
    for (kk, &xv) in x[..k].iter().enumerate() {
        if xv == 0.0 {
            continue;
        }
        let row = &w[kk * n..(kk + 1) * n];
        for (yv, &wv) in y[..n].iter_mut().zip(row) {
            *yv += xv * wv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn rand_vec(rng: &mut impl Rng, n: usize, s: f32) -> Vec<f32> {
        (0..n).map(|_| rng.gen_range(-s..s)).collect()
    }

    /// Loss = Σ w ⊙ h_out for fixed random w; its gradient by BPTT vs central differences (f64
    /// accumulation of the loss keeps the check sharp in f32).
    fn grad_check(t: usize, b: usize, h: usize, seed: u64) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let xw = rand_vec(&mut rng, t * b * 4 * h, 1.0);
        let kh = rand_vec(&mut rng, h * 4 * h, 0.7);
        let h0 = rand_vec(&mut rng, b * h, 0.5);
        let c0 = rand_vec(&mut rng, b * h, 0.5);
        let w = rand_vec(&mut rng, t * b * h, 1.0);
        let loss = |xw: &[f32], kh: &[f32], h0: &[f32], c0: &[f32]| -> f64 {
            let (out, _) = lstm_forward(xw, kh, h0, c0, t, b, h);
            out.iter().zip(&w).map(|(a, b)| (*a as f64) * (*b as f64)).sum()
        };
        let (_, tape) = lstm_forward(&xw, &kh, &h0, &c0, t, b, h);
        let g = lstm_backward(&w, &kh, &tape, t, b, h);
        let eps = 1e-2f32;
        let check = |name: &str, analytic: &[f32], f: &dyn Fn(usize, f32) -> f64, n: usize| {
            let mut worst = 0.0f64;
            for i in 0..n {
                let num = (f(i, eps) - f(i, -eps)) / (2.0 * eps as f64);
                let err = (num - analytic[i] as f64).abs() / (1.0 + num.abs());
                worst = worst.max(err);
            }
            assert!(worst < 2e-3, "{name}: worst relative error {worst}");
        };
        check("xw", &g.dxw, &|i, d| { let mut v = xw.clone(); v[i] += d; loss(&v, &kh, &h0, &c0) }, xw.len());
        check("k_h", &g.dk_h, &|i, d| { let mut v = kh.clone(); v[i] += d; loss(&xw, &v, &h0, &c0) }, kh.len());
        check("h0", &g.dh0, &|i, d| { let mut v = h0.clone(); v[i] += d; loss(&xw, &kh, &v, &c0) }, h0.len());
        check("c0", &g.dc0, &|i, d| { let mut v = c0.clone(); v[i] += d; loss(&xw, &kh, &h0, &v) }, c0.len());
    }

    #[test]
    fn lstm_gradients_match_finite_differences() {
        grad_check(5, 3, 4, 1);
    }

    /// The same check on the packed AVX-512 path (H a multiple of 16, a row tail of 7 = 6 + 1).
    #[test]
    fn packed_lstm_gradients_match_finite_differences() {
        grad_check(3, 7, 16, 3);
    }

    /// Batches of 13 rows split over threads by rows, 5 rows by units (with two threads).
    #[test]
    fn packed_path_matches_portable() {
        packed_matches_portable(13);
        packed_matches_portable(5);
    }

    fn packed_matches_portable(b: usize) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let (t, h) = (6, 64);
        let xw = rand_vec(&mut rng, t * b * 4 * h, 2.0);
        let kh = rand_vec(&mut rng, h * 4 * h, 0.3);
        let h0 = rand_vec(&mut rng, b * h, 0.5);
        let c0 = rand_vec(&mut rng, b * h, 0.5);
        let dh = rand_vec(&mut rng, t * b * h, 1.0);
        let (o1, tape1) = lstm_forward(&xw, &kh, &h0, &c0, t, b, h);
        let (o2, tape2) = lstm_forward_portable(&xw, &kh, &h0, &c0, t, b, h);
        let close = |a: &[f32], e: &[f32], tol: f32, what: &str| {
            let worst = a.iter().zip(e).map(|(a, e)| (a - e).abs() / (1.0 + e.abs())).fold(0.0f32, f32::max);
            assert!(worst < tol, "{what}: {worst}");
        };
        close(&o1, &o2, 1e-5, "h");
        close(&tape1.c, &tape2.c, 1e-5, "c");
        close(&tape1.gates, &tape2.gates, 1e-5, "gates");
        let g1 = lstm_backward(&dh, &kh, &tape1, t, b, h);
        let g2 = lstm_backward_portable(&dh, &kh, &tape2, t, b, h);
        close(&g1.dxw, &g2.dxw, 1e-4, "dxw");
        close(&g1.dk_h, &g2.dk_h, 1e-4, "dk_h");
        close(&g1.dh0, &g2.dh0, 1e-4, "dh0");
        close(&g1.dc0, &g2.dc0, 1e-4, "dc0");
    }

    #[test]
    fn transcendentals_are_close_to_libm() {
        let mut worst = [0.0f64; 3];
        let mut x = -30.0f32;
        while x < 30.0 {
            let e = (x as f64).exp();
            worst[0] = worst[0].max(((exp_approx(x) as f64) - e).abs() / e);
            worst[1] = worst[1].max(((sigmoid(x) as f64) - 1.0 / (1.0 + (-x as f64).exp())).abs());
            worst[2] = worst[2].max(((tanh_approx(x) as f64) - (x as f64).tanh()).abs());
            x += 0.000_37;
        }
        assert!(worst[0] < 3e-7 && worst[1] < 2e-7 && worst[2] < 2e-7, "{worst:?}");
        assert_eq!(sigmoid(-200.0), 0.0f32.max(sigmoid(-200.0)));
        assert_eq!(sigmoid(200.0), 1.0);
        assert_eq!(tanh_approx(200.0), 1.0);
        assert_eq!(tanh_approx(-200.0), -1.0);
        #[cfg(target_arch = "x86_64")]
        if simd_available() {
            use std::arch::x86_64::*;
            let xs: Vec<f32> = (0..4096).map(|i| (i as f32 - 2048.0) * 0.0123).collect();
            for ch in xs.chunks(16) {
                let mut out = [[0.0f32; 16]; 3];
                unsafe {
                    let v = _mm512_loadu_ps(ch.as_ptr());
                    _mm512_storeu_ps(out[0].as_mut_ptr(), avx512::exp(v));
                    _mm512_storeu_ps(out[1].as_mut_ptr(), avx512::sigmoid(v));
                    _mm512_storeu_ps(out[2].as_mut_ptr(), avx512::tanh(v));
                }
                for (l, &x) in ch.iter().enumerate() {
                    let e = exp_approx(x);
                    assert!((out[0][l] - e).abs() <= 2e-7 * e, "exp {x}");
                    assert!((out[1][l] - sigmoid(x)).abs() <= 2e-7, "sigmoid {x}");
                    assert!((out[2][l] - tanh_approx(x)).abs() <= 2e-7, "tanh {x}");
                }
            }
        }
    }

    #[test]
    fn packed_gemm_matches_sgemm() {
        if !simd_available() {
            return;
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for &(m, k, n) in &[(1usize, 37usize, 388usize), (16, 512, 388), (7, 64, 100), (13, 33, 16)] {
            let a = rand_vec(&mut rng, m * k, 1.0);
            let bm = rand_vec(&mut rng, k * n, 1.0);
            let bias = rand_vec(&mut rng, n, 1.0);
            let mut want = bias.repeat(m);
            sgemm(m, n, k, &mut want, &a, false, &bm, false, true);
            let p = Packed::new(&bm, k, n);
            let mut got = vec![f32::NAN; m * n];
            let seg = Seg { a: a.as_ptr(), lda: k, k0: 0, k };
            #[cfg(target_arch = "x86_64")]
            unsafe {
                avx512::gemm(m, 0..p.blocks(), bias.as_ptr(), got.as_mut_ptr(), n, &[seg], &p)
            };
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-4 * (1.0 + w.abs()), "{m}x{k}x{n}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn dropout_simd_equals_scalar_and_keeps_the_fraction() {
        let src: Vec<f32> = (0..100_037).map(|i| i as f32 * 0.5 - 3.0).collect();
        let mut dst = vec![f32::NAN; src.len()];
        apply_dropout(&src, &mut dst, 0.7, 0x1234_5678_9abc_def0);
        let th = dropout_threshold(0.7);
        let mut kept = 0;
        for (i, (&x, &y)) in src.iter().zip(&dst).enumerate() {
            let k = dropout_keeps(0x1234_5678_9abc_def0, i as u64, th);
            kept += k as usize;
            assert_eq!(y, if k { x * (1.0 / 0.7) } else { 0.0 }, "{i}");
        }
        let frac = kept as f64 / src.len() as f64;
        assert!((frac - 0.7).abs() < 0.01, "{frac}");
    }

    #[test]
    fn step_equals_forward() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let (t, b, h) = (4, 2, 8);
        let xw = rand_vec(&mut rng, t * b * 4 * h, 1.0);
        let kh = rand_vec(&mut rng, h * 4 * h, 0.5);
        let (out, _) = lstm_forward(&xw, &kh, &vec![0.0; b * h], &vec![0.0; b * h], t, b, h);
        for bb in [1usize, 2] {
            let (mut hs, mut cs, mut z) = (vec![0.0; bb * h], vec![0.0; bb * h], Vec::new());
            for s in 0..t {
                // rows 0..bb of step s
                let x: Vec<f32> = xw[s * b * 4 * h..s * b * 4 * h + bb * 4 * h].to_vec();
                lstm_step(&x, &kh, &mut hs, &mut cs, bb, h, &mut z);
                for (a, e) in hs.iter().zip(&out[s * b * h..s * b * h + bb * h]) {
                    assert!((a - e).abs() < 1e-6);
                }
            }
        }
    }
}
