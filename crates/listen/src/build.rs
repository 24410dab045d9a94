//! Building a listening test from comparisons: which excerpts, their audio, the page, the key.

use crate::excerpt::{choose_cut, cut_sequence, finish_audio};
use crate::page::page_html;
use crate::ListenError;
use cadenza_notes::NoteSequence;
use cadenza_train::Recipe;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The question every trial asks.
pub const QUESTION: &str = "Which sounds more like a real classical piano performance?";
/// The optional second question.
pub const LIKE_QUESTION: &str = "Which do you like more?";

/// How a listening test is built. The defaults are stated here only.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenOptions {
    /// Original-vs-modified trials (fewer when the comparisons hold fewer sample pairs).
    pub pairs: usize,
    /// Real-vs-model trials that show whether a listener can tell real music from the model's.
    pub calibration: usize,
    /// Longest excerpt, seconds.
    pub excerpt_seconds: f64,
    /// Seconds of each excerpt a listener must play before an answer counts (the whole excerpt
    /// when it is shorter).
    pub min_play_seconds: f64,
    /// Audio sample rate (mono, 16-bit FLAC).
    pub sample_rate: u32,
    /// A General MIDI SoundFont; `None`: the system's, else the built-in piano.
    pub soundfont: Option<PathBuf>,
    /// Seed of the choice of excerpts, of the opaque ids and of the stored order.
    pub seed: u64,
    /// Ask "Which do you like more?" too (optional for the listener).
    pub like_question: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            pairs: 20,
            calibration: 6,
            excerpt_seconds: 30.0,
            min_play_seconds: 10.0,
            sample_rate: 22_050,
            soundfont: None,
            seed: 1,
            like_question: true,
        }
    }
}

/// Which kind of trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialKind {
    /// An original and a modified sample drawn with the same sampling seed.
    Pair,
    /// A real piece and a model sample.
    Calibration,
}

/// Where an excerpt comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    Original,
    Modified,
    Real,
}

/// One excerpt, unblinded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyClip {
    pub arm: Arm,
    /// Index into [`Key::runs`] (model samples).
    pub run: Option<usize>,
    /// Training seed and sample number (model samples: the same numbers on both sides of a pair).
    pub seed: Option<u32>,
    pub sample: Option<u32>,
    /// The file the excerpt was cut from.
    pub source: String,
    /// Where in the source it starts, and its length, seconds.
    pub start: f64,
    pub seconds: f64,
    pub notes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyTrial {
    pub id: String,
    pub kind: TrialKind,
    /// The two clips, in the order the page lists them (each listener's page shuffles again).
    pub clips: [String; 2],
}

/// One comparison the test draws from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRun {
    /// The comparison folder (its `comparison.json` and `report.html`).
    pub dir: String,
    /// The modified arm's recipe, as the comparison recorded it.
    pub recipe: Recipe,
}

/// `key.json`: everything needed to unblind the answers. It stays with whoever runs the test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Key {
    pub format: String,
    pub version: u32,
    pub run_hash: String,
    pub question: String,
    pub like_question: Option<String>,
    pub min_play_seconds: f64,
    pub excerpt_seconds: f64,
    pub sample_rate: u32,
    pub seed: u64,
    pub soundfont: String,
    pub runs: Vec<KeyRun>,
    pub trials: Vec<KeyTrial>,
    pub clips: BTreeMap<String, KeyClip>,
}

pub const KEY_FORMAT: &str = "cadenza-listen-key";

impl Key {
    pub fn read(dir: &Path) -> Result<Key, ListenError> {
        let path = dir.join("key.json");
        let text = std::fs::read_to_string(&path).map_err(|source| ListenError::Io { path: path.clone(), source })?;
        let key: Key =
            serde_json::from_str(&text).map_err(|e| ListenError::Format { path: path.clone(), msg: e.to_string() })?;
        if key.format != KEY_FORMAT {
            return Err(ListenError::Format {
                path,
                msg: format!("not a listening test's key (format {:?})", key.format),
            });
        }
        Ok(key)
    }
}

