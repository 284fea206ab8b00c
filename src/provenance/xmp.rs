//! The IPTC `DigitalSourceType` of a file's XMP packet, for files without C2PA credentials.
//! XMP sits near the start of stills (JPEG APP1, PNG iTXt, TIFF tag) and at either end of
//! MP4/MOV files (a `uuid` box or `moov/udta`), so only the first and last few megabytes are
//! searched: a 50 GB camera original is not read twice.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Bytes searched at each end of the file.
const WINDOW: u64 = 4 << 20;
const KEY: &[u8] = b"DigitalSourceType";

/// The declared digital source type URI, if the file's XMP has one.
pub(super) fn digital_source_type(path: &Path) -> std::io::Result<Option<String>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut head = Vec::new();
    (&mut f).take(WINDOW).read_to_end(&mut head)?;
    if let Some(uri) = find(&head) {
        return Ok(Some(uri));
    }
    if len > WINDOW {
        let start = len.saturating_sub(WINDOW).max(WINDOW);
        f.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        f.take(WINDOW).read_to_end(&mut tail)?;
        return Ok(find(&tail));
    }
    Ok(None)
}

/// The first `DigitalSourceType` value in `bytes`: attribute (`="uri"`), element
/// (`>uri<`) or `rdf:resource="uri"` form. The value is the first `http` URI within a short
/// distance of the key.
fn find(bytes: &[u8]) -> Option<String> {
    let mut from = 0;
    while let Some(i) = memfind(&bytes[from..], KEY) {
        let at = from + i + KEY.len();
        let window = &bytes[at..bytes.len().min(at + 200)];
        if let Some(h) = memfind(window, b"http") {
            let uri: Vec<u8> = window[h..]
                .iter()
                .copied()
                .take_while(|c| {
                    !matches!(c, b'"' | b'\'' | b'<' | b'>') && !c.is_ascii_whitespace()
                })
                .collect();
            if let Ok(s) = String::from_utf8(uri) {
                if s.contains("digitalsourcetype/") {
                    return Some(s);
                }
            }
        }
        from = at;
    }
    None
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_three_xmp_forms_are_read() {
        let uri = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia";
        for text in [
            format!(r#"<rdf:Description Iptc4xmpExt:DigitalSourceType="{uri}"/>"#),
            format!("<Iptc4xmpExt:DigitalSourceType>{uri}</Iptc4xmpExt:DigitalSourceType>"),
            format!(r#"<Iptc4xmpExt:DigitalSourceType rdf:resource="{uri}"/>"#),
        ] {
            assert_eq!(find(text.as_bytes()).as_deref(), Some(uri), "{text}");
        }
        assert_eq!(find(b"DigitalSourceType nothing here"), None);
    }
}
