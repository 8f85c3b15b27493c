//! Object-detection annotations: COCO json, YOLO txt (with the class names of a dataset
//! yaml), as one [`ObjectDataset`] type.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{DatasetError, list_images, parse_num, read_text, write_atomic};

/// One labelled box, in pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectBox {
    /// Index into [`ObjectDataset::names`].
    pub class: usize,
    /// `[x_min, y_min, x_max, y_max]`.
    pub bbox: [f64; 4],
    /// COCO `iscrowd` (ignored by COCO's AP).
    pub crowd: bool,
}

/// One image and its boxes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectSample {
    /// The image file.
    pub image: PathBuf,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Its boxes.
    pub boxes: Vec<ObjectBox>,
}

/// A dataset with its class names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectDataset {
    /// Class names, by class index.
    pub names: Vec<String>,
    /// The images.
    pub samples: Vec<ObjectSample>,
}

#[derive(Deserialize)]
struct CocoJson {
    images: Vec<CocoImage>,
    #[serde(default)]
    annotations: Vec<CocoAnn>,
    categories: Vec<CocoCat>,
}
#[derive(Deserialize)]
struct CocoImage {
    id: u64,
    file_name: String,
    width: u32,
    height: u32,
}
#[derive(Deserialize)]
struct CocoAnn {
    image_id: u64,
    category_id: u64,
    bbox: [f64; 4],
    #[serde(default)]
    iscrowd: u8,
}
#[derive(Deserialize)]
struct CocoCat {
    id: u64,
    name: String,
}

/// Reads a COCO instances json; classes are the categories in id order (COCO's 80 classes
/// become 0..79 as in YOLO), image paths are `images/<file_name>`.
pub fn read_coco(path: &Path, images: &Path) -> Result<ObjectDataset, DatasetError> {
    let text = read_text(path)?;
    let j: CocoJson = serde_json::from_str(&text)
        .map_err(|e| DatasetError::parse(path, e.line(), format!("COCO json: {e}")))?;
    let mut cats: Vec<&CocoCat> = j.categories.iter().collect();
    cats.sort_by_key(|c| c.id);
    let class_of: HashMap<u64, usize> = cats.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let mut by_image: HashMap<u64, usize> = HashMap::new();
    let mut samples: Vec<ObjectSample> = Vec::with_capacity(j.images.len());
    for im in &j.images {
        by_image.insert(im.id, samples.len());
        samples.push(ObjectSample {
            image: images.join(&im.file_name),
            width: im.width,
            height: im.height,
            boxes: Vec::new(),
        });
    }
    for (k, a) in j.annotations.iter().enumerate() {
        let (Some(&si), Some(&class)) = (by_image.get(&a.image_id), class_of.get(&a.category_id))
        else {
            return Err(DatasetError::Layout {
                path: path.to_path_buf(),
                reason: format!(
                    "annotation {k}: unknown image_id {} or category_id {}",
                    a.image_id, a.category_id
                ),
            });
        };
        let [x, y, w, h] = a.bbox;
        samples[si].boxes.push(ObjectBox {
            class,
            bbox: [x, y, x + w, y + h],
            crowd: a.iscrowd != 0,
        });
    }
    Ok(ObjectDataset {
        names: cats.iter().map(|c| c.name.clone()).collect(),
        samples,
    })
}

/// Reads the class names of a YOLO dataset yaml: `names:` as a `N: name` map or a list (block
/// or flow style, quoted or not), parsed by a YAML 1.2 parser (`yaml-rust2`).
pub fn read_yolo_names(path: &Path) -> Result<Vec<String>, DatasetError> {
    use yaml_rust2::{Yaml, YamlLoader};
    let text = read_text(path)?;
    let docs = YamlLoader::load_from_str(&text).map_err(|e| {
        DatasetError::parse(
            path,
            e.marker().line(),
            format!("not valid YAML: {}", e.info()),
        )
    })?;
    let layout = |reason: String| DatasetError::Layout {
        path: path.to_path_buf(),
        reason,
    };
    let names = docs.first().map(|d| &d["names"]).unwrap_or(&Yaml::BadValue);
    let as_name = |v: &Yaml| match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    };
    let out: Vec<String> = match names {
        Yaml::Array(items) => items
            .iter()
            .enumerate()
            .map(|(k, v)| as_name(v).ok_or_else(|| layout(format!("names[{k}] is not a name"))))
            .collect::<Result<_, _>>()?,
        Yaml::Hash(map) => {
            let mut pairs = Vec::with_capacity(map.len());
            for (k, v) in map {
                let idx = k
                    .as_i64()
                    .filter(|&i| i >= 0)
                    .ok_or_else(|| layout(format!("names: key {k:?} is not a class index")))?;
                let name =
                    as_name(v).ok_or_else(|| layout(format!("names[{idx}] is not a name")))?;
                pairs.push((idx as usize, name));
            }
            pairs.sort_by_key(|p| p.0);
            if pairs.iter().enumerate().any(|(i, p)| p.0 != i) {
                return Err(layout(
                    "names: class indices must run 0, 1, 2, ... without gaps".into(),
                ));
            }
            pairs.into_iter().map(|p| p.1).collect()
        }
        _ => Vec::new(),
    };
    if out.is_empty() {
        return Err(layout("no `names:` found".into()));
    }
    Ok(out)
}

