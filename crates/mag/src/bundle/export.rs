//! Writing new weights into a `.mag` bundle that Magenta can load.
//!
//! A Rust program cannot rebuild TensorFlow's `MetaGraphDef`, so a new bundle reuses
//! the template bundle's metagraph and generator details and only replaces
//! `checkpoint_file[0]` with a freshly written V1 checkpoint holding exactly the same
//! tensor names, shapes and dtypes (spec §6.2).

use crate::bundle::mag::Bundle;
use crate::error::{MagError, Result};
use crate::proto::GeneratorBundle;
use crate::tf::checkpoint::{write_v1, Checkpoint, Tensor};

/// Check that `new` has exactly the tensor names and shapes of `template` (all float32),
/// and that all its values are finite. The error names the first difference, calling the
/// reference `what` ("the template", "the graph").
pub fn check_same_variables(template: &Checkpoint, new: &Checkpoint, what: &str) -> Result<()> {
    let mut t_names: Vec<&Tensor> = template.tensors.iter().collect();
    let mut n_names: Vec<&Tensor> = new.tensors.iter().collect();
    t_names.sort_by(|a, b| a.name.cmp(&b.name));
    n_names.sort_by(|a, b| a.name.cmp(&b.name));
    let (mut i, mut j) = (0, 0);
    while i < t_names.len() || j < n_names.len() {
        match (t_names.get(i), n_names.get(j)) {
            (Some(t), Some(n)) if t.name == n.name => {
                if t.shape != n.shape {
                    return Err(MagError::mismatch(format!(
                        "tensor '{}' has shape {:?} in the new checkpoint but {:?} in {what}",
                        t.name, n.shape, t.shape
                    )));
                }
                i += 1;
                j += 1;
            }
            (Some(t), n) if n.is_none_or(|n| t.name < n.name) => {
                return Err(MagError::mismatch(format!(
                    "tensor '{}' {:?} of {what} is missing from the new checkpoint",
                    t.name, t.shape
                )));
            }
            (_, Some(n)) => {
                return Err(MagError::mismatch(format!(
                    "tensor '{}' {:?} of the new checkpoint is not in {what}",
                    n.name, n.shape
                )));
            }
            _ => unreachable!(),
        }
    }
    new.validate()?;
    for t in &new.tensors {
        if let Some(pos) = t.data.iter().position(|v| !v.is_finite()) {
            return Err(MagError::mismatch(format!(
                "tensor '{}' holds a non-finite value ({}) at index {pos}; refusing to write a broken model",
                t.name, t.data[pos]
            )));
        }
    }
    Ok(())
}

/// A new bundle: the template's metagraph, generator details and bundle details, with
/// `checkpoint_file[0]` replaced by `new` written as a V1 checkpoint.
///
/// `new` must have exactly the template checkpoint's tensor names and shapes (the
/// template's checkpoint is parsed, so its dtypes are float32), and finite values.
pub fn replace_checkpoint(template: &Bundle, new: &Checkpoint) -> Result<Bundle> {
    let template_ckpt = template.checkpoint()?;
    let name = template.source.as_deref().unwrap_or("<template bundle>");
    check_same_variables(&template_ckpt, new, "the template").map_err(|e| e.with_file(name))?;
    let bytes = write_v1(new)?;
    let proto = GeneratorBundle {
        generator_details: template.proto.generator_details.clone(),
        checkpoint_file: vec![bytes],
        metagraph_file: template.proto.metagraph_file.clone(),
        bundle_details: template.proto.bundle_details.clone(),
    };
    Ok(Bundle { proto, source: None })
}
