//! `cadenza demo`: the seed project's experiment on a corpus anyone can fetch.
//!
//! 1. 20 public-domain keyboard and chamber pieces from music21's MusicXML corpus
//!    (`../shared/reference/demo-corpus.md`), shipped in [`SHIPPED_CORPUS`] with each file's
//!    source, rights text and checksum in `SOURCES.json` (or taken again from a music21 wheel,
//!    given or fetched with `pip download music21 --no-deps`: a wheel is a zip);
//! 2. a dataset in all 12 keys, split by piece (no transposed copy of an eval piece trains);
//! 3. `cadenza compare`: the shipped base model ([`BASE_MODEL`], pre-trained on ASAP's
//!    performances) or any `--init` bundle fine-tuned twice, as the original recipe and as the
//!    modified one, from the same weights, data order and seeds, over K training seeds; every
//!    model sampled from the same seeds; the verdict with bootstrap intervals; the report.
//!
//! Every stage leaves its result on disk and is skipped when that result is already there,
//! so an interrupted demo resumes where it stopped (training resumes from its checkpoint).

use crate::error::{bail, Ctx, Result};
use crate::{compare, CompareEvent, CompareOptions, ComparisonReport};
use cadenza_train::Recipe;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The 20 pieces, as paths inside the wheel's `music21/corpus/`.
const PIECES: [(&str, &str); 20] = [
    ("bach/bwv846.mxl", "J.S. Bach, Prelude in C, BWV 846"),
    ("cpebach/h186.mxl", "C.P.E. Bach, Sonata H.186 ii"),
    ("mozart/k545/movement1_exposition.mxl", "Mozart, Sonata K.545 i (exposition)"),
    ("joplin/maple_leaf_rag.mxl", "Joplin, Maple Leaf Rag"),
    ("schumann_clara/polonaise_op1n1.mxl", "Clara Schumann, Polonaise Op. 1/1"),
    ("schumann_clara/polonaise_op1n2.mxl", "Clara Schumann, Polonaise Op. 1/2"),
    ("schumann_clara/polonaise_op1n3.mxl", "Clara Schumann, Polonaise Op. 1/3"),
    ("schumann_clara/polonaise_op1n4.mxl", "Clara Schumann, Polonaise Op. 1/4"),
    ("haydn/opus1no1/movement1.mxl", "Haydn, Quartet Op. 1/1 i"),
    ("haydn/opus1no1/movement4.mxl", "Haydn, Quartet Op. 1/1 iv"),
    ("haydn/opus74no1/movement3.mxl", "Haydn, Quartet Op. 74/1 iii"),
    ("mozart/k80/movement1.mxl", "Mozart, Quartet K.80 i"),
    ("mozart/k155/movement2.mxl", "Mozart, Quartet K.155 ii"),
    ("mozart/k156/movement2.mxl", "Mozart, Quartet K.156 ii"),
    ("mozart/k458/movement2.mxl", "Mozart, Quartet K.458 ii"),
    ("beethoven/opus18no1/movement3.mxl", "Beethoven, Quartet Op. 18/1 iii"),
    ("corelli/opus3no1/1grave.xml", "Corelli, Trio Sonata Op. 3/1 Grave"),
    ("bach/bwv1.6.mxl", "J.S. Bach, chorale \"Wie schön leuchtet der Morgenstern\" BWV 1.6"),
    ("bach/bwv244.62.mxl", "J.S. Bach, St Matthew Passion chorale BWV 244.62"),
    ("bach/bwv80.8.mxl", "J.S. Bach, chorale \"Ein feste Burg\" BWV 80.8"),
];

/// The shipped base model, relative to the repository root.
pub const BASE_MODEL: &str = "models/perf_dyn_3x256_asap_v2";

/// The shipped corpus (the 20 pieces, `SOURCES.json` with checksums, `PROVENANCE.md`),
/// relative to the repository root.
const SHIPPED_CORPUS: &str = "corpus/music21";

