//! The realism run's folder: checkpoints written into a temporary folder and renamed into
//! place (a checkpoint exists whole or not at all), `checkpoint.json` (latest, best, kept),
//! `best/` (a plain model folder), `realism.csv` and `curves.svg`.

use crate::critic::Critic;
use crate::run::{RealismState, StepRow};
use crate::RealismError;
use burn::module::Module;
use burn::tensor::Device;
use cadenza_model::Weights;
use cadenza_performance::Token;
use cadenza_render::chart::{panels_svg, Line, Panel};
use cadenza_train::optim::adam;
use cadenza_train::PerformanceRnn;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What one checkpoint holds, borrowed from the live run.
pub(crate) struct Parts<'a> {
    pub net: &'a PerformanceRnn,
    pub optim: &'a burn::optim::ModuleOptimizer,
    pub critic: &'a Critic,
    pub critic_optim: &'a burn::optim::ModuleOptimizer,
    pub replay: &'a [Vec<Token>],
    pub state: &'a RealismState,
    pub rows: &'a [StepRow],
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Index {
    latest: Option<String>,
    best: Option<String>,
    all: Vec<String>,
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RealismError + '_ {
    move |source| RealismError::Io { path: path.to_path_buf(), source }
}

fn other(path: &Path, e: impl std::fmt::Display) -> RealismError {
    RealismError::Io { path: path.to_path_buf(), source: std::io::Error::other(e.to_string()) }
}

pub(crate) fn write_json(path: &Path, v: &impl Serialize) -> Result<(), RealismError> {
    cadenza_atomic::write_json(path, v).map_err(io(path))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, RealismError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&bytes).map_err(|e| other(path, e))
}

fn write_parts(dir: &Path, p: &Parts, weights: &Weights) -> Result<(), RealismError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    weights.save_dir(dir, &format!("realism run, step {}", p.state.step)).map_err(|e| other(dir, e))?;
    p.net.clone().save_file(dir.join("module.bpk")).map_err(|e| other(&dir.join("module.bpk"), e))?;
    p.optim.save(dir.join("optimizer.bpk")).map_err(|e| other(&dir.join("optimizer.bpk"), e))?;
    p.critic.clone().save_file(dir.join("critic.bpk")).map_err(|e| other(&dir.join("critic.bpk"), e))?;
    p.critic_optim.save(dir.join("critic_optimizer.bpk")).map_err(|e| other(&dir.join("critic_optimizer.bpk"), e))?;
    write_json(&dir.join("replay.json"), &p.replay)?;
    write_json(&dir.join("rows.json"), &p.rows)?;
    write_json(&dir.join("state.json"), p.state)?;
    for f in ["module.bpk", "optimizer.bpk", "critic.bpk", "critic_optimizer.bpk"] {
        if let Ok(file) = std::fs::File::open(dir.join(f)) {
            file.sync_all().map_err(io(&dir.join(f)))?;
        }
    }
    // Last, as train's checkpoints: every file's length and CRC32C, checked on resume.
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != cadenza_train::checksums::MANIFEST)
        .collect();
    files.sort();
    let names: Vec<&str> = files.iter().map(String::as_str).collect();
    cadenza_train::checksums::write(dir, &names).map_err(|e| other(dir, e))?;
    cadenza_atomic::sync_dir(dir);
    Ok(())
}

