//! The microkernels, written once for every instruction set (generic over [`pulp::Simd`];
//! `L` below is the level's lane count, `R` its row group).
//!
//! Every function is `#[inline(always)]` so that it is compiled inside the target-feature
//! function [`super::simd::dispatch`] enters, and takes raw pointers valid for the extents it
//! documents: the callers (the layer drivers) check the shapes.

use super::packed::{groups, Packed, Seg};
use super::simd::rows_for_lanes;
use super::vmath::{ld, sigmoid_v, st, tanh_v};
use super::FORGET_BIAS;
use pulp::{MemMask, Simd};

/// `acc[r][p] += Σ_k a[r][k] · B[k][L·p .. L·p + L]` over the segments; `b` is the block
/// start, its rows `P·L` wide. The k-order is fixed, so every row's sums are the same f32
/// additions whatever the thread split.
///
/// # Safety
/// Every segment must hold `R` rows of `k` floats; `b` the block's rows `k0 .. k0 + k`.
#[inline(always)]
unsafe fn mk<S: Simd, const R: usize, const P: usize>(s: S, acc: &mut [[S::f32s; P]; R], segs: &[Seg], b: *const f32) {
    let l = S::F32_LANES;
    // With 32 vector registers (AVX-512, NEON) the packed row's P vectors stay in registers
    // beside the R·P accumulators; AVX2's 16 cannot hold them and R broadcasts (measured:
    // the other order is 2× slower on each), so there the broadcasts stay and the packed
    // vectors stream.
    let b_first = l != 8;
    for sg in segs {
        // SAFETY: the caller's contract bounds every offset below.
        unsafe {
            let bs = b.add(sg.k0 * P * l);
            for kk in 0..sg.k {
                let bb = bs.add(kk * P * l);
                if b_first {
                    // The packed row's P vectors in registers, then one broadcast per row.
                    let mut bv = [s.splat_f32s(0.0); P];
                    for (p, v) in bv.iter_mut().enumerate() {
                        *v = ld::<S>(bb.add(l * p));
                    }
                    for r in 0..R {
                        let av = s.splat_f32s(*sg.a.add(r * sg.lda + kk));
                        for p in 0..P {
                            acc[r][p] = s.mul_add_f32s(av, bv[p], acc[r][p]);
                        }
                    }
                } else {
                    // The R broadcasts in registers, then one packed vector at a time.
                    let mut av = [s.splat_f32s(0.0); R];
                    for (r, a) in av.iter_mut().enumerate() {
                        *a = s.splat_f32s(*sg.a.add(r * sg.lda + kk));
                    }
                    for p in 0..P {
                        let bv = ld::<S>(bb.add(l * p));
                        for r in 0..R {
                            acc[r][p] = s.mul_add_f32s(av[r], bv, acc[r][p]);
                        }
                    }
                }
            }
        }
    }
}

/// The (at most two) segments from row `r0` on, and how many there are.
///
/// # Safety
/// Row `r0` must be inside every segment.
#[inline(always)]
unsafe fn from_row(segs: &[Seg], r0: usize) -> ([Seg; 2], usize) {
    let mut out = [Seg::EMPTY; 2];
    for (d, sg) in out.iter_mut().zip(segs) {
        // SAFETY: the caller's contract.
        *d = unsafe { sg.from_row(r0) };
    }
    (out, segs.len().min(2))
}

/// The pointers of one LSTM cell step (row strides: `ldi` for `init`, `H` for the states, `4H`
/// for the gates).
#[derive(Clone, Copy)]
pub(crate) struct CellIo {
    /// The pre-activations' start: gate blocks i, j, f, o of `H` each per row (`ldi` = 0: one
    /// row for all, e.g. a bias).
    pub init: *const f32,
    pub ldi: usize,
    pub c_in: *const f32,
    /// May alias `c_in` (each element is read before it is written).
    pub c_out: *mut f32,
    pub h_out: *mut f32,
    /// The activated gates, or null.
    pub gates: *mut f32,
}