/// What `build` made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Built {
    pub dir: PathBuf,
    pub run_hash: String,
    pub pairs: usize,
    pub calibration: usize,
    /// Bytes of the page and the audio (what a listener receives), and of `listeners.zip`.
    pub page_bytes: u64,
    pub zip_bytes: u64,
    pub soundfont: String,
    /// Things the user should know (fewer pairs than asked, a fallback).
    pub notes: Vec<String>,
}

/// A comparison folder, resolved.
#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
    original: PathBuf,
    modified: PathBuf,
    dataset: Option<PathBuf>,
    recipe: Recipe,
}

fn read_json(path: &Path) -> Result<serde_json::Value, ListenError> {
    let text = std::fs::read_to_string(path).map_err(|source| ListenError::Io { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text).map_err(|e| ListenError::Format { path: path.to_path_buf(), msg: e.to_string() })
}

/// Resolves a `compare` output folder, or a `demo` output folder (whose project-recipe
/// comparison is taken: the recipe the defaults follow; point at `DEMO/comparison` for the
/// seed's recipe).
pub fn resolve_run(path: &Path) -> Result<Run, ListenError> {
    let dir = if path.join("comparison.json").is_file() {
        path.to_path_buf()
    } else if path.join("comparison_project/comparison.json").is_file() {
        path.join("comparison_project")
    } else if path.join("comparison/comparison.json").is_file() {
        path.join("comparison")
    } else {
        return Err(ListenError::NotARun(path.to_path_buf()));
    };
    let j = read_json(&dir.join("comparison.json"))?;
    let o = &j["options"];
    let original = match o["original_from"].as_str() {
        Some(from) => PathBuf::from(from).join("original"),
        None => dir.join("original"),
    };
    let recipe = Recipe::deserialize(o).map_err(|e| ListenError::Format {
        path: dir.join("comparison.json"),
        msg: format!("its options name no recipe: {e}"),
    })?;
    Ok(Run { original, modified: dir.join("modified"), dataset: o["dataset"].as_str().map(PathBuf::from), recipe, dir })
}

/// `root/seed_S/samples/sample_NN.mid` → (S, NN) → path.
fn samples(root: &Path) -> BTreeMap<(u32, u32), PathBuf> {
    let mut out = BTreeMap::new();
    let Ok(seeds) = std::fs::read_dir(root) else { return out };
    for s in seeds.flatten() {
        let name = s.file_name().to_string_lossy().to_string();
        let Some(seed) = name.strip_prefix("seed_").and_then(|x| x.parse::<u32>().ok()) else { continue };
        let Ok(files) = std::fs::read_dir(s.path().join("samples")) else { continue };
        for f in files.flatten() {
            let n = f.file_name().to_string_lossy().to_string();
            if let Some(i) =
                n.strip_prefix("sample_").and_then(|x| x.strip_suffix(".mid")).and_then(|x| x.parse::<u32>().ok())
            {
                out.insert((seed, i), f.path());
            }
        }
    }
    out
}

/// A model sample pair: (run, seed, sample) with the original's and the modified's file.
#[derive(Debug, Clone)]
struct Pair {
    run: usize,
    seed: u32,
    sample: u32,
    original: PathBuf,
    modified: PathBuf,
}

/// The real pieces for calibration: the runs' eval split files (one list per piece), else
/// their rendered `reference/` pieces.
fn real_pieces(runs: &[Run]) -> Vec<Vec<PathBuf>> {
    let mut pieces: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for r in runs {
        let Some(ds) = &r.dataset else { continue };
        let Ok(files) = cadenza_dataset::read_split(ds) else { continue };
        for f in files.into_iter().filter(|f| f.split == "eval") {
            let p = PathBuf::from(&f.path);
            if p.is_file() {
                let list = pieces.entry(f.piece).or_default();
                if !list.contains(&p) {
                    list.push(p);
                }
            }
        }
    }
    if pieces.is_empty() {
        for r in runs {
            let Ok(files) = std::fs::read_dir(r.dir.join("reference")) else { continue };
            for f in files.flatten() {
                if f.path().extension().is_some_and(|e| e == "mid") {
                    pieces.insert(f.path().display().to_string(), vec![f.path()]);
                }
            }
        }
    }
    pieces.into_values().collect()
}

fn opaque_id(rng: &mut ChaCha8Rng, prefix: char, taken: &mut BTreeSet<String>) -> String {
    loop {
        let id = format!("{prefix}{:010x}", rng.gen::<u64>() & 0xff_ffff_ffff);
        if taken.insert(id.clone()) {
            return id;
        }
    }
}

fn load(path: &Path) -> Result<NoteSequence, ListenError> {
    cadenza_import::load_file(path, &Default::default())
        .map(|(s, _)| s)
        .map_err(|e| ListenError::Load { path: path.to_path_buf(), msg: e.to_string() })
}

/// Builds the listening test from `runs` (comparison or demo folders) into `out`, which must
/// not already hold one (its answers would stop matching). `on_clip(done, total)` reports
/// progress.
pub fn build(
    runs: &[PathBuf],
    out: &Path,
    opts: &ListenOptions,
    on_clip: &mut dyn FnMut(usize, usize),
) -> Result<Built, ListenError> {
    check_options(opts)?;
    let _lock = cadenza_atomic::DirLock::acquire(out, "listening test build")
        .map_err(|e| ListenError::Invalid(e.to_string()))?;
    if out.join("key.json").exists() {
        return Err(ListenError::Exists(out.to_path_buf()));
    }
    let resolved: Vec<Run> = runs.iter().map(|r| resolve_run(r)).collect::<Result<_, _>>()?;
    // One "modified" per test: comparisons of different recipes would mix two questions.
    if let Some(other) = resolved.iter().find(|r| r.recipe != resolved[0].recipe) {
        return Err(ListenError::Invalid(format!(
            "{} ({}) and {} ({}) compare different recipes; build one test per recipe",
            resolved[0].dir.display(),
            resolved[0].recipe,
            other.dir.display(),
            other.recipe
        )));
    }
    let mut notes = Vec::new();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let candidates = candidate_pairs(&resolved, &mut rng)?;

    let soundfont = cadenza_render::soundfont_or_builtin(opts.soundfont.as_deref())?;
    let soundfont_name = match &soundfont.path {
        Some(p) => p.display().to_string(),
        None => {
            notes.push("no General MIDI SoundFont installed: the built-in piano plays the excerpts".into());
            "built-in piano".to_string()
        }
    };

    std::fs::create_dir_all(out.join("audio")).map_err(|source| ListenError::Io { path: out.join("audio"), source })?;
    let mut clipper = Clipper {
        out,
        opts,
        soundfont: &soundfont.font,
        taken: BTreeSet::new(),
        clips: BTreeMap::new(),
        audio: BTreeMap::new(),
        done: 0,
        total: 2 * (opts.pairs + opts.calibration),
        on_clip,
    };
    let (mut trials, used) = pair_trials(&mut clipper, &candidates, &mut rng, &mut notes)?;
    let pairs = trials.len();
    if pairs < opts.pairs {
        notes.push(format!("{pairs} pairs, not {}: the comparisons hold no more sample pairs with notes", opts.pairs));
    }
    let calibration = if opts.calibration > 0 {
        let cal = calibration_trials(&mut clipper, &resolved, &candidates, used, &mut rng)?;
        if cal.len() < opts.calibration {
            notes.push(format!("{} calibration trials, not {}", cal.len(), opts.calibration));
        }
        let n = cal.len();
        trials.extend(cal);
        n
    } else {
        0
    };
    trials.shuffle(&mut rng);
    for t in &mut trials {
        t.id = opaque_id(&mut rng, 't', &mut clipper.taken);
    }
    let Clipper { clips, audio, .. } = clipper;

    let (run_hash, html) = write_page(out, opts, &trials, &audio)?;
    let page_bytes = html.len() as u64 + audio.values().map(|a| a.len() as u64).sum::<u64>();
    let key = Key {
        format: KEY_FORMAT.into(),
        version: 1,
        run_hash: run_hash.clone(),
        question: QUESTION.into(),
        like_question: opts.like_question.then(|| LIKE_QUESTION.to_string()),
        min_play_seconds: opts.min_play_seconds,
        excerpt_seconds: opts.excerpt_seconds,
        sample_rate: opts.sample_rate,
        seed: opts.seed,
        soundfont: soundfont_name.clone(),
        runs: resolved.iter().map(|r| KeyRun { dir: r.dir.display().to_string(), recipe: r.recipe }).collect(),
        trials,
        clips,
    };
    let kp = out.join("key.json");
    cadenza_atomic::write_json(&kp, &key).map_err(|source| ListenError::Io { path: kp.clone(), source })?;
    let zip_bytes = write_zip(out, &html, &audio)?;

    Ok(Built {
        dir: out.to_path_buf(),
        run_hash,
        pairs,
        calibration,
        page_bytes,
        zip_bytes,
        soundfont: soundfont_name,
        notes,
    })
}

/// The options' ranges.
fn check_options(opts: &ListenOptions) -> Result<(), ListenError> {
    if opts.pairs == 0 {
        return Err(ListenError::Invalid("a listening test needs at least one pair".into()));
    }
    if !(opts.excerpt_seconds >= 4.0 && opts.excerpt_seconds <= 600.0) {
        return Err(ListenError::Invalid(format!("an excerpt of {} s (4 to 600 s)", opts.excerpt_seconds)));
    }
    if !(opts.min_play_seconds >= 0.0 && opts.min_play_seconds.is_finite()) {
        return Err(ListenError::Invalid(format!("a minimum play time of {} s", opts.min_play_seconds)));
    }
    Ok(())
}

/// Every (seed, sample) both arms of a run hold, each (run, seed) group shuffled, then taken in
/// turns so that the pairs drawn first are balanced over runs and seeds.
fn candidate_pairs(resolved: &[Run], rng: &mut ChaCha8Rng) -> Result<Vec<Pair>, ListenError> {
    let mut groups: BTreeMap<(usize, u32), Vec<Pair>> = BTreeMap::new();
    for (i, r) in resolved.iter().enumerate() {
        let orig = samples(&r.original);
        let modi = samples(&r.modified);
        for ((seed, sample), m) in &modi {
            if let Some(o) = orig.get(&(*seed, *sample)) {
                groups.entry((i, *seed)).or_default().push(Pair {
                    run: i,
                    seed: *seed,
                    sample: *sample,
                    original: o.clone(),
                    modified: m.clone(),
                });
            }
        }
    }
    if groups.is_empty() {
        return Err(ListenError::NoPairs(resolved.iter().map(|r| r.dir.clone()).collect()));
    }
    for g in groups.values_mut() {
        g.shuffle(rng);
    }
    let mut candidates: Vec<Pair> = Vec::new();
    let longest = groups.values().map(Vec::len).max().unwrap_or(0);
    for i in 0..longest {
        for g in groups.values() {
            if let Some(p) = g.get(i) {
                candidates.push(p.clone());
            }
        }
    }
    Ok(candidates)
}

/// Cuts, renders and files the excerpts: their FLAC under `out/audio/`, their unblinding, and
/// every excerpt's bytes by clip id (hashed into the run hash and zipped without reading the
/// files back).
struct Clipper<'a> {
    out: &'a Path,
    opts: &'a ListenOptions,
    soundfont: &'a std::sync::Arc<cadenza_render::SoundFont>,
    /// Opaque ids given so far (clips and trials).
    taken: BTreeSet<String>,
    clips: BTreeMap<String, KeyClip>,
    audio: BTreeMap<String, Vec<u8>>,
    /// Excerpts tried so far, of `total`, for `on_clip`.
    done: usize,
    total: usize,
    on_clip: &'a mut dyn FnMut(usize, usize),
}

