//! Magenta `.mag` generator bundles (`magenta.GeneratorBundle`).

use std::fs;
use std::path::Path;

use prost::Message;

use crate::bundle::layout::Layout;
use crate::bundle::metagraph;
use crate::error::{MagError, Result};
use crate::proto::{BundleDetails, GeneratorBundle, GeneratorDetails};
use crate::tf::checkpoint::{read_v1, Checkpoint};

/// A decoded `.mag` bundle with exactly one checkpoint file and a metagraph.
#[derive(Clone, Debug, PartialEq)]
pub struct Bundle {
    /// The protobuf as read (or as it will be written).
    pub proto: GeneratorBundle,
    /// Where it came from, for error messages (a path or a caller-given name).
    pub source: Option<String>,
}

impl Bundle {
    /// Read and decode a `.mag` file.
    pub fn read(path: impl AsRef<Path>) -> Result<Bundle> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|e| MagError::io(path, e))?;
        Bundle::from_bytes(&bytes, &path.display().to_string())
    }

    /// Decode the bytes of a `.mag` file; `name` is used in error messages.
    ///
    /// Checks that there is exactly one `checkpoint_file` entry and a non-empty
    /// `metagraph_file`. The checkpoint itself is parsed by [`Bundle::checkpoint`].
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Bundle> {
        let proto = GeneratorBundle::decode(bytes).map_err(|e| {
            MagError::bundle(format!(
                "protobuf decoding failed ({e}); the file is truncated, corrupt or not a .mag bundle"
            ))
            .with_file(name)
        })?;
        let bundle = Bundle { proto, source: Some(name.to_string()) };
        bundle.validate()?;
        Ok(bundle)
    }

    /// A bundle from its parts (one checkpoint file).
    pub fn new(
        generator_id: &str,
        generator_description: &str,
        bundle_description: &str,
        checkpoint_file: Vec<u8>,
        metagraph_file: Vec<u8>,
    ) -> Bundle {
        Bundle {
            proto: GeneratorBundle {
                generator_details: Some(GeneratorDetails {
                    id: generator_id.to_string(),
                    description: generator_description.to_string(),
                }),
                checkpoint_file: vec![checkpoint_file],
                metagraph_file,
                bundle_details: Some(BundleDetails { description: bundle_description.to_string() }),
            },
            source: None,
        }
    }

    fn name(&self) -> &str {
        self.source.as_deref().unwrap_or("<bundle>")
    }

    fn err_ctx(&self, e: MagError) -> MagError {
        e.with_file(self.name())
    }

    /// The structural checks of [`Bundle::from_bytes`].
    pub fn validate(&self) -> Result<()> {
        let n = self.proto.checkpoint_file.len();
        if n != 1 {
            return Err(self.err_ctx(MagError::bundle(format!(
                "has {n} checkpoint_file entries; exactly 1 (a TensorFlow V1 checkpoint) is supported"
            ))));
        }
        if self.proto.checkpoint_file[0].is_empty() {
            return Err(self.err_ctx(MagError::bundle("checkpoint_file[0] is empty")));
        }
        if self.proto.metagraph_file.is_empty() {
            return Err(self.err_ctx(MagError::bundle(
                "has no metagraph_file; Magenta cannot load a bundle without its MetaGraphDef",
            )));
        }
        Ok(())
    }

    /// `generator_details.id` (empty when absent).
    pub fn generator_id(&self) -> &str {
        self.proto.generator_details.as_ref().map(|d| d.id.as_str()).unwrap_or("")
    }

    /// `generator_details.description`.
    pub fn generator_description(&self) -> &str {
        self.proto.generator_details.as_ref().map(|d| d.description.as_str()).unwrap_or("")
    }

    /// `bundle_details.description`.
    pub fn bundle_description(&self) -> &str {
        self.proto.bundle_details.as_ref().map(|d| d.description.as_str()).unwrap_or("")
    }

    /// Replace `bundle_details.description`.
    pub fn set_bundle_description(&mut self, description: &str) {
        self.proto.bundle_details.get_or_insert_with(Default::default).description = description.to_string();
    }

    /// The raw V1 checkpoint bytes (`checkpoint_file[0]`; empty if the bundle is invalid).
    pub fn checkpoint_bytes(&self) -> &[u8] {
        self.proto.checkpoint_file.first().map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// The raw binary `MetaGraphDef`.
    pub fn metagraph_bytes(&self) -> &[u8] {
        &self.proto.metagraph_file
    }

    /// Parse the bundle's V1 checkpoint.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        self.validate()?;
        read_v1(self.checkpoint_bytes()).map_err(|e| e.with_file(&format!("{} (checkpoint_file[0])", self.name())))
    }

    /// Check the generator id and infer the Performance RNN layout of `ckpt`.
    pub fn layout(&self, ckpt: &Checkpoint) -> Result<Layout> {
        Layout::infer(self.generator_id(), ckpt).map_err(|e| self.err_ctx(e))
    }

    /// Parse the checkpoint and infer its layout, then check it against the metagraph (the
    /// same cell and forget bias, no attention or residual wrapper) when the bundle has one.
    pub fn load(&self) -> Result<(Checkpoint, Layout)> {
        let ckpt = self.checkpoint()?;
        let layout = self.layout(&ckpt)?;
        if !self.metagraph_bytes().is_empty() {
            let facts = metagraph::inspect(self.metagraph_bytes()).map_err(|e| self.err_ctx(e))?;
            metagraph::check(&facts, &layout).map_err(|e| self.err_ctx(e))?;
        }
        Ok((ckpt, layout))
    }

    /// Encode as `.mag` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.proto.encode_to_vec()
    }

    /// Write the bundle to `path` atomically, through `cadenza_atomic` (a temporary file
    /// beside it, fsync, rename, fsync the folder): an existing file is never left torn.
    pub fn write_atomic(&self, path: impl AsRef<Path>) -> Result<()> {
        self.validate()?;
        let path = path.as_ref();
        cadenza_atomic::write_atomic(path, &self.to_bytes()).map_err(|e| MagError::io(path, e))
    }
}
