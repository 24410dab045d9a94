//! Reading a checkpoint as a Performance RNN: stacked `BasicLSTMCell` layers followed by
//! a `fully_connected` layer (Magenta's `events_rnn_graph.py`).
//!
//! Variable names are read from the checkpoint, never assumed: both TF ≥ 1.2
//! (`kernel`/`bias`) and TF 1.1 (`weights`/`biases`) cell variable names are accepted,
//! with or without `multi_rnn_cell` (a one-layer graph) and under any outer scope.
//!
//! Bundles trained with `use_cudnn=True` (Magenta 0.3.8 to 1.3.x on a GPU) store
//! `cudnn_lstm/rnn/multi_rnn_cell/cell_K/cudnn_compatible_lstm_cell/{kernel,bias}`, or one
//! scope per layer (`cudnn_lstm/rnn/…` for layer 0, `cudnn_lstm_K/rnn/…` for layer K) when
//! the layer sizes differ. That cell is an `LSTMBlockCell` with forget bias 0: the same
//! kernel layout (gates i, j, f, o), but the +1 a BasicLSTMCell adds at run time is inside
//! its saved bias. [`Layout::cell`] says which of the two a checkpoint holds.
//!
//! Tensors that are not part of a plain Performance RNN are an error naming them (with what
//! the bundle seems to be: attention, a residual projection, …), except training state
//! (`global_step`, Adam's slots and powers), which a bundle may carry and a model ignores.

use std::collections::BTreeMap;

use crate::error::{FileCtx, MagError, Result};
use crate::tf::checkpoint::{Checkpoint, Tensor};

/// One Performance RNN configuration of Magenta's `performance_model.py`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// `GeneratorDetails.id`.
    pub id: &'static str,
    /// Width of the LSTM input (rows of `cell_0`'s kernel minus its hidden size).
    pub input_size: usize,
    /// Number of logits (columns of `fully_connected/weights`).
    pub num_classes: usize,
    /// `GeneratorDetails.description` Magenta writes for this id.
    pub description: &'static str,
}

/// The Performance RNN generator ids Magenta knows (`performance_model.py`).
pub const KNOWN_GENERATOR_IDS: [&str; 8] = [
    "performance",
    "performance_with_dynamics",
    "performance_with_dynamics_and_modulo_encoding",
    "performance_with_dynamics_and_note_encoding",
    "density_conditioned_performance_with_dynamics",
    "pitch_conditioned_performance_with_dynamics",
    "multiconditioned_performance_with_dynamics",
    "optional_multiconditioned_performance_with_dynamics",
];

/// Input and output sizes each known id implies (spec §1.8). The compact config shares
/// the id `performance_with_dynamics` and, after its in-graph one-hot, the same shapes.
pub const KNOWN_GENERATORS: [GeneratorConfig; 8] = [
    GeneratorConfig { id: "performance", input_size: 356, num_classes: 356, description: "Performance RNN" },
    GeneratorConfig {
        id: "performance_with_dynamics",
        input_size: 388,
        num_classes: 388,
        description: "Performance RNN with dynamics",
    },
    GeneratorConfig {
        id: "performance_with_dynamics_and_modulo_encoding",
        input_size: 16,
        num_classes: 388,
        description: "Performance RNN with dynamics and modulo encoding",
    },
    GeneratorConfig {
        id: "performance_with_dynamics_and_note_encoding",
        input_size: 315,
        num_classes: 315,
        description: "Performance RNN with dynamics and note encoding",
    },
    GeneratorConfig {
        id: "density_conditioned_performance_with_dynamics",
        input_size: 396,
        num_classes: 388,
        description: "Note-density-conditioned Performance RNN + dynamics",
    },
    GeneratorConfig {
        id: "pitch_conditioned_performance_with_dynamics",
        input_size: 400,
        num_classes: 388,
        description: "Pitch-histogram-conditioned Performance RNN",
    },
    GeneratorConfig {
        id: "multiconditioned_performance_with_dynamics",
        input_size: 408,
        num_classes: 388,
        description: "Density- and pitch-conditioned Performance RNN",
    },
    GeneratorConfig {
        id: "optional_multiconditioned_performance_with_dynamics",
        input_size: 409,
        num_classes: 388,
        description: "Optionally multiconditioned Performance RNN",
    },
];