impl Clipper<'_> {
    /// One excerpt of `path` from about `from` seconds → its clip id (`None`: no notes there).
    fn clip(
        &mut self,
        path: &Path,
        from: f64,
        arm: Arm,
        meta: Option<(usize, u32, u32)>,
        rng: &mut ChaCha8Rng,
    ) -> Result<Option<String>, ListenError> {
        let (opts, rate) = (self.opts, self.opts.sample_rate);
        let seq = load(path)?;
        let Some(cut) = choose_cut(&seq, from, opts.excerpt_seconds) else { return Ok(None) };
        let ex = cut_sequence(&seq, &cut);
        let audio_opts =
            cadenza_render::AudioOptions { sample_rate: rate, stereo: false, tail_seconds: 0.0, normalize: false };
        let (l, r) = cadenza_render::render_audio(&ex, self.soundfont, &audio_opts)
            .map_err(|e| ListenError::Render { path: path.to_path_buf(), msg: e.to_string() })?;
        let len = ((cut.end - cut.start) * rate as f64).round() as usize;
        let mono = finish_audio(&l, &r, rate, len);
        let flac = cadenza_render::flac_bytes(&mono, rate)
            .map_err(|e| ListenError::Render { path: path.to_path_buf(), msg: e.to_string() })?;
        let id = opaque_id(rng, 'c', &mut self.taken);
        let file = self.out.join("audio").join(format!("{id}.flac"));
        cadenza_atomic::write_atomic(&file, &flac).map_err(|source| ListenError::Io { path: file.clone(), source })?;
        self.audio.insert(id.clone(), flac);
        let clip = KeyClip {
            arm,
            run: meta.map(|m| m.0),
            seed: meta.map(|m| m.1),
            sample: meta.map(|m| m.2),
            source: path.display().to_string(),
            start: cut.start,
            seconds: cut.end - cut.start,
            notes: ex.notes.len(),
        };
        self.clips.insert(id.clone(), clip);
        Ok(Some(id))
    }

    /// Both excerpts of a trial were tried: report progress.
    fn tried_two(&mut self) {
        self.done += 2;
        (self.on_clip)(self.done, self.total);
    }
}

