//! The run folder: checkpoints written whole or not at all (temp folder, fsync, rename),
//! `checkpoint.json` (latest, best, kept), `best/`, `log.txt`, and the state a resumed run
//! needs.

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
    /// folder either exists complete or not at all.
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
            Ok::<(), TrainError>(())
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

/// Loads a checkpoint folder: module (with its parameter ids), optimizer state and state.json.
pub(crate) fn load_checkpoint(
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
