//! The picture size a file claims, read straight from its header, for the formats only FFmpeg
//! decodes here: BMP, DPX, OpenEXR, JPEG 2000 and YUV4MPEG.
//!
//! FFmpeg's picture demuxers learn a still's size only by decoding it, and its own size checks
//! either let a 256 MP RLE bitmap through (a 1 KB file that decodes to 1.8 GB) or refuse a
//! bigger one with a message that does not say why ("Device or resource busy" for a Y4M). A
//! few bytes of header give the size before FFmpeg sees the file, so such a file ends as
//! [`MediaError::TooLarge`](super::MediaError::TooLarge) with the size it claims.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// How much of the file is read: every supported header states its size well within this
/// (an EXR header lists its attributes first, usually a few hundred bytes).
const HEAD_BYTES: u64 = 64 * 1024;

/// The (width, height) the header of `path` claims, when it is one of the formats above and
/// the header is readable; None otherwise (FFmpeg then has the last word).
pub(crate) fn claimed_size(path: &Path) -> io::Result<Option<(u32, u32)>> {
    let mut head = Vec::new();
    File::open(path)?.take(HEAD_BYTES).read_to_end(&mut head)?;
    Ok(size_from_head(&head))
}

/// The size stated by the header at the start of `head`.
fn size_from_head(head: &[u8]) -> Option<(u32, u32)> {
    if head.starts_with(b"BM") {
        bmp(head)
    } else if head.starts_with(b"SDPX") || head.starts_with(b"XPDS") {
        dpx(head)
    } else if head.starts_with(&[0x76, 0x2f, 0x31, 0x01]) {
        exr(head)
    } else if head.starts_with(&JP2_SIGNATURE) {
        jp2(head)
    } else if head.starts_with(&[0xff, 0x4f, 0xff, 0x51]) {
        j2k_codestream(head)
    } else if head.starts_with(b"YUV4MPEG2 ") {
        y4m(head)
    } else {
        None
    }
}