/// Two clips in a random order, as a trial (its id is given later).
fn trial(kind: TrialKind, a: String, b: String, rng: &mut ChaCha8Rng) -> KeyTrial {
    let mut clips = [a, b];
    if rng.gen::<bool>() {
        clips.swap(0, 1);
    }
    KeyTrial { id: String::new(), kind, clips }
}

/// Original-vs-modified trials from the candidates in turn, skipping a pair with a silent side;
/// also how many candidates were used.
fn pair_trials(
    clipper: &mut Clipper,
    candidates: &[Pair],
    rng: &mut ChaCha8Rng,
    notes: &mut Vec<String>,
) -> Result<(Vec<KeyTrial>, usize), ListenError> {
    let mut trials = Vec::new();
    let mut used = 0usize;
    while trials.len() < clipper.opts.pairs && used < candidates.len() {
        let p = &candidates[used];
        used += 1;
        let meta = Some((p.run, p.seed, p.sample));
        let o = clipper.clip(&p.original, 0.0, Arm::Original, meta, rng)?;
        let m = clipper.clip(&p.modified, 0.0, Arm::Modified, meta, rng)?;
        clipper.tried_two();
        match (o, m) {
            (Some(o), Some(m)) => trials.push(trial(TrialKind::Pair, o, m, rng)),
            _ => notes.push(format!("seed {} sample {} skipped: a side has no notes", p.seed, p.sample)),
        }
    }
    Ok((trials, used))
}

