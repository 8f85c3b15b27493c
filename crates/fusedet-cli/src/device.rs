//! `--device` names.

#[cfg(any(feature = "cuda", feature = "wgpu"))]
use anyhow::Context;
use anyhow::{Result, bail};
use fusedet::burn::tensor::Device;

/// The index of `kind:N`.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
fn index(name: &str, kind: &str) -> Result<usize> {
    name[kind.len() + 1..]
        .parse::<usize>()
        .with_context(|| format!("--device {name}: expected {kind}:INDEX"))
}

/// The device named on the command line: cpu (default), cuda / cuda:N when built with
/// `--features cuda`, wgpu / wgpu:N with `--features wgpu`.
pub fn parse(name: &str) -> Result<Device> {
    match name {
        // Explicitly Flex: in a GPU build Burn's default device is the GPU.
        #[cfg(feature = "flex")]
        "cpu" | "flex" => Ok(Device::flex()),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        #[cfg(feature = "cuda")]
        n if n.starts_with("cuda:") => Ok(Device::cuda(index(n, "cuda")?)),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(
            fusedet::burn::tensor::DeviceKind::DefaultDevice,
        )),
        #[cfg(feature = "wgpu")]
        n if n.starts_with("wgpu:") => Ok(Device::wgpu(
            fusedet::burn::tensor::DeviceKind::DiscreteGpu(index(n, "wgpu")?),
        )),
        other => {
            let built: Vec<&str> = [
                (cfg!(feature = "flex"), "cpu"),
                (cfg!(feature = "cuda"), "cuda, cuda:N"),
                (cfg!(feature = "wgpu"), "wgpu, wgpu:N"),
            ]
            .into_iter()
            .filter_map(|(on, n)| on.then_some(n))
            .collect();
            bail!(
                "device `{other}` is not available in this build (available: {})",
                built.join(", ")
            )
        }
    }
}
