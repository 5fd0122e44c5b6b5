//! Reading the fragmented MP4 that `mp4mux fragment-duration=… streamable=true` writes, as a
//! byte stream: top-level boxes are cut out ([`Splitter`]) and grouped into the init segment
//! (`ftyp` + `moov`) and fragments (`moof` + `mdat`, [`Piece`]); a fragment says whether its
//! first sample is a keyframe (a late viewer starts there) and its decode time (`tfdt`).
//!
//! Box layout (ISO/IEC 14496-12): `size:u32 type:[u8;4]` (size 1: a `u64` follows), full boxes
//! add `version:u8 flags:u24`. In `traf`, `tfhd` may carry default sample flags (flag 0x20);
//! `trun` may carry a data offset (0x001), first-sample flags (0x004) and per-sample duration
//! (0x100), size (0x200), flags (0x400) and composition offset (0x800). A sample whose flags
//! have bit 0x0001_0000 (`sample_is_non_sync_sample`) set is not a keyframe.

/// `sample_is_non_sync_sample` in a sample's flags.
const NON_SYNC: u32 = 0x0001_0000;
/// Largest box accepted (a fragment of 0.1 s of video is far below it).
pub const MAX_BOX: u64 = 64 * 1024 * 1024;

/// What the muxer's byte stream is made of.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// `ftyp` + `moov`: what a decoder needs before any fragment.
    Init(Vec<u8>),
    /// `moof` + `mdat`.
    Fragment {
        bytes: Vec<u8>,
        /// Its first sample is a keyframe.
        keyframe: bool,
        /// `tfdt`: the first sample's decode time, in the track's timescale.
        decode_time: Option<u64>,
    },
}

/// Cuts a byte stream into [`Piece`]s.
#[derive(Default)]
pub struct Splitter {
    pending: Vec<u8>,
    /// `ftyp` (or a `moof`) waiting for its `moov` (or `mdat`).
    head: Option<(Vec<u8>, [u8; 4])>,
}

impl Splitter {
    /// Takes the next bytes; returns the pieces they complete.
    ///
    /// # Errors
    /// A box over [`MAX_BOX`] or with a size under its header (not an MP4 stream).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Piece>, String> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some((size, kind, _)) = header(&self.pending)? {
            if (self.pending.len() as u64) < size {
                break;
            }
            let rest = self.pending.split_off(size as usize);
            let boxed = std::mem::replace(&mut self.pending, rest);
            match &kind {
                b"ftyp" | b"moof" => self.head = Some((boxed, kind)),
                b"moov" => {
                    let mut init = self.head.take().map(|(b, _)| b).unwrap_or_default();
                    init.extend_from_slice(&boxed);
                    out.push(Piece::Init(init));
                }
                b"mdat" => {
                    if let Some((mut moof, _)) = self.head.take().filter(|(_, k)| k == b"moof") {
                        let (keyframe, decode_time) = first_sample(&moof);
                        moof.extend_from_slice(&boxed);
                        out.push(Piece::Fragment {
                            bytes: moof,
                            keyframe,
                            decode_time,
                        });
                    }
                }
                _ => {} // mfra at the end, free space: nothing a live viewer needs
            }
        }
        Ok(out)
    }
}

/// `(size, type, header length)` of the box at the start of `b`, when its header is complete.
fn header(b: &[u8]) -> Result<Option<(u64, [u8; 4], usize)>, String> {
    if b.len() < 8 {
        return Ok(None);
    }
    let kind: [u8; 4] = b[4..8].try_into().expect("4 bytes");
    let (size, head) = match u32::from_be_bytes(b[0..4].try_into().expect("4 bytes")) {
        1 if b.len() < 16 => return Ok(None),
        1 => (
            u64::from_be_bytes(b[8..16].try_into().expect("8 bytes")),
            16,
        ),
        0 => return Err("a box running to the end of the stream".into()),
        n => (u64::from(n), 8),
    };
    if size < head || size > MAX_BOX {
        return Err(format!(
            "box {:?} of {size} bytes",
            String::from_utf8_lossy(&kind)
        ));
    }
    Ok(Some((size, kind, head as usize)))
}