/// One LSTM step for rows `r0 .. r0 + R` and unit block `ub` (units `L·ub ..`): `z` starts from
/// `init`, adds the segments times the packed kernel, then the cell, with the accumulators
/// still in registers.
///
/// # Safety
/// See [`cell`].
#[inline(always)]
unsafe fn cell_rows<S: Simd, const R: usize>(
    s: S,
    r0: usize,
    ub: usize,
    hid: usize,
    io: CellIo,
    segs: &[Seg],
    kp: &Packed,
) {
    let l = S::F32_LANES;
    let u0 = ub * l;
    // SAFETY: the caller's contract (see `cell`) bounds every access.
    unsafe {
        let mut acc = [[s.splat_f32s(0.0); 4]; R];
        for (r, a) in acc.iter_mut().enumerate() {
            for (g, v) in a.iter_mut().enumerate() {
                *v = ld::<S>(io.init.add((r0 + r) * io.ldi + g * hid + u0));
            }
        }
        let (segs_r, nseg) = from_row(segs, r0);
        let (_, _, off) = kp.block(ub);
        mk::<S, R, 4>(s, &mut acc, &segs_r[..nseg], kp.ptr().add(off));
        let fb = s.splat_f32s(FORGET_BIAS);
        for (r, a) in acc.iter().enumerate() {
            let row = r0 + r;
            let i = sigmoid_v(s, a[0]);
            let j = tanh_v(s, a[1]);
            let f = sigmoid_v(s, s.add_f32s(a[2], fb));
            let o = sigmoid_v(s, a[3]);
            let cp = ld::<S>(io.c_in.add(row * hid + u0));
            let c = s.mul_add_f32s(cp, f, s.mul_f32s(i, j));
            st::<S>(io.c_out.add(row * hid + u0), c);
            st::<S>(io.h_out.add(row * hid + u0), s.mul_f32s(tanh_v(s, c), o));
            if !io.gates.is_null() {
                let gp = io.gates.add(row * 4 * hid + u0);
                st::<S>(gp, i);
                st::<S>(gp.add(hid), j);
                st::<S>(gp.add(2 * hid), f);
                st::<S>(gp.add(3 * hid), o);
            }
        }
    }
}

/// [`cell_rows`] over rows `0..b` (row groups) for unit blocks `ubs`: unit block outermost, so
/// one block of the packed kernel stays in cache while every row group streams it.
///
/// # Safety
/// `kp` is [`Packed::lstm`] of this level for `hid` units, its rows the segments' `k0 .. k0 + k`;
/// every segment and `init` (unless `ldi` = 0) hold `b` rows, the states `b` rows of `hid`, the
/// gates (when not null) `b` rows of `4·hid`.
#[inline(always)]
pub(crate) unsafe fn cell<S: Simd>(
    s: S,
    b: usize,
    ubs: std::ops::Range<usize>,
    hid: usize,
    io: CellIo,
    segs: &[Seg],
    kp: &Packed,
) {
    let l = S::F32_LANES;
    debug_assert_eq!(kp.lanes(), l);
    for ub in ubs.clone() {
        #[cfg(target_arch = "x86_64")]
        if io.ldi != 0 && ub + 1 < ubs.end {
            // The next block's `init` lines (a strided gather the hardware prefetcher misses):
            // fetched into L2 while this block computes. SSE is part of x86-64.
            for row in 0..b {
                for g in 0..4 {
                    // SAFETY: a prefetch does not fault; the address is inside `init` anyway.
                    unsafe {
                        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(
                            io.init.add(row * io.ldi + g * hid + (ub + 1) * l) as *const i8,
                        )
                    };
                }
            }
        }
        for (r0, r) in groups(b, rows_for_lanes(l)) {
            // SAFETY: the caller's contract; `r` rows from `r0` are inside the batch.
            unsafe {
                match r {
                    6 => cell_rows::<S, 6>(s, r0, ub, hid, io, segs, kp),
                    5 => cell_rows::<S, 5>(s, r0, ub, hid, io, segs, kp),
                    4 => cell_rows::<S, 4>(s, r0, ub, hid, io, segs, kp),
                    3 => cell_rows::<S, 3>(s, r0, ub, hid, io, segs, kp),
                    2 => cell_rows::<S, 2>(s, r0, ub, hid, io, segs, kp),
                    _ => cell_rows::<S, 1>(s, r0, ub, hid, io, segs, kp),
                }
            }
        }
    }
}

/// The first `m` lanes.
#[inline(always)]
fn head<S: Simd>(s: S, m: usize) -> MemMask<S::m32s> {
    s.mask_between_m32s(0, m as u32)
}

/// Rows `r0 .. r0 + R` of one column block: the accumulators start from `init` (a row
/// broadcast), from `out` itself (`from_out`, a later k-chunk) or zero.
///
/// # Safety
/// See [`gemm`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_rows<S: Simd, const R: usize, const P: usize>(
    s: S,
    r0: usize,
    c0: usize,
    off: usize,
    n: usize,
    init: *const f32,
    from_out: bool,
    out: *mut f32,
    ldo: usize,
    segs: &[Seg],
    kp: &Packed,
) {
    let l = S::F32_LANES;
    // SAFETY: the caller's contract; columns at or past `n` are neither read nor written.
    unsafe {
        let mut acc = [[s.splat_f32s(0.0); P]; R];
        for (r, a) in acc.iter_mut().enumerate() {
            let src = if from_out { out.add((r0 + r) * ldo) as *const f32 } else { init };
            if src.is_null() {
                continue;
            }
            for (p, v) in a.iter_mut().enumerate() {
                let c = c0 + l * p;
                if c + l <= n {
                    *v = ld::<S>(src.add(c));
                } else if c < n {
                    *v = s.mask_load_ptr_f32s(head(s, n - c), src.add(c));
                }
            }
        }
        let (segs_r, nseg) = from_row(segs, r0);
        mk::<S, R, P>(s, &mut acc, &segs_r[..nseg], kp.ptr().add(off));
        for (r, a) in acc.iter().enumerate() {
            let o = out.add((r0 + r) * ldo);
            for (p, &v) in a.iter().enumerate() {
                let c = c0 + l * p;
                if c + l <= n {
                    st::<S>(o.add(c), v);
                } else if c < n {
                    s.mask_store_ptr_f32s(head(s, n - c), o.add(c), v);
                }
            }
        }
    }
}

