//! What a bundle's `MetaGraphDef` says about the network, read with the few protobuf
//! messages this needs (the messages of [`crate::proto::graph`]).
//!
//! The checkpoint's variable names say which cell a model uses; the graph says what the cell
//! *computes*: the forget-bias constant a BasicLSTMCell adds (Magenta always builds it with
//! 1.0, but a graph may say otherwise), an `LSTMBlockCell`'s `forget_bias` attribute, and
//! wrappers (attention, residual, input projection) whose extra computation would otherwise
//! be silently dropped.

use crate::bundle::layout::{CellKind, Layout};
use crate::error::{MagError, Result};
use crate::proto::graph::{AttrValue, MetaGraphDef, NodeDef, Value};
use crate::proto::TensorProto;
use prost::Message;
use std::collections::HashMap;

/// What the graph says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GraphFacts {
    pub nodes: usize,
    /// The LSTM cells the graph computes with (both when a graph mixes them).
    pub cells: Vec<CellKind>,
    /// `(node, value)`: every forget bias the cells add at run time.
    pub forget_biases: Vec<(String, f32)>,
    /// `(node, what it is)`: the first node of each wrapper Cadenza does not implement.
    pub wrappers: Vec<(String, &'static str)>,
}

fn scalar(t: &TensorProto) -> Option<f32> {
    if let [v] = t.float_val[..] {
        return Some(v);
    }
    (t.tensor_content.len() == 4).then(|| {
        f32::from_le_bytes([t.tensor_content[0], t.tensor_content[1], t.tensor_content[2], t.tensor_content[3]])
    })
}

/// Reads a serialised `MetaGraphDef`.
pub fn inspect(bytes: &[u8]) -> Result<GraphFacts> {
    let mg =
        MetaGraphDef::decode(bytes).map_err(|e| MagError::metagraph(format!("not a MetaGraphDef protobuf ({e})")))?;
    let nodes = mg.graph_def.map(|g| g.node).unwrap_or_default();
    if nodes.is_empty() {
        return Err(MagError::metagraph("the MetaGraphDef has no graph nodes"));
    }
    let by_name: HashMap<&str, &NodeDef> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let mut facts = GraphFacts { nodes: nodes.len(), ..Default::default() };
    let add_cell = |facts: &mut GraphFacts, k: CellKind| {
        if !facts.cells.contains(&k) {
            facts.cells.push(k);
        }
    };
    for n in &nodes {
        let lower = n.name.to_ascii_lowercase();
        for (needle, what) in [
            ("attention_cell_wrapper", "attention (AttentionCellWrapper, attn_length > 0)"),
            ("residual_wrapper", "residual connections (ResidualWrapper)"),
            ("input_projection_wrapper", "an input projection (InputProjectionWrapper)"),
        ] {
            if lower.contains(needle) && !facts.wrappers.iter().any(|(_, w)| *w == what) {
                facts.wrappers.push((n.name.clone(), what));
            }
        }
        if n.op == "LSTMBlockCell" {
            add_cell(&mut facts, CellKind::CudnnCompatible);
            let fb = match n.attr.get("forget_bias") {
                Some(AttrValue { value: Some(Value::F(f)) }) => *f,
                _ => 1.0,
            };
            facts.forget_biases.push((n.name.clone(), fb));
        } else if n.name.contains("/basic_lstm_cell/") {
            add_cell(&mut facts, CellKind::Basic);
            // BasicLSTMCell: sigmoid(f + forget_bias), `Add` of split:2 and a constant.
            let leaf = n.name.rsplit('/').next().unwrap_or("");
            if (n.op == "Add" || n.op == "AddV2")
                && leaf == "Add"
                && n.input.len() == 2
                && n.input[0].ends_with("split:2")
            {
                let c = n.input[1].trim_start_matches('^');
                if let Some(v) = by_name
                    .get(c)
                    .filter(|c| c.op == "Const")
                    .and_then(|c| c.attr.get("value"))
                    .and_then(|a| match &a.value {
                        Some(Value::Tensor(t)) => Some(t),
                        _ => None,
                    })
                    .and_then(scalar)
                {
                    facts.forget_biases.push((n.name.clone(), v));
                }
            }
        } else if n.name.contains("/cudnn_compatible_lstm_cell/") {
            add_cell(&mut facts, CellKind::CudnnCompatible);
        }
    }
    Ok(facts)
}

