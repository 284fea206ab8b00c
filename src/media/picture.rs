//! From decoded FFmpeg frames to what the rest of the program sees: a luma thumbnail for the
//! cut detector (every frame, so it must be cheap) and an RGB picture (sampled frames only).

use super::open::Geometry;
use crate::shots::{Thumbnail, ThumbnailBuilder, THUMB_H, THUMB_W};
use ffmpeg::ffi;
use ffmpeg::format::Pixel;
use ffmpeg::frame;
use ffmpeg::software::scaling::{self, Flags};
use ffmpeg_next as ffmpeg;
use image::RgbImage;

/// Where the luma of a pixel format lives, for reading it straight from plane 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LumaLayout {
    /// Bytes from one pixel's luma to the next.
    step: usize,
    /// Bytes before the first pixel's luma.
    offset: usize,
    /// Bits to shift right to reach the value (e.g. 6 for P010).
    shift: u32,
    /// Significant bits.
    depth: u32,
}

/// The luma layout of `format`, when plane 0 holds luma as 8-bit or little-endian 16-bit
/// samples (all planar/semi-planar YUV and gray formats decoders produce); None otherwise.
fn luma_layout(format: Pixel) -> Option<LumaLayout> {
    let raw: ffi::AVPixelFormat = format.into();
    // SAFETY: av_pix_fmt_desc_get returns null or a pointer to a static descriptor.
    let desc = unsafe { ffi::av_pix_fmt_desc_get(raw).as_ref()? };
    let unusable = ffi::AV_PIX_FMT_FLAG_RGB
        | ffi::AV_PIX_FMT_FLAG_PAL
        | ffi::AV_PIX_FMT_FLAG_BE
        | ffi::AV_PIX_FMT_FLAG_HWACCEL
        | ffi::AV_PIX_FMT_FLAG_BAYER
        | ffi::AV_PIX_FMT_FLAG_FLOAT
        | ffi::AV_PIX_FMT_FLAG_BITSTREAM;
    if desc.flags & unusable as u64 != 0 {
        return None;
    }
    let c = desc.comp[0];
    let ok = c.plane == 0
        && c.step > 0
        && c.offset >= 0
        && c.shift >= 0
        && (1..=16).contains(&c.depth)
        && (c.depth + c.shift <= 8 || c.step % 2 == 0);
    ok.then_some(LumaLayout {
        step: c.step as usize,
        offset: c.offset as usize,
        shift: c.shift as u32,
        depth: c.depth as u32,
    })
}

/// Makes the per-frame thumbnails, reading luma directly where the format allows and
/// falling back to swscale (e.g. RGB pictures).
#[derive(Default)]
pub(crate) struct Thumbnailer {
    layout: Option<(Pixel, Option<LumaLayout>)>,
    scaler: Option<(Pixel, u32, u32, scaling::Context)>,
    gray: Option<frame::Video>,
}

impl Thumbnailer {
    /// The thumbnail of `frame`; None if FFmpeg cannot convert its pixel format.
    pub fn thumbnail(&mut self, frame: &frame::Video) -> Option<Thumbnail> {
        let format = frame.format();
        let layout = match self.layout {
            Some((f, l)) if f == format => l,
            _ => {
                let l = luma_layout(format);
                self.layout = Some((format, l));
                l
            }
        };
        match layout {
            Some(l) => direct(frame, l).or_else(|| self.scaled(frame)),
            None => self.scaled(frame),
        }
    }

    /// swscale's area filter straight to a 64x36 gray picture.
    fn scaled(&mut self, frame: &frame::Video) -> Option<Thumbnail> {
        let (format, w, h) = (frame.format(), frame.width(), frame.height());
        let fresh =
            !matches!(&self.scaler, Some((f, sw, sh, _)) if *f == format && *sw == w && *sh == h);
        if fresh {
            let ctx = scaling::Context::get(
                format,
                w,
                h,
                Pixel::GRAY8,
                THUMB_W as u32,
                THUMB_H as u32,
                Flags::AREA,
            )
            .ok()?;
            self.scaler = Some((format, w, h, ctx));
            self.gray = None;
        }
        let (.., ctx) = self.scaler.as_mut()?;
        let gray = self.gray.get_or_insert_with(frame::Video::empty);
        ctx.run(frame, gray).ok()?;
        Some(Thumbnail::from_gray(
            THUMB_W,
            THUMB_H,
            gray.stride(0),
            gray.data(0),
        ))
    }
}