/// Packed rows per k-chunk of [`gemm`]: a 16-lane chunk is 128 KiB, so it stays in L2 while
/// every row group streams it.
const KC: usize = 512;

/// `out[r][cols of blocks] = init (a row broadcast to every row, or 0 when null) +
/// Σ segs · packed` for rows `0..b`, column blocks `blocks`, output row stride `ldo`. The k-loop
/// runs in chunks of [`KC`] rows, partial sums kept in `out` (exact: the same f32 additions in
/// the same order).
///
/// # Safety
/// `kp` packed for this level; the segments hold `b` rows covering packed rows `0..kp.k`
/// between them; `init` (when not null) `kp.n` floats; `out` `b` rows of stride `ldo ≥ kp.n`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm<S: Simd>(
    s: S,
    b: usize,
    blocks: std::ops::Range<usize>,
    init: *const f32,
    out: *mut f32,
    ldo: usize,
    segs: &[Seg],
    kp: &Packed,
) {
    let l = S::F32_LANES;
    debug_assert_eq!(kp.lanes(), l);
    macro_rules! rows {
        ($p:literal, $r0:expr, $r:expr, $c0:expr, $off:expr, $first:expr, $cs:expr) => {
            match $r {
                6 => gemm_rows::<S, 6, $p>(s, $r0, $c0, $off, kp.n, init, !$first, out, ldo, $cs, kp),
                5 => gemm_rows::<S, 5, $p>(s, $r0, $c0, $off, kp.n, init, !$first, out, ldo, $cs, kp),
                4 => gemm_rows::<S, 4, $p>(s, $r0, $c0, $off, kp.n, init, !$first, out, ldo, $cs, kp),
                3 => gemm_rows::<S, 3, $p>(s, $r0, $c0, $off, kp.n, init, !$first, out, ldo, $cs, kp),
                2 => gemm_rows::<S, 2, $p>(s, $r0, $c0, $off, kp.n, init, !$first, out, ldo, $cs, kp),
                _ => gemm_rows::<S, 1, $p>(s, $r0, $c0, $off, kp.n, init, !$first, out, ldo, $cs, kp),
            }
        };
    }
    for blk in blocks {
        let (c0, w, off) = kp.block(blk);
        let mut kc0 = 0;
        loop {
            let kc1 = (kc0 + KC).min(kp.k);
            // The segments' parts inside packed rows kc0..kc1.
            let mut cs = [Seg::EMPTY; 2];
            let mut ncs = 0;
            for sg in segs {
                let (lo, hi) = (sg.k0.max(kc0), (sg.k0 + sg.k).min(kc1));
                if lo < hi {
                    // SAFETY: column `lo − k0` is inside the segment.
                    cs[ncs] = Seg { a: unsafe { sg.a.add(lo - sg.k0) }, lda: sg.lda, k0: lo, k: hi - lo };
                    ncs += 1;
                }
            }
            let first = kc0 == 0;
            for (r0, r) in groups(b, rows_for_lanes(l)) {
                // SAFETY: the caller's contract.
                unsafe {
                    match w / l {
                        4 => rows!(4, r0, r, c0, off, first, &cs[..ncs]),
                        3 => rows!(3, r0, r, c0, off, first, &cs[..ncs]),
                        2 => rows!(2, r0, r, c0, off, first, &cs[..ncs]),
                        _ => rows!(1, r0, r, c0, off, first, &cs[..ncs]),
                    }
                }
            }
            if kc1 >= kp.k {
                break;
            }
            kc0 = kc1;
        }
    }
}

/// MurmurHash3's 32-bit finaliser on every lane.
#[inline(always)]
fn fmix32<S: Simd>(s: S, h: S::u32s) -> S::u32s {
    let shr = |h, k: u32| s.wrapping_dyn_shr_u32s(h, s.splat_u32s(k));
    let h = s.xor_u32s(h, shr(h, 16));
    let h = s.mul_u32s(h, s.splat_u32s(0x85EB_CA6B));
    let h = s.xor_u32s(h, shr(h, 13));
    let h = s.mul_u32s(h, s.splat_u32s(0xC2B2_AE35));
    s.xor_u32s(h, shr(h, 16))
}