/// The config of a known generator id, or a clear error listing the known ones.
pub fn check_generator_id(id: &str) -> Result<&'static GeneratorConfig> {
    KNOWN_GENERATORS.iter().find(|g| g.id == id).ok_or_else(|| MagError::UnknownGenerator {
        file: FileCtx::NONE,
        id: id.to_string(),
        known: KNOWN_GENERATOR_IDS.join(", "),
    })
}

/// The checkpoint names of one LSTM layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LstmLayerNames {
    /// `[input + H, 4H]`, gate columns i, j, f, o.
    pub kernel: String,
    /// `[4H]` (forget bias +1.0 is added at run time, not stored).
    pub bias: String,
}

/// The checkpoint names of every Performance RNN variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutNames {
    /// One entry per layer, bottom first.
    pub cells: Vec<LstmLayerNames>,
    /// `[H_top, num_classes]`.
    pub fc_weights: String,
    /// `[num_classes]`.
    pub fc_biases: String,
}

/// The LSTM cell whose variables a checkpoint holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CellKind {
    /// `BasicLSTMCell`: the forget gate adds 1.0 at run time, not stored.
    #[default]
    Basic,
    /// `CudnnCompatibleLSTMCell` (an `LSTMBlockCell`, forget bias 0): the saved bias already
    /// includes what the forget gate adds.
    CudnnCompatible,
}

impl CellKind {
    /// What the cell adds to the forget gate's pre-activation at run time.
    pub fn forget_bias(self) -> f32 {
        match self {
            CellKind::Basic => 1.0,
            CellKind::CudnnCompatible => 0.0,
        }
    }

    /// The scope name of the cell's variables.
    pub fn scope(self) -> &'static str {
        match self {
            CellKind::Basic => "basic_lstm_cell",
            CellKind::CudnnCompatible => "cudnn_compatible_lstm_cell",
        }
    }
}

/// The shape of a Performance RNN as found in a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub generator_id: String,
    /// Width of the LSTM input of layer 0.
    pub input_size: usize,
    /// Hidden size of each layer, bottom first.
    pub hidden: Vec<usize>,
    pub num_classes: usize,
    pub names: LayoutNames,
    pub cell: CellKind,
    /// Checkpoint tensors that are training state, not part of the model (`global_step`,
    /// optimizer slots).
    pub extra: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Kernel,
    Bias,
}

#[derive(Default)]
struct CellVars<'a> {
    kernel: Vec<&'a Tensor>,
    bias: Vec<&'a Tensor>,
}

/// A parsed LSTM variable name.
struct LstmName {
    /// The scope above the cells (normalised for cuDNN's per-layer scopes).
    prefix: String,
    /// `Some(layer)` for `multi_rnn_cell/cell_K` or a per-layer cuDNN scope, `None` for a
    /// single cell.
    cell: Option<usize>,
    part: Part,
    kind: CellKind,
}

/// `…/[multi_rnn_cell/cell_K/](basic_lstm_cell|cudnn_compatible_lstm_cell)/(kernel|bias)`.
fn parse_lstm_name(name: &str) -> Option<LstmName> {
    let (rest, last) = name.rsplit_once('/')?;
    let part = match last {
        "kernel" | "weights" => Part::Kernel,
        "bias" | "biases" => Part::Bias,
        _ => return None,
    };
    let (before_cell, kind) = [CellKind::Basic, CellKind::CudnnCompatible].into_iter().find_map(|kind| {
        let scope = kind.scope();
        if rest == scope {
            Some(("", kind))
        } else {
            rest.strip_suffix(scope).and_then(|r| r.strip_suffix('/')).map(|r| (r, kind))
        }
    })?;
    // multi_rnn_cell/cell_K ?
    let (head, cell) = match before_cell.rsplit_once('/') {
        Some((h, c)) => (h, c),
        None => ("", before_cell),
    };
    let (prefix, cell) = match cell.strip_prefix("cell_") {
        Some(k)
            if (head == "multi_rnn_cell" || head.ends_with("/multi_rnn_cell"))
                && !k.is_empty()
                && k.len() < 10
                && k.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (head.strip_suffix("multi_rnn_cell").unwrap_or("").to_string(), Some(k.parse().ok()?))
        }
        _ => (before_cell.to_string(), None),
    };
    // cuDNN with one scope per layer: `cudnn_lstm[_K]/rnn/` then a single cell or cell_0.
    let mut out = LstmName { prefix, cell, part, kind };
    if kind == CellKind::CudnnCompatible {
        let scope = out.prefix.trim_end_matches('/');
        if let Some(outer) = scope.strip_suffix("/rnn") {
            let (above, leaf) = match outer.rsplit_once('/') {
                Some((a, l)) => (format!("{a}/"), l),
                None => (String::new(), outer),
            };
            let layer = if leaf == "cudnn_lstm" {
                Some(0)
            } else {
                leaf.strip_prefix("cudnn_lstm_")
                    .filter(|k| !k.is_empty() && k.len() < 10 && k.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|k| k.parse::<usize>().ok())
            };
            if let Some(layer) = layer {
                let per_layer = layer > 0 || out.cell.is_none();
                if per_layer && matches!(out.cell, None | Some(0)) {
                    out = LstmName { prefix: format!("{above}cudnn_lstm/rnn/"), cell: Some(layer), part, kind };
                } else if leaf == "cudnn_lstm" {
                    out.prefix = format!("{above}cudnn_lstm/rnn/");
                }
            }
        }
    }
    Some(out)
}

