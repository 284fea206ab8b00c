//! One worker thread's models: the face detector and embedder, and the reference matcher.

use super::WorkerError;
use crate::face::detect::{DetectOptions, Face, FaceDetector, Pass};
use crate::face::embed::Embedder;
use crate::face::matching::Matcher;
use crate::face::track::Observation;
use crate::gallery::Reference;
use crate::models::ModelSet;
use crate::references::embed::IpEmbedder;
use crate::references::{IpError, IpMatch, IpMatcher, MatchConfig, RefImage};
use crate::runtime::RuntimeError;
use crate::stages::{self, Stage};
use crate::timecode::FrameIndex;

/// The registered references a scan matches against: every enrolled image, and the
/// reference each belongs to.
#[derive(Debug, Clone, Default)]
pub struct RefSet {
    /// References with their rights records.
    pub refs: Vec<Reference>,
    /// Every usable enrolled image.
    pub images: Vec<RefImage>,
    /// For each of `images`, its index in `refs`.
    pub owner: Vec<usize>,
}

impl RefSet {
    /// Decodes the enrollment data of each reference (read from the gallery in
    /// [`crate::references::REF_FORMAT`]); references without usable data are named in the error
    /// list so the caller can warn (they were enrolled by an older build).
    pub fn new(refs: Vec<Reference>) -> (Self, Vec<String>) {
        let mut images = Vec::new();
        let mut owner = Vec::new();
        let mut unusable = Vec::new();
        for (i, r) in refs.iter().enumerate() {
            let mut ok = 0;
            for bytes in &r.data {
                if let Ok(img) = RefImage::from_bytes(bytes) {
                    images.push(img);
                    owner.push(i);
                    ok += 1;
                }
            }
            if ok == 0 {
                unusable.push(r.name.clone());
            }
        }
        (
            Self {
                refs,
                images,
                owner,
            },
            unusable,
        )
    }

    /// True when there is nothing to match.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }
}

/// One worker's models.
pub struct Worker {
    detector: FaceDetector,
    embedder: Embedder,
    pub(super) ip: Option<IpMatcher>,
    /// The shot of the last sample analysed and the faces found on it (with their passes),
    /// followed on the shot's next sample when that one does not look on the whole grid.
    followed: Option<(usize, Vec<(Face, Pass)>)>,
    /// `scan --unknown`: keep a small crop of every face that matches nobody.
    pub(super) unknown_crops: bool,
    /// The last reference search of the shot being analysed.
    refs_seen: super::refgate::RefMemory,
}

/// A reference verified on one frame, with evidence when asked for.
#[derive(Debug, Clone)]
pub struct RefHit {
    /// Index into [`RefSet::refs`].
    pub reference: usize,
    /// The best verified match among the reference's images.
    pub found: IpMatch,
    /// Frame with the box drawn, the region, for reports.
    pub evidence: Option<Box<crate::evidence::Evidence>>,
}

impl Worker {
    /// Loads the active models; the reference matcher (with the manifest's image embedder,
    /// if any) only when `ip` is given.
    pub fn load(
        models: &ModelSet,
        opts: &DetectOptions,
        ip: Option<&MatchConfig>,
    ) -> Result<Self, WorkerError> {
        let ip = match (ip, &models.ip_embedder) {
            (None, _) => None,
            (Some(c), Some(m)) => Some(IpMatcher::with_embedder(
                c.clone(),
                IpEmbedder::load(m, models.ip_map.as_ref(), 1)?,
            )),
            (Some(c), None) => Some(IpMatcher::new(c.clone())),
        };
        Ok(Self {
            detector: FaceDetector::load(
                &models.detector_full,
                models.detector_short.as_ref(),
                *opts,
                1,
            )?
            .with_cascade(models.cascade.as_ref(), 1)?,
            embedder: Embedder::load(&models.embedder, 1)?,
            ip,
            followed: None,
            unknown_crops: false,
            refs_seen: Default::default(),
        })
    }

    /// The reference matcher, when loaded.
    pub fn ip_matcher(&mut self) -> Option<&mut IpMatcher> {
        self.ip.as_mut()
    }

    /// References in one sample of a shot, at most one hit per reference (its image with
    /// the most inliers), with evidence images. Searched on the whole frame when `gate` is
    /// None, on the shot's first check, or when the picture shows something the shot's last
    /// search did not (on the shot's `last` sample, a smaller reveal too: see `RefGate`);
    /// otherwise what that search found is re-verified where it is. Instead of a search, a
    /// shot `like` an earlier one of this worker (on its first sample: see the pacer's
    /// `Setups`) follows that shot's searched picture that shows what this one does, if
    /// any. The flag says whether it searched.
    pub fn check_refs(
        &mut self,
        sample: &crate::media::SampledFrame,
        (last, like): (bool, Option<usize>),
        refs: &RefSet,
        gate: Option<&super::refgate::RefGate>,
    ) -> Result<(Vec<RefHit>, bool), IpError> {
        let Some(m) = self.ip.as_mut() else {
            return Ok((Vec::new(), false));
        };
        if refs.is_empty() {
            return Ok((Vec::new(), false));
        }
        let img = &sample.image;
        let (step, thumb) = stages::time(Stage::RefGate, || {
            self.refs_seen.step(sample.shot, (last, like), img, gate)
        });
        let (found, searched) = match step {
            super::refgate::RefStep::Search => {
                let found = m.match_frame(img, &refs.images)?;
                let proposals = m.last_proposals();
                self.refs_seen
                    .searched(sample.shot, img.dimensions(), thumb, &found, proposals);
                (found, true)
            }
            super::refgate::RefStep::Follow(previous, proposals) => {
                let found = m.follow(img, &refs.images, &previous, &proposals)?;
                self.refs_seen.followed(&found);
                (found, false)
            }
        };
        Ok((hits(img, refs, found), searched))
    }

