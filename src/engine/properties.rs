//! Device properties: what a device supports (`SUPPORTED_PROPERTIES`), for checking
//! `[model] properties` / `--ov-property` before compiling and for `ovstream devices
//! --properties`.

use super::{ov_message, EngineOptions};
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
    if let Some(p) = options.precision {
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