/// Reads luma straight from plane 0, every `step`-th row and column.
fn direct(frame: &frame::Video, l: LumaLayout) -> Option<Thumbnail> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    // SAFETY: reading the frame's own plane pointer and line size.
    let (data, stride) = unsafe {
        let raw = frame.as_ptr();
        ((*raw).data[0], (*raw).linesize[0])
    };
    // Negative line sizes (bottom-up pictures) are left to swscale.
    if data.is_null() || stride <= 0 || w == 0 || h == 0 {
        return None;
    }
    let stride = stride as usize;
    let row_bytes = l.offset + (w - 1) * l.step + if l.depth + l.shift > 8 { 2 } else { 1 };
    if row_bytes > stride {
        return None;
    }
    // SAFETY: a decoded frame's plane 0 holds `height` rows of `linesize` bytes.
    let plane = unsafe { std::slice::from_raw_parts(data, stride * h) };
    let wide = l.depth + l.shift > 8;
    let mask = (1u32 << l.depth) - 1;
    let down = l.depth.saturating_sub(8);
    let mut builder = ThumbnailBuilder::new(w, h);
    let plain = l.step == 1 && l.shift == 0 && l.depth == 8;
    let mut line = Vec::with_capacity(w);
    for y in builder.rows() {
        let row = &plane[y * stride..y * stride + row_bytes];
        if plain {
            builder.add_row(y, &row[l.offset..]);
            continue;
        }
        line.clear();
        if wide {
            line.extend((0..w).map(|x| {
                let i = l.offset + x * l.step;
                let v = u32::from(u16::from_le_bytes([row[i], row[i + 1]]));
                (((v >> l.shift) & mask) >> down) as u8
            }));
        } else {
            // Fewer than 8 bits: scale up so thresholds mean the same.
            line.extend((0..w).map(|x| {
                let v = u32::from(row[l.offset + x * l.step]);
                ((((v >> l.shift) & mask) << (8 - l.depth)) & 0xff) as u8
            }));
        }
        builder.add_row(y, &line);
    }
    Some(builder.finish())
}

/// The cut detector's thumbnail of an RGB picture (image sequences arrive as pictures, not
/// decoder frames): BT.601 luma, reading only the rows the thumbnail needs.
pub(crate) fn rgb_thumbnail(picture: &RgbImage) -> Thumbnail {
    let w = picture.width() as usize;
    let raw = picture.as_raw();
    let mut builder = ThumbnailBuilder::new(w, picture.height() as usize);
    let mut line = Vec::with_capacity(w);
    for y in builder.rows() {
        let Some(row) = raw.get(y * w * 3..(y + 1) * w * 3) else {
            break;
        };
        line.clear();
        line.extend(row.chunks_exact(3).map(|p| luma(p[0], p[1], p[2])));
        builder.add_row(y, &line);
    }
    builder.finish()
}