/// Training state a bundle or checkpoint may carry beside the model.
fn is_training_state(name: &str) -> bool {
    let leaf = name.rsplit('/').next().unwrap_or(name);
    matches!(leaf, "global_step" | "beta1_power" | "beta2_power")
        || name.ends_with("/Adam")
        || name.ends_with("/Adam_1")
}

/// What a tensor outside a plain Performance RNN suggests the model is.
fn what_it_seems(name: &str) -> &'static str {
    let n = name.to_ascii_lowercase();
    if n.contains("attention") || n.contains("attn") {
        "an attention model (Magenta's attn_length > 0, AttentionCellWrapper), which Cadenza does not implement"
    } else if n.contains("residual")
        || n.contains("projection")
        || (n.contains("fully_connected_") && !n.starts_with("fully_connected/"))
        || n.contains("/linear/")
        || n.starts_with("linear/")
    {
        "a residual projection (residual_connections=True between layers of different sizes), which Cadenza does not implement"
    } else if n.contains("layer_norm") || n.contains("layernorm") {
        "a layer-normalised LSTM, which Cadenza does not implement"
    } else if n.contains("peephole") || n.contains("w_f_diag") || n.contains("w_i_diag") || n.contains("w_o_diag") {
        "an LSTM with peepholes or a projection, which Cadenza does not implement"
    } else if n.contains("wrapper") {
        "a model whose cells are wrapped (a cell wrapper other than dropout), which Cadenza does not implement"
    } else if n.contains("embedding") {
        "a model with a learned embedding, which a Performance RNN does not have"
    } else {
        "a model with more parts than a Performance RNN's stacked LSTM and fully_connected layer"
    }
}

fn is_fc(name: &str, leaf: &str) -> bool {
    let want = format!("fully_connected/{leaf}");
    name == want || name.ends_with(&format!("/{want}"))
}

fn one<'a>(found: &[&'a Tensor], what: &str) -> Result<Option<&'a Tensor>> {
    match found {
        [] => Ok(None),
        [t] => Ok(Some(t)),
        [a, b, ..] => {
            Err(MagError::layout(&a.name, format!("ambiguous {what}: both '{}' and '{}' are present", a.name, b.name)))
        }
    }
}

/// A checkpoint's tensors by role: the LSTM cells in index order, the fully_connected
/// layer's candidates, the training state.
struct Sorted<'a> {
    cells: Vec<(usize, CellVars<'a>)>,
    cell: CellKind,
    fc_w: Vec<&'a Tensor>,
    fc_b: Vec<&'a Tensor>,
    /// Training state (optimizer slots, global step), not part of the model.
    extra: Vec<String>,
}

