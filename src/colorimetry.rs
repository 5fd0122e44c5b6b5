//! A frame's YUV → RGB as its caps' colorimetry says, on top of the one I420 conversion OpenCV
//! has (`COLOR_YUV2RGB_I420`: the BT.601 matrix, limited range — Y 16–235, chroma 16–240).
//!
//! - **Range.** Full-range YUV (0–255: JPEG stills, MJPEG cameras) is scaled to limited range
//!   in the YUV planes before the conversion ([`limit_range`]), which is exact up to rounding.
//!   Converted as limited range, it would come out ≈ 16 % too contrasty, with its darkest and
//!   brightest sixteenth clipped.
//! - **Matrix.** Another matrix (BT.709: HD cameras; BT.2020) is a 3x3 transform of the
//!   converted RGB ([`Colorimetry::correct_rgb`]): both conversions are linear in the same
//!   offset YUV, so `RGB₇₀₉ = M₇₀₉ · M₆₀₁⁻¹ · RGB₆₀₁`. It is exact but for colours that the BT.601
//!   conversion clips (saturated colours at the gamut's edge). BT.601 read as BT.709 shifts
//!   hues: a BT.709 red comes out orange.
//!
//! GStreamer fills in a colorimetry for caps that carry none (BT.601 up to 576 lines, BT.709
//! above); a matrix without coefficients (RGB, unknown) is taken as BT.601.

use crate::error::{Error, Result};
use gstreamer_video as gst_video;
use opencv::core::Mat;
use opencv::prelude::*;

/// Kr and Kb of BT.601, the matrix OpenCV's conversion uses.
const BT601_KR_KB: (f64, f64) = (0.299, 0.114);

/// How a frame's YUV maps to RGB (from its [`gst_video::VideoInfo`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Colorimetry {
    /// The matrix's luma coefficients of red and blue (BT.601: 0.299, 0.114; BT.709: 0.2126,
    /// 0.0722).
    pub kr_kb: (f64, f64),
    /// Full range (0–255) rather than limited (16–235).
    pub full_range: bool,
}

impl Colorimetry {
    /// BT.601, limited range: what OpenCV's conversion assumes.
    pub const BT601: Colorimetry = Colorimetry {
        kr_kb: BT601_KR_KB,
        full_range: false,
    };

    /// The colorimetry of frames described by `info`; an unknown range is limited, a matrix
    /// without coefficients BT.601.
    pub fn of(info: &gst_video::VideoInfo) -> Colorimetry {
        let c = info.colorimetry();
        Colorimetry {
            kr_kb: c.matrix().kr_kb().unwrap_or(BT601_KR_KB),
            full_range: c.range() == gst_video::VideoColorRange::Range0_255,
        }
    }

    /// Whether the matrix is not BT.601's (the converted RGB needs [`Self::correct_rgb`]).
    pub fn other_matrix(&self) -> bool {
        let (kr, kb) = self.kr_kb;
        (kr - BT601_KR_KB.0).abs() > 1e-4 || (kb - BT601_KR_KB.1).abs() > 1e-4
    }

    /// The 3x3 matrix (rows R, G, B) taking RGB converted with BT.601's matrix to RGB with
    /// this one's, or `None` for BT.601.
    pub fn rgb_correction(&self) -> Option<[[f64; 3]; 3]> {
        self.other_matrix().then(|| {
            let (kr, kb) = self.kr_kb;
            let (kr0, kb0) = BT601_KR_KB;
            multiply(&yuv_to_rgb(kr, kb), &rgb_to_yuv(kr0, kb0))
        })
    }

