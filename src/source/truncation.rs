//! Container-level truncation check for files: demuxers play a cut file to its last complete
//! frame and end with a plain EOS (avidemux, qtdemux in push mode), so the cut would go
//! unnoticed. The top-level structure says how long the file should be:
//! - RIFF (AVI): a sequence of `RIFF` chunks (`id` 4 bytes, `size` u32 LE, payload padded to
//!   even); the AVI main header (`avih`) also gives the frame count (`dwTotalFrames`).
//! - ISO BMFF (MP4, MOV, 3GP): a sequence of boxes (`size` u32 BE, `type` 4 bytes; size 1 means
//!   a u64 size follows, size 0 means "to the end of the file").
//!
//! Other containers are not checked (`None`).

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// What the container declares beyond the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// Container name (`AVI`, `MP4`).
    pub container: &'static str,
    /// Byte length the top-level structure declares, and the file's actual length.
    pub declared: u64,
    pub actual: u64,
    /// Frames the header promises (AVI `dwTotalFrames`), when it says.
    pub frames: Option<u64>,
}

impl Truncation {
    /// "file truncated: the AVI structure declares N bytes, the file has M (P%)".
    pub fn describe(&self) -> String {
        format!(
            "file truncated: the {} structure declares {} bytes, the file has {} ({:.0}%)",
            self.container,
            self.declared,
            self.actual,
            100.0 * self.actual as f64 / self.declared.max(1) as f64
        )
    }
}

/// Boxes that can open an ISO BMFF file.
const BMFF_FIRST_BOXES: [&[u8; 4]; 6] = [b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide"];
/// Offset of `dwTotalFrames` in a file that starts `RIFF….AVI LIST….hdrlavih….`.
const AVIH_TOTAL_FRAMES_OFFSET: u64 = 48;

/// Checks `path`; `None` when it is complete, unreadable, or of a container not checked here.
pub fn check(path: &Path) -> Option<Truncation> {
    let mut file = std::fs::File::open(path).ok()?;
    let actual = file.metadata().ok()?.len();
    let mut head = [0u8; 12];
    file.read_exact(&mut head).ok()?;
    if &head[0..4] == b"RIFF" {
        let declared = walk(&mut file, actual, riff_chunk)?;
        let frames = (&head[8..12] == b"AVI ")
            .then(|| avi_total_frames(&mut file))
            .flatten();
        (declared > actual).then_some(Truncation {
            container: if frames.is_some() { "AVI" } else { "RIFF" },
            declared,
            actual,
            frames,
        })
    } else if BMFF_FIRST_BOXES.iter().any(|b| &head[4..8] == *b) {
        let declared = walk(&mut file, actual, bmff_box)?;
        (declared > actual).then_some(Truncation {
            container: "MP4",
            declared,
            actual,
            frames: None,
        })
    } else {
        None
    }
}

/// Follows top-level elements from offset 0; returns where the structure says the file ends
/// (the end of the first element that reaches past `actual`, or `actual`).
fn walk(
    file: &mut std::fs::File,
    actual: u64,
    element_len: fn(&mut std::fs::File, u64) -> Option<u64>,
) -> Option<u64> {
    let mut offset = 0u64;
    // A few bytes of padding at the end are no element.
    while offset + 8 <= actual {
        file.seek(SeekFrom::Start(offset)).ok()?;
        let len = element_len(file, actual - offset)?;
        if len == 0 {
            return None; // corrupt header: not our question
        }
        let end = offset.checked_add(len)?;
        if end > actual {
            return Some(end);
        }
        offset = end;
    }
    Some(actual)
}

/// Length of the RIFF chunk at the reader's position (header + payload + pad byte).
fn riff_chunk(file: &mut std::fs::File, _remaining: u64) -> Option<u64> {
    let mut h = [0u8; 8];
    file.read_exact(&mut h).ok()?;
    let size = u64::from(u32::from_le_bytes(h[4..8].try_into().ok()?));
    Some(8 + size + (size & 1))
}

/// Length of the ISO BMFF box at the reader's position.
fn bmff_box(file: &mut std::fs::File, remaining: u64) -> Option<u64> {
    let mut h = [0u8; 8];
    file.read_exact(&mut h).ok()?;
    match u32::from_be_bytes(h[0..4].try_into().ok()?) {
        0 => Some(remaining),
        1 => {
            let mut large = [0u8; 8];
            file.read_exact(&mut large).ok()?;
            Some(u64::from_be_bytes(large)).filter(|l| *l >= 16)
        }
        n if n < 8 => None,
        n => Some(u64::from(n)),
    }
}

fn avi_total_frames(file: &mut std::fs::File) -> Option<u64> {
    let mut h = [0u8; 52];
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_exact(&mut h).ok()?;
    if &h[12..16] != b"LIST" || &h[20..24] != b"hdrl" || &h[24..28] != b"avih" {
        return None;
    }
    let at = AVIH_TOTAL_FRAMES_OFFSET as usize;
    Some(u64::from(u32::from_le_bytes(
        h[at..at + 4].try_into().ok()?,
    )))
    .filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, bytes).unwrap();
        f
    }

    fn bmff_box_bytes(kind: &[u8; 4], payload: usize) -> Vec<u8> {
        let mut b = ((8 + payload) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.resize(8 + payload, 0);
        b
    }

    #[test]
    fn complete_and_cut_mp4() {
        let mut mp4 = bmff_box_bytes(b"ftyp", 16);
        mp4.extend(bmff_box_bytes(b"moov", 100));
        mp4.extend(bmff_box_bytes(b"mdat", 1000));
        assert_eq!(check(write(&mp4).path()), None);
        let cut = &mp4[..600];
        let t = check(write(cut).path()).unwrap();
        assert_eq!((t.container, t.declared, t.actual), ("MP4", 1140, 600));
        assert!(t.describe().contains("53%"), "{}", t.describe());
    }

    #[test]
    fn complete_and_cut_riff() {
        let mut riff = b"RIFF".to_vec();
        riff.extend(13u32.to_le_bytes()); // odd size: one pad byte
        riff.extend(b"WAVE");
        riff.resize(8 + 14, 0);
        assert_eq!(check(write(&riff).path()), None);
        let t = check(write(&riff[..15]).path()).unwrap();
        assert_eq!((t.container, t.declared, t.actual), ("RIFF", 22, 15));
    }

    #[test]
    fn other_files_are_not_judged() {
        assert_eq!(check(write(b"\x1aE\xdf\xa3 matroska...").path()), None);
        assert_eq!(check(Path::new("/no/such/file")), None);
    }
}
