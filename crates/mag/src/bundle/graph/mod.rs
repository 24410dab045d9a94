//! The `MetaGraphDef` Magenta writes into a Performance RNN bundle, built in code for any
//! layer sizes, so a model of any shape becomes a `.mag` without TensorFlow and without a
//! template bundle.
//!
//! Magenta's `performance_rnn_generate --save_generator_bundle` builds the generation graph
//! of `events_rnn_graph.py` (mode `generate`, batch size 1, every cell a `BasicLSTMCell` in a
//! `DropoutWrapper` of keep probability 1.0, inside `tf.nn.dynamic_rnn`), restores it, and
//! exports it with a second, V1 `Saver`. [`generation_metagraph`] writes the same graph node
//! for node, in the order TensorFlow 2.15 creates them: names, ops, inputs, attributes (with
//! `_output_shapes`), the `while_context`, the variable collections and the `SaverDef`. The
//! structure was read off the two fixture metagraphs Magenta wrote (`[64, 64]` and
//! `[512, 512, 512]`); a test rebuilds both and compares every node and collection.
//!
//! Only what Magenta never reads from a bundle is left out: `meta_info_def` (TensorFlow's
//! version strings and the stripped op list, which `import_meta_graph` only uses to drop
//! attributes an older TensorFlow does not know).
//!
//! The protobuf messages live in [`crate::proto::graph`] and are re-exported here. Below
//! this file, bottom to top: `shape` ([`GraphShape`] and the graph's fixed names and
//! sizes), `nodes` (the node-building helpers: attribute values, constants, variables,
//! savers) and `generation` ([`generation_metagraph`], the graph itself, node for node).

use prost::Message;

use crate::bundle::export::check_same_variables;
use crate::bundle::layout::check_generator_id;
use crate::bundle::mag::Bundle;
use crate::error::{MagError, Result};
use crate::tf::checkpoint::{write_v1, Checkpoint, Tensor};

mod generation;
mod nodes;
mod shape;

pub use crate::proto::graph::{
    AttrValue, BytesList, Collection, CollectionDef, GraphDef, ListValue, MetaGraphDef, MetaInfoDef, NodeDef, SaverDef,
    StringList, Value, ValuesDef, VariableDef, WhileContextDef,
};
pub use generation::generation_metagraph;
pub use nodes::dt;
pub use shape::GraphShape;

/// A new bundle for `checkpoint` with a metagraph built for its shape: no template needed.
///
/// `checkpoint` must hold exactly the graph's variables (BasicLSTMCell names, see
/// [`GraphShape::variables`]) with finite values.
pub fn new_bundle(
    generator_id: &str,
    shape: &GraphShape,
    checkpoint: &Checkpoint,
    bundle_description: &str,
) -> Result<Bundle> {
    let generator = check_generator_id(generator_id)?;
    if generator.input_size != shape.input_size || generator.num_classes != shape.num_classes {
        return Err(MagError::mismatch(format!(
            "a '{generator_id}' model has input {} and {} classes, not {} and {}",
            generator.input_size, generator.num_classes, shape.input_size, shape.num_classes
        )));
    }
    let metagraph = generation_metagraph(shape)?;
    let expected = Checkpoint::new(
        shape
            .variables()
            .into_iter()
            .map(|(name, d)| {
                let n = d.iter().product();
                Tensor::new(name, d, vec![0.0; n])
            })
            .collect::<Result<Vec<_>>>()?,
    )?;
    check_same_variables(&expected, checkpoint, "the graph")?;
    let bytes = write_v1(checkpoint)?;
    Ok(Bundle::new(generator_id, generator.description, bundle_description, bytes, metagraph.encode_to_vec()))
}