/// Checks that the graph computes what the checkpoint's layout will be run as: the same
/// cell, the forget bias Cadenza adds for it, and no wrapper.
pub fn check(facts: &GraphFacts, layout: &Layout) -> Result<()> {
    if let Some((node, what)) = facts.wrappers.first() {
        return Err(MagError::metagraph(format!("node '{node}': the graph uses {what}, which Cadenza does not implement; its probabilities would be wrong without it")));
    }
    if facts.cells.len() > 1 {
        return Err(MagError::metagraph(format!("the graph mixes LSTM cells ({:?})", facts.cells)));
    }
    if let Some(&cell) = facts.cells.first() {
        if cell != layout.cell {
            return Err(MagError::metagraph(format!(
                "the graph computes with {cell:?} cells but the checkpoint holds {:?} variables ('{}')",
                layout.cell, layout.names.cells[0].kernel
            )));
        }
    }
    if let Some((node, v)) = facts.forget_biases.iter().find(|(_, v)| *v != layout.cell.forget_bias()) {
        return Err(MagError::metagraph(format!(
            "node '{node}': the cell adds a forget bias of {v}, but a {:?} cell's is {}; Cadenza would compute other probabilities",
            layout.cell,
            layout.cell.forget_bias()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, op: &str, input: &[&str]) -> NodeDef {
        NodeDef {
            name: name.into(),
            op: op.into(),
            input: input.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn graph(nodes: Vec<NodeDef>) -> Vec<u8> {
        MetaGraphDef {
            graph_def: Some(crate::proto::graph::GraphDef { node: nodes, versions: None }),
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn basic(forget: f32) -> Vec<NodeDef> {
        let p = "rnn/while/rnn/multi_rnn_cell/cell_0/basic_lstm_cell";
        let mut c = node(&format!("{p}/Const_1"), "Const", &["^rnn/while/Identity"]);
        c.attr.insert(
            "value".into(),
            AttrValue {
                value: Some(Value::Tensor(TensorProto { dtype: 1, float_val: vec![forget], ..Default::default() })),
            },
        );
        vec![
            node(&format!("{p}/split"), "Split", &[]),
            c,
            node(&format!("{p}/Add"), "AddV2", &[&format!("{p}/split:2"), &format!("{p}/Const_1")]),
        ]
    }

    #[test]
    fn reads_cells_forget_biases_and_wrappers() {
        let f = inspect(&graph(basic(1.0))).unwrap();
        assert_eq!(f.cells, [CellKind::Basic]);
        assert_eq!(f.forget_biases.len(), 1);
        assert_eq!(f.forget_biases[0].1, 1.0);
        let mut block = node(
            "rnn/while/cudnn_lstm/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/LSTMBlockCell",
            "LSTMBlockCell",
            &[],
        );
        block.attr.insert("forget_bias".into(), AttrValue { value: Some(Value::F(0.0)) });
        let f = inspect(&graph(vec![block])).unwrap();
        assert_eq!((f.cells.as_slice(), f.forget_biases[0].1), ([CellKind::CudnnCompatible].as_slice(), 0.0));
        let mut g = basic(1.0);
        g.push(node("rnn/while/rnn/attention_cell_wrapper/attention/Softmax", "Softmax", &[]));
        assert!(inspect(&graph(g)).unwrap().wrappers[0].1.contains("attention"));
        assert!(inspect(b"\xff\xff garbage").is_err());
        assert!(inspect(&graph(vec![])).unwrap_err().to_string().contains("no graph nodes"));
    }
}
