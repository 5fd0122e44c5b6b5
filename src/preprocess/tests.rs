//! Unit tests of the preprocessing: layouts, both ways of resizing, colorimetry.

use super::*;
use crate::colorimetry::reference_rgb;
use gstreamer as gst;
use gstreamer_video as gst_video;

/// A `w` x `h` I420 frame (GStreamer's default strides) whose pixel (x, y) has
/// Y = 2x + 3y, U = 90 + x, V = 160 - y (mod 256), chroma at half resolution.
fn pattern(w: u32, h: u32) -> Frame {
    gst::init().unwrap();
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w, h)
        .build()
        .unwrap();
    let mut data = vec![0u8; info.size()];
    let (off, stride) = (info.offset(), info.stride());
    for y in 0..h as usize {
        for x in 0..w as usize {
            data[off[0] + y * stride[0] as usize + x] = (2 * x + 3 * y) as u8;
        }
    }
    for y in 0..h.div_ceil(2) as usize {
        for x in 0..w.div_ceil(2) as usize {
            data[off[1] + y * stride[1] as usize + x] = (90 + 2 * x) as u8;
            data[off[2] + y * stride[2] as usize + x] = (160 - 2 * y) as u8;
        }
    }
    Frame::from_buffer(gst::Buffer::from_slice(data), info, 0, 0)
}

fn spec(resize: Resize) -> InputSpec {
    InputSpec {
        name: "image".into(),
        height: 32,
        width: 48,
        format: InputFormat {
            resize,
            ..InputFormat::default()
        },
        batch: 1,
    }
}

fn input_of(frame: &Frame, resize: Resize) -> Vec<u8> {
    let spec = spec(resize);
    let mut input = vec![0u8; spec.byte_size()];
    fill_input(frame, &spec, &mut input, &mut Scratch::default()).unwrap();
    input
}

#[test]
fn rgb_resize_of_a_padded_odd_frame_is_that_of_its_even_part() {
    // 161x121: strides padded to 164 and 84, the copy path; 160x120 is packed.
    let odd = pattern(161, 121);
    assert_ne!(odd.info.stride()[0], 161);
    let even = pattern(160, 120);
    assert_eq!(input_of(&odd, Resize::Rgb), input_of(&even, Resize::Rgb));
    // The pattern wraps (sharp edges), where the two ways differ.
    assert_ne!(
        input_of(&even, Resize::Rgb),
        input_of(&even, Resize::Planes)
    );
}

/// BT.601, BT.709 (HD cameras) and full-range BT.601 (JPEG, MJPEG cameras) frames of one
/// colour give the model that colour's RGB by their own standard, both ways of resizing;
/// a dark grey under 16 stays apart from black in full range.
#[test]
fn each_colorimetry_is_converted_as_its_standard_says() {
    const TOLERANCE: f64 = 2.0;
    let red = (110, 100, 190);
    let cases = [
        ("bt601", red, (0.299, 0.114), false),
        ("bt709", red, (0.2126, 0.0722), false),
        ("1:4:0:0", red, (0.299, 0.114), true),
        ("1:4:0:0", (8, 128, 128), (0.299, 0.114), true),
    ];
    for (caps, yuv, (kr, kb), full) in cases {
        let want = reference_rgb(yuv, kr, kb, full);
        for resize in [Resize::Rgb, Resize::Planes] {
            let input = input_of(&Frame::solid(yuv, caps), resize);
            for px in input.chunks_exact(3) {
                for (got, want) in px.iter().zip(want) {
                    assert!(
                        (f64::from(*got) - want).abs() <= TOLERANCE,
                        "{caps} {resize:?}: {px:?} vs {want:?}"
                    );
                }
            }
        }
    }
    // Read as BT.601 limited range, the same red is off by more than the tolerance.
    let as601 = reference_rgb(red, 0.299, 0.114, false);
    for other in [
        reference_rgb(red, 0.2126, 0.0722, false),
        reference_rgb(red, 0.299, 0.114, true),
    ] {
        assert!(as601
            .iter()
            .zip(other)
            .any(|(a, b)| (a - b).abs() > 3.0 * TOLERANCE));
    }
}

#[test]
fn a_frame_under_two_pixels_is_resized_by_planes() {
    let tiny = pattern(1, 1);
    assert_eq!(
        input_of(&tiny, Resize::Rgb),
        input_of(&tiny, Resize::Planes)
    );
}