/// The children of the box whose body is `body`: `(type, body)`.
fn children(mut body: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let (size, kind, head) = header(body).ok().flatten()?;
        let size = usize::try_from(size).ok().filter(|s| *s <= body.len())?;
        let child = &body[head..size];
        body = &body[size..];
        Some((kind, child))
    })
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Whether the first sample of a `moof` (whole box) is a keyframe, and its `tfdt`.
fn first_sample(moof: &[u8]) -> (bool, Option<u64>) {
    let Some(traf) = children(&moof[8..])
        .find(|(k, _)| k == b"traf")
        .map(|c| c.1)
    else {
        return (false, None);
    };
    let (mut default_flags, mut flags, mut decode_time) = (None, None, None);
    for (kind, body) in children(traf) {
        let Some(full) = u32_at(body, 0) else {
            continue;
        };
        let (version, box_flags) = (full >> 24, full & 0x00ff_ffff);
        match &kind {
            b"tfhd" if box_flags & 0x20 != 0 => {
                // track_ID, then the optional fields before default-sample-flags.
                let mut at = 8;
                for (bit, len) in [(0x01, 8), (0x02, 4), (0x08, 4), (0x10, 4)] {
                    if box_flags & bit != 0 {
                        at += len;
                    }
                }
                default_flags = u32_at(body, at);
            }
            b"tfdt" => {
                decode_time = if version == 1 {
                    body.get(4..12)
                        .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
                } else {
                    u32_at(body, 4).map(u64::from)
                };
            }
            b"trun" => {
                let mut at = 8; // version+flags, sample_count
                if box_flags & 0x001 != 0 {
                    at += 4;
                }
                flags = if box_flags & 0x004 != 0 {
                    u32_at(body, at)
                } else if box_flags & 0x400 != 0 {
                    let skip = [0x100, 0x200]
                        .iter()
                        .filter(|b| box_flags & **b != 0)
                        .count();
                    u32_at(body, at + 4 * skip)
                } else {
                    None
                };
            }
            _ => {}
        }
    }
    let keyframe = flags.or(default_flags).is_some_and(|f| f & NON_SYNC == 0);
    (keyframe, decode_time)
}

/// The MSE codecs string of the init segment's H.264 track (`avc1.42C01F`), from its `avcC`
/// (profile, constraint flags, level).
pub fn codecs(init: &[u8]) -> Option<String> {
    let at = init.windows(4).position(|w| w == b"avcC")? + 4;
    let b = init.get(at + 1..at + 4)?;
    Some(format!("avc1.{:02X}{:02X}{:02X}", b[0], b[1], b[2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    /// A `moof` as mp4mux writes it: `trun` with per-sample flags, or first-sample flags.
    fn moof(first_flags: u32, via_first: bool, tfdt: u32) -> Vec<u8> {
        let tfhd = boxed(b"tfhd", &[0, 0, 0, 0, 0, 0, 0, 1]);
        let mut t = tfdt.to_be_bytes().to_vec();
        t.splice(0..0, [0u8; 4]);
        let tfdt = boxed(b"tfdt", &t);
        let trun = if via_first {
            let mut b = vec![0, 0, 0x03, 0x05, 0, 0, 0, 2, 0, 0, 0, 0];
            b.extend_from_slice(&first_flags.to_be_bytes());
            b.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 9]); // two sizes
            boxed(b"trun", &b)
        } else {
            let mut b = vec![0, 0, 0x07, 0x01, 0, 0, 0, 1, 0, 0, 0, 0];
            b.extend_from_slice(&[0, 0, 0, 40, 0, 0, 0, 9]); // duration, size
            b.extend_from_slice(&first_flags.to_be_bytes());
            boxed(b"trun", &b)
        };
        let traf = boxed(b"traf", &[tfhd, tfdt, trun].concat());
        boxed(b"moof", &[boxed(b"mfhd", &[0; 8]), traf].concat())
    }

    #[test]
    fn init_and_fragments_come_out_whole_from_any_cut() {
        let mut stream = boxed(b"ftyp", b"isomiso2");
        stream.extend(boxed(b"moov", b"....avcC\x01\x42\xC0\x1F...."));
        stream.extend(moof(0x40, false, 0));
        stream.extend(boxed(b"mdat", &[7; 30]));
        stream.extend(moof(0x1_00c0, true, 9000));
        stream.extend(boxed(b"mdat", &[8; 18]));
        stream.extend(boxed(b"mfra", &[0; 8]));
        for cut in [1, 3, 7, 64, stream.len()] {
            let mut s = Splitter::default();
            let pieces: Vec<Piece> = stream
                .chunks(cut)
                .flat_map(|c| s.push(c).unwrap())
                .collect();
            assert_eq!(pieces.len(), 3, "cut {cut}");
            let Piece::Init(init) = &pieces[0] else {
                panic!("init first")
            };
            assert_eq!(codecs(init).as_deref(), Some("avc1.42C01F"));
            assert!(matches!(
                &pieces[1],
                Piece::Fragment {
                    keyframe: true,
                    decode_time: Some(0),
                    ..
                }
            ));
            assert!(matches!(
                &pieces[2],
                Piece::Fragment {
                    keyframe: false,
                    decode_time: Some(9000),
                    ..
                }
            ));
        }
    }

    #[test]
    fn a_box_of_no_size_or_a_huge_one_is_refused() {
        assert!(Splitter::default()
            .push(&[0, 0, 0, 4, b'f', b'r', b'e', b'e'])
            .is_err());
        let huge = [&u32::MAX.to_be_bytes()[..], b"mdat"].concat();
        assert!(Splitter::default().push(&huge).is_err());
    }
}
