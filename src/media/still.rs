//! Still pictures through the `image` crate: the format is found from the content (a `.jpg`
//! holding WebP data works) and EXIF orientation is applied, which FFmpeg 5.1 does not do.
//!
//! The size in the header is checked against the pixel limit before any pixel is decoded, and
//! the decoder runs under `image::Limits` derived from the same limit, so a file that claims
//! one size and decodes to another cannot allocate past it either.

use super::MediaError;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// The picture formats this build of `image` decodes (see the crate features in Cargo.toml).
const DECODABLE: [ImageFormat; 4] = [
    ImageFormat::Png,
    ImageFormat::Jpeg,
    ImageFormat::Tiff,
    ImageFormat::WebP,
];

/// The still format the content starts with, if `image` can decode it.
pub(crate) fn sniff(path: &Path) -> Result<Option<ImageFormat>, MediaError> {
    let mut head = Vec::with_capacity(64);
    File::open(path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .map_err(|e| open_error(path, &e))?;
    Ok(image::guess_format(&head)
        .ok()
        .filter(|f| DECODABLE.contains(f)))
}

/// Size after EXIF orientation, without decoding the pixels. Over `max_pixels`:
/// [`MediaError::TooLarge`].
pub(crate) fn oriented_size(
    path: &Path,
    format: ImageFormat,
    max_pixels: u64,
) -> Result<(u32, u32), MediaError> {
    let (decoder, orientation) =
        decoder(path, format, max_pixels).map_err(|e| cut_off(path, format, e))?;
    Ok(oriented(decoder.dimensions(), orientation))
}

/// Decodes the picture, applies its EXIF orientation and drops alpha. Over `max_pixels`:
/// [`MediaError::TooLarge`], before decoding.
pub(crate) fn load(
    path: &Path,
    format: ImageFormat,
    max_pixels: u64,
) -> Result<RgbImage, MediaError> {
    let decoded = decoder(path, format, max_pixels).and_then(|(decoder, orientation)| {
        let picture = DynamicImage::from_decoder(decoder).map_err(|e| image_error(path, e))?;
        Ok((picture, orientation))
    });
    let (mut picture, orientation) = decoded.map_err(|e| cut_off(path, format, e))?;
    picture.apply_orientation(orientation);
    Ok(picture.into_rgb8())
}

/// The widest pixel the enabled decoders produce: RGBA with 32-bit float samples (TIFF).
const MAX_BYTES_PER_PIXEL: u64 = 16;

/// The `image` limits for pictures of at most `max_pixels` pixels: no side longer than the
/// whole budget, and no more memory than the largest such picture needs in the widest pixel
/// format, so a decoder cannot allocate past the limit by a route the header check misses.
fn limits(max_pixels: u64) -> Limits {
    let side = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(max_pixels.saturating_mul(MAX_BYTES_PER_PIXEL));
    limits
}

/// A decoder that has read the header and found the picture within `max_pixels`, and the
/// picture's EXIF orientation.
fn decoder(
    path: &Path,
    format: ImageFormat,
    max_pixels: u64,
) -> Result<(impl ImageDecoder, Orientation), MediaError> {
    let file = File::open(path).map_err(|e| open_error(path, &e))?;
    let mut reader = ImageReader::with_format(BufReader::new(file), format);
    // The memory budget governs header parsing too (PNG text and ICC chunks, TIFF tags), but
    // the side limits wait until the size is known, so that a bomb is reported with the
    // size it claims rather than as a bare limit error.
    let mut header_limits = limits(max_pixels);
    header_limits.max_image_width = None;
    header_limits.max_image_height = None;
    reader.limits(header_limits);
    let mut decoder = reader.into_decoder().map_err(|e| image_error(path, e))?;
    let orientation = decoder.orientation().map_err(|e| image_error(path, e))?;
    // Reported as displayed, like probe's size.
    let (width, height) = oriented(decoder.dimensions(), orientation);
    MediaError::check_size(path, width, height, max_pixels)?;
    decoder
        .set_limits(limits(max_pixels))
        .map_err(|e| image_error(path, e))?;
    // `DynamicImage::from_decoder` does not hold the buffer it allocates to the budget (only
    // `ImageReader::decode` does, which cannot report the size first): reserve it here.
    limits(max_pixels)
        .reserve(decoder.total_bytes())
        .map_err(|e| image_error(path, e))?;
    Ok((decoder, orientation))
}

/// The size `(w, h)` takes once `orientation` is applied.
fn oriented((w, h): (u32, u32), orientation: Orientation) -> (u32, u32) {
    if swaps_axes(orientation) {
        (h, w)
    } else {
        (w, h)
    }
}

/// A PNG or JPEG that failed to decode and does not end with its format's end marker was cut
/// off: say so, rather than pass on the decoder's complaint about the missing bytes. Other
/// errors, and files that end properly (damaged inside), are left as they are.
fn cut_off(path: &Path, format: ImageFormat, err: MediaError) -> MediaError {
    let MediaError::Decode { .. } = err else {
        return err;
    };
    let cause = match (format, tail(path)) {
        (ImageFormat::Png, Ok(t)) if !t.ends_with(&PNG_END) => {
            "file ends before the PNG IEND chunk"
        }
        // Some writers pad after the marker with zero bytes.
        (ImageFormat::Jpeg, Ok(t)) if !without_zero_padding(&t).ends_with(&[0xff, 0xd9]) => {
            "file ends before the JPEG end-of-image marker"
        }
        _ => return err,
    };
    MediaError::Truncated {
        path: path.to_path_buf(),
        cause: cause.into(),
    }
}

/// The IEND chunk every PNG ends with: length 0, type, CRC.
const PNG_END: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82];

