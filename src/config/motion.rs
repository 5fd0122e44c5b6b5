//! `[motion]`: the motion detector's settings (names and defaults as Frigate's `motion`), and
//! the areas it ignores.

use super::default_true;
use serde::Deserialize;

/// Default per-pixel difference (0–255) that counts as change (Frigate: 30).
pub const DEFAULT_THRESHOLD: u8 = 30;
/// Default least contour area, pixels of the scaled frame (Frigate: 10).
pub const DEFAULT_CONTOUR_AREA: u32 = 10;
/// Default rows of the scaled frame motion is computed on (Frigate: 100).
pub const DEFAULT_FRAME_HEIGHT: u32 = 100;
/// Weight of each new frame in the running background (Frigate's `frame_alpha`).
pub const DEFAULT_FRAME_ALPHA: f64 = 0.01;
/// Share of the picture changing at once above which it is a lighting change, not motion
/// (Frigate's `lightning_threshold`).
pub const DEFAULT_LIGHTNING_THRESHOLD: f64 = 0.8;

/// `[motion]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct MotionConfig {
    #[serde(default = "default_threshold")]
    #[cfg_attr(feature = "cli", schemars(range(min = 1)))]
    pub threshold: u8,
    #[serde(default = "default_contour_area")]
    pub contour_area: u32,
    #[serde(default = "default_frame_height")]
    #[cfg_attr(feature = "cli", schemars(range(min = 16, max = 1080)))]
    pub frame_height: u32,
    #[serde(default = "default_true")]
    pub improve_contrast: bool,
    #[serde(default = "default_frame_alpha")]
    #[cfg_attr(feature = "cli", schemars(range(max = 1.0), extend("exclusiveMinimum" = 0.0)))]
    pub frame_alpha: f64,
    #[serde(default = "default_lightning_threshold")]
    #[cfg_attr(feature = "cli", schemars(range(max = 1.0), extend("exclusiveMinimum" = 0.0)))]
    pub lightning_threshold: f64,
    /// Areas to ignore (timestamps, trees): polygons of normalized `[x, y]` points.
    #[serde(default)]
    pub mask: Vec<Vec<[f32; 2]>>,
}

fn default_threshold() -> u8 {
    DEFAULT_THRESHOLD
}
fn default_contour_area() -> u32 {
    DEFAULT_CONTOUR_AREA
}
fn default_frame_height() -> u32 {
    DEFAULT_FRAME_HEIGHT
}
fn default_frame_alpha() -> f64 {
    DEFAULT_FRAME_ALPHA
}
fn default_lightning_threshold() -> f64 {
    DEFAULT_LIGHTNING_THRESHOLD
}

impl Default for MotionConfig {
    fn default() -> Self {
        MotionConfig {
            threshold: DEFAULT_THRESHOLD,
            contour_area: DEFAULT_CONTOUR_AREA,
            frame_height: DEFAULT_FRAME_HEIGHT,
            improve_contrast: true,
            frame_alpha: DEFAULT_FRAME_ALPHA,
            lightning_threshold: DEFAULT_LIGHTNING_THRESHOLD,
            mask: Vec::new(),
        }
    }
}

impl MotionConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// A message naming the key (`motion.…`) and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        if !(16..=1080).contains(&self.frame_height) {
            return Err(format!(
                "motion.frame_height = {} is outside 16..=1080",
                self.frame_height
            ));
        }
        if self.threshold == 0 {
            return Err("motion.threshold = 0: expected 1 to 255".into());
        }
        if !(self.frame_alpha > 0.0 && self.frame_alpha <= 1.0) {
            return Err(format!(
                "motion.frame_alpha = {} is outside (0, 1]",
                self.frame_alpha
            ));
        }
        if !(self.lightning_threshold > 0.0 && self.lightning_threshold <= 1.0) {
            return Err(format!(
                "motion.lightning_threshold = {} is outside (0, 1]",
                self.lightning_threshold
            ));
        }
        for (i, polygon) in self.mask.iter().enumerate() {
            if polygon.len() < 3 {
                return Err(format!(
                    "motion.mask[{i}]: a polygon needs 3 points or more"
                ));
            }
            if let Some(p) = polygon
                .iter()
                .find(|p| !p.iter().all(|v| (0.0..=1.0).contains(v)))
            {
                return Err(format!("motion.mask[{i}]: point {p:?} is outside [0, 1]"));
            }
            // The rules of zones: a mask that crosses itself has no clear inside.
            if let Some(why) = crate::geometry::polygon_problem(polygon) {
                return Err(format!("motion.mask[{i}]: {why}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_the_key() {
        let bad = MotionConfig {
            mask: vec![vec![[0.0, 0.0], [1.5, 0.0], [0.0, 1.0]]],
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("motion.mask[0]"));
        let bow_tie = MotionConfig {
            mask: vec![vec![[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]],
            ..MotionConfig::default()
        };
        let e = bow_tie.validate().unwrap_err();
        assert!(e.contains("motion.mask[0]: is self-intersecting"), "{e}");
        let bad = MotionConfig {
            threshold: 0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("motion.threshold"));
        assert!(MotionConfig::default().validate().is_ok());
    }
}
