//! Flags that several subcommands share, each declared and documented once and flattened
//! (`#[command(flatten)]`) where it is used.

/// `--device` of the commands that train.
#[derive(Debug, Clone, clap::Args)]
pub struct DeviceArg {
    /// Where to train: auto (a Vulkan GPU in a build with the `vulkan` or `wgpu` feature, else the CPU), cpu or vulkan.
    #[arg(long, default_value = "auto")]
    pub device: cadenza_train::DeviceChoice,
}

/// `--layers` of the commands that can build a model from scratch.
#[derive(Debug, Clone, clap::Args)]
pub struct LayersArg {
    /// Layer sizes when training from scratch.
    #[arg(long, value_delimiter = ',', default_value = "512,512,512")]
    pub layers: Vec<usize>,
}
