//! Looking at a file's bytes when FFmpeg refuses it, to say *why* in one line: a cut-off MP4
//! (no `moov`), a known container that is damaged, or something that is not media at all.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Content {
    /// ISO base media (MP4, MOV, 3GP, M4A...), with the result of walking its top-level boxes.
    IsoBmff(BoxWalk),
    /// Another format we recognise by its magic bytes.
    Known(&'static str),
    /// A Matroska or MXF file whose first elements run past its end: (format, what is cut).
    Cut(&'static str, String),
    /// Printable text.
    Text(String),
    /// Nothing recognisable; the first bytes in hex.
    Unknown(String),
}

/// The outcome of walking the top-level boxes of an ISO base media file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct BoxWalk {
    /// A complete `moov` box is present.
    pub moov: bool,
    /// The box that runs past the end of the file: (type, declared end), if any.
    pub cut_inside: Option<(String, u64)>,
    /// The file's size in bytes.
    pub file_len: u64,
}

impl BoxWalk {
    /// One line saying what is wrong, or None when the box structure looks whole.
    pub fn problem(&self) -> Option<String> {
        match (&self.cut_inside, self.moov) {
            (Some((kind, end)), false) => Some(format!(
                "moov atom not found (file ends inside the '{kind}' box: {} of {end} bytes)",
                self.file_len
            )),
            (None, false) => Some("moov atom not found".to_string()),
            (Some((kind, end)), true) => Some(format!(
                "file ends inside the '{kind}' box ({} of {end} bytes)",
                self.file_len
            )),
            (None, true) => None,
        }
    }
}

/// Top-level box types that may open an ISO base media file.
const ISO_FIRST_BOXES: [&[u8; 4]; 11] = [
    b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"styp", b"sidx",
    b"moof",
];

/// Magic bytes of formats FFmpeg or the image reader would know, for telling "damaged media"
/// from "not media". (offset, magic, name)
const MAGICS: [(usize, &[u8], &str); 16] = [
    (0, &[0x1a, 0x45, 0xdf, 0xa3], "Matroska/WebM"),
    (0, &[0x06, 0x0e, 0x2b, 0x34], "MXF"),
    (0, b"RIFF", "RIFF (AVI/WAV/WebP)"),
    (0, &[0x00, 0x00, 0x01, 0xba], "MPEG program stream"),
    (0, &[0x00, 0x00, 0x01, 0xb3], "MPEG video"),
    (0, b"FLV", "FLV"),
    (0, b"OggS", "Ogg"),
    (0, &[0x30, 0x26, 0xb2, 0x75], "ASF/WMV"),
    (0, &[0x89, b'P', b'N', b'G'], "PNG"),
    (0, &[0xff, 0xd8, 0xff], "JPEG"),
    (0, b"GIF8", "GIF"),
    (0, b"II*\0", "TIFF"),
    (0, b"MM\0*", "TIFF"),
    (0, b"BM", "BMP"),
    (0, &[0x00, 0x00, 0x00, 0x0c, b'j', b'P'], "JPEG 2000"),
    (4, b"ftyp", "ISO base media"),
];

/// Classifies a file by content. Only reads the start and the top-level box headers.
pub(crate) fn sniff(path: &Path) -> io::Result<Content> {
    let mut file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut head = Vec::with_capacity(512);
    file.by_ref().take(512).read_to_end(&mut head)?;
    if head.len() >= 8 && ISO_FIRST_BOXES.iter().any(|t| head[4..8] == t[..]) {
        return Ok(Content::IsoBmff(walk_boxes(&mut file, file_len)?));
    }
    let content = classify_head(&head);
    let cut = match content {
        Content::Known(name @ "Matroska/WebM") => matroska_cut(&head, file_len).map(|c| (name, c)),
        Content::Known(name @ "MXF") => mxf_cut(&head, file_len).map(|c| (name, c)),
        _ => None,
    };
    Ok(match cut {
        Some((name, cause)) => Content::Cut(name, cause),
        None => content,
    })
}

/// An EBML variable-length integer at `at`: (value, length in bytes); the value is None for
/// the reserved "unknown size".
fn ebml_vint(b: &[u8], at: usize) -> Option<(Option<u64>, usize)> {
    let first = *b.get(at)?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 {
        return None;
    }
    let mut value = u64::from(first) & (0xff >> len);
    for i in 1..len {
        value = (value << 8) | u64::from(*b.get(at + i)?);
    }
    let unknown = value == (1u64 << (7 * len)) - 1;
    Some(((!unknown).then_some(value), len))
}