/// The shipped corpus: under the current folder, else in the source tree this binary was
/// built from.
pub fn shipped_corpus() -> Option<PathBuf> {
    let here = PathBuf::from(SHIPPED_CORPUS);
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(SHIPPED_CORPUS);
    [here, built].into_iter().find(|p| p.join("SOURCES.json").is_file())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// Copies the corpus at `from` (a `SOURCES.json` and its files) into `corpus`, checking every
/// file's checksum first; returns the files. A missing or changed file is an error naming it.
pub fn copy_corpus(from: &Path, corpus: &Path) -> Result<Vec<PathBuf>> {
    let sources_path = from.join("SOURCES.json");
    let bytes = std::fs::read(&sources_path).ctx(|| format!("cannot read {}", sources_path.display()))?;
    let sources: Vec<Source> =
        serde_json::from_slice(&bytes).ctx(|| format!("{} is not a corpus list", sources_path.display()))?;
    let tmp = corpus.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).ctx(|| format!("cannot create {}", tmp.display()))?;
    let copied = (|| -> Result<()> {
        for s in &sources {
            let f = from.join(&s.file);
            let b = std::fs::read(&f).ctx(|| format!("cannot read {}", f.display()))?;
            match &s.sha256 {
                Some(want) if *want == sha256_hex(&b) => {}
                Some(want) => bail!("{} has changed: its SHA-256 is not {want} as SOURCES.json says", f.display()),
                None => bail!("{} lists no checksum for {}", sources_path.display(), s.file),
            }
            std::fs::write(tmp.join(&s.file), &b).ctx(|| format!("cannot write {}", tmp.join(&s.file).display()))?;
        }
        std::fs::write(tmp.join("SOURCES.json"), &bytes)
            .ctx(|| format!("cannot write {}", tmp.join("SOURCES.json").display()))
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let _ = std::fs::remove_dir_all(corpus);
    std::fs::rename(&tmp, corpus).ctx(|| format!("cannot move {} to {}", tmp.display(), corpus.display()))?;
    Ok(sources.iter().map(|s| corpus.join(&s.file)).collect())
}

/// The shipped base model: `models/…` under the current folder, else in the source tree this
/// binary was built from.
fn base_model() -> Option<PathBuf> {
    let here = PathBuf::from(BASE_MODEL);
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(BASE_MODEL);
    [here, built].into_iter().find(|p| p.join("model.json").is_file())
}

/// What `cadenza demo` runs; each default is the demo's (stated here once).
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Working folder: corpus/, dataset/, comparison/ (report.html inside).
    pub out: PathBuf,
    /// Take the pieces from this music21 wheel instead of the shipped corpus.
    pub wheel: Option<PathBuf>,
    /// Take them from a wheel fetched with `pip download music21 --no-deps` (when no `wheel`).
    pub download: bool,
    /// Both models start here (`None`: the shipped base, [`BASE_MODEL`]).
    pub init: Option<PathBuf>,
    /// Train small models from scratch instead of fine-tuning a base.
    pub from_scratch: bool,
    /// Layer sizes of the models trained from scratch.
    pub layers: Vec<usize>,
    /// Fine-tuning steps of each model.
    pub steps: u64,
    /// Fine-tuning hyper-parameters of both models (Magenta's `k=v,…`).
    pub hparams: String,
    /// The modified model's losses: the seed project's by default.
    pub recipe: Recipe,
    /// A third arm: the project's recipe against the same original models (`None`: two arms).
    pub project_recipe: Option<Recipe>,
    /// Training seeds per model.
    pub seeds: usize,
    /// Samples per trained model.
    pub samples: usize,
    /// 10 ms steps per sample.
    pub num_steps: u32,
    pub note_events: cadenza_generate::NoteEvents,
    pub seed: u64,
    /// Cross-validation fold of the split by piece (0: the plain 90:10 split; fold F holds out
    /// the F-th block of two pieces, so folds 1…9 check a result on pieces fold 0 never held out).
    pub fold: usize,
    /// Evaluate on at most this many eval examples.
    pub eval_examples: usize,
    pub device: cadenza_train::DeviceChoice,
    /// Stops training at the next step (the binary's Ctrl-C); a rerun resumes.
    pub cancel: cadenza_train::Cancel,
    /// Hears each training run's events.
    pub train_events: cadenza_train::OnEvent,
}

impl Default for DemoOptions {
    fn default() -> Self {
        let c = CompareOptions::default();
        DemoOptions {
            out: PathBuf::from("demo"),
            wheel: None,
            download: false,
            init: None,
            from_scratch: false,
            layers: vec![128, 128],
            steps: 200,
            hparams: "batch_size=16,learning_rate=0.001,dropout_keep_prob=0.8".into(),
            // The seed project's idea beside the project's answer.
            recipe: Recipe::SEED,
            project_recipe: Some(c.recipe),
            // Two seeds, not compare's three: three arms then train six runs, as two arms at
            // three seeds did, and the demo keeps its time.
            seeds: 2,
            samples: c.samples,
            num_steps: c.num_steps,
            note_events: c.note_events,
            seed: 0,
            fold: 0,
            eval_examples: 400,
            device: Default::default(),
            cancel: Default::default(),
            train_events: Default::default(),
        }
    }
}

/// One step of the demo, as it happens; the binary prints each one as its `Display` text and
/// each comparison's table.
#[derive(Debug)]
pub enum DemoEvent<'a> {
    /// The music21 wheel is fetched with pip.
    FetchingWheel,
    /// A piece of the wheel is left out for its rights text.
    SkippingPiece { path: String, rights: String },
    /// The corpus is in place.
    Corpus { pieces: usize, dir: PathBuf },
    /// The dataset is already built.
    DatasetReused(PathBuf),
    /// The dataset is being built.
    DatasetBuilding,
    /// The dataset is built: its statistics.
    DatasetBuilt(Box<cadenza_dataset::Stats>),
    /// The comparison of the demo's recipe starts.
    Comparing { init: Option<PathBuf>, steps: u64, seeds: usize },
    /// The comparison of the project's recipe starts, against the same original models.
    ComparingProject(Recipe),
    /// A step of either comparison.
    Compare(CompareEvent),
    /// A comparison is finished.
    Compared(&'a ComparisonReport),
    /// The demo is finished: its minutes and its index page.
    Finished { minutes: f64, index: PathBuf },
}

impl fmt::Display for DemoEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DemoEvent::FetchingWheel => f.write_str("fetching the music21 wheel (its MusicXML corpus) with pip …"),
            DemoEvent::SkippingPiece { path, rights } => write!(f, "skipping {path}: {rights}"),
            DemoEvent::Corpus { pieces, dir } => write!(f, "[1/3] corpus: {pieces} pieces in {}", dir.display()),
            DemoEvent::DatasetReused(dir) => write!(f, "[2/3] dataset: reusing {}", dir.display()),
            DemoEvent::DatasetBuilding => f.write_str("[2/3] dataset: 12 keys, split by piece"),
            DemoEvent::DatasetBuilt(stats) => write!(
                f,
                "       {}",
                serde_json::to_string(stats).unwrap_or_default().chars().take(300).collect::<String>()
            ),
            DemoEvent::Comparing { init, steps, seeds } => write!(
                f,
                "[3/3] compare: original vs modified from {}, {steps} steps each, {seeds} seed(s)",
                init.as_ref().map_or("scratch".to_string(), |p| p.display().to_string())
            ),
            DemoEvent::ComparingProject(p) => {
                write!(f, "[3/3] compare: original vs the project's recipe ({p}), against the same original models")
            }
            DemoEvent::Compare(e) => e.fmt(f),
            DemoEvent::Compared(r) => f.write_str(&crate::summary_table(r)),
            DemoEvent::Finished { minutes, index } => {
                write!(f, "demo finished in {minutes:.1} min: open {}", index.display())
            }
        }
    }
}