/// Replaces `dst` with the folder `tmp` (renamed into place; the old one removed after).
fn replace_dir(tmp: &Path, dst: &Path) -> Result<(), RealismError> {
    let old = dst.with_extension("old");
    let _ = std::fs::remove_dir_all(&old);
    if dst.exists() {
        std::fs::rename(dst, &old).map_err(io(dst))?;
    }
    std::fs::rename(tmp, dst).map_err(io(dst))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Writes a checkpoint (and `best/` when `best`), keeps the last `keep_last` and the best, and
/// redraws `realism.csv` and `curves.svg`. A non-finite weight is refused before anything is
/// written. Returns the checkpoint's name.
pub(crate) fn save(run: &Path, p: &Parts, best: bool, keep_last: usize) -> Result<String, RealismError> {
    let weights = p.net.to_weights(&p.state.model, &p.state.names);
    if let Err(e) = weights.check("the policy") {
        return Err(RealismError::NonFiniteWeights { step: p.state.step, detail: e.to_string() });
    }
    let root = run.join("checkpoints");
    let name = format!("ckpt-{:08}", p.state.step);
    let tmp = root.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    if let Err(e) = write_parts(&tmp, p, &weights) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    replace_dir(&tmp, &root.join(&name))?;
    cadenza_atomic::sync_dir(&root);
    let index_path = run.join("checkpoint.json");
    let mut index: Index = if index_path.exists() { read_json(&index_path)? } else { Index::default() };
    if !index.all.contains(&name) {
        index.all.push(name.clone());
    }
    index.latest = Some(name.clone());
    if best {
        index.best = Some(name.clone());
        let best_tmp = run.join(".best.tmp");
        let _ = std::fs::remove_dir_all(&best_tmp);
        weights
            .save_dir(&best_tmp, &format!("realism run, best at step {}", p.state.step))
            .map_err(|e| other(&best_tmp, e))?;
        replace_dir(&best_tmp, &run.join("best"))?;
    }
    while index.all.len() > keep_last.max(1) {
        let Some(pos) =
            index.all.iter().position(|n| Some(n) != index.best.as_ref() && Some(n) != index.latest.as_ref())
        else {
            break;
        };
        let victim = index.all.remove(pos);
        let _ = std::fs::remove_dir_all(root.join(victim));
    }
    write_json(&index_path, &index)?;
    write_logs(run, p.rows)?;
    Ok(name)
}

/// Loads the newest intact checkpoint of a run: one whose files match their checksums and
/// load. Returns it with what was wrong with each newer one (passed over).
pub(crate) fn load_latest(run: &Path, dev: &Device) -> Result<(crate::run::Live, Vec<String>), RealismError> {
    let index_path = run.join("checkpoint.json");
    if !index_path.exists() {
        return Err(RealismError::Setup(format!("{}: nothing to resume (no checkpoint.json)", run.display())));
    }
    let index: Index = read_json(&index_path)?;
    let mut damaged = Vec::new();
    for name in index.all.iter().rev() {
        let dir = run.join("checkpoints").join(name);
        let loaded =
            cadenza_train::checksums::verify(&dir).and_then(|_| load_dir(&dir, dev).map_err(|e| e.to_string()));
        match loaded {
            Ok(live) => return Ok((live, damaged)),
            Err(e) => damaged.push(e),
        }
    }
    if damaged.is_empty() {
        return Err(RealismError::Setup(format!("{}: no checkpoint to resume", run.display())));
    }
    Err(RealismError::Setup(format!("{}: no intact checkpoint to resume: {}", run.display(), damaged.join("; "))))
}

/// Loads one checkpoint folder.
fn load_dir(dir: &Path, dev: &Device) -> Result<crate::run::Live, RealismError> {
    let dir = dir.to_path_buf();
    let state: RealismState = read_json(&dir.join("state.json"))?;
    let weights = Weights::load_dir(&dir).map_err(|e| other(&dir, e))?;
    let net = PerformanceRnn::from_weights(&weights, dev)
        .try_load_file(dir.join("module.bpk"))
        .map_err(|e| other(&dir.join("module.bpk"), e))?;
    let critic = Critic::new(state.model.num_logits(), &state.hparams.critic, 0, dev)
        .try_load_file(dir.join("critic.bpk"))
        .map_err(|e| other(&dir.join("critic.bpk"), e))?;
    Ok(crate::run::Live {
        net,
        optim: adam().load(dir.join("optimizer.bpk")).map_err(|e| other(&dir.join("optimizer.bpk"), e))?,
        critic,
        critic_optim: adam()
            .load(dir.join("critic_optimizer.bpk"))
            .map_err(|e| other(&dir.join("critic_optimizer.bpk"), e))?,
        replay: read_json(&dir.join("replay.json"))?,
        rows: read_json(&dir.join("rows.json"))?,
        state,
    })
}

fn csv_field(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| format!("{x}"))
}

/// `realism.csv` (one line per step) and `curves.svg` (reward, KL, critic accuracy, eval NLL,
/// and the seconds of each part per step).
fn write_logs(run: &Path, rows: &[StepRow]) -> Result<(), RealismError> {
    let mut csv = String::from(
        "step,reward,kl,pg_loss,ce_real,critic_accuracy,eval_loss,tokens,seconds_sampling,seconds_critic,seconds_policy\n",
    );
    for r in rows {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{:.3},{:.3},{:.3}\n",
            r.step,
            r.reward,
            r.kl,
            r.pg_loss,
            csv_field(r.ce_real),
            r.critic_accuracy,
            csv_field(r.eval_loss),
            r.tokens,
            r.seconds_sampling,
            r.seconds_critic,
            r.seconds_policy
        ));
    }
    cadenza_atomic::write_atomic(&run.join("realism.csv"), csv.as_bytes()).map_err(io(&run.join("realism.csv")))?;
    let series = |title: &str, f: &dyn Fn(&StepRow) -> Option<f64>| Panel {
        title: title.into(),
        lines: vec![Line {
            label: title.into(),
            colour: "#d62728".into(),
            points: rows.iter().filter_map(|r| f(r).map(|v| (r.step as f64, v))).collect(),
        }],
    };
    let panels = [
        series("critic reward (mean window log-odds)", &|r| Some(r.reward)),
        series("KL to the start model (nats/event)", &|r| Some(r.kl)),
        series("critic held-out accuracy", &|r| Some(r.critic_accuracy)),
        series("eval NLL (nats/event)", &|r| r.eval_loss),
    ];
    let svg = panels_svg("realism run (x: policy step)", &panels, 2, (360.0, 200.0));
    cadenza_atomic::write_atomic(&run.join("curves.svg"), svg.as_bytes()).map_err(io(&run.join("curves.svg")))
}

/// The model a finished run gives: `best/` (its latest evaluation within the NLL budget), else
/// its newest checkpoint (each is a model folder).
pub fn result_model(run: &Path) -> Result<std::path::PathBuf, RealismError> {
    let best = run.join("best");
    if best.join("model.json").is_file() {
        return Ok(best);
    }
    let index: Index = read_json(&run.join("checkpoint.json"))?;
    let latest = index
        .latest
        .ok_or_else(|| RealismError::Setup(format!("{}: the realism run has no checkpoint", run.display())))?;
    Ok(run.join("checkpoints").join(latest))
}
