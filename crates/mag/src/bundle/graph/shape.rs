//! [`GraphShape`], the sizes a generation graph is built for, and the names and sizes
//! every such graph shares.

use crate::error::{MagError, Result};

/// The shape of a Performance RNN's generation graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphShape {
    /// Width of the input of layer 0 (the encoder's `input_size`).
    pub input_size: usize,
    /// Hidden size of each LSTM layer, bottom first.
    pub layers: Vec<usize>,
    /// Logits (the encoder's `num_classes`).
    pub num_classes: usize,
}

/// TensorFlow's graph version (`GraphDef.versions.producer`) of the fixture graphs (2.15).
pub(super) const PRODUCER: i32 = 1645;
/// The batch size Magenta's generator builds its graph with (beam size × branch factor = 1).
pub(super) const BATCH: i64 = 1;
pub(super) const WHILE: &str = "rnn/while/";
pub(super) const FRAME: &str = "rnn/while/while_context";

pub(super) fn cell_scope(l: usize) -> String {
    format!("rnn/multi_rnn_cell/cell_{l}/basic_lstm_cell/")
}

impl GraphShape {
    pub(super) fn check(&self) -> Result<()> {
        if self.layers.is_empty() || self.layers.contains(&0) || self.input_size == 0 || self.num_classes == 0 {
            return Err(MagError::mismatch(format!(
                "cannot build a graph for input {}, layers {:?}, {} classes",
                self.input_size, self.layers, self.num_classes
            )));
        }
        Ok(())
    }

    pub(super) fn layer_input(&self, l: usize) -> usize {
        if l == 0 {
            self.input_size
        } else {
            self.layers[l - 1]
        }
    }

    pub(super) fn top(&self) -> usize {
        *self.layers.last().unwrap_or(&0)
    }

    /// The graph's variables with their shapes, in the order the graph creates them.
    pub fn variables(&self) -> Vec<(String, Vec<usize>)> {
        let mut v = Vec::new();
        for (l, &h) in self.layers.iter().enumerate() {
            v.push((format!("{}kernel", cell_scope(l)), vec![self.layer_input(l) + h, 4 * h]));
            v.push((format!("{}bias", cell_scope(l)), vec![4 * h]));
        }
        v.push(("fully_connected/weights".into(), vec![self.top(), self.num_classes]));
        v.push(("fully_connected/biases".into(), vec![self.num_classes]));
        v
    }
}
