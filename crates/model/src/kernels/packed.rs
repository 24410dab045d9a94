//! Packed right-hand operands, left-hand segments and the row groups of the microkernels.

use super::simd::Level;

/// A `k × n` right-hand operand stored as column blocks of four panels of one vector each
/// (`4 · lanes` columns, zero-padded to whole vectors), each block `k` rows of its width
/// contiguous: what the microkernel streams. Packed column `j` is source column `src(j)`.
#[derive(Debug, Clone)]
pub struct Packed {
    pub k: usize,
    /// Columns (before padding).
    pub n: usize,
    /// The lanes of the level it was packed for.
    lanes: usize,
    data: Vec<f32>,
}

impl Packed {
    fn build(k: usize, n: usize, level: Level, get: impl Fn(usize, usize) -> f32) -> Packed {
        let lanes = level.lanes();
        let block = 4 * lanes;
        let n_pad = n.div_ceil(lanes) * lanes;
        let mut data = vec![0.0f32; k * n_pad];
        for blk in 0..n_pad.div_ceil(block) {
            let c0 = blk * block;
            let w = block.min(n_pad - c0);
            let base = c0 * k;
            for kk in 0..k {
                for c in 0..w.min(n.saturating_sub(c0)) {
                    data[base + kk * w + c] = get(kk, c0 + c);
                }
            }
        }
        Packed { k, n, lanes, data }
    }

    /// `b`: row-major `k × n`.
    pub fn new(b: &[f32], k: usize, n: usize, level: Level) -> Packed {
        assert!(b.len() >= k * n);
        Packed::build(k, n, level, |kk, c| b[kk * n + c])
    }

    /// The transpose of row-major `b` (`n × k`, so the result is `k × n`).
    pub fn new_transposed(b: &[f32], k: usize, n: usize, level: Level) -> Packed {
        assert!(b.len() >= k * n);
        Packed::build(k, n, level, |kk, c| b[c * k + kk])
    }

    /// An LSTM kernel `[rows, 4H]` (gate blocks i, j, f, o) with the columns reordered so that
    /// block `u` holds the four gates of units `L·u .. L·u + L` (`L` the level's lanes), one
    /// panel per gate. `H` must be a multiple of `L`.
    pub fn lstm(k: &[f32], rows: usize, hid: usize, level: Level) -> Packed {
        let l = level.lanes();
        assert!(hid.is_multiple_of(l) && k.len() >= rows * 4 * hid);
        let g4 = 4 * hid;
        Packed::build(rows, g4, level, |kk, j| {
            let (u0, g, lane) = (j / (4 * l) * l, (j % (4 * l)) / l, j % l);
            k[kk * g4 + g * hid + u0 + lane]
        })
    }

    pub fn lanes(&self) -> usize {
        self.lanes
    }

    pub fn blocks(&self) -> usize {
        self.n.div_ceil(self.lanes).div_ceil(4)
    }

    /// (first column, width, data offset) of block `b`.
    #[inline(always)]
    pub(crate) fn block(&self, b: usize) -> (usize, usize, usize) {
        let n_pad = self.n.div_ceil(self.lanes) * self.lanes;
        let c0 = b * 4 * self.lanes;
        (c0, (4 * self.lanes).min(n_pad - c0), c0 * self.k)
    }

    #[inline(always)]
    pub(crate) fn ptr(&self) -> *const f32 {
        self.data.as_ptr()
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
// SAFETY: a `Seg` is a read-only view; the kernels only read through it, and the buffers it
// points into are not written while the threads of one step read them (each call site says why).
unsafe impl Send for Seg {}
// SAFETY: as above.
unsafe impl Sync for Seg {}

impl Seg {
    pub(crate) const EMPTY: Seg = Seg { a: std::ptr::null(), lda: 0, k0: 0, k: 0 };

    /// The same segment from row `r` on.
    ///
    /// # Safety
    /// Row `r` must be inside the operand.
    #[inline(always)]
    #[allow(clippy::wrong_self_convention)] // a row *of* this packed matrix, not a conversion
    pub(crate) unsafe fn from_row(self, r: usize) -> Seg {
        // SAFETY: the caller's contract.
        Seg { a: unsafe { self.a.add(r * self.lda) }, ..self }
    }
}

/// The rows of a batch in groups of [`Level::rows`]: a microkernel call keeps one group's
/// accumulators in registers, and when the batch is split over threads it is split by whole
/// groups (the forward and backward passes share this split).
#[derive(Clone, Copy, Debug)]
pub struct RowGroups {
    pub rows: usize,
    pub b: usize,
}

impl RowGroups {
    pub fn new(b: usize, level: Level) -> RowGroups {
        RowGroups { rows: level.rows(), b }
    }

    pub fn count(&self) -> usize {
        self.b.div_ceil(self.rows)
    }

    /// Whether `n` threads each get a group: then the batch is split by rows (rows are
    /// independent through time, so the threads never wait for each other); otherwise by units.
    pub fn split_by_rows(&self, n: usize) -> bool {
        self.count() >= n
    }

    /// The rows of thread `tid` of `n` when the batch is split by whole groups.
    pub fn thread_rows(&self, tid: usize, n: usize) -> std::ops::Range<usize> {
        let g = super::part(self.count(), tid, n);
        (g.start * self.rows).min(self.b)..(g.end * self.rows).min(self.b)
    }
}

/// `(first row, rows)` of each group of `rows` rows in `0..b`, the last one short.
#[inline(always)]
pub(crate) fn groups(b: usize, rows: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..b).step_by(rows.max(1)).map(move |r0| (r0, rows.min(b - r0)))
}