/// Converts sampled frames to RGB24 in square pixels, upright, with the colour matrix and
/// range the frame declares. Keeps its swscale context while the input stays the same.
#[derive(Default)]
pub(crate) struct RgbConverter {
    cached: Option<(ConvKey, scaling::Context)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConvKey {
    format: Pixel,
    w: u32,
    h: u32,
    out_w: u32,
    out_h: u32,
    matrix: i32,
    full_range: bool,
}

impl RgbConverter {
    /// The displayed picture of `frame`.
    pub fn convert(
        &mut self,
        frame: &frame::Video,
        geometry: &Geometry,
    ) -> Result<RgbImage, ffmpeg::Error> {
        let (w, h) = (frame.width(), frame.height());
        let upright = Geometry {
            quarter_turns: 0,
            ..*geometry
        };
        let (out_w, out_h) = upright.display_size(w, h, frame_sar(frame));
        let format = frame.format();
        let key = ConvKey {
            format,
            w,
            h,
            out_w,
            out_h,
            matrix: matrix_for(frame.color_space(), h),
            full_range: frame.color_range() == ffmpeg::color::Range::JPEG
                || format
                    .descriptor()
                    .is_some_and(|d| d.name().starts_with("yuvj")),
        };
        if self.cached.as_ref().map(|(k, _)| *k) != Some(key) {
            let mut ctx =
                scaling::Context::get(format, w, h, Pixel::RGB24, out_w, out_h, Flags::BILINEAR)?;
            if luma_layout(format).is_some() {
                // SAFETY: a valid context; the coefficient tables are static in swscale.
                unsafe {
                    ffi::sws_setColorspaceDetails(
                        ctx.as_mut_ptr(),
                        ffi::sws_getCoefficients(key.matrix),
                        i32::from(key.full_range),
                        ffi::sws_getCoefficients(ffi::SWS_CS_DEFAULT),
                        1,
                        0,
                        1 << 16,
                        1 << 16,
                    );
                }
            }
            self.cached = Some((key, ctx));
        }
        let Some((_, ctx)) = self.cached.as_mut() else {
            return Err(ffmpeg::Error::Bug);
        };
        let mut rgb = frame::Video::empty();
        ctx.run(frame, &mut rgb)?;
        let (ow, oh) = (out_w as usize, out_h as usize);
        let stride = rgb.stride(0);
        let data = rgb.data(0);
        let mut packed = Vec::with_capacity(ow * oh * 3);
        for y in 0..oh {
            let start = y * stride;
            let row = data.get(start..start + ow * 3).ok_or(ffmpeg::Error::Bug)?;
            packed.extend_from_slice(row);
        }
        let picture = RgbImage::from_raw(out_w, out_h, packed).ok_or(ffmpeg::Error::Bug)?;
        Ok(rotate(picture, geometry.quarter_turns))
    }
}

/// The sample aspect ratio `frame` declares, if any.
pub(crate) fn frame_sar(frame: &frame::Video) -> Option<(u32, u32)> {
    let sar = frame.aspect_ratio();
    (sar.numerator() > 0 && sar.denominator() > 0)
        .then(|| (sar.numerator() as u32, sar.denominator() as u32))
}

/// swscale's colour matrix for a frame; untagged video follows the usual convention of
/// BT.709 for HD and BT.601 for SD.
fn matrix_for(space: ffmpeg::color::Space, height: u32) -> i32 {
    use ffmpeg::color::Space;
    match space {
        Space::BT709 => ffi::SWS_CS_ITU709,
        Space::FCC => ffi::SWS_CS_FCC,
        Space::BT470BG | Space::SMPTE170M => ffi::SWS_CS_ITU601,
        Space::SMPTE240M => ffi::SWS_CS_SMPTE240M,
        Space::BT2020NCL | Space::BT2020CL => ffi::SWS_CS_BT2020,
        _ if height >= 720 => ffi::SWS_CS_ITU709,
        _ => ffi::SWS_CS_ITU601,
    }
}

/// Turns `picture` clockwise by `quarter_turns` x 90 degrees.
pub(crate) fn rotate(picture: RgbImage, quarter_turns: u8) -> RgbImage {
    match quarter_turns % 4 {
        1 => image::imageops::rotate90(&picture),
        2 => image::imageops::rotate180(&picture),
        3 => image::imageops::rotate270(&picture),
        _ => picture,
    }
}

/// BT.601 luma with integer weights, rounded.
#[inline]
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((77 * u32::from(r) + 150 * u32::from(g) + 29 * u32::from(b) + 128) >> 8) as u8
}