/// Whether a Matroska file ends inside its EBML header or its Segment (whose size is in the
/// first bytes), as a cut-off download or copy does.
fn matroska_cut(head: &[u8], file_len: u64) -> Option<String> {
    const SEGMENT: [u8; 4] = [0x18, 0x53, 0x80, 0x67];
    let (size, len) = ebml_vint(head, 4)?;
    let header_end = 4 + len as u64 + size?;
    if header_end > file_len {
        return Some(format!(
            "file ends inside the EBML header ({file_len} of {header_end} bytes)"
        ));
    }
    let at = usize::try_from(header_end).ok()?;
    // `head` is the whole file when the file is that short.
    let ends_here = || {
        (head.len() as u64 == file_len)
            .then(|| format!("file ends at byte {file_len}, inside the Segment's ID and size"))
    };
    match head.get(at..at + 4) {
        None => return ends_here(),
        Some(id) if id != SEGMENT => return None,
        Some(_) => {}
    }
    let Some((size, len)) = ebml_vint(head, at + 4) else {
        return ends_here();
    };
    // A live recording may leave the Segment size unknown: nothing to compare then.
    let end = header_end + 4 + len as u64 + size?;
    (end > file_len).then(|| format!("file ends inside the Segment ({file_len} of {end} bytes)"))
}

/// Whether an MXF file ends inside its header partition: the partition pack, the header
/// metadata it announces, or before the footer partition it points to.
fn mxf_cut(head: &[u8], file_len: u64) -> Option<String> {
    // KLV: a 16-byte key, then a BER length.
    let first = *head.get(16)?;
    let (value_len, len_bytes) = if first < 0x80 {
        (u64::from(first), 1)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 8 {
            return None;
        }
        let bytes = head.get(17..17 + n)?;
        (
            bytes.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b)),
            1 + n,
        )
    };
    let value = 16 + len_bytes as u64;
    let pack_end = value.checked_add(value_len)?;
    if pack_end > file_len {
        return Some(format!(
            "file ends inside the header partition pack ({file_len} of {pack_end} bytes)"
        ));
    }
    // Partition pack: versions (2 x 2), KAG size (4), this, previous and footer partition
    // offsets, header byte count (8 each).
    let at = usize::try_from(value).ok()?;
    let u64_at = |off: usize| -> Option<u64> {
        Some(u64::from_be_bytes(
            head.get(at + off..at + off + 8)?.try_into().ok()?,
        ))
    };
    let header_end = pack_end.checked_add(u64_at(32)?)?;
    if header_end > file_len {
        return Some(format!(
            "file ends inside the header metadata ({file_len} of {header_end} bytes)"
        ));
    }
    let footer = u64_at(24)?;
    (footer >= file_len).then(|| {
        format!("file ends before the footer partition at byte {footer} ({file_len} bytes)")
    })
}

/// Classifies the first bytes of a file that is not ISO base media.
fn classify_head(head: &[u8]) -> Content {
    if head.len() >= 376 && head[0] == 0x47 && head[188] == 0x47 {
        return Content::Known("MPEG transport stream");
    }
    for (offset, magic, name) in MAGICS {
        if head.len() >= offset + magic.len() && &head[offset..offset + magic.len()] == magic {
            return Content::Known(name);
        }
    }
    if let Ok(text) = std::str::from_utf8(head) {
        if !text.is_empty() && text.chars().all(|c| !c.is_control() || c.is_whitespace()) {
            let first_line: String = text.lines().next().unwrap_or("").chars().take(40).collect();
            return Content::Text(first_line);
        }
    }
    let hex: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Content::Unknown(hex.join(" "))
}