    /// Turns `rgb` (u8, 3 channels, converted with BT.601's matrix) into this matrix's RGB in
    /// place; nothing for BT.601.
    ///
    /// # Errors
    /// [`Error::OpenCv`] when the transform fails (a Mat that is not 3-channel u8).
    pub fn correct_rgb(&self, rgb: &mut Mat) -> Result<()> {
        let Some(m) = self.rgb_correction() else {
            return Ok(());
        };
        let cv = |e| Error::opencv("colorimetry", e);
        let matrix = Mat::from_slice_2d(&m.map(|row| row.map(|v| v as f32))).map_err(cv)?;
        let src = rgb.try_clone().map_err(cv)?;
        opencv::core::transform(&src, rgb, &matrix).map_err(cv)
    }

    /// The (Y, U, V) of the RGB colour `rgb` (0–255) in this colorimetry: what a box drawn on
    /// the frame's planes must hold to show that colour (unrounded).
    pub fn yuv_of_rgb(&self, rgb: [f64; 3]) -> [f64; 3] {
        let (kr, kb) = self.kr_kb;
        let [y, pb, pr] = rgb_to_yuv(kr, kb)
            .map(|row| row.iter().zip(rgb).map(|(k, v)| k * v / 255.0).sum::<f64>());
        let (y0, ys, cs) = if self.full_range {
            (0.0, 255.0, 255.0)
        } else {
            (16.0, 219.0, 224.0)
        };
        [y0 + y * ys, 128.0 + pb * cs, 128.0 + pr * cs]
    }
}

/// Scales full-range planes to limited range in place: luma 0–255 → 16–235, chroma (`u`, `v`)
/// 0–255 around 128 → 16–240, rounded.
pub fn limit_range(luma: &mut [u8], chroma: &mut [u8]) {
    let table = |lo: f64, span: f64| -> [u8; 256] {
        std::array::from_fn(|v| (lo + v as f64 * span / 255.0).round() as u8)
    };
    let (y, c) = (table(16.0, 219.0), table(16.0, 224.0));
    luma.iter_mut().for_each(|v| *v = y[*v as usize]);
    chroma.iter_mut().for_each(|v| *v = c[*v as usize]);
}

/// Normalized (Y, Pb, Pr) → RGB for luma coefficients `kr`, `kb`.
fn yuv_to_rgb(kr: f64, kb: f64) -> [[f64; 3]; 3] {
    let kg = 1.0 - kr - kb;
    [
        [1.0, 0.0, 2.0 * (1.0 - kr)],
        [
            1.0,
            -2.0 * kb * (1.0 - kb) / kg,
            -2.0 * kr * (1.0 - kr) / kg,
        ],
        [1.0, 2.0 * (1.0 - kb), 0.0],
    ]
}

/// RGB → normalized (Y, Pb, Pr) for luma coefficients `kr`, `kb`.
fn rgb_to_yuv(kr: f64, kb: f64) -> [[f64; 3]; 3] {
    let kg = 1.0 - kr - kb;
    let (pb, pr) = (0.5 / (1.0 - kb), 0.5 / (1.0 - kr));
    [
        [kr, kg, kb],
        [-kr * pb, -kg * pb, (1.0 - kb) * pb],
        [(1.0 - kr) * pr, -kg * pr, -kb * pr],
    ]
}

fn multiply(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    std::array::from_fn(|r| std::array::from_fn(|c| (0..3).map(|k| a[r][k] * b[k][c]).sum()))
}