/// Reads YOLO labels: for each image in `images`, `labels/<stem>.txt` with lines
/// `class cx cy w h` normalised to [0, 1] (no file: no objects).
pub fn read_yolo(
    images: &Path,
    labels: &Path,
    names: Vec<String>,
) -> Result<ObjectDataset, DatasetError> {
    let mut samples = Vec::new();
    for image in list_images(images)? {
        let (width, height) =
            image::image_dimensions(&image).map_err(|e| DatasetError::Layout {
                path: image.clone(),
                reason: format!("cannot read the image size: {e}"),
            })?;
        let stem = image
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let label = labels.join(format!("{stem}.txt"));
        let mut boxes = Vec::new();
        if label.is_file() {
            for (i, raw) in read_text(&label)?.lines().enumerate() {
                let f: Vec<&str> = raw.split_whitespace().collect();
                if f.is_empty() {
                    continue;
                }
                if f.len() != 5 {
                    return Err(DatasetError::parse(
                        &label,
                        i + 1,
                        format!("expected `class cx cy w h`, found {} fields", f.len()),
                    ));
                }
                let class = parse_num(f[0], &label, i + 1, "class")?;
                if class < 0.0 || class.fract() != 0.0 || class as usize >= names.len() {
                    return Err(DatasetError::parse(
                        &label,
                        i + 1,
                        format!("class `{}` is not one of the {} classes", f[0], names.len()),
                    ));
                }
                let v: Vec<f64> = ["cx", "cy", "w", "h"]
                    .iter()
                    .zip(&f[1..])
                    .map(|(what, s)| parse_num(s, &label, i + 1, what))
                    .collect::<Result<_, _>>()?;
                let (w, h) = (width as f64, height as f64);
                boxes.push(ObjectBox {
                    class: class as usize,
                    bbox: [
                        (v[0] - v[2] / 2.0) * w,
                        (v[1] - v[3] / 2.0) * h,
                        (v[0] + v[2] / 2.0) * w,
                        (v[1] + v[3] / 2.0) * h,
                    ],
                    crowd: false,
                });
            }
        }
        samples.push(ObjectSample {
            image,
            width,
            height,
            boxes,
        });
    }
    Ok(ObjectDataset { names, samples })
}

