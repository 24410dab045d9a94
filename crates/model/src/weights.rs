//! Model weights as plain `f32` buffers, in TensorFlow's layout, read from and written to
//! `.mag` bundles and Cadenza model folders.
//!
//! A model folder holds `model.json` (the typed [`ModelConfig`] plus tensor names) and
//! `weights.ckpt`, a TensorFlow V1 checkpoint written by `cadenza-mag`: the same bytes a
//! `.mag` carries, so export is a copy and nothing is lost between the two.

use cadenza_mag::{Bundle, Checkpoint, Layout, Tensor};
use cadenza_performance::Config;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ModelError {
    #[error(transparent)]
    Mag(#[from] cadenza_mag::MagError),
    #[error("{path}: {msg}")]
    Invalid { path: String, msg: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Everything that fixes the network's shape. Saved beside every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub config: Config,
    /// Hidden size of each LSTM layer, bottom first (Magenta's `rnn_layer_sizes`).
    pub layers: Vec<usize>,
}

impl ModelConfig {
    pub fn new(config: Config, layers: Vec<usize>) -> Self {
        ModelConfig { config, layers }
    }
    pub fn input_size(&self) -> usize {
        self.config.control_size() + self.config.event_feature_size()
    }
    pub fn num_logits(&self) -> usize {
        self.config.num_logits()
    }
    pub fn top(&self) -> usize {
        *self.layers.last().unwrap_or(&0)
    }
    /// FLOPs (2 per multiply-add) of one forward step of one row: every LSTM kernel (layer 0's
    /// input is a row gather of its one-hot event, so only its recurrent rows count) and the
    /// logits layer. Its multiply-adds are also the weights a step reads.
    pub fn forward_flops(&self) -> f64 {
        let mut f = 0.0;
        for (l, &h) in self.layers.iter().enumerate() {
            let rows = if l == 0 { h } else { self.layer_input(l) + h };
            f += 2.0 * rows as f64 * 4.0 * h as f64;
        }
        f + 2.0 * self.top() as f64 * self.num_logits() as f64
    }

    /// Rows of layer `l`'s kernel that multiply its input.
    pub fn layer_input(&self, l: usize) -> usize {
        if l == 0 {
            self.input_size()
        } else {
            self.layers[l - 1]
        }
    }
    pub fn num_parameters(&self) -> usize {
        let mut n = 0;
        for (l, &h) in self.layers.iter().enumerate() {
            n += (self.layer_input(l) + h) * 4 * h + 4 * h;
        }
        n + self.top() * self.num_logits() + self.num_logits()
    }
}

/// Checkpoint tensor names, kept so an exported bundle has exactly the template's names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorNames {
    pub kernels: Vec<String>,
    pub biases: Vec<String>,
    pub fc_weights: String,
    pub fc_biases: String,
    /// What the checkpoint's cell adds to the forget gate at run time: 1.0 for Magenta's
    /// BasicLSTMCell, 0.0 for the cuDNN-compatible cell (whose saved bias holds it). In memory
    /// [`Weights::biases`] are always BasicLSTMCell's (the kernels add 1.0); reading and
    /// writing the checkpoint converts, so an export keeps the layout it imported.
    #[serde(default = "basic_forget_bias")]
    pub forget_bias: f32,
}

fn basic_forget_bias() -> f32 {
    1.0
}

impl TensorNames {
    pub fn magenta(layers: usize) -> Self {
        let cell = |k: usize, what: &str| format!("rnn/multi_rnn_cell/cell_{k}/basic_lstm_cell/{what}");
        TensorNames {
            kernels: (0..layers).map(|k| cell(k, "kernel")).collect(),
            biases: (0..layers).map(|k| cell(k, "bias")).collect(),
            fc_weights: "fully_connected/weights".into(),
            fc_biases: "fully_connected/biases".into(),
            forget_bias: basic_forget_bias(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    pub config: ModelConfig,
    /// Per layer: kernel `[in + H, 4H]` row-major (input rows first, then h rows).
    pub kernels: Vec<Vec<f32>>,
    /// Per layer: `[4H]`, without the run-time forget bias.
    pub biases: Vec<Vec<f32>>,
    /// `[H_top, C]`.
    pub fc_w: Vec<f32>,
    pub fc_b: Vec<f32>,
    pub names: TensorNames,
}

/// `model.json` in a model folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelFile {
    pub format: u32,
    pub model: ModelConfig,
    pub names: TensorNames,
    /// Where the weights came from (a bundle, a training run), for people reading the folder.
    pub provenance: String,
}

impl Weights {
    /// Glorot-uniform kernels and zero biases, as TensorFlow initialises a fresh graph.
    pub fn init(config: ModelConfig, seed: u64) -> Self {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut glorot = |rows: usize, cols: usize| -> Vec<f32> {
            let lim = (6.0 / (rows + cols) as f64).sqrt() as f32;
            (0..rows * cols).map(|_| rng.gen_range(-lim..lim)).collect()
        };
        let mut kernels = Vec::new();
        let mut biases = Vec::new();
        for (l, &h) in config.layers.iter().enumerate() {
            kernels.push(glorot(config.layer_input(l) + h, 4 * h));
            biases.push(vec![0.0; 4 * h]);
        }
        let fc_w = glorot(config.top(), config.num_logits());
        let fc_b = vec![0.0; config.num_logits()];
        let names = TensorNames::magenta(config.layers.len());
        Weights { config, kernels, biases, fc_w, fc_b, names }
    }

    /// Interprets a checkpoint through its inferred layout. The Performance config comes from
    /// the bundle's generator id; a compact-config bundle shares the one-hot id and weights.
    pub fn from_checkpoint(ckpt: &Checkpoint, layout: &Layout, source: &str) -> Result<Self, ModelError> {
        let invalid = |msg: String| ModelError::Invalid { path: source.to_string(), msg };
        let config = Config::from_key(&layout.generator_id)
            .ok_or_else(|| invalid(format!("unknown generator id '{}'", layout.generator_id)))?;
        let mc = ModelConfig::new(config, layout.hidden.clone());
        if layout.input_size != mc.input_size() {
            return Err(invalid(format!(
                "tensor {}: layer-0 input of {} rows, but config {} needs {}",
                layout.names.cells[0].kernel,
                layout.input_size,
                config.key(),
                mc.input_size()
            )));
        }
        if layout.num_classes != mc.num_logits() {
            return Err(invalid(format!(
                "tensor {}: {} classes, config {} has {}",
                layout.names.fc_biases,
                layout.num_classes,
                config.key(),
                mc.num_logits()
            )));
        }
        let get = |name: &str| -> Result<Vec<f32>, ModelError> {
            ckpt.get(name).map(|t| t.data.clone()).ok_or_else(|| invalid(format!("tensor {name} is missing")))
        };
        let names = TensorNames {
            kernels: layout.names.cells.iter().map(|c| c.kernel.clone()).collect(),
            biases: layout.names.cells.iter().map(|c| c.bias.clone()).collect(),
            fc_weights: layout.names.fc_weights.clone(),
            fc_biases: layout.names.fc_biases.clone(),
            forget_bias: layout.cell.forget_bias(),
        };
        let w = Weights {
            kernels: names.kernels.iter().map(|n| get(n)).collect::<Result<_, _>>()?,
            biases: names.biases.iter().map(|n| get(n)).collect::<Result<_, _>>()?,
            fc_w: get(&names.fc_weights)?,
            fc_b: get(&names.fc_biases)?,
            config: mc,
            names,
        }
        .stored_to_memory();
        w.check(source)?;
        Ok(w)
    }

    /// Every buffer has the size the config says, and every value is finite.
    pub fn check(&self, source: &str) -> Result<(), ModelError> {
        let invalid = |msg: String| ModelError::Invalid { path: source.to_string(), msg };
        let c = &self.config;
        if c.layers.is_empty() || self.kernels.len() != c.layers.len() || self.biases.len() != c.layers.len() {
            return Err(invalid(format!(
                "{} layers in the config, {} kernels, {} biases",
                c.layers.len(),
                self.kernels.len(),
                self.biases.len()
            )));
        }
        let mut expect: Vec<(&str, usize, usize)> = Vec::new();
        for (l, &h) in c.layers.iter().enumerate() {
            expect.push((&self.names.kernels[l], self.kernels[l].len(), (c.layer_input(l) + h) * 4 * h));
            expect.push((&self.names.biases[l], self.biases[l].len(), 4 * h));
        }
        expect.push((&self.names.fc_weights, self.fc_w.len(), c.top() * c.num_logits()));
        expect.push((&self.names.fc_biases, self.fc_b.len(), c.num_logits()));
        for (name, got, want) in expect {
            if got != want {
                return Err(invalid(format!("tensor {name} has {got} values, the config needs {want}")));
            }
        }
        for (name, data) in self.tensors() {
            if let Some(i) = data.iter().position(|x| !x.is_finite()) {
                return Err(invalid(format!("tensor {name} holds a non-finite value at index {i}")));
            }
        }
        Ok(())
    }

    fn tensors(&self) -> Vec<(&str, &[f32])> {
        let mut v: Vec<(&str, &[f32])> = Vec::new();
        for l in 0..self.kernels.len() {
            v.push((&self.names.kernels[l], &self.kernels[l]));
            v.push((&self.names.biases[l], &self.biases[l]));
        }
        v.push((&self.names.fc_weights, &self.fc_w));
        v.push((&self.names.fc_biases, &self.fc_b));
        v
    }

    /// `1.0 − forget_bias`: what the stored forget-gate bias holds beyond the in-memory one.
    fn stored_forget_offset(&self) -> f32 {
        1.0 - self.names.forget_bias
    }

    /// Biases as the checkpoint's cell stores them → as the kernels use them.
    fn stored_to_memory(mut self) -> Self {
        let d = self.stored_forget_offset();
        if d != 0.0 {
            for (b, &h) in self.biases.iter_mut().zip(&self.config.layers) {
                if b.len() == 4 * h {
                    b[2 * h..3 * h].iter_mut().for_each(|x| *x -= d);
                }
            }
        }
        self
    }

    /// Layer `l`'s bias as the checkpoint's cell stores it.
    fn stored_bias(&self, l: usize) -> Vec<f32> {
        let (mut b, h, d) = (self.biases[l].clone(), self.config.layers[l], self.stored_forget_offset());
        if d != 0.0 {
            b[2 * h..3 * h].iter_mut().for_each(|x| *x += d);
        }
        b
    }

    pub fn to_checkpoint(&self) -> Result<Checkpoint, ModelError> {
        let c = &self.config;
        let mut ts = Vec::new();
        for (l, &h) in c.layers.iter().enumerate() {
            ts.push(Tensor::new(
                self.names.kernels[l].clone(),
                vec![c.layer_input(l) + h, 4 * h],
                self.kernels[l].clone(),
            )?);
            ts.push(Tensor::new(self.names.biases[l].clone(), vec![4 * h], self.stored_bias(l))?);
        }
        ts.push(Tensor::new(self.names.fc_weights.clone(), vec![c.top(), c.num_logits()], self.fc_w.clone())?);
        ts.push(Tensor::new(self.names.fc_biases.clone(), vec![c.num_logits()], self.fc_b.clone())?);
        Ok(Checkpoint::new(ts)?)
    }

    pub fn from_bundle(bundle: &Bundle) -> Result<Self, ModelError> {
        let (ckpt, layout) = bundle.load()?;
        Weights::from_checkpoint(&ckpt, &layout, bundle.source.as_deref().unwrap_or("bundle"))
    }

    /// A `.mag` bundle or a Cadenza model folder, whichever `path` is.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        if path.is_dir() {
            return Weights::load_dir(path);
        }
        let bundle = Bundle::read(path)?;
        Weights::from_bundle(&bundle)
    }

    pub fn load_dir(dir: &Path) -> Result<Self, ModelError> {
        let mpath = dir.join("model.json");
        let io = |p: &Path| {
            let p = p.display().to_string();
            move |source| ModelError::Io { path: p, source }
        };
        let text = std::fs::read_to_string(&mpath).map_err(io(&mpath))?;
        let mf: ModelFile = serde_json::from_str(&text)
            .map_err(|e| ModelError::Invalid { path: mpath.display().to_string(), msg: e.to_string() })?;
        let wpath = dir.join("weights.ckpt");
        let bytes = std::fs::read(&wpath).map_err(io(&wpath))?;
        let ckpt = cadenza_mag::read_v1(&bytes)
            .map_err(|e| ModelError::Invalid { path: wpath.display().to_string(), msg: e.to_string() })?;
        let source = wpath.display().to_string();
        let get = |name: &str| -> Result<Vec<f32>, ModelError> {
            ckpt.get(name)
                .map(|t| t.data.clone())
                .ok_or_else(|| ModelError::Invalid { path: source.clone(), msg: format!("tensor {name} is missing") })
        };
        let w = Weights {
            kernels: mf.names.kernels.iter().map(|n| get(n)).collect::<Result<_, _>>()?,
            biases: mf.names.biases.iter().map(|n| get(n)).collect::<Result<_, _>>()?,
            fc_w: get(&mf.names.fc_weights)?,
            fc_b: get(&mf.names.fc_biases)?,
            config: mf.model,
            names: mf.names,
        }
        .stored_to_memory();
        w.check(&source)?;
        Ok(w)
    }

    /// Writes `dir/model.json` and `dir/weights.ckpt`, each through a temp file and a rename,
    /// weights first, so a crash never leaves a config pointing at half-written weights.
    pub fn save_dir(&self, dir: &Path, provenance: &str) -> Result<(), ModelError> {
        std::fs::create_dir_all(dir).map_err(|source| ModelError::Io { path: dir.display().to_string(), source })?;
        let bytes = cadenza_mag::write_v1(&self.to_checkpoint()?)?;
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            cadenza_atomic::write_atomic(&path, bytes)
                .map_err(|source| ModelError::Io { path: path.display().to_string(), source })
        };
        write("weights.ckpt", &bytes)?;
        let mf = ModelFile {
            format: 1,
            model: self.config.clone(),
            names: self.names.clone(),
            provenance: provenance.to_string(),
        };
        let json = serde_json::to_vec_pretty(&mf).expect("serialisable");
        write("model.json", &json)?;
        Ok(())
    }

    /// A `.mag` with these weights and a metagraph built for their shape (no template): the
    /// graph Magenta 2.1.4 writes for this config and these layer sizes, with BasicLSTMCell
    /// variable names (a model imported from a cuDNN bundle is stored the BasicLSTMCell way,
    /// which computes the same thing).
    ///
    /// The compact config (integer inputs, one-hot inside the graph) and the note encoding
    /// (six softmaxes) build other graphs; for them this is an error that says to use a template.
    pub fn export_bundle_new(&self, bundle_description: &str) -> Result<Bundle, ModelError> {
        use cadenza_performance::Config;
        let c = &self.config;
        if matches!(c.config, Config::PerformanceWithDynamicsCompact | Config::PerformanceWithDynamicsAndNoteEncoding) {
            return Err(ModelError::Invalid {
                path: "export".into(),
                msg: format!(
                    "config '{}' builds a different graph (integer inputs or several softmaxes); export it with a \
                     template bundle of the same config and sizes",
                    c.config.key()
                ),
            });
        }
        let mut w = self.clone();
        w.names = TensorNames::magenta(c.layers.len());
        let shape = cadenza_mag::GraphShape {
            input_size: c.input_size(),
            layers: c.layers.clone(),
            num_classes: c.num_logits(),
        };
        Ok(cadenza_mag::new_bundle(c.config.generator_id(), &shape, &w.to_checkpoint()?, bundle_description)?)
    }

    /// A `.mag` with these weights, reusing `template`'s metagraph (same config and sizes).
    pub fn export_bundle(&self, template: &Bundle) -> Result<Bundle, ModelError> {
        let expected = self.config.config.generator_id();
        if template.generator_id() != expected {
            return Err(ModelError::Invalid {
                path: template.source.clone().unwrap_or_default(),
                msg: format!("template is a '{}' bundle, the model is '{}'", template.generator_id(), expected),
            });
        }
        Ok(cadenza_mag::replace_checkpoint(template, &self.to_checkpoint()?)?)
    }
}

/// `path` names a model: a folder with `model.json`, or a `.mag` file.
pub fn is_model_path(path: &Path) -> bool {
    path.join("model.json").is_file() || path.extension().is_some_and(|e| e == "mag")
}

pub fn default_model_dir(base: &Path) -> PathBuf {
    base.join("model")
}
