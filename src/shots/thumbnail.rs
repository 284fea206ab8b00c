//! The 64x36 luma thumbnail every decoded frame is reduced to for the cut detector.

/// Thumbnail width in pixels.
pub const THUMB_W: usize = 64;
/// Thumbnail height in pixels.
pub const THUMB_H: usize = 36;
pub(crate) const THUMB_LEN: usize = THUMB_W * THUMB_H;

/// A small 8-bit luma picture of one frame: all the cut detector looks at.
#[derive(Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pixels: Box<[u8; THUMB_LEN]>,
}

impl std::fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mean = self.pixels.iter().map(|&p| u32::from(p)).sum::<u32>() / THUMB_LEN as u32;
        write!(f, "Thumbnail({THUMB_W}x{THUMB_H}, mean {mean})")
    }
}

impl Thumbnail {
    /// Wraps `THUMB_W * THUMB_H` row-major luma values; None if the length is wrong.
    pub fn from_pixels(pixels: &[u8]) -> Option<Self> {
        let array: [u8; THUMB_LEN] = pixels.try_into().ok()?;
        Some(Self {
            pixels: Box::new(array),
        })
    }

    /// Box-averages an 8-bit gray buffer (`stride` bytes per row).
    pub fn from_gray(width: usize, height: usize, stride: usize, data: &[u8]) -> Self {
        let mut builder = ThumbnailBuilder::new(width, height);
        for y in builder.rows() {
            if let Some(line) = data.get(y * stride..y * stride + width) {
                builder.add_row(y, line);
            }
        }
        builder.finish()
    }

    /// The luma values, row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels[..]
    }
}

/// Box-averages a picture into a [`Thumbnail`] row by row, so callers can feed rows straight
/// from a decoder's plane (or convert one row at a time) without copying the picture.
///
/// Only every few rows are read (see [`ThumbnailBuilder::rows`]): a 64x36 average of a large
/// frame needs far fewer samples than it has, and this runs on every decoded frame.
#[derive(Debug)]
pub struct ThumbnailBuilder {
    height: usize,
    /// Column ranges [start, end) of the thumbnail's columns.
    cols: Vec<(usize, usize)>,
    sums: [u32; THUMB_LEN],
    counts: [u32; THUMB_LEN],
}

impl ThumbnailBuilder {
    /// A builder for a `width` x `height` picture.
    pub fn new(width: usize, height: usize) -> Self {
        let cols = (0..THUMB_W)
            .map(|c| {
                let start = c * width / THUMB_W;
                // At least one column, so pictures narrower than 64 still fill every cell.
                let end = ((c + 1) * width / THUMB_W).max(start + 1).min(width);
                (start, end)
            })
            .collect();
        Self {
            height,
            cols,
            sums: [0; THUMB_LEN],
            counts: [0; THUMB_LEN],
        }
    }

    /// The rows worth feeding: all of them up to 360 lines, then every n-th so about 180-360
    /// rows are read (e.g. every 6th of 1080).
    pub fn rows(&self) -> std::iter::StepBy<std::ops::Range<usize>> {
        let step = (self.height / 180).max(1);
        (0..self.height).step_by(step)
    }

    /// Adds row `y`: `line` holds its 8-bit luma, `width` values (extra values are ignored).
    pub fn add_row(&mut self, y: usize, line: &[u8]) {
        if y >= self.height {
            return;
        }
        let base = (y * THUMB_H / self.height) * THUMB_W;
        for (c, &(start, end)) in self.cols.iter().enumerate() {
            if let Some(cell) = line.get(start..end) {
                // A plain sum over a contiguous slice: the compiler vectorises it.
                self.sums[base + c] += cell.iter().map(|&v| u32::from(v)).sum::<u32>();
                self.counts[base + c] += cell.len() as u32;
            }
        }
    }

    /// The averaged thumbnail.
    pub fn finish(self) -> Thumbnail {
        let mut pixels = Box::new([0u8; THUMB_LEN]);
        fill_averages(&mut pixels, &self.sums, &self.counts);
        Thumbnail { pixels }
    }
}

/// Turns per-cell sums into averages; a cell that got no sample (a picture smaller than the
/// thumbnail) copies its left or upper neighbour so it does not read as black.
fn fill_averages(out: &mut [u8; THUMB_LEN], sums: &[u32; THUMB_LEN], counts: &[u32; THUMB_LEN]) {
    for i in 0..THUMB_LEN {
        out[i] = if let Some(avg) = (sums[i] + counts[i] / 2).checked_div(counts[i]) {
            avg as u8
        } else if i % THUMB_W > 0 {
            out[i - 1]
        } else if i >= THUMB_W {
            out[i - THUMB_W]
        } else {
            0
        };
    }
}