/// Writes YOLO label files (`labels/<stem>.txt`, 6 decimals), skipping crowd boxes.
pub fn write_yolo(ds: &ObjectDataset, labels: &Path) -> Result<(), DatasetError> {
    for s in &ds.samples {
        let stem = s
            .image
            .file_stem()
            .and_then(|x| x.to_str())
            .unwrap_or("image");
        let (w, h) = (s.width as f64, s.height as f64);
        let mut text = String::new();
        for b in s.boxes.iter().filter(|b| !b.crowd) {
            let [x0, y0, x1, y1] = b.bbox;
            text.push_str(&format!(
                "{} {:.6} {:.6} {:.6} {:.6}\n",
                b.class,
                (x0 + x1) / 2.0 / w,
                (y0 + y1) / 2.0 / h,
                (x1 - x0) / w,
                (y1 - y0) / h
            ));
        }
        write_atomic(&labels.join(format!("{stem}.txt")), text.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coco_and_yolo_of_the_same_boxes_agree() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("images");
        std::fs::create_dir_all(&images).unwrap();
        image::RgbImage::new(200, 100)
            .save(images.join("a.jpg"))
            .unwrap();
        let json = dir.path().join("instances.json");
        std::fs::write(
            &json,
            r#"{"images": [{"id": 7, "file_name": "a.jpg", "width": 200, "height": 100}],
                "annotations": [{"image_id": 7, "category_id": 3, "bbox": [10, 20, 50, 40], "iscrowd": 0}],
                "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}]}"#,
        )
        .unwrap();
        let coco = read_coco(&json, &images).unwrap();
        assert_eq!(coco.names, vec!["person", "car"]);
        assert_eq!(coco.samples[0].boxes[0].bbox, [10.0, 20.0, 60.0, 60.0]);
        let labels = dir.path().join("labels");
        write_yolo(&coco, &labels).unwrap();
        let yaml = dir.path().join("d.yaml");
        std::fs::write(&yaml, "path: .\nnames:\n  0: person\n  1: car\n").unwrap();
        let yolo = read_yolo(&images, &labels, read_yolo_names(&yaml).unwrap()).unwrap();
        let b = &yolo.samples[0].boxes[0];
        assert_eq!(b.class, 1);
        for k in 0..4 {
            assert!((b.bbox[k] - coco.samples[0].boxes[0].bbox[k]).abs() < 1e-3);
        }
    }

    #[test]
    fn yolo_dataset_yaml_in_every_valid_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = dir.path().join("d.yaml");
        let want = vec!["person".to_string(), "traffic light".into(), "a: b".into()];
        for text in [
            // A list at column 0 (valid YAML; ultralytics writes this), quoted names.
            "path: ../data\nnames:\n- person\n- 'traffic light'\n- \"a: b\"\n",
            "names:\n  0: person\n  1: traffic light # comment\n  2: 'a: b'\nnc: 3\n",
            "names: [person, \"traffic light\", 'a: b']\n",
            "names: {2: 'a: b', 0: person, 1: traffic light}\n",
        ] {
            std::fs::write(&yaml, text).unwrap();
            assert_eq!(read_yolo_names(&yaml).unwrap(), want, "{text}");
        }
        for (text, what) in [
            ("names:\n  0: a\n  2: b\n", "without gaps"),
            ("nc: 2\n", "no `names:`"),
            ("names: [a, b\n", "not valid YAML"),
        ] {
            std::fs::write(&yaml, text).unwrap();
            let e = read_yolo_names(&yaml).unwrap_err().to_string();
            assert!(e.contains("d.yaml") && e.contains(what), "{text}: {e}");
        }
    }

    #[test]
    fn bad_yolo_lines_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("images");
        std::fs::create_dir_all(&images).unwrap();
        image::RgbImage::new(20, 10)
            .save(images.join("b.png"))
            .unwrap();
        let labels = dir.path().join("labels");
        std::fs::create_dir_all(&labels).unwrap();
        std::fs::write(
            labels.join("b.txt"),
            "0 0.5 0.5 0.1 0.1\n3 0.5 0.5 0.1 0.1\n",
        )
        .unwrap();
        let e = read_yolo(&images, &labels, vec!["a".into(), "b".into()]).unwrap_err();
        assert!(e.to_string().contains("b.txt:2"), "{e}");
        std::fs::write(labels.join("b.txt"), "0 0.5 0.5 0.1\n").unwrap();
        let e = read_yolo(&images, &labels, vec!["a".into()]).unwrap_err();
        assert!(e.to_string().contains("b.txt:1") && e.to_string().contains("4 fields"));
    }
}

/// Reads Pascal VOC xml annotations (`annotations/<stem>.xml` for each image in `images`);
/// classes are `names` when given, else the sorted set of names found. `difficult` objects
/// are kept with `crowd = true` (ignored by the metric, as VOC's evaluation does).
pub fn read_voc(
    images: &Path,
    annotations: &Path,
    names: Option<Vec<String>>,
) -> Result<ObjectDataset, DatasetError> {
    struct Raw {
        name: String,
        bbox: [f64; 4],
        difficult: bool,
    }
    let mut raw: Vec<(PathBuf, u32, u32, Vec<Raw>)> = Vec::new();
    for image in list_images(images)? {
        let stem = image
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let path = annotations.join(format!("{stem}.xml"));
        let text = read_text(&path)?;
        let doc = roxmltree::Document::parse(&text)
            .map_err(|e| DatasetError::parse(&path, e.pos().row as usize, format!("XML: {e}")))?;
        let line_of = |n: roxmltree::Node| doc.text_pos_at(n.range().start).row as usize;
        fn child_text<'a>(n: roxmltree::Node<'a, 'a>, tag: &str) -> Option<&'a str> {
            n.descendants()
                .find(|c| c.has_tag_name(tag))
                .and_then(|c| c.text())
                .map(str::trim)
        }
        let root = doc.root_element();
        let size = |tag: &str| -> Result<u32, DatasetError> {
            let v = child_text(root, tag).ok_or_else(|| {
                DatasetError::parse(&path, line_of(root), format!("<size> has no <{tag}>"))
            })?;
            Ok(parse_num(v, &path, line_of(root), tag)? as u32)
        };
        let (width, height) = (size("width")?, size("height")?);
        let mut objs = Vec::new();
        for o in root.children().filter(|n| n.has_tag_name("object")) {
            let l = line_of(o);
            let name = child_text(o, "name")
                .ok_or_else(|| DatasetError::parse(&path, l, "<object> without <name>"))?;
            let mut bbox = [0f64; 4];
            for (k, tag) in ["xmin", "ymin", "xmax", "ymax"].iter().enumerate() {
                let v = child_text(o, tag).ok_or_else(|| {
                    DatasetError::parse(&path, l, format!("<bndbox> without <{tag}>"))
                })?;
                bbox[k] = parse_num(v, &path, l, tag)?;
            }
            let difficult = child_text(o, "difficult").is_some_and(|d| d == "1");
            objs.push(Raw {
                name: name.to_string(),
                bbox,
                difficult,
            });
        }
        raw.push((image, width, height, objs));
    }
    let names = names.unwrap_or_else(|| {
        let mut n: Vec<String> = raw
            .iter()
            .flat_map(|r| r.3.iter().map(|o| o.name.clone()))
            .collect();
        n.sort();
        n.dedup();
        n
    });
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut samples = Vec::new();
    for (image, width, height, objs) in raw {
        let mut boxes = Vec::new();
        for o in objs {
            let class = *index
                .get(o.name.as_str())
                .ok_or_else(|| DatasetError::Layout {
                    path: image.clone(),
                    reason: format!("class `{}` is not in the class list", o.name),
                })?;
            boxes.push(ObjectBox {
                class,
                bbox: o.bbox,
                crowd: o.difficult,
            });
        }
        samples.push(ObjectSample {
            image,
            width,
            height,
            boxes,
        });
    }
    Ok(ObjectDataset { names, samples })
}