/// `corpus/SOURCES.json`: where each file came from and what its rights say.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    pub file: String,
    pub wheel: String,
    pub path_in_wheel: String,
    pub piece: String,
    pub rights: Option<String>,
    /// The file's SHA-256 (hex), checked before a shipped or reused corpus is used.
    #[serde(default)]
    pub sha256: Option<String>,
}

fn find_wheel(dir: &Path) -> Option<PathBuf> {
    let mut w: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("music21-") && n.to_string_lossy().ends_with(".whl"))
        })
        .collect();
    w.sort();
    w.pop()
}

/// The music21 wheel in `dir`, downloaded there with pip unless one is already present.
pub fn download_wheel(dir: &Path) -> Result<PathBuf> {
    if let Some(w) = find_wheel(dir) {
        return Ok(w);
    }
    std::fs::create_dir_all(dir).ctx(|| format!("cannot create {}", dir.display()))?;
    let mut last_err = String::new();
    for (prog, pre) in [("python3", vec!["-m", "pip"]), ("pip3", vec![]), ("pip", vec![])] {
        let mut cmd = std::process::Command::new(prog);
        cmd.args(&pre).args(["download", "music21", "--no-deps", "--only-binary=:all:", "-q", "-d"]).arg(dir);
        match cmd.status() {
            Ok(s) if s.success() => {
                if let Some(w) = find_wheel(dir) {
                    return Ok(w);
                }
                last_err = format!("{prog} succeeded but left no music21-*.whl in {}", dir.display());
            }
            Ok(s) => last_err = format!("{prog} pip download failed ({s})"),
            Err(e) => last_err = format!("{prog}: {e}"),
        }
    }
    bail!("could not download music21 with pip: {last_err}. Download it yourself (pip download music21 --no-deps) and give the demo that wheel")
}

