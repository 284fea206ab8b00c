//! Still pictures through the `image` crate: the format is found from the content (a `.jpg`
//! holding WebP data works) and EXIF orientation is applied, which FFmpeg 5.1 does not do.

use super::MediaError;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};
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

/// Size after EXIF orientation, without decoding the pixels.
pub(crate) fn oriented_size(path: &Path, format: ImageFormat) -> Result<(u32, u32), MediaError> {
    let mut decoder = reader(path, format)?
        .into_decoder()
        .map_err(|e| image_error(path, e))?;
    let (w, h) = decoder.dimensions();
    let orientation = decoder.orientation().map_err(|e| image_error(path, e))?;
    Ok(if swaps_axes(orientation) {
        (h, w)
    } else {
        (w, h)
    })
}

/// Decodes the picture, applies its EXIF orientation and drops alpha.
pub(crate) fn load(path: &Path, format: ImageFormat) -> Result<RgbImage, MediaError> {
    let mut decoder = reader(path, format)?
        .into_decoder()
        .map_err(|e| image_error(path, e))?;
    let orientation = decoder.orientation().map_err(|e| image_error(path, e))?;
    let mut picture = DynamicImage::from_decoder(decoder).map_err(|e| image_error(path, e))?;
    picture.apply_orientation(orientation);
    Ok(picture.into_rgb8())
}

fn reader(path: &Path, format: ImageFormat) -> Result<ImageReader<BufReader<File>>, MediaError> {
    let file = File::open(path).map_err(|e| open_error(path, &e))?;
    Ok(ImageReader::with_format(BufReader::new(file), format))
}

fn swaps_axes(o: image::metadata::Orientation) -> bool {
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
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  b\tc "), "a b c");
    }
}