/// Sorts `ckpt`'s tensors by role; fails on a tensor a Performance RNN does not have, on
/// cells of two kinds or under two scopes, and when there is no LSTM cell.
fn sort_tensors(ckpt: &Checkpoint) -> Result<Sorted<'_>> {
    let mut multi: BTreeMap<usize, CellVars> = BTreeMap::new();
    let mut single = CellVars::default();
    let mut prefixes: Vec<(String, &str)> = Vec::new();
    let mut fc_w: Vec<&Tensor> = Vec::new();
    let mut fc_b: Vec<&Tensor> = Vec::new();
    let mut extra = Vec::new();
    let mut kinds: Vec<(CellKind, &str)> = Vec::new();
    for t in &ckpt.tensors {
        if is_training_state(&t.name) {
            extra.push(t.name.clone());
        } else if let Some(LstmName { prefix, cell, part, kind }) = parse_lstm_name(&t.name) {
            let lower = prefix.to_ascii_lowercase();
            if ["attention", "attn", "residual", "projection", "wrapper"].iter().any(|w| lower.contains(w)) {
                return Err(MagError::layout(
                    &t.name,
                    format!(
                        "this LSTM variable sits inside a cell wrapper ('{prefix}'): the bundle seems to be {}",
                        what_it_seems(&prefix)
                    ),
                ));
            }
            let vars = match cell {
                Some(k) => multi.entry(k).or_default(),
                None => &mut single,
            };
            match part {
                Part::Kernel => vars.kernel.push(t),
                Part::Bias => vars.bias.push(t),
            }
            if !prefixes.iter().any(|(p, _)| *p == prefix) {
                prefixes.push((prefix, &t.name));
            }
            if !kinds.iter().any(|(k, _)| *k == kind) {
                kinds.push((kind, &t.name));
            }
        } else if is_fc(&t.name, "weights") {
            fc_w.push(t);
        } else if is_fc(&t.name, "biases") {
            fc_b.push(t);
        } else {
            return Err(MagError::layout(
                &t.name,
                format!("tensor {:?} is not part of a Performance RNN (stacked LSTM cells and one fully_connected layer); the bundle seems to be {}. Loading it without this tensor would give wrong probabilities", t.shape, what_it_seems(&t.name)),
            ));
        }
    }
    if kinds.len() > 1 {
        return Err(MagError::layout(
            kinds[1].1,
            format!(
                "BasicLSTMCell and cuDNN-compatible cell variables in one checkpoint ('{}' and '{}')",
                kinds[0].1, kinds[1].1
            ),
        ));
    }
    let cell = kinds.first().map_or(CellKind::Basic, |k| k.0);
    if prefixes.len() > 1 {
        return Err(MagError::layout(
            prefixes[1].1,
            format!("LSTM variables under more than one scope ('{}' and '{}')", prefixes[0].1, prefixes[1].1),
        ));
    }
    let cells = numbered_cells(ckpt, multi, single)?;
    Ok(Sorted { cells, cell, fc_w, fc_b, extra })
}

/// The cells by index: the `multi_rnn_cell` ones, or the single cell as cell 0; fails when
/// both kinds are present or there is none.
fn numbered_cells<'a>(
    ckpt: &Checkpoint,
    multi: BTreeMap<usize, CellVars<'a>>,
    single: CellVars<'a>,
) -> Result<Vec<(usize, CellVars<'a>)>> {
    let has_single = !single.kernel.is_empty() || !single.bias.is_empty();
    if has_single && !multi.is_empty() {
        let a = single.kernel.first().or(single.bias.first()).expect("non-empty");
        return Err(MagError::layout(&a.name, "a single-cell LSTM variable next to multi_rnn_cell variables"));
    }
    let cells: Vec<(usize, CellVars)> = if has_single { vec![(0, single)] } else { multi.into_iter().collect() };
    if cells.is_empty() {
        let mut present: Vec<&str> = ckpt.names().take(12).collect();
        if ckpt.tensors.len() > 12 {
            present.push("…");
        }
        return Err(MagError::layout(
            "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel",
            format!(
                "missing: no LSTM cell variables (…/basic_lstm_cell/kernel|weights, or cuDNN's …/cudnn_compatible_lstm_cell/kernel) found; tensors present: [{}]",
                present.join(", ")
            ),
        ));
    }
    Ok(cells)
}

/// The checked LSTM stack: its input size, hidden sizes and names, and the top kernel.
struct Stack<'a> {
    input_size: usize,
    hidden: Vec<usize>,
    names: Vec<LstmLayerNames>,
    top_kernel: &'a Tensor,
}