/// The text of a score's `<rights>` elements (UTF-8 or UTF-16), if any.
fn rights_of(bytes: &[u8], is_mxl: bool) -> Option<String> {
    let xml: Vec<u8> = if is_mxl {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
        let name = (0..z.len())
            .filter_map(|i| z.by_index(i).ok().map(|f| f.name().to_string()))
            .find(|n| !n.starts_with("META-INF") && (n.ends_with(".xml") || n.ends_with(".musicxml")))?;
        let mut v = Vec::new();
        z.by_name(&name).ok()?.read_to_end(&mut v).ok()?;
        v
    } else {
        bytes.to_vec()
    };
    let text = if xml.starts_with(&[0xFF, 0xFE]) || xml.starts_with(&[0xFE, 0xFF]) {
        let le = xml[0] == 0xFF;
        let units: Vec<u16> = xml[2..]
            .chunks_exact(2)
            .map(|c| if le { u16::from_le_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], c[1]]) })
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(&xml).into_owned()
    };
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("<rights") {
        let after = &rest[i..];
        let (Some(gt), Some(end)) = (after.find('>'), after.find("</rights>")) else { break };
        if gt < end {
            out.push(after[gt + 1..end].trim().to_string());
        }
        rest = &after[end + 9..];
    }
    (!out.is_empty()).then(|| out.join("; "))
}

/// Extracts the 20 pieces into `corpus/`; returns the files. A piece whose rights text
/// reserves all rights is left out, and `on_event` hears of it.
pub fn extract_corpus(wheel: &Path, corpus: &Path, on_event: &mut dyn FnMut(DemoEvent)) -> Result<Vec<PathBuf>> {
    let sources_path = corpus.join("SOURCES.json");
    if let Ok(b) = std::fs::read(&sources_path) {
        if let Ok(s) = serde_json::from_slice::<Vec<Source>>(&b) {
            let files: Vec<PathBuf> = s.iter().map(|s| corpus.join(&s.file)).collect();
            if files.iter().all(|f| f.is_file()) && !files.is_empty() {
                return Ok(files);
            }
        }
    }
    let f = std::fs::File::open(wheel).ctx(|| format!("cannot open {}", wheel.display()))?;
    let mut z = zip::ZipArchive::new(f).ctx(|| format!("{} is not a wheel (zip)", wheel.display()))?;
    let tmp = corpus.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).ctx(|| format!("cannot create {}", tmp.display()))?;
    let mut sources = Vec::new();
    for (i, (path, piece)) in PIECES.iter().enumerate() {
        let inner = format!("music21/corpus/{path}");
        let mut bytes = Vec::new();
        z.by_name(&inner)
            .ctx(|| format!("{} has no {inner}", wheel.display()))?
            .read_to_end(&mut bytes)
            .ctx(|| format!("cannot read {inner} in {}", wheel.display()))?;
        let is_mxl = path.ends_with(".mxl");
        let rights = rights_of(&bytes, is_mxl);
        if rights.as_deref().is_some_and(|r| r.to_lowercase().contains("all rights reserved")) {
            on_event(DemoEvent::SkippingPiece { path: inner, rights: rights.unwrap_or_default() });
            continue;
        }
        let name = format!("{:02}_{}", i + 1, path.replace('/', "_"));
        std::fs::write(tmp.join(&name), &bytes).ctx(|| format!("cannot write {}", tmp.join(&name).display()))?;
        sources.push(Source {
            file: name,
            wheel: wheel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            path_in_wheel: inner,
            piece: piece.to_string(),
            rights,
            sha256: Some(sha256_hex(&bytes)),
        });
    }
    let sources_json = serde_json::to_vec_pretty(&sources).expect("serialisable");
    std::fs::write(tmp.join("SOURCES.json"), sources_json)
        .ctx(|| format!("cannot write {}", tmp.join("SOURCES.json").display()))?;
    let _ = std::fs::remove_dir_all(corpus);
    std::fs::rename(&tmp, corpus).ctx(|| format!("cannot move {} to {}", tmp.display(), corpus.display()))?;
    Ok(sources.iter().map(|s| corpus.join(&s.file)).collect())
}