fn u16_le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u32_be(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// BMP: the DIB header after the 14-byte file header. Its size tells the variant; "BM" alone
/// is too weak a signature, so other sizes are not taken for a bitmap.
fn bmp(b: &[u8]) -> Option<(u32, u32)> {
    match u32_le(b, 14)? {
        // OS/2 1.x core header: 16-bit sides.
        12 => Some((u32::from(u16_le(b, 18)?), u32::from(u16_le(b, 20)?))),
        // Windows and OS/2 2.x: signed 32-bit sides, a negative height meaning top-down.
        16 | 40 | 52 | 56 | 64 | 108 | 124 => {
            let w = u32_le(b, 18)? as i32;
            let h = u32_le(b, 22)? as i32;
            Some((w.unsigned_abs(), h.unsigned_abs()))
        }
        _ => None,
    }
}

/// DPX (SMPTE 268M): pixels per line and lines per element at 772 and 776, in the byte order
/// the magic number announces.
fn dpx(b: &[u8]) -> Option<(u32, u32)> {
    if b.starts_with(b"SDPX") {
        Some((u32_be(b, 772)?, u32_be(b, 776)?))
    } else {
        Some((u32_le(b, 772)?, u32_le(b, 776)?))
    }
}

/// OpenEXR: the attribute list after the 8-byte preamble (name, type, size, value; an empty
/// name ends it). The larger of the data and display windows.
fn exr(b: &[u8]) -> Option<(u32, u32)> {
    let mut at = 8;
    let mut best: Option<(u32, u32)> = None;
    loop {
        let name_end = at + b.get(at..)?.iter().position(|&c| c == 0)?;
        let name = &b[at..name_end];
        if name.is_empty() {
            return best;
        }
        let type_start = name_end + 1;
        let type_end = type_start + b.get(type_start..)?.iter().position(|&c| c == 0)?;
        let kind = &b[type_start..type_end];
        let size = usize::try_from(u32_le(b, type_end + 1)?).ok()?;
        let value = type_end + 5;
        if kind == b"box2i" && (name == b"dataWindow" || name == b"displayWindow") {
            let corner = |i: usize| u32_le(b, value + 4 * i).map(|v| i64::from(v as i32));
            let side = |lo: i64, hi: i64| u32::try_from((hi - lo + 1).max(0)).unwrap_or(u32::MAX);
            let (w, h) = (side(corner(0)?, corner(2)?), side(corner(1)?, corner(3)?));
            let pixels = |(w, h): (u32, u32)| u64::from(w) * u64::from(h);
            if best.is_none_or(|prev| pixels((w, h)) > pixels(prev)) {
                best = Some((w, h));
            }
        }
        at = value.checked_add(size)?;
    }
}

/// The JPEG 2000 (JP2) signature box.
const JP2_SIGNATURE: [u8; 12] = [0, 0, 0, 12, b'j', b'P', b' ', b' ', 0x0d, 0x0a, 0x87, 0x0a];

/// JP2: the image header box (`ihdr`: height, then width) inside the `jp2h` superbox.
fn jp2(b: &[u8]) -> Option<(u32, u32)> {
    let jp2h = find_box(b, 0, b.len(), b"jp2h")?;
    let ihdr = find_box(b, jp2h.0, jp2h.1, b"ihdr")?;
    Some((u32_be(b, ihdr.0 + 4)?, u32_be(b, ihdr.0)?))
}

/// The payload range (start, end) of the first box of type `kind` among the boxes in
/// `b[start..end]`.
fn find_box(b: &[u8], mut start: usize, end: usize, kind: &[u8; 4]) -> Option<(usize, usize)> {
    while start + 8 <= end {
        let size = u32_be(b, start)? as usize;
        let (header, size) = match size {
            0 => (8, end - start),
            1 => (
                16,
                usize::try_from(u64::from_be_bytes(
                    b.get(start + 8..start + 16)?.try_into().ok()?,
                ))
                .ok()?,
            ),
            s => (8, s),
        };
        if size < header {
            return None;
        }
        if &b[start + 4..start + 8] == kind {
            return Some((start + header, (start + size).min(end)));
        }
        start = start.checked_add(size)?;
    }
    None
}

/// A raw JPEG 2000 codestream: the SIZ segment right after SOC (reference grid size minus
/// the image offset).
fn j2k_codestream(b: &[u8]) -> Option<(u32, u32)> {
    let (xsiz, ysiz) = (u32_be(b, 8)?, u32_be(b, 12)?);
    let (x0, y0) = (u32_be(b, 16)?, u32_be(b, 20)?);
    Some((xsiz.saturating_sub(x0), ysiz.saturating_sub(y0)))
}

/// YUV4MPEG2: `W<width>` and `H<height>` among the space-separated parameters of the first
/// line.
fn y4m(b: &[u8]) -> Option<(u32, u32)> {
    let line = b.split(|&c| c == b'\n').next()?;
    let value = |tag: u8| {
        line.split(|&c| c == b' ')
            .find_map(|t| t.strip_prefix(&[tag]))
            .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u32>().ok())
    };
    Some((value(b'W')?, value(b'H')?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bmp_head(dib: u32, w: i32, h: i32) -> Vec<u8> {
        let mut b = b"BM".to_vec();
        b.extend([0u8; 12]);
        b.extend(dib.to_le_bytes());
        b.extend(w.to_le_bytes());
        b.extend(h.to_le_bytes());
        b.extend([0u8; 32]);
        b
    }

    #[test]
    fn bmp_sizes_including_top_down() {
        assert_eq!(
            size_from_head(&bmp_head(40, 16000, 16000)),
            Some((16000, 16000))
        );
        assert_eq!(size_from_head(&bmp_head(124, 640, -480)), Some((640, 480)));
        // An implausible DIB header size: not taken for a bitmap.
        assert_eq!(size_from_head(&bmp_head(9999, 640, 480)), None);
        let mut core = b"BM".to_vec();
        core.extend([0u8; 12]);
        core.extend(12u32.to_le_bytes());
        core.extend(320u16.to_le_bytes());
        core.extend(200u16.to_le_bytes());
        assert_eq!(size_from_head(&core), Some((320, 200)));
        // Text that happens to start with "BM".
        assert_eq!(size_from_head(b"BMW owners club minutes"), None);
    }

    #[test]
    fn dpx_in_both_byte_orders() {
        let mut be = vec![0u8; 800];
        be[..4].copy_from_slice(b"SDPX");
        be[772..776].copy_from_slice(&4096u32.to_be_bytes());
        be[776..780].copy_from_slice(&2160u32.to_be_bytes());
        assert_eq!(size_from_head(&be), Some((4096, 2160)));
        let mut le = vec![0u8; 800];
        le[..4].copy_from_slice(b"XPDS");
        le[772..776].copy_from_slice(&2048u32.to_le_bytes());
        le[776..780].copy_from_slice(&1556u32.to_le_bytes());
        assert_eq!(size_from_head(&le), Some((2048, 1556)));
        // Cut before the image information header: unknown.
        assert_eq!(size_from_head(&le[..700]), None);
    }

    fn exr_attr(name: &str, kind: &str, value: &[u8]) -> Vec<u8> {
        let mut a = name.as_bytes().to_vec();
        a.push(0);
        a.extend(kind.as_bytes());
        a.push(0);
        a.extend((value.len() as u32).to_le_bytes());
        a.extend(value);
        a
    }

    fn box2i(x0: i32, y0: i32, x1: i32, y1: i32) -> Vec<u8> {
        [x0, y0, x1, y1]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    }

    #[test]
    fn exr_takes_the_larger_window() {
        let mut b = vec![0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0];
        b.extend(exr_attr("channels", "chlist", &[b'R', 0, 1, 0, 0, 0, 0]));
        b.extend(exr_attr("dataWindow", "box2i", &box2i(-8, -8, 1927, 1087)));
        b.extend(exr_attr("displayWindow", "box2i", &box2i(0, 0, 1919, 1079)));
        b.push(0);
        assert_eq!(size_from_head(&b), Some((1936, 1096)));
        let mut bomb = vec![0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0];
        bomb.extend(exr_attr(
            "displayWindow",
            "box2i",
            &box2i(0, 0, 39999, 39999),
        ));
        bomb.push(0);
        assert_eq!(size_from_head(&bomb), Some((40000, 40000)));
        // An attribute whose size runs past the end: no answer, no panic.
        let mut cut = vec![0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0];
        cut.extend(exr_attr("comments", "string", b"x"));
        let len = cut.len();
        cut[len - 5..len - 1].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(size_from_head(&cut), None);
    }

    #[test]
    fn jpeg_2000_file_and_codestream() {
        let mut jp2 = JP2_SIGNATURE.to_vec();
        jp2.extend(20u32.to_be_bytes());
        jp2.extend(b"ftypjp2 \0\0\0\0jp2 ");
        let mut ihdr = 22u32.to_be_bytes().to_vec();
        ihdr.extend(b"ihdr");
        ihdr.extend(1080u32.to_be_bytes()); // height first
        ihdr.extend(1920u32.to_be_bytes());
        ihdr.extend([0u8; 6]);
        jp2.extend((8 + ihdr.len() as u32).to_be_bytes());
        jp2.extend(b"jp2h");
        jp2.extend(&ihdr);
        assert_eq!(size_from_head(&jp2), Some((1920, 1080)));

        let mut cs = vec![0xff, 0x4f, 0xff, 0x51, 0, 41, 0, 0];
        cs.extend(40010u32.to_be_bytes());
        cs.extend(40020u32.to_be_bytes());
        cs.extend(10u32.to_be_bytes());
        cs.extend(20u32.to_be_bytes());
        assert_eq!(size_from_head(&cs), Some((40000, 40000)));
    }

    #[test]
    fn y4m_parameters() {
        let head = b"YUV4MPEG2 W40000 H30000 F25:1 Ip A1:1 C420jpeg\nFRAME\n";
        assert_eq!(size_from_head(head), Some((40000, 30000)));
        assert_eq!(size_from_head(b"YUV4MPEG2 F25:1 W320\n"), None);
    }

    #[test]
    fn other_content_is_not_guessed() {
        assert_eq!(size_from_head(b""), None);
        assert_eq!(size_from_head(b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(size_from_head(b"YUV4MPEG2"), None);
    }
}