/// [`super::apply_dropout`] on whole vectors (element numbers from `first`); returns how many
/// elements it did (the caller does the tail).
#[inline(always)]
pub(crate) fn dropout<S: Simd>(
    s: S,
    src: &[f32],
    dst: &mut [f32],
    first: u32,
    seed: u64,
    th: u32,
    scale: f32,
) -> usize {
    const IOTA: [u32; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    let l = S::F32_LANES;
    assert!(l <= IOTA.len());
    let n = src.len().min(dst.len()) / l * l;
    // SAFETY: IOTA holds at least `l` u32s; `u32s` is plain old data.
    let lanes: S::u32s = unsafe { (IOTA.as_ptr() as *const S::u32s).read_unaligned() };
    let (lo, hi) = (s.splat_u32s(seed as u32), s.splat_u32s((seed >> 32) as u32));
    let thv = s.splat_u32s(th);
    let (sc, zero) = (s.splat_f32s(scale), s.splat_f32s(0.0));
    let mut k = 0;
    while k < n {
        let idx = s.add_u32s(s.splat_u32s(first.wrapping_add(k as u32)), lanes);
        let h = fmix32(s, s.xor_u32s(s.mul_u32s(idx, s.splat_u32s(0x9E37_79B1)), lo));
        let h = fmix32(s, s.xor_u32s(h, hi));
        let keep = s.less_than_u32s(s.wrapping_dyn_shr_u32s(h, s.splat_u32s(8)), thv);
        // SAFETY: k + l ≤ n ≤ both lengths.
        unsafe {
            let x = ld::<S>(src.as_ptr().add(k));
            st::<S>(dst.as_mut_ptr().add(k), s.select_f32s(keep, s.mul_f32s(x, sc), zero));
        }
        k += l;
    }
    n
}

/// The pointers of one BPTT step (row strides `H`, and `4H` for gates and dz).
#[derive(Clone, Copy)]
pub(crate) struct BpttIo {
    pub gates: *const f32,
    pub c_prev: *const f32,
    pub c_cur: *const f32,
    pub dh_out: *const f32,
    pub dh_next: *const f32,
    /// Updated in place.
    pub dc: *mut f32,
    pub dz: *mut f32,
}

/// The elementwise part of one BPTT step for rows `0..b`, units `us` (whole vectors): from the
/// gates, the cell states and dL/dh (`dh_out + dh_next`), writes dz and updates `dc`.
///
/// # Safety
/// Every pointer holds `b` rows of its stride; `us` is inside `0..hid`, its ends multiples of `L`.
#[inline(always)]
pub(crate) unsafe fn bptt_cell<S: Simd>(s: S, b: usize, us: std::ops::Range<usize>, hid: usize, io: BpttIo) {
    let l = S::F32_LANES;
    let one = s.splat_f32s(1.0);
    let mul3 = |a, b, c| s.mul_f32s(s.mul_f32s(a, b), c);
    for r in 0..b {
        let mut u = us.start;
        while u < us.end {
            let k = r * hid + u;
            // SAFETY: the caller's contract.
            unsafe {
                let g = io.gates.add(r * 4 * hid + u);
                let (i, j, f, o) = (ld::<S>(g), ld::<S>(g.add(hid)), ld::<S>(g.add(2 * hid)), ld::<S>(g.add(3 * hid)));
                let tc = tanh_v(s, ld::<S>(io.c_cur.add(k)));
                let dh = s.add_f32s(ld::<S>(io.dh_out.add(k)), ld::<S>(io.dh_next.add(k)));
                let dcv = s
                    .add_f32s(ld::<S>(io.dc.add(k)), s.mul_f32s(s.mul_f32s(dh, o), s.negate_mul_add_f32s(tc, tc, one)));
                let d = io.dz.add(r * 4 * hid + u);
                st::<S>(d, s.mul_f32s(mul3(dcv, j, i), s.sub_f32s(one, i)));
                st::<S>(d.add(hid), s.mul_f32s(s.mul_f32s(dcv, i), s.negate_mul_add_f32s(j, j, one)));
                st::<S>(d.add(2 * hid), s.mul_f32s(mul3(dcv, ld::<S>(io.c_prev.add(k)), f), s.sub_f32s(one, f)));
                st::<S>(d.add(3 * hid), s.mul_f32s(mul3(dh, tc, o), s.sub_f32s(one, o)));
                st::<S>(io.dc.add(k), s.mul_f32s(dcv, f));
            }
            u += l;
        }
    }
}
