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

/// `--note-events` of the commands that sample: which note events the sampler may draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NoteEventsArg {
    Any,
    Paired,
}

impl From<NoteEventsArg> for cadenza_generate::NoteEvents {
    fn from(n: NoteEventsArg) -> Self {
        match n {
            NoteEventsArg::Any => cadenza_generate::NoteEvents::Any,
            NoteEventsArg::Paired => cadenza_generate::NoteEvents::Paired,
        }
    }
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.trim().parse::<T>().map_err(|e| e.to_string())
}

/// A finite number > 0 (a learning rate, a stretch factor).
pub fn positive(s: &str) -> Result<f64, String> {
    let x: f64 = number(s)?;
    if x > 0.0 && x.is_finite() {
        Ok(x)
    } else {
        Err("must be a finite number > 0".into())
    }
}

/// A finite number ≥ 0 (a loss weight).
pub fn non_negative(s: &str) -> Result<f64, String> {
    let x: f64 = number(s)?;
    if x >= 0.0 && x.is_finite() {
        Ok(x)
    } else {
        Err("must be a finite number ≥ 0".into())
    }
}

/// A keep probability in (0, 1].
pub fn keep_prob(s: &str) -> Result<f32, String> {
    let x: f32 = number(s)?;
    if x > 0.0 && x <= 1.0 {
        Ok(x)
    } else {
        Err("must be a keep probability in (0, 1]".into())
    }
}

/// A weight in [0, 1].
pub fn unit(s: &str) -> Result<f64, String> {
    let x: f64 = number(s)?;
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err("must be in [0, 1]".into())
    }
}

/// A fraction in [0, 1).
pub fn fraction(s: &str) -> Result<f64, String> {
    let x: f64 = number(s)?;
    if (0.0..1.0).contains(&x) {
        Ok(x)
    } else {
        Err("must be in [0, 1)".into())
    }
}