/// `b` without the zero bytes it ends with.
fn without_zero_padding(b: &[u8]) -> &[u8] {
    &b[..b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1)]
}

/// The last 4 KiB of the file.
fn tail(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(4096)))?;
    let mut tail = Vec::with_capacity(4096);
    file.read_to_end(&mut tail)?;
    Ok(tail)
}

fn swaps_axes(o: Orientation) -> bool {
    use image::metadata::Orientation::*;
    matches!(o, Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH)
}

fn open_error(path: &Path, e: &std::io::Error) -> MediaError {
    MediaError::Open {
        path: path.to_path_buf(),
        cause: e.to_string(),
    }
}

/// Maps an `image` error to ours: a file that ends early is truncated, anything else in the
/// data is a decode error.
pub(crate) fn image_error(path: &Path, e: image::ImageError) -> MediaError {
    let path = path.to_path_buf();
    match e {
        image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            MediaError::Truncated {
                path,
                cause: "picture data ends early".into(),
            }
        }
        image::ImageError::IoError(io) => MediaError::Open {
            path,
            cause: io.to_string(),
        },
        image::ImageError::Unsupported(u) => MediaError::Unsupported {
            path,
            cause: one_line(&u.to_string()),
        },
        // Only reached when a decoder asks for more than its header announced.
        image::ImageError::Limits(l) => MediaError::Decode {
            path,
            cause: format!(
                "the decoder needs more memory than the --max-pixels limit allows ({})",
                one_line(&l.to_string())
            ),
        },
        other => MediaError::Decode {
            path,
            cause: one_line(&other.to_string()),
        },
    }
}

/// Library messages sometimes span lines; errors here are one line.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_turns_swap_axes() {
        use image::metadata::Orientation::*;
        assert!(swaps_axes(Rotate90) && swaps_axes(Rotate270FlipH));
        assert!(!swaps_axes(NoTransforms) && !swaps_axes(Rotate180) && !swaps_axes(FlipVertical));
    }

    #[test]
    fn limits_follow_the_pixel_budget() {
        let l = limits(200_000_000);
        assert_eq!(l.max_image_width, Some(200_000_000));
        assert_eq!(l.max_image_height, Some(200_000_000));
        assert_eq!(l.max_alloc, Some(3_200_000_000));
        let l = limits(u64::MAX);
        assert_eq!(l.max_image_width, Some(u32::MAX));
        assert_eq!(l.max_alloc, Some(u64::MAX));
    }

    #[test]
    fn header_size_is_checked_before_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("small.png");
        RgbImage::new(4, 3).save(&path).unwrap();
        let e = load(&path, ImageFormat::Png, 11).unwrap_err();
        assert!(
            matches!(
                e,
                MediaError::TooLarge {
                    width: 4,
                    height: 3,
                    max: 11,
                    ..
                }
            ),
            "{e}"
        );
        assert!(oriented_size(&path, ImageFormat::Png, 11).is_err());
        assert_eq!(
            load(&path, ImageFormat::Png, 12).unwrap().dimensions(),
            (4, 3)
        );
        assert_eq!(oriented_size(&path, ImageFormat::Png, 12).unwrap(), (4, 3));
    }

    #[test]
    fn failed_pictures_without_their_end_marker_are_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let decode = |p: &Path| MediaError::Decode {
            path: p.to_path_buf(),
            cause: "bad data".into(),
        };
        let cut = dir.path().join("cut.jpg");
        std::fs::write(&cut, [0xff, 0xd8, 0xff, 0xdb, 0, 0x43, 0]).unwrap();
        let e = cut_off(&cut, ImageFormat::Jpeg, decode(&cut));
        assert_eq!(
            e.to_string(),
            format!(
                "{}: truncated: file ends before the JPEG end-of-image marker",
                cut.display()
            )
        );
        // Damaged inside but whole (zero padding after the marker is common).
        let whole = dir.path().join("whole.jpg");
        std::fs::write(&whole, [0xff, 0xd8, 0x12, 0x34, 0xff, 0xd9, 0, 0]).unwrap();
        let e = cut_off(&whole, ImageFormat::Jpeg, decode(&whole));
        assert!(matches!(e, MediaError::Decode { .. }), "{e}");
        let png = dir.path().join("cut.png");
        std::fs::write(&png, b"\x89PNG\r\n\x1a\n").unwrap();
        let e = cut_off(&png, ImageFormat::Png, decode(&png));
        assert!(matches!(e, MediaError::Truncated { .. }), "{e}");
        // Only decode errors are reinterpreted.
        let e = cut_off(
            &png,
            ImageFormat::Png,
            MediaError::Empty { path: png.clone() },
        );
        assert!(matches!(e, MediaError::Empty { .. }), "{e}");
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  b\tc "), "a b c");
    }
}