/// Calibration trials: real pieces (one performance per piece, pieces shuffled) against samples
/// not used in the pairs (else reused), the arms taking turns.
fn calibration_trials(
    clipper: &mut Clipper,
    resolved: &[Run],
    candidates: &[Pair],
    used: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<KeyTrial>, ListenError> {
    let want = clipper.opts.calibration;
    let excerpt_seconds = clipper.opts.excerpt_seconds;
    let mut pieces = real_pieces(resolved);
    if pieces.is_empty() {
        return Err(ListenError::NoReal(resolved.iter().map(|r| r.dir.clone()).collect()));
    }
    pieces.shuffle(rng);
    for p in &mut pieces {
        p.shuffle(rng);
    }
    let mut models: Vec<(PathBuf, Arm, (usize, u32, u32))> = Vec::new();
    for (k, p) in candidates[used..].iter().chain(candidates[..used].iter()).enumerate() {
        let (path, arm) = if k % 2 == 0 { (&p.original, Arm::Original) } else { (&p.modified, Arm::Modified) };
        models.push((path.clone(), arm, (p.run, p.seed, p.sample)));
    }
    let mut trials = Vec::new();
    let mut k = 0usize;
    while trials.len() < want && k < 4 * want + pieces.len() {
        let piece = &pieces[k % pieces.len()];
        // A piece used again gives another performance of it (ASAP) and a later passage.
        let again = k / pieces.len();
        let real = &piece[again % piece.len()];
        let (model, arm, meta) = &models[k % models.len()];
        k += 1;
        let r = clipper.clip(real, again as f64 * excerpt_seconds, Arm::Real, None, rng)?;
        let m = clipper.clip(model, 0.0, *arm, Some(*meta), rng)?;
        clipper.tried_two();
        if let (Some(r), Some(m)) = (r, m) {
            trials.push(trial(TrialKind::Calibration, r, m, rng));
        }
    }
    Ok(trials)
}

/// Writes `index.html`, whose data name opaque ids only; returns the run hash (over the page's
/// trials and every clip's audio) and the page.
fn write_page(
    out: &Path,
    opts: &ListenOptions,
    trials: &[KeyTrial],
    audio: &BTreeMap<String, Vec<u8>>,
) -> Result<(String, String), ListenError> {
    let page_trials: Vec<serde_json::Value> =
        trials.iter().map(|t| serde_json::json!({"id": t.id, "clips": t.clips})).collect();
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(&page_trials).expect("JSON of strings"));
    for (id, flac) in audio {
        h.update(id.as_bytes());
        h.update(format!("{:x}", Sha256::digest(flac)).as_bytes());
    }
    let run_hash = format!("{:x}", h.finalize())[..16].to_string();
    let data = serde_json::json!({
        "run_hash": run_hash,
        "question": QUESTION,
        "like_question": if opts.like_question { Some(LIKE_QUESTION) } else { None },
        "min_play": opts.min_play_seconds,
        "trials": page_trials,
    });
    let html = page_html(&data);
    let index = out.join("index.html");
    cadenza_atomic::write_atomic(&index, html.as_bytes())
        .map_err(|source| ListenError::Io { path: index.clone(), source })?;
    Ok((run_hash, html))
}

/// Writes `listeners.zip`, what is sent: the page and the audio, without the key; returns its
/// size in bytes.
fn write_zip(out: &Path, html: &str, audio: &BTreeMap<String, Vec<u8>>) -> Result<u64, ListenError> {
    let zp = out.join("listeners.zip");
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let zerr = |e: String| ListenError::Io { path: zp.clone(), source: std::io::Error::other(e) };
    z.start_file("listening-test/index.html", stored).map_err(|e| zerr(e.to_string()))?;
    z.write_all(html.as_bytes()).map_err(|e| zerr(e.to_string()))?;
    for (id, flac) in audio {
        z.start_file(format!("listening-test/audio/{id}.flac"), stored).map_err(|e| zerr(e.to_string()))?;
        z.write_all(flac).map_err(|e| zerr(e.to_string()))?;
    }
    let bytes = z.finish().map_err(|e| zerr(e.to_string()))?.into_inner();
    cadenza_atomic::write_atomic(&zp, &bytes).map_err(|source| ListenError::Io { path: zp.clone(), source })?;
    Ok(bytes.len() as u64)
}
