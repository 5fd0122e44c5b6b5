//! The model input as callers fill it: size, element type, stretch or letterbox. What a
//! frame becomes in the input tensor is decided here, once, for every caller.

/// What the input tensor holds (set on the engine's preprocessing before compile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputElement {
    /// u8 RGB `0..=255` (OpenVINO converts to the model's type): TF-OD-API and Coral SSDs.
    #[default]
    U8,
    /// f32 RGB scaled to `[-1, 1]` (`v / 127.5 - 1`): MediaPipe models.
    F32Symmetric,
    /// f32 written by the caller as the model wants it (FaceNet's per-image prewhitening).
    F32,
    /// f32 RGB scaled to `[0, 1]` (`v / 255`): Ultralytics YOLO.
    F32Unit,
}

/// How a frame becomes the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InputFormat {
    pub element: InputElement,
    /// Keep the aspect ratio (centered bars) instead of stretching.
    pub letterbox: bool,
    /// Value of the letterbox bars in every RGB channel (0 black; Ultralytics: 114 gray).
    pub pad: u8,
    /// Convert then resize, or resize the planes then convert (`[model] resize`).
    pub resize: crate::config::Resize,
}

/// Aspect-preserving fit of a frame into the square model input (centered, black bars).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Size of the scaled frame inside the input, and its offset, in input pixels.
    pub width: u32,
    pub height: u32,
    pub pad_x: u32,
    pub pad_y: u32,
    /// Input side.
    pub input: u32,
}

impl Letterbox {
    /// Fits `frame_w` x `frame_h` into `input_w` x `input_h`; sizes are even (I420 resize).
    pub fn fit(frame_w: u32, frame_h: u32, input_w: u32, input_h: u32) -> Letterbox {
        let scale = (input_w as f32 / frame_w as f32).min(input_h as f32 / frame_h as f32);
        let even = |v: f32, max: u32| (((v / 2.0).round() as u32) * 2).clamp(2, max);
        let width = even(frame_w as f32 * scale, input_w);
        let height = even(frame_h as f32 * scale, input_h);
        Letterbox {
            width,
            height,
            pad_x: (input_w - width) / 2,
            pad_y: (input_h - height) / 2,
            input: input_w,
        }
    }

    /// Input-normalized `(x, y)` → frame-normalized.
    pub fn frame_point(&self, x: f32, y: f32) -> [f32; 2] {
        let s = self.input as f32;
        [
            (x * s - self.pad_x as f32) / self.width as f32,
            (y * s - self.pad_y as f32) / self.height as f32,
        ]
    }
}

/// The model input as callers fill it: `[batch, height, width, 3]` NHWC RGB, u8 or f32
/// (`format.element`), the frame stretched or letterboxed (`format.letterbox`).
#[derive(Debug, Clone)]
pub struct InputSpec {
    /// The model's input tensor name.
    pub name: String,
    pub height: usize,
    pub width: usize,
    pub format: InputFormat,
    /// Images per inference (N).
    pub batch: usize,
}

impl InputSpec {
    /// Bytes of one image of the input tensor (the tensor holds `batch` of them, back to back).
    pub fn byte_size(&self) -> usize {
        let bytes = match self.format.element {
            InputElement::U8 => 1,
            InputElement::F32Symmetric | InputElement::F32 | InputElement::F32Unit => 4,
        };
        self.height * self.width * 3 * bytes
    }

    /// Where a `frame_w` x `frame_h` frame lands in the input: the letterbox fit, or (when the
    /// format stretches) the whole input.
    pub fn letterbox(&self, frame_w: u32, frame_h: u32) -> Letterbox {
        let (w, h) = (self.width as u32, self.height as u32);
        if self.format.letterbox {
            Letterbox::fit(frame_w, frame_h, w, h)
        } else {
            Letterbox {
                width: w,
                height: h,
                pad_x: 0,
                pad_y: 0,
                input: w,
            }
        }
    }
}