#[cfg(test)]
mod voc_tests {
    use super::*;

    #[test]
    fn voc_objects_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (images, ann) = (
            dir.path().join("JPEGImages"),
            dir.path().join("Annotations"),
        );
        std::fs::create_dir_all(&images).unwrap();
        std::fs::create_dir_all(&ann).unwrap();
        image::RgbImage::new(30, 20)
            .save(images.join("000001.jpg"))
            .unwrap();
        std::fs::write(
            ann.join("000001.xml"),
            "<annotation>\n<filename>000001.jpg</filename>\n<size><width>30</width><height>20</height><depth>3</depth></size>\n\
             <object><name>dog</name><difficult>0</difficult><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>10</xmax><ymax>12</ymax></bndbox></object>\n\
             <object><name>cat</name><difficult>1</difficult><bndbox><xmin>3</xmin><ymin>4</ymin><xmax>5</xmax><ymax>6</ymax></bndbox></object>\n</annotation>\n",
        )
        .unwrap();
        let ds = read_voc(&images, &ann, None).unwrap();
        assert_eq!(ds.names, vec!["cat", "dog"]);
        assert_eq!(ds.samples[0].boxes[0].class, 1);
        assert_eq!(ds.samples[0].boxes[0].bbox, [1.0, 2.0, 10.0, 12.0]);
        assert!(ds.samples[0].boxes[1].crowd);
        std::fs::write(
            ann.join("000001.xml"),
            "<annotation>\n<size><width>30</width><height>20</height></size>\n<object><name>dog</name>\n<bndbox><xmin>1</xmin></bndbox></object>\n</annotation>\n",
        )
        .unwrap();
        let e = read_voc(&images, &ann, None).unwrap_err().to_string();
        assert!(e.contains("000001.xml:3") && e.contains("ymin"), "{e}");
    }
}

/// Writes a COCO instances json (category ids 1..=N in class order, image ids 1..).
pub fn write_coco(ds: &ObjectDataset, path: &Path, images_root: &Path) -> Result<(), DatasetError> {
    use serde_json::json;
    let mut images = Vec::new();
    let mut annotations = Vec::new();
    for (i, s) in ds.samples.iter().enumerate() {
        let file = s
            .image
            .strip_prefix(images_root)
            .unwrap_or(&s.image)
            .to_string_lossy()
            .replace('\\', "/");
        images.push(json!({"id": i + 1, "file_name": file, "width": s.width, "height": s.height}));
        for b in &s.boxes {
            let [x0, y0, x1, y1] = b.bbox;
            annotations.push(json!({
                "id": annotations.len() + 1, "image_id": i + 1, "category_id": b.class + 1,
                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0),
                "iscrowd": b.crowd as u8,
            }));
        }
    }
    let categories: Vec<_> = ds
        .names
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"id": i + 1, "name": n}))
        .collect();
    let doc = json!({"images": images, "annotations": annotations, "categories": categories});
    write_atomic(path, serde_json::to_string(&doc).expect("json").as_bytes())
}
