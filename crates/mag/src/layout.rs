//! Reading a checkpoint as a Performance RNN: stacked `BasicLSTMCell` layers followed by
//! a `fully_connected` layer (Magenta's `events_rnn_graph.py`).
//!
//! Variable names are read from the checkpoint, never assumed: both TF ≥ 1.2
//! (`kernel`/`bias`) and TF 1.1 (`weights`/`biases`) cell variable names are accepted,
//! with or without `multi_rnn_cell` (a one-layer graph) and under any outer scope.

use std::collections::BTreeMap;

use crate::checkpoint::{Checkpoint, Tensor};
use crate::error::{FileCtx, MagError, Result};

/// One Performance RNN configuration of Magenta's `performance_model.py`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// `GeneratorDetails.id`.
    pub id: &'static str,
    /// Width of the LSTM input (rows of `cell_0`'s kernel minus its hidden size).
    pub input_size: usize,
    /// Number of logits (columns of `fully_connected/weights`).
    pub num_classes: usize,
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
    GeneratorConfig {
        id: "performance",
        input_size: 356,
        num_classes: 356,
    },
    GeneratorConfig {
        id: "performance_with_dynamics",
        input_size: 388,
        num_classes: 388,
    },
    GeneratorConfig {
        id: "performance_with_dynamics_and_modulo_encoding",
        input_size: 16,
        num_classes: 388,
    },
    GeneratorConfig {
        id: "performance_with_dynamics_and_note_encoding",
        input_size: 315,
        num_classes: 315,
    },
    GeneratorConfig {
        id: "density_conditioned_performance_with_dynamics",
        input_size: 396,
        num_classes: 388,
    },
    GeneratorConfig {
        id: "pitch_conditioned_performance_with_dynamics",
        input_size: 400,
        num_classes: 388,
    },
    GeneratorConfig {
        id: "multiconditioned_performance_with_dynamics",
        input_size: 408,
        num_classes: 388,
    },
    GeneratorConfig {
        id: "optional_multiconditioned_performance_with_dynamics",
        input_size: 409,
        num_classes: 388,
    },
];

