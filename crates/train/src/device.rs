//! Which device trains.
//!
//! The CPU (burn's `Flex`) runs the fused LSTM kernels of [`crate::lstm_op`] and is what every
//! default build uses. A build with the `vulkan` or `wgpu` cargo feature can also train on a
//! GPU through Vulkan, where the LSTM is composed from burn tensor ops:
//!
//! * `vulkan`: cubecl compiles its kernels to SPIR-V itself (what burn recommends for NVIDIA
//!   and AMD cards);
//! * `wgpu`: kernels go through WGSL and wgpu's naga, on whichever API the machine has
//!   (Vulkan on Linux). Mesa's llvmpipe (Debian 12, Mesa 22.3 and 25.0) segfaults compiling
//!   cubecl's SPIR-V matmul but runs this path, so this is the one tested here.
//!
//! `auto` takes a Vulkan GPU when one answers and otherwise falls back to the CPU, saying why,
//! so one command line works on a laptop, a GPU workstation and CI alike. A Vulkan adapter that
//! is itself a CPU (llvmpipe) is never chosen by `auto`, since the fused CPU kernels are far
//! faster than shaders on the same cores; `--device vulkan` still takes it, which is how the
//! Vulkan path is tested on a machine without a GPU.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What the user asked for (`--device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A Vulkan GPU if this build has the feature and one answers, else the CPU.
    #[default]
    Auto,
    /// The CPU with the fused kernels.
    Cpu,
    /// Vulkan, or an error: any adapter, a CPU one (llvmpipe) included.
    Vulkan,
}

impl FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" | "flex" => Ok(DeviceChoice::Cpu),
            "vulkan" | "gpu" => Ok(DeviceChoice::Vulkan),
            _ => Err(format!("unknown device {s:?} (expected auto, cpu or vulkan)")),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Vulkan => "vulkan",
        })
    }
}

/// The device a run trains on (without autodiff: callers add it), and what to tell the user.
#[derive(Debug, Clone)]
pub struct Selected {
    pub device: Device,
    /// e.g. `cpu (fused LSTM kernels, 2 threads)` or `vulkan: NVIDIA H100 (discrete GPU)`.
    pub description: String,
    /// Why `auto` fell back to the CPU, when it did.
    pub fallback: Option<String>,
}

impl Selected {
    fn cpu(fallback: Option<String>) -> Selected {
        Selected {
            device: Device::flex(),
            description: format!(
                "cpu (fused LSTM kernels, {}, {} threads)",
                cadenza_model::kernels::Level::current().name(),
                cadenza_model::kernels::team_threads()
            ),
            fallback,
        }
    }
    pub fn is_cpu(&self) -> bool {
        self.device == Device::flex()
    }
    /// The line a run prints and logs: the device and, in a build that could have used a GPU,
    /// why it did not.
    pub fn summary(&self) -> String {
        match &self.fallback {
            Some(why) if VULKAN_BUILT => format!("device: {} ({why})", self.description),
            _ => format!("device: {}", self.description),
        }
    }
}

/// Whether this build can train on Vulkan at all.
pub const VULKAN_BUILT: bool = cfg!(any(feature = "vulkan", feature = "wgpu"));

/// Resolves a choice to a device. Errors only for an explicit `vulkan` that cannot be had.
pub fn select(choice: DeviceChoice) -> Result<Selected, String> {
    match choice {
        DeviceChoice::Cpu => Ok(Selected::cpu(None)),
        DeviceChoice::Auto => match vulkan::gpu() {
            Ok(s) => Ok(s),
            Err(why) => Ok(Selected::cpu(Some(why))),
        },
        DeviceChoice::Vulkan => vulkan::gpu().or_else(|gpu_err| {
            vulkan::any_adapter().map_err(|e| if VULKAN_BUILT { format!("{gpu_err}; {e}") } else { e })
        }),
    }
}

#[cfg(not(any(feature = "vulkan", feature = "wgpu")))]
mod vulkan {
    use super::Selected;
    const NOT_BUILT: &str = "this cadenza was built without Vulkan support (rebuild with `cargo build --release --features vulkan`, or `--features wgpu`)";
    pub fn gpu() -> Result<Selected, String> {
        Err(NOT_BUILT.into())
    }
    pub fn any_adapter() -> Result<Selected, String> {
        Err(NOT_BUILT.into())
    }
}

