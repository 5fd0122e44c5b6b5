//! Device properties: what a device supports (`SUPPORTED_PROPERTIES`), for checking
//! `[model] properties` / `--ov-property` before compiling and for `ovstream devices
//! --properties`.

use super::graph::ov_message;
use super::EngineOptions;
use crate::config::Precision;
use crate::error::{Error, Result};
use openvino::{Core, DeviceType, PropertyKey, RwPropertyKey};
use std::path::{Path, PathBuf};

/// `(name, "RO" | "RW")` of each of `device`'s `SUPPORTED_PROPERTIES` (empty when it does not
/// say). OpenVINO's C API lists them space-separated, each with its mutability after a colon
/// or a space (`NUM_STREAMS:RW`, `NUM_STREAMS RW`), depending on the runtime version.
fn supported_properties(core: &Core, device: &DeviceType) -> Vec<(String, String)> {
    let text = core
        .get_property(device, &PropertyKey::SupportedProperties)
        .unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::new();
    for token in text.split([' ', ',']).filter(|t| !t.is_empty()) {
        let (name, mode) = token.split_once(':').unwrap_or((token, ""));
        match (name, out.last_mut()) {
            ("RO" | "RW", Some(last)) if last.1.is_empty() => last.1 = name.to_string(),
            _ => out.push((name.to_string(), mode.to_string())),
        }
    }
    out
}

/// One of a device's `SUPPORTED_PROPERTIES` and its value now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceProperty {
    pub name: String,
    /// `RO`, `RW`, or empty when the runtime does not say.
    pub mode: String,
    /// As the device reports it (empty when it cannot be read).
    pub value: String,
}

/// Each available device with its `SUPPORTED_PROPERTIES` and their values.
///
/// # Errors
/// [`Error::Library`] when OpenVINO cannot be loaded; the OpenVINO error listing devices.
pub fn device_properties(
    openvino_lib: Option<&Path>,
) -> Result<Vec<(String, Vec<DeviceProperty>)>> {
    super::each_device(openvino_lib, |core, d| {
        supported_properties(core, d)
            .into_iter()
            .map(|(name, mode)| {
                let value = core
                    .get_property(d, &PropertyKey::Other(name.clone().into()))
                    .unwrap_or_default();
                DeviceProperty { name, mode, value }
            })
            .collect()
    })
}

/// `INFERENCE_PRECISION_HINT` (the property's name).
const PRECISION_KEY: &str = "INFERENCE_PRECISION_HINT";

/// The precision the user named: `[model] precision` or an `INFERENCE_PRECISION_HINT` property
/// (`None` when neither names one). A CPU without bf16 hardware (no `BF16` in its
/// `OPTIMIZATION_CAPABILITIES`, e.g. AVX2 only) runs f32 when asked for bf16.
pub(super) fn asked_precision(options: &EngineOptions) -> Option<String> {
    options
        .properties
        .iter()
        .find(|(k, _)| k == PRECISION_KEY)
        .map(|(_, v)| v.trim().to_string())
        .or_else(|| options.precision.map(|p| p.as_ov().to_string()))
}

/// The precision ovstream picks for the CPU when neither `[model] precision` nor a
/// `properties` entry names one: f32 where the CPU plugin would choose bf16 on a CPU without
/// AMX. The plugin chooses bf16 wherever the CPU has AVX512_BF16; without AMX tiles (an
/// AVX-512 CPU of the generation before, or a virtual machine that hides AMX) bf16 runs
/// slower than f32: measured on such a VM with `benchmark_app -hint throughput`, f32 gave
/// 1.18x bf16's FPS for SSD-MobileNet-V2 COCO INT8, 1.2-1.35x for SSDLite and 1.7x for YOLOv8m
/// (docs/performance.md). With AMX bf16 is the faster one and the plugin's choice stands.
/// `None` keeps the device's own choice.
fn cpu_precision(core: &Core, target: &DeviceType, options: &EngineOptions) -> Option<Precision> {
    if asked_precision(options).is_some() || target.as_ref() != "CPU" || cpu_has_amx() {
        return None;
    }
    let default = core
        .get_property(target, &PropertyKey::Other(PRECISION_KEY.into()))
        .ok()?;
    (default.trim() == "bf16").then(|| {
        tracing::debug!("CPU without AMX: inference precision f32 instead of the plugin's bf16");
        Precision::F32
    })
}

/// Whether the CPU runs AMX bf16 tiles (the `amx_bf16` flag the Linux kernel lists in
/// `/proc/cpuinfo` once it has enabled AMX; false where that file cannot be read).
fn cpu_has_amx() -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|text| cpuinfo_has_amx(&text))
}

fn cpuinfo_has_amx(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .is_some_and(|l| l.split_whitespace().any(|f| f == "amx_bf16"))
}

/// Sets the hint, precision, streams, cache and `options.properties` on the device (the part
/// before `:` of `HETERO:GPU,CPU` or `AUTO:…`) before compiling.
///
/// # Errors
/// [`Error::Config`] naming a property the device does not support or rejects.
pub(super) fn set_properties(core: &mut Core, options: &EngineOptions) -> Result<()> {
    // Properties go to the device itself: the part before ':' of `HETERO:GPU,CPU` or `AUTO:...`.
    let target = options.device.split(':').next().unwrap_or(&options.device);
    let target = DeviceType::from(target);
    let mut props: Vec<(RwPropertyKey, String)> = vec![(
        RwPropertyKey::HintPerformanceMode,
        options.hint.as_ov().to_string(),
    )];
    if let Some(p) = options
        .precision
        .or_else(|| cpu_precision(core, &target, options))
    {
        props.push((RwPropertyKey::HintInferencePrecision, p.as_ov().to_string()));
    }
    if let Some(n) = &options.nstreams {
        props.push((RwPropertyKey::NumStreams, n.to_uppercase()));
    }
    if let Some(dir) = &options.cache_dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::Config {
            path: dir.clone(),
            message: format!("cannot create compiled-model cache dir: {e}"),
        })?;
        props.push((RwPropertyKey::CacheDir, dir.to_string_lossy().into_owned()));
    }
    if !options.properties.is_empty() {
        let supported = supported_properties(core, &target);
        for (key, value) in &options.properties {
            if !supported.iter().any(|(k, _)| k == key) {
                return Err(Error::Config {
                    path: PathBuf::from(&options.device),
                    message: format!(
                        "property {key} is not supported by device {} (it supports: {})",
                        target.as_ref(),
                        supported
                            .iter()
                            .map(|(k, _)| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            props.push((RwPropertyKey::Other(key.clone().into()), value.clone()));
        }
    }
    for (key, value) in props {
        core.set_property(&target, &key, &value)
            .map_err(|e| Error::Config {
                path: PathBuf::from(&options.device),
                message: format!(
                    "device {} rejected {}={value}: {}",
                    options.device,
                    key.as_ref(),
                    ov_message(e)
                ),
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::cpuinfo_has_amx;

    #[test]
    fn amx_is_read_from_the_flags_line() {
        let amx = "processor\t: 0\nflags\t\t: fpu avx512_bf16 amx_bf16 amx_tile amx_int8\n";
        let masked = "processor\t: 0\nflags\t\t: fpu avx512_bf16 avx512_fp16\nbugs\t: amx_bf16\n";
        assert!(cpuinfo_has_amx(amx));
        assert!(!cpuinfo_has_amx(masked));
        assert!(!cpuinfo_has_amx(""));
    }
}
