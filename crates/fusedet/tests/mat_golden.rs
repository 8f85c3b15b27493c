//! MAT-file reading against files written by scipy.io.savemat (`tools/make_mat_fixtures.py`).
use std::path::PathBuf;

use fusedet::data::mat::{MatValue, read};
use fusedet::data::totaltext::read_mat;
use serde::Deserialize;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mat")
}

#[derive(Deserialize)]
struct Expected {
    points: Vec<[f64; 2]>,
    text: String,
}

#[test]
fn total_text_polygt_reads_compressed_and_plain() {
    let expected: Vec<Expected> =
        serde_json::from_str(&std::fs::read_to_string(dir().join("expected.json")).unwrap())
            .unwrap();
    for f in ["poly_gt_img11.mat", "poly_gt_img12.mat"] {
        let got = read_mat(&dir().join(f)).unwrap();
        assert_eq!(got.len(), expected.len(), "{f}");
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(g.points, e.points, "{f}");
            assert_eq!(g.text, e.text, "{f}");
            assert_eq!(g.ignore, e.text == "###", "{f}");
        }
    }
}

#[test]
fn numeric_classes_and_strings() {
    let vars = read(&dir().join("numeric.mat")).unwrap();
    let get = |n: &str| {
        vars.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(
        get("i8"),
        MatValue::Num {
            dims: vec![1, 2],
            data: vec![-3.0, 4.0]
        }
    );
    // column-major: [[1, 2], [3, 65535]] → 1, 3, 2, 65535
    assert_eq!(
        get("u16"),
        MatValue::Num {
            dims: vec![2, 2],
            data: vec![1.0, 3.0, 2.0, 65535.0]
        }
    );
    assert_eq!(
        get("f32"),
        MatValue::Num {
            dims: vec![1, 3],
            data: vec![0.5, -1.25, 3.0]
        }
    );
    assert_eq!(
        get("i64"),
        MatValue::Num {
            dims: vec![1, 1],
            data: vec![2f64.powi(40)]
        }
    );
    assert_eq!(get("word"), MatValue::Char("hello".into()));
}

#[test]
fn a_text_file_is_refused_with_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("poly_gt_img1.mat");
    std::fs::write(&p, "x: [[1 2 3]]").unwrap();
    let e = read_mat(&p).unwrap_err().to_string();
    assert!(e.contains("poly_gt_img1.mat") && e.contains("MAT"), "{e}");
}

#[derive(Deserialize)]
struct SynthExpected {
    images: Vec<String>,
    words: Vec<Vec<String>>,
    quads: Vec<Vec<Vec<[f64; 2]>>>,
}

#[test]
fn synthtext_gt_mat_gives_words_and_quads_per_image() {
    let e: SynthExpected = serde_json::from_str(
        &std::fs::read_to_string(dir().join("synthtext_expected.json")).unwrap(),
    )
    .unwrap();
    let samples = fusedet::data::synthtext::read(&dir().join("gt.mat"), "/data".as_ref()).unwrap();
    assert_eq!(samples.len(), 2);
    for (i, s) in samples.iter().enumerate() {
        assert_eq!(s.image, PathBuf::from("/data").join(&e.images[i]));
        let words: Vec<&str> = s.instances.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(words, e.words[i]);
        let quads: Vec<Vec<[f64; 2]>> = s.instances.iter().map(|t| t.points.clone()).collect();
        assert_eq!(quads, e.quads[i]);
    }
}