/// The standard's RGB (0–255, clipped) of (Y, U, V) with luma coefficients `kr`, `kb`, limited
/// or full range: written from the formula, independent of the code above (for tests).
#[cfg(test)]
pub(crate) fn reference_rgb(yuv: (u8, u8, u8), kr: f64, kb: f64, full: bool) -> [f64; 3] {
    let (y0, ys, cs) = if full {
        (0.0, 255.0, 255.0)
    } else {
        (16.0, 219.0, 224.0)
    };
    let y = (f64::from(yuv.0) - y0) / ys;
    let pb = (f64::from(yuv.1) - 128.0) / cs;
    let pr = (f64::from(yuv.2) - 128.0) / cs;
    let r = y + 2.0 * (1.0 - kr) * pr;
    let b = y + 2.0 * (1.0 - kb) * pb;
    let g = (y - kr * r - kb * b) / (1.0 - kr - kb);
    [r, g, b].map(|v| (v * 255.0).clamp(0.0, 255.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_correction_of_bt601_is_none_and_of_bt709_its_matrix_times_bt601_s_inverse() {
        assert_eq!(Colorimetry::BT601.rgb_correction(), None);
        let bt709 = Colorimetry {
            kr_kb: (0.2126, 0.0722),
            full_range: false,
        };
        let m = bt709.rgb_correction().unwrap();
        // Greys stay grey (each row sums to 1); a colour goes where BT.709's formula puts it.
        for row in m {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{m:?}");
        }
        let yuv = (110, 100, 190); // a red
        let from601 = reference_rgb(yuv, 0.299, 0.114, false);
        let want = reference_rgb(yuv, 0.2126, 0.0722, false);
        for (c, row) in m.iter().enumerate() {
            let got: f64 = row.iter().zip(from601).map(|(a, b)| a * b).sum();
            assert!((got - want[c]).abs() < 1e-6, "{c}: {got} vs {}", want[c]);
        }
    }

    /// The overlay's colours: BT.601 limited range gives the textbook values, and each
    /// colorimetry's (Y, U, V) converts back to the colour by its own formula.
    #[test]
    fn a_colour_s_yuv_converts_back_to_it() {
        let red = [255.0, 64.0, 64.0];
        let [y, u, v] = Colorimetry::BT601.yuv_of_rgb(red);
        let textbook = [
            16.0 + 0.257 * red[0] + 0.504 * red[1] + 0.098 * red[2],
            128.0 - 0.148 * red[0] - 0.291 * red[1] + 0.439 * red[2],
            128.0 + 0.439 * red[0] - 0.368 * red[1] - 0.071 * red[2],
        ];
        for (got, want) in [y, u, v].iter().zip(textbook) {
            assert!((got - want).abs() < 0.2, "{got} vs {want}");
        }
        let bt709 = Colorimetry {
            kr_kb: (0.2126, 0.0722),
            full_range: false,
        };
        let yuv = bt709.yuv_of_rgb(red).map(|c| c.round() as u8);
        let back = reference_rgb((yuv[0], yuv[1], yuv[2]), 0.2126, 0.0722, false);
        for (got, want) in back.iter().zip(red) {
            assert!((got - want).abs() < 2.0, "{back:?} vs {red:?}");
        }
        let full = Colorimetry {
            full_range: true,
            ..Colorimetry::BT601
        };
        assert_eq!(full.yuv_of_rgb([0.0; 3])[0], 0.0);
        assert_eq!(Colorimetry::BT601.yuv_of_rgb([0.0; 3])[0], 16.0);
    }

    #[test]
    fn full_range_is_scaled_to_limited_range() {
        let mut luma = [0, 128, 255];
        let mut chroma = [0, 128, 255];
        limit_range(&mut luma, &mut chroma);
        assert_eq!(luma, [16, 126, 235]);
        assert_eq!(chroma, [16, 128, 240]);
    }

    #[test]
    fn caps_give_the_matrix_and_the_range() {
        gstreamer::init().unwrap();
        let info = |colorimetry: &str| {
            let caps: gstreamer::Caps = format!(
                "video/x-raw,format=I420,width=1280,height=720,framerate=30/1,\
                 colorimetry={colorimetry}"
            )
            .parse()
            .unwrap();
            Colorimetry::of(&gst_video::VideoInfo::from_caps(&caps).unwrap())
        };
        assert_eq!(info("bt601"), Colorimetry::BT601);
        let hd = info("bt709");
        assert!(hd.other_matrix() && !hd.full_range, "{hd:?}");
        assert!((hd.kr_kb.0 - 0.2126).abs() < 1e-6, "{hd:?}");
        // JPEG: BT.601, full range.
        let jpeg = info("1:4:0:0");
        assert!(jpeg.full_range && !jpeg.other_matrix(), "{jpeg:?}");
    }
}
