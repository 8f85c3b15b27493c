//! One results type for every detector family: a text polygon or an object box, a score, and
//! for object detectors a class. The CLI, the JSON writer, the overlays and `eval` work on this
//! type whichever family ran.
//!
//! JSON: a text region is `{"points": [[x, y], ...], "score": s}`; an object is
//! `{"box": [x1, y1, x2, y2], "score": s, "class_id": i, "class": "name"}`.

use serde::{Deserialize, Serialize};

/// Where a detection is, in original image pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Shape {
    /// A polygon, clockwise on screen (quads start top-left).
    #[serde(rename = "points")]
    Polygon(Vec<[f64; 2]>),
    /// An axis-aligned box `[x1, y1, x2, y2]`.
    #[serde(rename = "box")]
    Box([f64; 4]),
}

/// One detection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// The region.
    #[serde(flatten)]
    pub shape: Shape,
    /// Confidence.
    pub score: f64,
    /// Class index of an object detector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_id: Option<usize>,
    /// Class name of an object detector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
}

impl Detection {
    /// A text region.
    pub fn polygon(points: Vec<[f64; 2]>, score: f64) -> Self {
        Self {
            shape: Shape::Polygon(points),
            score,
            class_id: None,
            class: None,
        }
    }

    /// The region as a polygon: the polygon itself, or a box's four corners clockwise from
    /// the top-left.
    pub fn points(&self) -> Vec<[f64; 2]> {
        match &self.shape {
            Shape::Polygon(p) => p.clone(),
            Shape::Box([x1, y1, x2, y2]) => vec![[*x1, *y1], [*x2, *y1], [*x2, *y2], [*x1, *y2]],
        }
    }
}

impl From<crate::postprocess::db::Detection> for Detection {
    fn from(d: crate::postprocess::db::Detection) -> Self {
        Self::polygon(d.points, d.score)
    }
}

/// Detections of one image.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ImageDetections {
    /// Image path (as given).
    pub image: String,
    /// Image width.
    pub width: usize,
    /// Image height.
    pub height: usize,
    /// Problems met while reading the image that did not stop detection.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The detections.
    pub detections: Vec<Detection>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_object_detections_serialise_with_their_own_keys() {
        let t = Detection::polygon(vec![[1.0, 2.0], [3.0, 2.0], [3.0, 4.0]], 0.9);
        let js = serde_json::to_value(&t).unwrap();
        assert_eq!(
            js,
            serde_json::json!({"points": [[1.0, 2.0], [3.0, 2.0], [3.0, 4.0]], "score": 0.9})
        );
        let o = Detection {
            shape: Shape::Box([1.0, 2.0, 5.0, 6.0]),
            score: 0.5,
            class_id: Some(0),
            class: Some("person".into()),
        };
        let js = serde_json::to_value(&o).unwrap();
        assert_eq!(
            js,
            serde_json::json!({"box": [1.0, 2.0, 5.0, 6.0], "score": 0.5, "class_id": 0, "class": "person"})
        );
        for d in [t, o] {
            let back: Detection =
                serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
            assert_eq!(back, d);
        }
    }

    #[test]
    fn a_box_is_four_corners_clockwise_from_top_left() {
        let o = Detection {
            shape: Shape::Box([1.0, 2.0, 5.0, 6.0]),
            score: 0.5,
            class_id: None,
            class: None,
        };
        assert_eq!(
            o.points(),
            vec![[1.0, 2.0], [5.0, 2.0], [5.0, 6.0], [1.0, 6.0]]
        );
    }
}