/// Runs `cadenza demo`; `on_event` hears each step.
pub fn run_demo(a: &DemoOptions, on_event: &mut dyn FnMut(DemoEvent)) -> Result<()> {
    let started = std::time::Instant::now();
    std::fs::create_dir_all(&a.out).ctx(|| format!("cannot create {}", a.out.display()))?;
    let _lock = cadenza_atomic::DirLock::acquire(&a.out, "demo")
        .map_err(|e| crate::error::CompareError::Setup(e.to_string()))?;
    let corpus = a.out.join("corpus");
    let files = demo_corpus(a, &corpus, on_event)?;
    on_event(DemoEvent::Corpus { pieces: files.len(), dir: corpus });
    let dataset = demo_dataset(a, &files, on_event)?;
    let init = match (&a.init, a.from_scratch) {
        (Some(p), _) => Some(p.clone()),
        (None, true) => None,
        (None, false) => Some(base_model().ctx(|| format!("the shipped base model ({BASE_MODEL}) is not here; run the demo from the repository root, start it from another model, or train from scratch"))?),
    };
    on_event(DemoEvent::Comparing { init: init.clone(), steps: a.steps, seeds: a.seeds });
    let o = CompareOptions {
        dataset,
        init,
        layers: a.layers.clone(),
        steps: a.steps,
        hparams: a.hparams.clone(),
        recipe: a.recipe,
        eval_every: (a.steps / 6).max(1),
        eval_examples: Some(a.eval_examples),
        seed: a.seed,
        seeds: a.seeds,
        samples: a.samples,
        num_steps: a.num_steps,
        note_events: a.note_events,
        out: a.out.join("comparison"),
        progress: true,
        device: a.device,
        cancel: a.cancel.clone(),
        train_events: a.train_events.clone(),
        ..Default::default()
    };
    let r = compare(&o, &mut |e| on_event(DemoEvent::Compare(e)))?;
    on_event(DemoEvent::Compared(&r));
    let mut reports = vec![RecipeReport { recipe: a.recipe, dir: o.out.clone(), report: r }];
    if let Some(p) = a.project_recipe.filter(|p| (p.any() || p.realism) && *p != a.recipe) {
        on_event(DemoEvent::ComparingProject(p));
        let o2 = CompareOptions {
            recipe: p,
            out: a.out.join("comparison_project"),
            original_from: Some(o.out.clone()),
            ..o.clone()
        };
        let r2 = compare(&o2, &mut |e| on_event(DemoEvent::Compare(e)))?;
        on_event(DemoEvent::Compared(&r2));
        reports.push(RecipeReport { recipe: p, dir: o2.out.clone(), report: r2 });
    }
    let index = a.out.join("index.html");
    cadenza_atomic::write_atomic(&index, demo_index(&reports, &a.out).as_bytes())
        .ctx(|| format!("cannot write {}", index.display()))?;
    on_event(DemoEvent::Finished { minutes: started.elapsed().as_secs_f64() / 60.0, index });
    Ok(())
}

