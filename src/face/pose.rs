//! Head pose from the detector's six keypoints: how far a face is turned left or right (yaw)
//! and tilted (roll), and whether it is frontal, three-quarter or profile. Enrollment keeps
//! references of each pose so that a profile in the footage is compared with a profile.
//!
//! BlazeFace gives no 3D landmarks, so yaw comes from a rigid head model seen from the front:
//! turning the head by `yaw` moves the nose tip sideways by `depth * sin(yaw)` while the span
//! between two symmetric points shrinks to `width * cos(yaw)`. The nose offset measured in
//! units of that half-span is therefore `k * tan(yaw)`, with `k = depth / half-width`
//! depending only on the head's proportions. Two such ratios are measured after removing the
//! roll, each inverted with `atan`, and averaged:
//!
//! - the nose tip against the eye midpoint, in half inter-ocular distances
//!   ([`K_EYES`]: the nose tip lies about 2 cm in front of the eyes, which are about 3.2 cm
//!   from the midline);
//! - the nose tip against the midpoint of the ear tragions, in half tragion spans
//!   ([`K_EARS`]: the nose tip lies about 10 cm in front of the tragions, which are about
//!   7.3 cm from the midline).
//!
//! The eye cue is precise near frontal, the ear cue keeps working once the far eye is hidden.
//! The classes follow the usual face-recognition pose bins (e.g. Multi-PIE's 15 degree
//! steps): frontal below [`THREE_QUARTER_FROM`] degrees of yaw, profile from
//! [`PROFILE_FROM`] degrees, three-quarter between.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Nose depth in front of the eyes over half the inter-ocular distance (about 2 / 3.2 cm).
pub const K_EYES: f32 = 0.62;
/// Nose depth in front of the tragions over half the tragion span (about 10 / 7.3 cm).
pub const K_EARS: f32 = 1.37;
/// Below this |yaw| (degrees) a face is frontal.
pub const THREE_QUARTER_FROM: f32 = 20.0;
/// From this |yaw| (degrees) a face is a profile.
pub const PROFILE_FROM: f32 = 55.0;
/// Eyes closer than this fraction of the tragion span give no usable eye line (the far eye
/// is hidden): roll then comes from the ears, yaw from the ears alone.
const MIN_EYE_SPAN: f32 = 0.15;

/// A face's estimated head pose, in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    /// Turn left or right, -90..90: positive when the face turns towards the image's right
    /// (its nose points right in the picture), 0 when frontal.
    pub yaw: f32,
    /// In-plane tilt of the eye line, -180..180: positive when the image-right eye is lower.
    pub roll: f32,
}

/// Frontal, three-quarter or profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoseClass {
    /// |yaw| below [`THREE_QUARTER_FROM`].
    Frontal,
    /// |yaw| from [`THREE_QUARTER_FROM`] to below [`PROFILE_FROM`].
    ThreeQuarter,
    /// |yaw| from [`PROFILE_FROM`].
    Profile,
}

impl PoseClass {
    /// Every class, frontal first.
    pub const ALL: [PoseClass; 3] = [Self::Frontal, Self::ThreeQuarter, Self::Profile];

    /// The class of a yaw angle in degrees.
    pub fn of_yaw(yaw: f32) -> Self {
        let a = yaw.abs();
        if a < THREE_QUARTER_FROM {
            Self::Frontal
        } else if a < PROFILE_FROM {
            Self::ThreeQuarter
        } else {
            Self::Profile
        }
    }

    /// The stored name: `frontal`, `three-quarter`, `profile`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Frontal => "frontal",
            Self::ThreeQuarter => "three-quarter",
            Self::Profile => "profile",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for PoseClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A class and the side the face turns to: the bins enrollment fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoseBin {
    /// Frontal (either side).
    Frontal,
    /// Three-quarter, turned towards the image's left.
    ThreeQuarterLeft,
    /// Three-quarter, turned towards the image's right.
    ThreeQuarterRight,
    /// Profile, turned towards the image's left.
    ProfileLeft,
    /// Profile, turned towards the image's right.
    ProfileRight,
}

impl PoseBin {
    /// Every bin.
    pub const ALL: [PoseBin; 5] = [
        Self::Frontal,
        Self::ThreeQuarterLeft,
        Self::ThreeQuarterRight,
        Self::ProfileLeft,
        Self::ProfileRight,
    ];