/// Checks the cells are numbered without gaps, each has one kernel and one bias of
/// matching shapes, and each layer's input is the layer below.
fn check_stack<'a>(cells: &[(usize, CellVars<'a>)]) -> Result<Stack<'a>> {
    let mut names = Vec::new();
    let mut hidden: Vec<usize> = Vec::new();
    let mut input_size = 0;
    let mut prev_kernel: Option<&Tensor> = None;
    for (expected, (k, vars)) in cells.iter().enumerate() {
        if *k != expected {
            let found: Vec<String> = cells.iter().map(|(k, _)| format!("cell_{k}")).collect();
            let some = vars.kernel.first().or(vars.bias.first()).expect("non-empty");
            let missing = some.name.replacen(&format!("cell_{k}/"), &format!("cell_{expected}/"), 1);
            return Err(MagError::layout(
                missing,
                format!("missing: gap in the LSTM cell numbering (found {})", found.join(", ")),
            ));
        }
        let (kernel, bias) = cell_pair(vars)?;
        let h = hidden_size(kernel, bias)?;
        let rows = kernel.shape[0];
        match prev_kernel {
            None => {
                if rows <= h {
                    return Err(MagError::layout(
                        &kernel.name,
                        format!(
                            "LSTM kernel shape {:?}: {rows} rows leave no input for {h} hidden units (rows = input + H)",
                            kernel.shape
                        ),
                    ));
                }
                input_size = rows - h;
            }
            Some(pk) => {
                let below = *hidden.last().expect("previous layer");
                if rows != below + h {
                    return Err(MagError::layout(
                        &kernel.name,
                        format!(
                            "LSTM kernel shape {:?} should have {} rows ({below} from the layer below, '{}' {:?}, + {h} hidden)",
                            kernel.shape,
                            below + h,
                            pk.name,
                            pk.shape
                        ),
                    ));
                }
            }
        }
        hidden.push(h);
        names.push(LstmLayerNames { kernel: kernel.name.clone(), bias: bias.name.clone() });
        prev_kernel = Some(kernel);
    }
    let top_kernel = prev_kernel.expect("at least one layer");
    Ok(Stack { input_size, hidden, names, top_kernel })
}

/// A cell's one kernel and one bias; a missing one is named after its sibling.
fn cell_pair<'a>(vars: &CellVars<'a>) -> Result<(&'a Tensor, &'a Tensor)> {
    let kernel = one(&vars.kernel, "LSTM kernel")?;
    let bias = one(&vars.bias, "LSTM bias")?;
    match (kernel, bias) {
        (Some(k), Some(b)) => Ok((k, b)),
        (Some(k), None) => {
            let guess = sibling(&k.name, if k.name.ends_with("/weights") { "biases" } else { "bias" });
            Err(MagError::layout(guess, format!("missing: LSTM bias for kernel '{}' {:?}", k.name, k.shape)))
        }
        (None, Some(b)) => {
            let guess = sibling(&b.name, if b.name.ends_with("/biases") { "weights" } else { "kernel" });
            Err(MagError::layout(guess, format!("missing: LSTM kernel for bias '{}' {:?}", b.name, b.shape)))
        }
        (None, None) => unreachable!("a cell entry has at least one tensor"),
    }
}

/// The hidden size a `[input + H, 4H]` kernel and its `[4H]` bias give.
fn hidden_size(kernel: &Tensor, bias: &Tensor) -> Result<usize> {
    if kernel.shape.len() != 2 {
        return Err(MagError::layout(
            &kernel.name,
            format!("LSTM kernel must be 2-D [input+H, 4H], got shape {:?}", kernel.shape),
        ));
    }
    let cols = kernel.shape[1];
    if cols == 0 || !cols.is_multiple_of(4) {
        return Err(MagError::layout(
            &kernel.name,
            format!("LSTM kernel shape {:?}: {cols} columns is not 4 × a hidden size", kernel.shape),
        ));
    }
    if bias.shape != [cols] {
        return Err(MagError::layout(
            &bias.name,
            format!(
                "LSTM bias has shape {:?} but kernel '{}' has shape {:?}, so the bias must be [{cols}]",
                bias.shape, kernel.name, kernel.shape
            ),
        ));
    }
    Ok(cols / 4)
}

