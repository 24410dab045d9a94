//! The run folder: checkpoints written whole or not at all (temp folder, fsync, rename) with
//! the checksums of their files, `checkpoint.json` (latest, best, kept), `best/`, `log.txt`,
//! and the state a resumed run needs.

use crate::error::{ferr, write_json_atomic, TrainError};
use crate::hparams::{EarlyStop, HParams};
use crate::network::PerformanceRnn;
use crate::optim::adam;
use burn::module::Module;
use burn::tensor::Device;
use cadenza_model::{ModelConfig, TensorNames, Weights};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Everything besides tensors that a resumed run needs, saved in every checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainState {
    pub step: u64,
    pub epoch: u64,
    pub position: usize,
    pub seed: u64,
    pub hparams: HParams,
    pub early_stop: Option<EarlyStop>,
    pub model: ModelConfig,
    pub names: TensorNames,
    pub dataset_fingerprint: String,
    pub best_step: Option<u64>,
    pub best_value: Option<f64>,
    pub evals_since_best: usize,
    pub tokens_seen: u64,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct CheckpointIndex {
    pub latest: Option<String>,
    pub best: Option<String>,
    pub all: Vec<String>,
}

/// `log.txt`: one line per event, flushed at once.
pub(crate) struct Log(pub std::fs::File);
impl Log {
    /// Opens `run_dir/log.txt` to append to it.
    pub fn open(run_dir: &Path) -> Result<Log, TrainError> {
        let f = std::fs::OpenOptions::new().create(true).append(true).open(run_dir.join("log.txt"));
        Ok(Log(f.map_err(|e| ferr(run_dir, e))?))
    }

    pub fn line(&mut self, s: &str) {
        let _ = writeln!(self.0, "{s}");
        let _ = self.0.flush();
    }
}

pub(crate) struct Run {
    pub dir: PathBuf,
    pub index: CheckpointIndex,
    pub keep_last: usize,
}

impl Run {
    pub fn ckpt_dir(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }

    /// Writes a checkpoint into a temporary folder and renames it into place: a checkpoint
    /// folder either exists complete or not at all, its `checksums.json` written last. Weights
    /// with a non-finite value are refused before anything is written (nor do they reach
    /// `best/`).
    pub fn save(
        &mut self,
        net: &PerformanceRnn,
        optim: &burn::optim::ModuleOptimizer,
        state: &TrainState,
        best: bool,
    ) -> Result<String, TrainError> {
        let name = format!("ckpt-{:08}", state.step);
        let root = self.ckpt_dir();
        std::fs::create_dir_all(&root).map_err(|e| ferr(&root, e))?;
        let tmp = root.join(format!(".{name}.tmp"));
        let _ = std::fs::remove_dir_all(&tmp);
        let weights = net.to_weights(&state.model, &state.names);
        if let Err(e) = weights.check(&name) {
            return Err(TrainError::NonFiniteWeights {
                step: state.step,
                problem: e.to_string(),
                checkpoint: self.index.latest.clone().unwrap_or_else(|| "none".into()),
            });
        }
        // A failure (a full disk) leaves no partial folder behind to take up the space.
        let written = (|| {
            std::fs::create_dir_all(&tmp).map_err(|e| ferr(&tmp, e))?;
            weights
                .save_dir(&tmp, &format!("training run {} step {}", self.dir.display(), state.step))
                .map_err(|e| ferr(&tmp, e))?;
            net.clone().save_file(tmp.join("module.bpk")).map_err(|e| ferr(&tmp.join("module.bpk"), e))?;
            optim.save(tmp.join("optimizer.bpk")).map_err(|e| ferr(&tmp.join("optimizer.bpk"), e))?;
            write_json_atomic(&tmp.join("state.json"), state)?;
            for f in ["module.bpk", "optimizer.bpk"] {
                if let Ok(file) = std::fs::File::open(tmp.join(f)) {
                    file.sync_all().map_err(|e| ferr(&tmp.join(f), e))?;
                }
            }
            crate::checksums::write(&tmp, &CHECKPOINT_FILES)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        cadenza_atomic::sync_dir(&tmp);
        let dst = root.join(&name);
        let _ = std::fs::remove_dir_all(&dst);
        std::fs::rename(&tmp, &dst).map_err(|e| ferr(&dst, e))?;
        cadenza_atomic::sync_dir(&root);
        if !self.index.all.contains(&name) {
            self.index.all.push(name.clone());
        }
        self.index.latest = Some(name.clone());
        if best {
            self.index.best = Some(name.clone());
        }
        // The index names the new checkpoint as soon as it is complete.
        write_json_atomic(&self.dir.join("checkpoint.json"), &self.index)?;
        if best {
            // `best/`: the best model as a plain model folder, replaced atomically.
            let best_tmp = self.dir.join(".best.tmp");
            let _ = std::fs::remove_dir_all(&best_tmp);
            if let Err(e) = weights.save_dir(&best_tmp, &format!("best checkpoint {name}")) {
                let _ = std::fs::remove_dir_all(&best_tmp);
                return Err(ferr(&best_tmp, e));
            }
            let best_dir = self.dir.join("best");
            let old = self.dir.join(".best.old");
            let _ = std::fs::remove_dir_all(&old);
            if best_dir.exists() {
                std::fs::rename(&best_dir, &old).map_err(|e| ferr(&best_dir, e))?;
            }
            std::fs::rename(&best_tmp, &best_dir).map_err(|e| ferr(&best_dir, e))?;
            let _ = std::fs::remove_dir_all(&old);
        }
        // Keep the last K and the best.
        while self.index.all.len() > self.keep_last.max(1) {
            let pos = self.index.all.iter().position(|n| Some(n) != self.index.best.as_ref()).unwrap_or(0);
            let victim = self.index.all.remove(pos);
            if Some(&victim) == self.index.best.as_ref() {
                self.index.all.insert(0, victim);
                break;
            }
            let _ = std::fs::remove_dir_all(root.join(&victim));
        }
        write_json_atomic(&self.dir.join("checkpoint.json"), &self.index)?;
        Ok(name)
    }
}

/// The files of a checkpoint folder, each with its checksum in `checksums.json`.
pub(crate) const CHECKPOINT_FILES: [&str; 5] =
    ["model.json", "weights.ckpt", "module.bpk", "optimizer.bpk", "state.json"];

/// The run's `checkpoint.json` (empty when there is none or it cannot be read).
pub(crate) fn read_index(run_dir: &Path) -> CheckpointIndex {
    std::fs::read(run_dir.join("checkpoint.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// A checkpoint loaded to resume from.
pub(crate) struct Loaded {
    pub name: String,
    pub net: PerformanceRnn,
    pub optim: burn::optim::ModuleOptimizer,
    pub state: TrainState,
}

/// Loads the newest intact checkpoint of the run: `latest`, then the others newest first. One
/// whose files differ from its checksums, or whose weights hold a non-finite value, goes to
/// `on_damaged(name, problem)` (the problem names the file), leaves the index, and is passed
/// over; when none is intact the error lists every problem. The index's `latest` becomes the
/// checkpoint loaded.
pub(crate) fn load_newest_intact(
    run_dir: &Path,
    index: &mut CheckpointIndex,
    dev: &Device,
    on_damaged: &mut dyn FnMut(&str, &str),
) -> Result<Loaded, TrainError> {
    let mut order: Vec<String> = index.latest.iter().cloned().collect();
    let mut older: Vec<String> = index.all.iter().filter(|n| Some(*n) != index.latest.as_ref()).cloned().collect();
    older.sort_by(|a, b| b.cmp(a));
    order.extend(older);
    let mut problems = Vec::new();
    for name in order {
        let dir = run_dir.join("checkpoints").join(&name);
        let problem = match crate::checksums::verify(&dir) {
            Err(problem) => problem,
            Ok(_) => {
                let (net, optim, state) = load_checkpoint(&dir, dev)?;
                let module = dir.join("module.bpk").display().to_string();
                match net.to_weights(&state.model, &state.names).check(&module) {
                    Ok(()) => {
                        index.latest = Some(name.clone());
                        return Ok(Loaded { name, net, optim, state });
                    }
                    Err(e) => e.to_string(),
                }
            }
        };
        on_damaged(&name, &problem);
        index.all.retain(|n| n != &name);
        problems.push(problem);
    }
    Err(TrainError::NoIntactCheckpoint { dir: run_dir.display().to_string(), problems: problems.join("; ") })
}

/// Loads a checkpoint folder: module (with its parameter ids), optimizer state and state.json.
fn load_checkpoint(
    dir: &Path,
    dev: &Device,
) -> Result<(PerformanceRnn, burn::optim::ModuleOptimizer, TrainState), TrainError> {
    let state: TrainState =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).map_err(|e| ferr(&dir.join("state.json"), e))?)
            .map_err(|e| ferr(&dir.join("state.json"), e))?;
    let weights = Weights::load_dir(dir).map_err(|e| ferr(dir, e))?;
    let net = PerformanceRnn::from_weights(&weights, dev)
        .try_load_file(dir.join("module.bpk"))
        .map_err(|e| ferr(&dir.join("module.bpk"), e))?;
    let optim = adam().load(dir.join("optimizer.bpk")).map_err(|e| ferr(&dir.join("optimizer.bpk"), e))?;
    Ok((net, optim, state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use cadenza_performance::Config;

    /// Weights with a NaN are refused before anything is written: no checkpoint folder, no
    /// `best/`, and the index keeps naming the last good checkpoint; a finite model saves with
    /// its checksums.
    #[test]
    fn a_non_finite_model_is_never_saved() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = Weights::init(ModelConfig::new(Config::PerformanceWithDynamics, vec![8]), 1);
        let (model, names) = (w.config.clone(), w.names.clone());
        let state = |step: u64| TrainState {
            step,
            epoch: 0,
            position: 0,
            seed: 1,
            hparams: HParams::default(),
            early_stop: None,
            model: model.clone(),
            names: names.clone(),
            dataset_fingerprint: "test".into(),
            best_step: None,
            best_value: None,
            evals_since_best: 0,
            tokens_seen: 0,
            seconds: 0.0,
        };
        let dev = Device::flex().autodiff();
        let mut run = Run { dir: tmp.path().to_path_buf(), index: CheckpointIndex::default(), keep_last: 3 };
        let good = PerformanceRnn::from_weights(&w, &dev);
        assert_eq!(run.save(&good, &adam(), &state(1), true).unwrap(), "ckpt-00000001");
        assert_eq!(crate::checksums::verify(&tmp.path().join("checkpoints/ckpt-00000001")), Ok(true));
        let best_before = std::fs::read(tmp.path().join("best/weights.ckpt")).unwrap();

        w.fc_b[3] = f32::NAN;
        let bad = PerformanceRnn::from_weights(&w, &dev);
        let err = run.save(&bad, &adam(), &state(2), true).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, TrainError::NonFiniteWeights { step: 2, .. }), "{msg}");
        assert!(msg.contains("non-finite value") && msg.contains("last good checkpoint is ckpt-00000001"), "{msg}");
        assert!(!tmp.path().join("checkpoints/ckpt-00000002").exists());
        assert!(!tmp.path().join("checkpoints/.ckpt-00000002.tmp").exists());
        assert_eq!(std::fs::read(tmp.path().join("best/weights.ckpt")).unwrap(), best_before);
        assert_eq!(read_index(tmp.path()).latest.as_deref(), Some("ckpt-00000001"));
    }
}