/// The demo's corpus in `corpus`: one already in place is reused; else a wheel given or
/// downloaded on request; else the corpus shipped with Cadenza (no Python, no network); pip
/// only when none is found.
fn demo_corpus(a: &DemoOptions, corpus: &Path, on_event: &mut dyn FnMut(DemoEvent)) -> Result<Vec<PathBuf>> {
    let wheel = |on_event: &mut dyn FnMut(DemoEvent)| match &a.wheel {
        Some(w) => Ok(w.clone()),
        None => {
            let dir = a.out.join("download");
            if find_wheel(&dir).is_none() {
                on_event(DemoEvent::FetchingWheel);
            }
            download_wheel(&dir)
        }
    };
    Ok(match extract_corpus(Path::new(""), corpus, on_event) {
        Ok(files) if a.wheel.is_none() && !a.download => files,
        _ if a.wheel.is_some() || a.download => extract_corpus(&wheel(on_event)?, corpus, on_event)?,
        _ => match shipped_corpus() {
            Some(from) => copy_corpus(&from, corpus)?,
            None => extract_corpus(&wheel(on_event)?, corpus, on_event)?,
        },
    })
}

/// The demo's dataset (12 keys, split by piece) in `OUT/dataset`, built unless it is there.
fn demo_dataset(a: &DemoOptions, files: &[PathBuf], on_event: &mut dyn FnMut(DemoEvent)) -> Result<PathBuf> {
    let dataset = a.out.join("dataset");
    if dataset.join("dataset.json").is_file() {
        on_event(DemoEvent::DatasetReused(dataset.clone()));
        return Ok(dataset);
    }
    on_event(DemoEvent::DatasetBuilding);
    let opts = cadenza_dataset::BuildOptions {
        transpositions: (-5..=6).collect(),
        stretches: vec![1.0],
        eval_ratio: 0.1,
        seed: a.seed,
        fold: a.fold,
        progress: true,
        ..Default::default()
    };
    let stats = cadenza_dataset::build(files, &dataset, &opts)?;
    on_event(DemoEvent::DatasetBuilt(Box::new(stats)));
    Ok(dataset)
}

/// One comparison of the demo: the modified model's recipe, its folder and its report.
struct RecipeReport {
    recipe: Recipe,
    dir: PathBuf,
    report: ComparisonReport,
}

/// `demo/index.html`: each recipe's headline under the rule, with a link to its report.
fn demo_index(reports: &[RecipeReport], out: &Path) -> String {
    let esc = cadenza_render::escape_html;
    let mut h = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>Cadenza demo</title><style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:900px;padding:0 1em}li{margin:1em 0}</style></head><body>\n<h1>Does a modified Performance RNN make better classical music?</h1>\n<p>Each recipe's modified model against the same original fine-tune, judged by the rule fixed before it was run: (a) the untargeted judge does not find its samples easier to tell from the real music, (b) a harmony or rhythm measure improves and none moves away from the real music, (c) the eval NLL costs at most 2 %.</p>\n<ul>\n");
    for RecipeReport { recipe, dir, report: r } in reports {
        let rel = dir.strip_prefix(out).unwrap_or(dir).join("report.html");
        h.push_str(&format!(
            "<li><b>{}</b> (<code>{}</code>): {} <a href=\"{}\">report</a></li>\n",
            esc(&recipe.to_string()),
            esc(&recipe.spec()),
            esc(r.headline.as_ref().map_or("no headline", |x| x.sentence.as_str())),
            esc(&rel.display().to_string())
        ));
    }
    if !reports.iter().any(|r| r.report.headline.as_ref().is_some_and(|x| x.better)) {
        h.push_str("</ul>\n<p><b>No recipe passed the rule here.</b></p>\n");
    } else {
        h.push_str("</ul>\n");
    }
    h.push_str(&format!(
        "<p>These are measures; the last word is for ears. A blind listening test for musicians: <code>cadenza listen {} --out listen</code>, send <code>listen/listeners.zip</code>, then <code>cadenza listen tally listen ANSWERS.json...</code>.</p>\n",
        esc(&out.display().to_string())
    ));
    h.push_str("</body></html>\n");
    h
}