/// The config of a known generator id, or a clear error listing the known ones.
pub fn check_generator_id(id: &str) -> Result<&'static GeneratorConfig> {
    KNOWN_GENERATORS
        .iter()
        .find(|g| g.id == id)
        .ok_or_else(|| MagError::UnknownGenerator {
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
    /// Checkpoint tensors that are not part of the model (e.g. optimizer slots).
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

/// `(scope prefix, Some(cell index) for multi_rnn_cell / None for a single cell, part)`
fn parse_lstm_name(name: &str) -> Option<(String, Option<usize>, Part)> {
    let (rest, last) = name.rsplit_once('/')?;
    let part = match last {
        "kernel" | "weights" => Part::Kernel,
        "bias" | "biases" => Part::Bias,
        _ => return None,
    };
    let before_cell = if rest == "basic_lstm_cell" {
        ""
    } else {
        rest.strip_suffix("/basic_lstm_cell")?
    };
    // multi_rnn_cell/cell_K ?
    let (head, cell) = match before_cell.rsplit_once('/') {
        Some((h, c)) => (h, c),
        None => ("", before_cell),
    };
    if let Some(k) = cell.strip_prefix("cell_") {
        let is_multi = head == "multi_rnn_cell" || head.ends_with("/multi_rnn_cell");
        if is_multi && !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) && k.len() < 10 {
            let prefix = head
                .strip_suffix("multi_rnn_cell")
                .unwrap_or("")
                .to_string();
            return Some((prefix, Some(k.parse().ok()?), part));
        }
    }
    Some((before_cell.to_string(), None, part))
}

fn is_fc(name: &str, leaf: &str) -> bool {
    let want = format!("fully_connected/{leaf}");
    name == want || name.ends_with(&format!("/{want}"))
}

fn one<'a>(found: &[&'a Tensor], what: &str) -> Result<Option<&'a Tensor>> {
    match found {
        [] => Ok(None),
        [t] => Ok(Some(t)),
        [a, b, ..] => Err(MagError::layout(
            &a.name,
            format!(
                "ambiguous {what}: both '{}' and '{}' are present",
                a.name, b.name
            ),
        )),
    }
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
        let mut multi: BTreeMap<usize, CellVars> = BTreeMap::new();
        let mut single = CellVars::default();
        let mut prefixes: Vec<(String, &str)> = Vec::new();
        let mut fc_w: Vec<&Tensor> = Vec::new();
        let mut fc_b: Vec<&Tensor> = Vec::new();
        let mut extra = Vec::new();
        for t in &ckpt.tensors {
            if let Some((prefix, cell, part)) = parse_lstm_name(&t.name) {
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
            } else if is_fc(&t.name, "weights") {
                fc_w.push(t);
            } else if is_fc(&t.name, "biases") {
                fc_b.push(t);
            } else {
                extra.push(t.name.clone());
            }
        }
        if prefixes.len() > 1 {
            return Err(MagError::layout(
                prefixes[1].1,
                format!(
                    "LSTM variables under more than one scope ('{}' and '{}')",
                    prefixes[0].1, prefixes[1].1
                ),
            ));
        }
        let has_single = !single.kernel.is_empty() || !single.bias.is_empty();
        if has_single && !multi.is_empty() {
            let a = single
                .kernel
                .first()
                .or(single.bias.first())
                .expect("non-empty");
            return Err(MagError::layout(
                &a.name,
                "a single-cell LSTM variable next to multi_rnn_cell variables",
            ));
        }
        let cells: Vec<(usize, CellVars)> = if has_single {
            vec![(0, single)]
        } else {
            multi.into_iter().collect()
        };
        if cells.is_empty() {
            let mut present: Vec<&str> = ckpt.names().take(12).collect();
            if ckpt.tensors.len() > 12 {
                present.push("…");
            }
            return Err(MagError::layout(
                "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel",
                format!(
                    "missing: no BasicLSTMCell variables (…/basic_lstm_cell/kernel|weights) found; tensors present: [{}]",
                    present.join(", ")
                ),
            ));
        }

        let mut names = Vec::new();
        let mut hidden: Vec<usize> = Vec::new();
        let mut input_size = 0;
        let mut prev_kernel: Option<&Tensor> = None;
        for (expected, (k, vars)) in cells.iter().enumerate() {
            if *k != expected {
                let found: Vec<String> = cells.iter().map(|(k, _)| format!("cell_{k}")).collect();
                let some = vars
                    .kernel
                    .first()
                    .or(vars.bias.first())
                    .expect("non-empty");
                let missing =
                    some.name
                        .replacen(&format!("cell_{k}/"), &format!("cell_{expected}/"), 1);
                return Err(MagError::layout(
                    missing,
                    format!(
                        "missing: gap in the LSTM cell numbering (found {})",
                        found.join(", ")
                    ),
                ));
            }
            let kernel = one(&vars.kernel, "LSTM kernel")?;
            let bias = one(&vars.bias, "LSTM bias")?;
            let (kernel, bias) = match (kernel, bias) {
                (Some(k), Some(b)) => (k, b),
                (Some(k), None) => {
                    let guess = sibling(
                        &k.name,
                        if k.name.ends_with("/weights") {
                            "biases"
                        } else {
                            "bias"
                        },
                    );
                    return Err(MagError::layout(
                        guess,
                        format!("missing: LSTM bias for kernel '{}' {:?}", k.name, k.shape),
                    ));
                }
                (None, Some(b)) => {
                    let guess = sibling(
                        &b.name,
                        if b.name.ends_with("/biases") {
                            "weights"
                        } else {
                            "kernel"
                        },
                    );
                    return Err(MagError::layout(
                        guess,
                        format!("missing: LSTM kernel for bias '{}' {:?}", b.name, b.shape),
                    ));
                }
                (None, None) => unreachable!("a cell entry has at least one tensor"),
            };
            if kernel.shape.len() != 2 {
                return Err(MagError::layout(
                    &kernel.name,
                    format!(
                        "LSTM kernel must be 2-D [input+H, 4H], got shape {:?}",
                        kernel.shape
                    ),
                ));
            }
            let (rows, cols) = (kernel.shape[0], kernel.shape[1]);
            if cols == 0 || cols % 4 != 0 {
                return Err(MagError::layout(
                    &kernel.name,
                    format!(
                        "LSTM kernel shape {:?}: {cols} columns is not 4 × a hidden size",
                        kernel.shape
                    ),
                ));
            }
            let h = cols / 4;
            if bias.shape != [cols] {
                return Err(MagError::layout(
                    &bias.name,
                    format!(
                        "LSTM bias has shape {:?} but kernel '{}' has shape {:?}, so the bias must be [{cols}]",
                        bias.shape, kernel.name, kernel.shape
                    ),
                ));
            }
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
            names.push(LstmLayerNames {
                kernel: kernel.name.clone(),
                bias: bias.name.clone(),
            });
            prev_kernel = Some(kernel);
        }
        let top_kernel = prev_kernel.expect("at least one layer");
        let top = *hidden.last().expect("at least one layer");

        let w = one(&fc_w, "fully_connected weights")?.ok_or_else(|| {
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
        let b = one(&fc_b, "fully_connected biases")?.ok_or_else(|| {
            MagError::layout(
                sibling(&w.name, "biases"),
                format!(
                    "missing: fully_connected biases [{classes}] for weights {:?}",
                    w.shape
                ),
            )
        })?;
        if b.shape != [classes] {
            return Err(MagError::layout(
                &b.name,
                format!(
                    "shape {:?} should be [{classes}] to match '{}' {:?}",
                    b.shape, w.name, w.shape
                ),
            ));
        }
        Ok(Layout {
            generator_id: String::new(),
            input_size,
            hidden,
            num_classes: classes,
            names: LayoutNames {
                cells: names,
                fc_weights: w.name.clone(),
                fc_biases: b.name.clone(),
            },
            extra,
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

    fn model(
        input: usize,
        hidden: &[usize],
        classes: usize,
        kernel: &str,
        bias: &str,
    ) -> Checkpoint {
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

        let err =
            Layout::infer("performance", &model(388, &[4], 388, "kernel", "bias")).unwrap_err();
        assert!(err.to_string().contains("needs input size 356"), "{err}");

        let mut c = model(388, &[4, 4, 4], 388, "kernel", "bias");
        c.tensors.retain(|t| !t.name.contains("cell_1/"));
        let err = Layout::infer_shapes(&c).unwrap_err().to_string();
        assert!(
            err.contains("cell_1/basic_lstm_cell/kernel") && err.contains("gap"),
            "{err}"
        );

        let mut c = model(388, &[4, 4], 388, "kernel", "bias");
        c.tensors.retain(|t| t.name != "fully_connected/biases");
        let err = Layout::infer_shapes(&c).unwrap_err().to_string();
        assert!(
            err.contains("fully_connected/biases") && err.contains("missing"),
            "{err}"
        );

        let mut c = model(388, &[4, 4], 388, "kernel", "bias");
        c.get_mut("rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel")
            .unwrap()
            .shape = vec![9, 16];
        let err = Layout::infer_shapes(&c).unwrap_err().to_string();
        assert!(
            err.contains("cell_1/basic_lstm_cell/kernel") && err.contains("[9, 16]"),
            "{err}"
        );
        assert!(err.contains("[392, 16]"), "{err}");

        let c = Checkpoint::new(vec![t("x", &[1])]).unwrap();
        let err = Layout::infer_shapes(&c).unwrap_err().to_string();
        assert!(err.contains("no BasicLSTMCell"), "{err}");
    }
}