#[cfg(any(feature = "vulkan", feature = "wgpu"))]
mod vulkan {
    use super::Selected;
    use burn::tensor::wgpu::WgpuBackend;
    use burn::tensor::{Device, DeviceKind};
    use std::sync::Mutex;

    /// A Vulkan runtime can be initialised once per adapter kind and process, so the answers
    /// are kept.
    fn init(kind: DeviceKind) -> Result<Selected, String> {
        static CACHE: Mutex<Vec<(DeviceKind, Result<Selected, String>)>> = Mutex::new(Vec::new());
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, r)) = cache.iter().find(|(k, _)| *k == kind) {
            return r.clone();
        }
        let r = Device::wgpu_options()
            .graphics_api(WgpuBackend::Vulkan)
            .device_kind(kind.clone())
            .init()
            .map_err(|e| e.to_string())
            .map(|device| {
                // Opens the device: a broken driver shows here, not in the middle of a run.
                let name = device.identity().map(|i| i.name).unwrap_or_else(|| format!("{device:?}"));
                let what = match &kind {
                    DeviceKind::DiscreteGpu(_) => "discrete GPU",
                    DeviceKind::IntegratedGpu(_) => "integrated GPU",
                    DeviceKind::VirtualGpu(_) => "virtual GPU",
                    DeviceKind::Cpu => "CPU adapter",
                    _ => "adapter",
                };
                Selected { device, description: format!("vulkan: {name} ({what}; composed LSTM)"), fallback: None }
            });
        cache.push((kind, r.clone()));
        r
    }

    /// The first Vulkan GPU: discrete, then integrated, then virtual.
    pub fn gpu() -> Result<Selected, String> {
        let mut first_err = None;
        for kind in [DeviceKind::DiscreteGpu(0), DeviceKind::IntegratedGpu(0), DeviceKind::VirtualGpu(0)] {
            match init(kind) {
                Ok(s) => return Ok(s),
                Err(e) => first_err = first_err.or(Some(e)),
            }
        }
        Err(match init(DeviceKind::Cpu) {
            Ok(s) => {
                format!("no Vulkan GPU (only a CPU adapter: {}, slower than the fused CPU kernels)", s.description)
            }
            Err(_) => format!("no Vulkan GPU: {}", first_err.unwrap_or_default()),
        })
    }

    /// Any Vulkan adapter, a CPU one (llvmpipe) included.
    pub fn any_adapter() -> Result<Selected, String> {
        init(DeviceKind::Cpu).map_err(|e| {
            format!(
                "no Vulkan adapter at all ({e}); install a Vulkan driver (Debian: mesa-vulkan-drivers for llvmpipe)"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_choices() {
        assert_eq!("auto".parse::<DeviceChoice>().unwrap(), DeviceChoice::Auto);
        assert_eq!("CPU".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!("vulkan".parse::<DeviceChoice>().unwrap(), DeviceChoice::Vulkan);
        assert!("cuda".parse::<DeviceChoice>().unwrap_err().contains("auto, cpu or vulkan"));
    }

    #[test]
    fn cpu_is_the_fused_backend() {
        let s = select(DeviceChoice::Cpu).unwrap();
        assert!(s.is_cpu() && s.fallback.is_none() && s.description.starts_with("cpu"));
    }

    /// Without the feature, `auto` falls back to the CPU and says why, and an explicit
    /// `vulkan` is an error that names the rebuild.
    #[cfg(not(any(feature = "vulkan", feature = "wgpu")))]
    #[test]
    fn without_the_feature_auto_falls_back_and_vulkan_errs() {
        let a = select(DeviceChoice::Auto).unwrap();
        assert!(a.is_cpu());
        assert!(a.fallback.as_deref().unwrap().contains("--features vulkan"));
        let e = select(DeviceChoice::Vulkan).unwrap_err();
        assert!(e.contains("--features vulkan"), "{e}");
    }
}