/// Walks the top-level boxes of an ISO base media file by their size fields.
fn walk_boxes<R: Read + Seek>(file: &mut R, file_len: u64) -> io::Result<BoxWalk> {
    let mut walk = BoxWalk {
        file_len,
        ..BoxWalk::default()
    };
    let mut pos = 0u64;
    // A damaged file could declare thousands of tiny boxes; the top level of a real one is short.
    for _ in 0..10_000 {
        if pos + 8 > file_len {
            break;
        }
        file.seek(SeekFrom::Start(pos))?;
        let mut header = [0u8; 16];
        let want = if pos + 16 <= file_len { 16 } else { 8 };
        file.read_exact(&mut header[..want])?;
        let size32 = u64::from(u32::from_be_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        let kind = String::from_utf8_lossy(&header[4..8]).into_owned();
        let size = match size32 {
            // Size 0: the box runs to the end of the file.
            0 => file_len - pos,
            // Size 1: a 64-bit size follows the type.
            1 if want == 16 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&header[8..16]);
                u64::from_be_bytes(b)
            }
            s => s,
        };
        if size < 8 {
            // Not a box: the structure is damaged from here on.
            break;
        }
        let end = pos.saturating_add(size);
        if end > file_len {
            walk.cut_inside = Some((kind, end));
            break;
        }
        if kind == "moov" {
            walk.moov = true;
        }
        pos = end;
    }
    Ok(walk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn boxed(kind: &[u8; 4], payload: usize) -> Vec<u8> {
        let mut v = ((payload + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.resize(payload + 8, 0);
        v
    }

    #[test]
    fn walk_finds_moov_and_cut_boxes() {
        let mut whole = boxed(b"ftyp", 16);
        whole.extend(boxed(b"mdat", 100));
        whole.extend(boxed(b"moov", 40));
        let len = whole.len() as u64;
        let walk = walk_boxes(&mut Cursor::new(&whole), len).unwrap();
        assert!(walk.moov && walk.cut_inside.is_none() && walk.problem().is_none());

        let cut = &whole[..60];
        let walk = walk_boxes(&mut Cursor::new(cut), 60).unwrap();
        assert!(!walk.moov);
        assert_eq!(walk.cut_inside, Some(("mdat".to_string(), 132)));
        assert_eq!(
            walk.problem().unwrap(),
            "moov atom not found (file ends inside the 'mdat' box: 60 of 132 bytes)"
        );
    }

    #[test]
    fn cut_matroska_and_mxf_are_recognised() {
        // EBML header of 4 payload bytes, then a Segment announcing 1000 bytes.
        let mut mkv = vec![0x1a, 0x45, 0xdf, 0xa3, 0x84, 1, 2, 3, 4];
        mkv.extend([0x18, 0x53, 0x80, 0x67, 0x40 | 0x03, 0xe8]);
        mkv.resize(64, 0);
        assert_eq!(
            matroska_cut(&mkv, 64).as_deref(),
            Some("file ends inside the Segment (64 of 1015 bytes)")
        );
        assert_eq!(matroska_cut(&mkv, 1015), None);
        assert_eq!(
            matroska_cut(&mkv[..7], 7).as_deref(),
            Some("file ends inside the EBML header (7 of 9 bytes)")
        );
        // Unknown Segment size (live recording): cannot tell.
        let mut live = mkv.clone();
        live[13..15].copy_from_slice(&[0x7f, 0xff]);
        assert_eq!(matroska_cut(&live, 64), None);

        // Partition pack key, BER length 0x58, footer at 5000, 200 bytes of header metadata.
        let mut mxf = vec![
            0x06, 0x0e, 0x2b, 0x34, 2, 5, 1, 1, 0x0d, 1, 2, 1, 1, 2, 4, 0, 0x58,
        ];
        let mut pack = vec![0u8; 0x58];
        pack[24..32].copy_from_slice(&5000u64.to_be_bytes());
        pack[32..40].copy_from_slice(&200u64.to_be_bytes());
        mxf.extend(pack);
        assert_eq!(
            mxf_cut(&mxf[..64], 64).as_deref(),
            Some("file ends inside the header partition pack (64 of 105 bytes)")
        );
        assert_eq!(
            mxf_cut(&mxf, 200).as_deref(),
            Some("file ends inside the header metadata (200 of 305 bytes)")
        );
        assert_eq!(
            mxf_cut(&mxf, 4000).as_deref(),
            Some("file ends before the footer partition at byte 5000 (4000 bytes)")
        );
        assert_eq!(mxf_cut(&mxf, 6000), None);
    }

    #[test]
    fn heads_are_classified() {
        assert_eq!(
            classify_head(b"These are notes\nmore"),
            Content::Text("These are notes".into())
        );
        assert_eq!(
            classify_head(&[0x1a, 0x45, 0xdf, 0xa3, 1, 2]),
            Content::Known("Matroska/WebM")
        );
        assert_eq!(
            classify_head(&[0, 1, 2, 3, 0xfe]),
            Content::Unknown("00 01 02 03 fe".into())
        );
    }
}
