//! A team of threads, one per core, that run one closure together and can meet at a spin
//! barrier: what the per-time-step kernels need (a rayon task per step costs more than the
//! step of a small layer).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

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
            std::thread::Builder::new()
                .name(format!("cadenza-team-{tid}"))
                .spawn(move || helper(s, tid))
                .expect("spawn team thread");
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
            if !spins.is_multiple_of(256) {
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
    let job_static: &'static Job =
        unsafe { std::mem::transmute::<&(dyn Fn(usize, usize, &SpinBarrier) + Sync + '_), &'static Job>(job) };
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

/// A raw pointer that threads of one [`team_run`] share to write disjoint parts of a buffer
/// (of `f32` unless said otherwise).
pub struct SharedMut<T = f32>(pub *mut T);
impl<T> Clone for SharedMut<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SharedMut<T> {}
// SAFETY: a `SharedMut` is only a pointer; the kernels that use one give each thread disjoint
// elements to write (or only read), as each call site's own SAFETY line says.
unsafe impl<T> Send for SharedMut<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    #[inline]
    pub fn p(self) -> *mut T {
        self.0
    }
}