/// The fully_connected weights `[top, classes]` and biases `[classes]` on top of `stack`.
fn check_fc<'a>(fc_w: &[&'a Tensor], fc_b: &[&'a Tensor], stack: &Stack) -> Result<(&'a Tensor, &'a Tensor)> {
    let top_kernel = stack.top_kernel;
    let top = *stack.hidden.last().expect("at least one layer");
    let w = one(fc_w, "fully_connected weights")?.ok_or_else(|| {
        MagError::layout(
            "fully_connected/weights",
            format!(
                "missing: no fully_connected/weights [{top}, num_classes] after the LSTM '{}' {:?}",
                top_kernel.name, top_kernel.shape
            ),
        )
    })?;
    if w.shape.len() != 2 || w.shape[0] != top || w.shape[1] == 0 {
        return Err(MagError::layout(
            &w.name,
            format!(
                "shape {:?} should be [{top}, num_classes]: the top LSTM '{}' has shape {:?} ({top} hidden units)",
                w.shape, top_kernel.name, top_kernel.shape
            ),
        ));
    }
    let classes = w.shape[1];
    let b = one(fc_b, "fully_connected biases")?.ok_or_else(|| {
        MagError::layout(
            sibling(&w.name, "biases"),
            format!("missing: fully_connected biases [{classes}] for weights {:?}", w.shape),
        )
    })?;
    if b.shape != [classes] {
        return Err(MagError::layout(
            &b.name,
            format!("shape {:?} should be [{classes}] to match '{}' {:?}", b.shape, w.name, w.shape),
        ));
    }
    Ok((w, b))
}

impl Layout {
    /// Check `generator_id` against [`KNOWN_GENERATOR_IDS`], infer the layout from the
    /// checkpoint's names and shapes, and check it against what the id implies.
    pub fn infer(generator_id: &str, ckpt: &Checkpoint) -> Result<Layout> {
        let config = check_generator_id(generator_id)?;
        let mut layout = Layout::infer_shapes(ckpt)?;
        layout.generator_id = generator_id.to_string();
        if layout.input_size != config.input_size {
            let k = &layout.names.cells[0].kernel;
            let shape = &ckpt.get(k).expect("found").shape;
            return Err(MagError::layout(
                k,
                format!(
                    "shape {shape:?} with {} hidden units means input size {}, but generator id '{}' needs input size {}",
                    layout.hidden[0], layout.input_size, config.id, config.input_size
                ),
            ));
        }
        if layout.num_classes != config.num_classes {
            let w = &layout.names.fc_weights;
            let shape = &ckpt.get(w).expect("found").shape;
            return Err(MagError::layout(
                w,
                format!(
                    "shape {shape:?} means {} classes, but generator id '{}' needs {}",
                    layout.num_classes, config.id, config.num_classes
                ),
            ));
        }
        Ok(layout)
    }

    /// Infer the layout from names and shapes alone (no generator id check;
    /// `generator_id` is left empty).
    pub fn infer_shapes(ckpt: &Checkpoint) -> Result<Layout> {
        let sorted = sort_tensors(ckpt)?;
        let stack = check_stack(&sorted.cells)?;
        let (w, b) = check_fc(&sorted.fc_w, &sorted.fc_b, &stack)?;
        Ok(Layout {
            generator_id: String::new(),
            input_size: stack.input_size,
            hidden: stack.hidden,
            num_classes: w.shape[1],
            names: LayoutNames { cells: stack.names, fc_weights: w.name.clone(), fc_biases: b.name.clone() },
            cell: sorted.cell,
            extra: sorted.extra,
        })
    }

    /// Number of LSTM layers.
    pub fn num_layers(&self) -> usize {
        self.hidden.len()
    }

    /// `(name, shape)` of every model variable, in checkpoint (name) order.
    pub fn variable_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        let mut below = self.input_size;
        for (names, &h) in self.names.cells.iter().zip(&self.hidden) {
            out.push((names.kernel.clone(), vec![below + h, 4 * h]));
            out.push((names.bias.clone(), vec![4 * h]));
            below = h;
        }
        out.push((self.names.fc_weights.clone(), vec![below, self.num_classes]));
        out.push((self.names.fc_biases.clone(), vec![self.num_classes]));
        out.sort();
        out
    }

    /// Number of model parameters.
    pub fn num_parameters(&self) -> usize {
        self.variable_shapes()
            .iter()
            .map(|(_, s)| s.iter().fold(1usize, |a, &d| a.saturating_mul(d)))
            .fold(0usize, |a, n| a.saturating_add(n))
    }
}