    /// Faces in one picture (the upright detection pass), each with its embedding and
    /// gallery ranking; the aligned chip when `keep_chip`. Evidence images are the scan's
    /// business (`scan::held`).
    pub fn analyse(
        &mut self,
        frame: FrameIndex,
        img: &image::RgbImage,
        matcher: &Matcher,
        keep_chip: bool,
    ) -> Result<Vec<Observation>, RuntimeError> {
        self.analyse_with(frame, img, matcher, keep_chip, &[])
    }

    /// As [`Worker::analyse`], with the `extra` detection passes (hard faces).
    pub fn analyse_with(
        &mut self,
        frame: FrameIndex,
        img: &image::RgbImage,
        matcher: &Matcher,
        keep_chip: bool,
        extra: &[Pass],
    ) -> Result<Vec<Observation>, RuntimeError> {
        let faces = self.detector.detect_with(img, extra)?;
        self.describe(frame, img, faces, matcher, keep_chip)
    }

    /// The earlier shot whose searched pictures `shot`'s reference checks followed, if any
    /// (see [`Worker::check_refs`]).
    pub fn refs_followed_from(&self, shot: usize) -> Option<usize> {
        self.refs_seen.followed_from(shot)
    }

    /// A new file: no face is followed into its first shot.
    pub fn forget_shot(&mut self) {
        self.followed = None;
        self.refs_seen = Default::default();
    }

    /// Faces in one sample of a video, as [`Worker::analyse_with`]: on the whole tile grid
    /// with the `extra` passes when `grid` (or the shot is new to this worker), plus a close
    /// look at each face of the shot's previous sample those passes did not find again; else
    /// only the whole frame and a close look around each face of the previous sample.
    pub fn analyse_sample(
        &mut self,
        sample: &crate::media::SampledFrame,
        grid: bool,
        matcher: &Matcher,
        extra: &[Pass],
    ) -> Result<Vec<Observation>, RuntimeError> {
        let img = &sample.image;
        let found = match self.followed.take() {
            Some((shot, prev)) if shot == sample.shot && !grid => {
                self.detector
                    .follow(img, &prev, extra.contains(&Pass::Dim))?
            }
            Some((shot, prev)) if shot == sample.shot => {
                self.detector.detect_passes_after(img, extra, &prev)?
            }
            _ => self.detector.detect_passes(img, extra)?,
        };
        self.followed = Some((sample.shot, found.clone()));
        let faces = found.into_iter().map(|(f, _)| f).collect();
        self.describe(sample.index, img, faces, matcher, false)
    }

    /// Embeddings and gallery rankings for the faces found in `img`.
    fn describe(
        &mut self,
        frame: FrameIndex,
        img: &image::RgbImage,
        faces: Vec<Face>,
        matcher: &Matcher,
        keep_chip: bool,
    ) -> Result<Vec<Observation>, RuntimeError> {
        let chips = stages::time(Stage::Align, || self.embedder.chips(img, &faces));
        let ok: Vec<&image::RgbImage> = chips.iter().flatten().collect();
        let mut embs = if ok.is_empty() {
            Vec::new()
        } else {
            stages::time(Stage::Embed, || self.embedder.embed_views(&ok))?
        }
        .into_iter();
        Ok(faces
            .into_iter()
            .zip(chips)
            .map(|(face, chip)| {
                let (embedding, dim) = match chip {
                    Some(_) => embs.next().map_or((None, false), |(e, d)| (Some(e), d)),
                    None => (None, false),
                };
                let ranking = embedding
                    .as_ref()
                    .map(|e| matcher.rank(e))
                    .unwrap_or_default();
                // A face nobody matches, not even as a possible match: the crop an unknown
                // person's appearance may be shown with.
                let unmatched = embedding.is_some()
                    && ranking
                        .first()
                        .is_none_or(|c| c.distance > matcher.review_limit());
                let crop = (self.unknown_crops && unmatched).then(|| {
                    stages::time(Stage::Evidence, || {
                        crate::evidence::face_crop(img, [face.x, face.y, face.w, face.h])
                    })
                });
                Observation {
                    frame,
                    face,
                    embedding,
                    ranking,
                    chip: if keep_chip { chip } else { None },
                    crop,
                    dim,
                }
            })
            .collect())
    }
}

/// The best match per reference (of its images, the one with the most inliers), with
/// evidence images.
fn hits(img: &image::RgbImage, refs: &RefSet, found: Vec<IpMatch>) -> Vec<RefHit> {
    let mut best: Vec<Option<IpMatch>> = vec![None; refs.refs.len()];
    for found in found {
        let r = refs.owner[found.reference];
        if best[r].as_ref().is_none_or(|b| found.inliers > b.inliers) {
            best[r] = Some(found);
        }
    }
    best.into_iter()
        .enumerate()
        .filter_map(|(reference, f)| f.map(|f| (reference, f)))
        .map(|(reference, found)| {
            let b = found.bbox;
            let evidence = Box::new(crate::evidence::capture(
                img,
                [b[0], b[1], b[2] - b[0], b[3] - b[1]],
            ));
            RefHit {
                reference,
                found,
                evidence: Some(evidence),
            }
        })
        .collect()
}
