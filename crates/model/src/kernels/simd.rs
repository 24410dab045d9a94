//! Which instruction set the kernels run on: the only per-ISA code of the crate.
//!
//! The microkernels are written once, generic over [`pulp::Simd`] (the portable SIMD layer the
//! `gemm` crate itself uses); [`dispatch`] instantiates them for the level chosen here:
//! AVX-512 (pulp's x86-64-v4), AVX2 + FMA (x86-64-v3) or NEON (aarch64). [`Level::Scalar`]
//! is the portable path: `gemm`-crate GEMMs and scalar gate math.
//!
//! The level is the best the CPU (and the build: the `avx512` feature) supports, unless
//! `CADENZA_SIMD` (`scalar`, `avx2`, `avx512`, `neon`) asks for a lower one;
//! `CADENZA_NO_SIMD=1` is `CADENZA_SIMD=scalar`.

use pulp::Simd;
use std::sync::OnceLock;

/// A kernel instruction set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// The portable path (no packed kernels).
    Scalar,
    /// aarch64 Advanced SIMD, 4 lanes.
    Neon,
    /// x86-64 AVX2 + FMA, 8 lanes.
    Avx2,
    /// x86-64 AVX-512 (F, BW, DQ, VL, CD), 16 lanes.
    Avx512,
}

/// Rows of the batch that one microkernel call keeps in registers, by lane count: the
/// accumulators of `rows × 4` gate vectors plus one broadcast per row and one packed vector
/// must fit the register file (32 registers with AVX-512 and NEON, 16 with AVX2).
pub(crate) const fn rows_for_lanes(lanes: usize) -> usize {
    match lanes {
        16 | 4 => 6,
        8 => 3,
        _ => 4,
    }
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Scalar, Level::Neon, Level::Avx2, Level::Avx512];

    pub fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::Neon => "neon",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Whether this CPU, and this build, can run the level.
    pub fn supported(self) -> bool {
        match self {
            Level::Scalar => true,
            #[cfg(target_arch = "aarch64")]
            Level::Neon => pulp::aarch64::Neon::try_new().is_some(),
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => pulp::x86::V3::try_new().is_some(),
            #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
            Level::Avx512 => pulp::x86::V4::try_new().is_some(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Every level this machine runs, lowest first.
    pub fn available() -> Vec<Level> {
        Level::ALL.into_iter().filter(|l| l.supported()).collect()
    }

    /// The fastest level this machine runs.
    pub fn best() -> Level {
        *Level::available().last().expect("scalar is always available")
    }

    /// The level of this process: `CADENZA_SIMD` if set and supported, else [`Level::best`].
    /// A request the CPU cannot run falls back to the best level below it; [`Level::note`] says
    /// why (the binary prints it).
    pub fn current() -> Level {
        Level::chosen().0
    }

    /// Why the level of this process is not the one `CADENZA_SIMD` asked for, when it is not.
    pub fn note() -> Option<&'static str> {
        Level::chosen().1.as_deref()
    }

    fn chosen() -> &'static (Level, Option<String>) {
        static CHOSEN: OnceLock<(Level, Option<String>)> = OnceLock::new();
        CHOSEN.get_or_init(|| {
            let asked = if std::env::var_os("CADENZA_NO_SIMD").is_some() { Some("scalar".to_string()) } else { std::env::var("CADENZA_SIMD").ok() };
            match asked.as_deref().map(|a| (a, Level::parse(a))) {
                None | Some(("" | "auto", _)) => (Level::best(), None),
                Some((a, None)) => {
                    let why = format!("CADENZA_SIMD={a} is not one of scalar, avx2, avx512, neon, auto; using {}", Level::best().name());
                    (Level::best(), Some(why))
                }
                Some((_, Some(l))) if l.supported() => (l, None),
                Some((_, Some(l))) => {
                    let fallback = Level::available().into_iter().rfind(|&a| a < l).unwrap_or(Level::Scalar);
                    let why = format!("{} kernels cannot run here (this CPU lacks the instructions, or this build left them out); using {}", l.name(), fallback.name());
                    (fallback, Some(why))
                }
            }
        })
    }

    /// f32 lanes of one vector (1 for the scalar path).
    pub fn lanes(self) -> usize {
        match self {
            Level::Scalar => 1,
            Level::Neon => 4,
            Level::Avx2 => 8,
            Level::Avx512 => 16,
        }
    }

    /// Rows per microkernel call (see [`super::RowGroups`]).
    pub fn rows(self) -> usize {
        rows_for_lanes(self.lanes())
    }

    /// Whether a layer of `hid` units runs on the packed kernels at this level (it needs whole
    /// vectors of units).
    pub fn packs(self, hid: usize) -> bool {
        self != Level::Scalar && hid.is_multiple_of(self.lanes())
    }
}

/// A kernel body, written once for every instruction set.
pub(crate) trait Kernel {
    type Output;
    /// Everything `run` calls must be `#[inline(always)]`, so that it is compiled with the
    /// target features [`dispatch`] enables.
    fn run<S: Simd>(self, s: S) -> Self::Output;
}

struct Op<K>(K);

impl<K: Kernel> pulp::WithSimd for Op<K> {
    type Output = K::Output;
    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) -> K::Output {
        self.0.run(s)
    }
}

/// Runs `k` on `level`'s instruction set (pulp's scalar emulation where the level is scalar
/// or not available, which is correct but slow: callers check [`Level::packs`] first).
pub(crate) fn dispatch<K: Kernel>(level: Level, k: K) -> K::Output {
    match level {
        #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
        Level::Avx512 => {
            if let Some(s) = pulp::x86::V4::try_new() {
                return Simd::vectorize(s, Op(k));
            }
        }
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => {
            if let Some(s) = pulp::x86::V3::try_new() {
                return Simd::vectorize(s, Op(k));
            }
        }
        #[cfg(target_arch = "aarch64")]
        Level::Neon => {
            if let Some(s) = pulp::aarch64::Neon::try_new() {
                return Simd::vectorize(s, Op(k));
            }
        }
        _ => {}
    }
    Simd::vectorize(pulp::Scalar::new(), Op(k))
}

/// For tests: runs the named tests of the current test binary again in a child process at
/// every level this machine has (`CADENZA_SIMD=…`), and panics naming the level where one
/// fails. Each test then checks the whole public path (not only the kernels) at each level.
#[doc(hidden)]
pub fn rerun_tests_at_every_level(tests: &[&str]) {
    if std::env::var_os("CADENZA_SIMD_CHILD").is_some() {
        return;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    for level in Level::available() {
        let out = std::process::Command::new(&exe)
            .args(tests)
            .args(["--exact", "--test-threads", "1", "--nocapture"])
            .env("CADENZA_SIMD", level.name())
            .env_remove("CADENZA_NO_SIMD")
            .env("CADENZA_SIMD_CHILD", "1")
            .output()
            .expect("run the test binary");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "at CADENZA_SIMD={}:\n{text}", level.name());
        let ran: usize = text
            .lines()
            .filter_map(|l| l.strip_prefix("test result: ok. ")?.split(' ').next()?.parse::<usize>().ok())
            .sum();
        assert_eq!(ran, tests.len(), "at CADENZA_SIMD={}: {ran} of {} tests ran:\n{text}", level.name(), tests.len());
    }
}