/// The 2nd and 98th percentiles of 8-bit levels (a picture's luma spread, robust to a few
/// outliers); None for no levels.
pub fn spread_of(levels: impl IntoIterator<Item = u8>) -> Option<(u8, u8)> {
    let mut hist = [0usize; 256];
    let mut n = 0;
    for v in levels {
        hist[usize::from(v)] += 1;
        n += 1;
    }
    if n == 0 {
        return None;
    }
    let at = |q: usize| {
        let target = n * q / 100;
        let mut seen = 0;
        for (v, &h) in hist.iter().enumerate() {
            seen += h;
            if seen > target {
                return v as u8;
            }
        }
        255
    };
    Some((at(2), at(98)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_layouts_of_common_formats() {
        super::super::init();
        let l = luma_layout(Pixel::YUV420P).unwrap();
        assert_eq!((l.step, l.offset, l.shift, l.depth), (1, 0, 0, 8));
        let l = luma_layout(Pixel::YUV422P10LE).unwrap();
        assert_eq!((l.step, l.shift, l.depth), (2, 0, 10));
        let l = luma_layout(Pixel::P010LE).unwrap();
        assert_eq!((l.step, l.shift, l.depth), (2, 6, 10));
        let l = luma_layout(Pixel::YUYV422).unwrap();
        assert_eq!((l.step, l.offset), (2, 0));
        assert!(luma_layout(Pixel::RGB24).is_none());
        assert!(luma_layout(Pixel::PAL8).is_none());
    }

    /// The thumbnail of a horizontal ramp whose 8-bit value at column x is `value(x)`.
    fn ramp_thumbnail(w: usize, value: impl Fn(usize) -> u32) -> Vec<u8> {
        let per = w / THUMB_W;
        (0..THUMB_W)
            .map(|c| {
                let sum: u32 = (c * per..(c + 1) * per).map(&value).sum();
                ((sum + per as u32 / 2) / per as u32) as u8
            })
            .collect()
    }

    fn max_diff(a: &[u8], b: &[u8]) -> i16 {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| (i16::from(x) - i16::from(y)).abs())
            .max()
            .unwrap()
    }

    #[test]
    fn direct_thumbnail_of_10_bit_ramp() {
        super::super::init();
        let (w, h) = (640u32, 360u32);
        let ten_bit = |x: usize| (64 + x * 876 / w as usize) as u16;
        let mut f = frame::Video::new(Pixel::YUV422P10LE, w, h);
        let stride = f.stride(0);
        let data = f.data_mut(0);
        for y in 0..h as usize {
            for x in 0..w as usize {
                let at = y * stride + 2 * x;
                data[at..at + 2].copy_from_slice(&ten_bit(x).to_le_bytes());
            }
        }
        let l = luma_layout(Pixel::YUV422P10LE).unwrap();
        let got = direct(&f, l).unwrap();
        let want = ramp_thumbnail(w as usize, |x| u32::from(ten_bit(x) >> 2));
        for row in got.pixels().chunks(THUMB_W) {
            assert!(max_diff(row, &want) <= 1, "{row:?} vs {want:?}");
        }
    }

    #[test]
    fn swscale_thumbnail_of_rgb_ramp() {
        super::super::init();
        let (w, h) = (640u32, 360u32);
        let level = |x: usize| (x * 255 / (w as usize - 1)) as u8;
        let mut f = frame::Video::new(Pixel::RGB24, w, h);
        let stride = f.stride(0);
        let data = f.data_mut(0);
        for y in 0..h as usize {
            for x in 0..w as usize {
                let at = y * stride + 3 * x;
                data[at..at + 3].fill(level(x));
            }
        }
        let got = Thumbnailer::default().thumbnail(&f).unwrap();
        let want = ramp_thumbnail(w as usize, |x| u32::from(level(x)));
        for row in got.pixels().chunks(THUMB_W) {
            assert!(max_diff(row, &want) <= 3, "{row:?} vs {want:?}");
        }
    }

    #[test]
    fn rgb_thumbnail_is_luma_of_the_picture() {
        let (w, h) = (640u32, 360u32);
        let level = |x: u32| (x * 255 / (w - 1)) as u8;
        let gray = RgbImage::from_fn(w, h, |x, _| image::Rgb([level(x); 3]));
        let want = ramp_thumbnail(w as usize, |x| u32::from(level(x as u32)));
        for row in rgb_thumbnail(&gray).pixels().chunks(THUMB_W) {
            assert!(max_diff(row, &want) <= 1, "{row:?} vs {want:?}");
        }
        // Pure green is brighter than pure blue, as the eye sees it.
        let green = rgb_thumbnail(&RgbImage::from_pixel(8, 8, image::Rgb([0, 255, 0])));
        let blue = rgb_thumbnail(&RgbImage::from_pixel(8, 8, image::Rgb([0, 0, 255])));
        assert_eq!((green.pixels()[0], blue.pixels()[0]), (149, 29));
    }

    #[test]
    fn rotation_turns_clockwise() {
        let mut p = RgbImage::new(2, 1);
        p.put_pixel(0, 0, image::Rgb([255, 0, 0]));
        let r = rotate(p.clone(), 1);
        assert_eq!(r.dimensions(), (1, 2));
        // Left end goes to the top after a clockwise quarter turn.
        assert_eq!(r.get_pixel(0, 0), &image::Rgb([255, 0, 0]));
        assert_eq!(rotate(p.clone(), 4), p);
    }
}