fn sibling(name: &str, leaf: &str) -> String {
    match name.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{leaf}"),
        None => leaf.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, shape: &[usize]) -> Tensor {
        let n = shape.iter().product();
        Tensor::new(name, shape.to_vec(), vec![0.0; n]).unwrap()
    }

    fn model(input: usize, hidden: &[usize], classes: usize, kernel: &str, bias: &str) -> Checkpoint {
        let mut v = Vec::new();
        let mut below = input;
        for (k, &h) in hidden.iter().enumerate() {
            let p = format!("rnn/multi_rnn_cell/cell_{k}/basic_lstm_cell");
            v.push(t(&format!("{p}/{kernel}"), &[below + h, 4 * h]));
            v.push(t(&format!("{p}/{bias}"), &[4 * h]));
            below = h;
        }
        v.push(t("fully_connected/weights", &[below, classes]));
        v.push(t("fully_connected/biases", &[classes]));
        Checkpoint::new(v).unwrap()
    }

    #[test]
    fn infers_both_name_styles() {
        for (k, b) in [("kernel", "bias"), ("weights", "biases")] {
            let c = model(388, &[8, 8, 4], 388, k, b);
            let l = Layout::infer("performance_with_dynamics", &c).unwrap();
            assert_eq!(l.input_size, 388);
            assert_eq!(l.hidden, [8, 8, 4]);
            assert_eq!(l.num_classes, 388);
            let shapes = l.variable_shapes();
            for (name, shape) in shapes {
                assert_eq!(c.get(&name).unwrap().shape, shape);
            }
        }
    }

    #[test]
    fn single_layer_without_multi_rnn_cell() {
        let c = Checkpoint::new(vec![
            t("rnn/basic_lstm_cell/kernel", &[356 + 4, 16]),
            t("rnn/basic_lstm_cell/bias", &[16]),
            t("fully_connected/weights", &[4, 356]),
            t("fully_connected/biases", &[356]),
            t("global_step", &[1]),
        ])
        .unwrap();
        let l = Layout::infer("performance", &c).unwrap();
        assert_eq!(l.hidden, [4]);
        assert_eq!(l.extra, ["global_step"]);
    }

    #[test]
    fn errors() {
        let err = Layout::infer("nope", &model(388, &[4], 388, "kernel", "bias")).unwrap_err();
        assert!(err.to_string().contains("unknown generator id 'nope'"));

        let err = Layout::infer("performance", &model(388, &[4], 388, "kernel", "bias")).unwrap_err();
        assert!(err.to_string().contains("needs input size 356"), "{err}");

        let mut c = model(388, &[4, 4, 4], 388, "kernel", "bias");
        c.tensors.retain(|t| !t.name.contains("cell_1/"));
        let err = Layout::infer_shapes(&c).unwrap_err().to_string();
        assert!(err.contains("cell_1/basic_lstm_cell/kernel") && err.contains("gap"), "{err}");

        let mut c = model(388, &[4, 4], 388, "kernel", "bias");
        c.tensors.retain(|t| t.name != "fully_connected/biases");
        let err = Layout::infer_shapes(&c).unwrap_err().to_string();
        assert!(err.contains("fully_connected/biases") && err.contains("missing"), "{err}");

        let mut c = model(388, &[4, 4], 388, "kernel", "bias");
        c.get_mut("rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel").unwrap().shape = vec![9, 16];
        let err = Layout::infer_shapes(&c).unwrap_err().to_string();
        assert!(err.contains("cell_1/basic_lstm_cell/kernel") && err.contains("[9, 16]"), "{err}");
        assert!(err.contains("[392, 16]"), "{err}");

        let c = Checkpoint::new(vec![t("global_step", &[1])]).unwrap();
        let err = Layout::infer_shapes(&c).unwrap_err().to_string();
        assert!(err.contains("no LSTM cell variables"), "{err}");
    }

    /// The same model under cuDNN's names: one scope for all layers, and one per layer.
    #[test]
    fn cudnn_layouts() {
        let rename = |c: &Checkpoint, f: &dyn Fn(&str) -> String| {
            Checkpoint::new(
                c.tensors.iter().map(|x| Tensor::new(f(&x.name), x.shape.clone(), x.data.clone()).unwrap()).collect(),
            )
            .unwrap()
        };
        let basic = model(388, &[8, 8, 4], 388, "kernel", "bias");
        let one_scope = rename(&basic, &|n| {
            n.replace("rnn/multi_rnn_cell", "cudnn_lstm/rnn/multi_rnn_cell")
                .replace("basic_lstm_cell", "cudnn_compatible_lstm_cell")
        });
        let per_layer = rename(&basic, &|n| {
            let n = n.replace("basic_lstm_cell", "cudnn_compatible_lstm_cell");
            match n.strip_prefix("rnn/multi_rnn_cell/cell_") {
                Some(rest) => {
                    let (k, tail) = rest.split_once('/').unwrap();
                    let scope = if k == "0" { "cudnn_lstm".to_string() } else { format!("cudnn_lstm_{k}") };
                    format!("{scope}/rnn/{tail}")
                }
                None => n,
            }
        });
        let per_layer_multi = rename(&per_layer, &|n| {
            n.replace("/rnn/cudnn_compatible_lstm_cell", "/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell")
        });
        assert!(per_layer.get("cudnn_lstm_2/rnn/cudnn_compatible_lstm_cell/kernel").is_some());
        let b = Layout::infer("performance_with_dynamics", &basic).unwrap();
        assert_eq!(b.cell, CellKind::Basic);
        for c in [&one_scope, &per_layer, &per_layer_multi] {
            let l = Layout::infer("performance_with_dynamics", c).unwrap();
            assert_eq!(l.cell, CellKind::CudnnCompatible);
            assert_eq!((l.input_size, &l.hidden, l.num_classes), (b.input_size, &b.hidden, b.num_classes));
            for (names, k) in l.names.cells.iter().zip(0..) {
                assert!(c.get(&names.kernel).is_some() && names.kernel.contains("cudnn_compatible_lstm_cell"));
                // Layer k's variables, in order (the kernel shapes say which is which).
                assert_eq!(c.get(&names.kernel).unwrap().shape, basic.get(&b.names.cells[k].kernel).unwrap().shape);
            }
        }
        // Mixing the two cells is refused.
        let mut mixed = basic.tensors.clone();
        mixed.retain(|x| !x.name.contains("cell_2"));
        mixed.push(t("rnn/multi_rnn_cell/cell_2/cudnn_compatible_lstm_cell/kernel", &[12, 16]));
        mixed.push(t("rnn/multi_rnn_cell/cell_2/cudnn_compatible_lstm_cell/bias", &[16]));
        let err = Layout::infer_shapes(&Checkpoint::new(mixed).unwrap()).unwrap_err().to_string();
        assert!(err.contains("BasicLSTMCell and cuDNN"), "{err}");
    }

    /// A tensor a Performance RNN does not have is refused by name, with a guess.
    #[test]
    fn unknown_tensors_are_refused_by_name() {
        let with = |extra: Vec<Tensor>| {
            let mut v = model(388, &[8, 8], 388, "kernel", "bias").tensors;
            v.extend(extra);
            Layout::infer_shapes(&Checkpoint::new(v).unwrap()).map_err(|e| e.to_string())
        };
        // Training state is fine.
        let l =
            with(vec![t("global_step", &[1]), t("beta1_power", &[1]), t("fully_connected/weights/Adam", &[8, 388])])
                .unwrap();
        assert_eq!(l.extra.len(), 3);
        let err = with(vec![t("rnn/attention_cell_wrapper/attention/kernel", &[16, 8])]).unwrap_err();
        assert!(
            err.contains("rnn/attention_cell_wrapper/attention/kernel") && err.contains("attention model"),
            "{err}"
        );
        let err = with(vec![t("fully_connected_1/weights", &[8, 8])]).unwrap_err();
        assert!(err.contains("fully_connected_1/weights") && err.contains("residual projection"), "{err}");
        let err = with(vec![t("mystery", &[3])]).unwrap_err();
        assert!(err.contains("mystery") && err.contains("wrong probabilities"), "{err}");
        // LSTM variables inside an attention wrapper.
        let v: Vec<Tensor> = model(388, &[8], 388, "kernel", "bias")
            .tensors
            .into_iter()
            .map(|x| {
                Tensor::new(
                    x.name.replace("rnn/multi_rnn_cell", "rnn/attention_cell_wrapper/multi_rnn_cell"),
                    x.shape.clone(),
                    x.data.clone(),
                )
                .unwrap()
            })
            .collect();
        let err = Layout::infer_shapes(&Checkpoint::new(v).unwrap()).unwrap_err().to_string();
        assert!(err.contains("attention"), "{err}");
    }
}
