//! Note-seq's `generator.proto`: the `.mag` file itself.

/// `magenta.GeneratorBundle`: the whole `.mag` file.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct GeneratorBundle {
    #[prost(message, optional, tag = "1")]
    pub generator_details: Option<GeneratorDetails>,
    /// Raw bytes of checkpoint files; Magenta supports exactly one (a V1 table).
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub checkpoint_file: Vec<Vec<u8>>,
    /// Raw bytes of the binary `MetaGraphDef`.
    #[prost(bytes = "vec", tag = "3")]
    pub metagraph_file: Vec<u8>,
    #[prost(message, optional, tag = "4")]
    pub bundle_details: Option<BundleDetails>,
}

/// `magenta.GeneratorDetails`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct GeneratorDetails {
    /// Selects the model config, e.g. `performance_with_dynamics`.
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub description: String,
}

/// `magenta.GeneratorBundle.BundleDetails`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct BundleDetails {
    #[prost(string, tag = "1")]
    pub description: String,
}