    /// The bin of a yaw angle in degrees.
    pub fn of_yaw(yaw: f32) -> Self {
        match (PoseClass::of_yaw(yaw), yaw < 0.0) {
            (PoseClass::Frontal, _) => Self::Frontal,
            (PoseClass::ThreeQuarter, true) => Self::ThreeQuarterLeft,
            (PoseClass::ThreeQuarter, false) => Self::ThreeQuarterRight,
            (PoseClass::Profile, true) => Self::ProfileLeft,
            (PoseClass::Profile, false) => Self::ProfileRight,
        }
    }

    /// The class, without the side.
    pub fn class(self) -> PoseClass {
        match self {
            Self::Frontal => PoseClass::Frontal,
            Self::ThreeQuarterLeft | Self::ThreeQuarterRight => PoseClass::ThreeQuarter,
            Self::ProfileLeft | Self::ProfileRight => PoseClass::Profile,
        }
    }
}

impl Pose {
    /// The pose's class.
    pub fn class(&self) -> PoseClass {
        PoseClass::of_yaw(self.yaw)
    }

    /// The pose's bin (class and side).
    pub fn bin(&self) -> PoseBin {
        PoseBin::of_yaw(self.yaw)
    }

    /// Estimates the pose from BlazeFace keypoints (image-left eye, image-right eye, nose tip,
    /// mouth centre, image-left tragion, image-right tragion). None when there are fewer than
    /// six, any is not finite, or the points are degenerate (all on one spot).
    pub fn from_keypoints(kp: &[[f32; 2]]) -> Option<Self> {
        if kp.len() < 6 || kp.iter().flatten().any(|v| !v.is_finite()) {
            return None;
        }
        let (le, re, nose, ear_l, ear_r) = (kp[0], kp[1], kp[2], kp[4], kp[5]);
        let eye_span = dist(le, re);
        let ear_span = dist(ear_l, ear_r);
        if ear_span.max(eye_span) <= f32::EPSILON {
            return None;
        }
        let eyes_usable = eye_span >= MIN_EYE_SPAN * ear_span;
        // The face's horizontal axis: the eye line, or the tragion line once the eyes crowd.
        let (a, b) = if eyes_usable {
            (le, re)
        } else {
            (ear_l, ear_r)
        };
        let roll = (b[1] - a[1]).atan2(b[0] - a[0]);
        let (c, s) = (roll.cos(), roll.sin());
        // Position along that axis.
        let x = |p: [f32; 2]| p[0] * c + p[1] * s;
        let ears = cue(x(nose), x(ear_l), x(ear_r), K_EARS);
        let eyes = eyes_usable
            .then(|| cue(x(nose), x(le), x(re), K_EYES))
            .flatten();
        let yaw = match (eyes, ears) {
            (Some(e), Some(r)) => (e + r) / 2.0,
            (Some(v), None) | (None, Some(v)) => v,
            (None, None) => return None,
        };
        Some(Self {
            yaw: yaw.to_degrees(),
            roll: roll.to_degrees(),
        })
    }
}

/// Yaw in radians from the nose's position against two symmetric points (positions along
/// the face's horizontal axis); None when the points coincide.
fn cue(nose: f32, left: f32, right: f32, k: f32) -> Option<f32> {
    let half = (right - left) / 2.0;
    if half.abs() <= f32::EPSILON {
        return None;
    }
    let t = (nose - (left + right) / 2.0) / half.abs();
    Some((t / k).atan())
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

#[cfg(test)]
mod tests;
