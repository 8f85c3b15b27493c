//! SCUT-CTW1500 curved text, test-style txt labels: `x1,y1,...,x14,y14,####transcription`
//! (absolute coordinates, any even count of numbers before `,####`; a missing or `###`
//! transcription is don't care).

use std::path::Path;

use super::{
    DatasetError, Parsed, TextInstance, first_error, label_lines, pairs, parse_num, read_text,
};

/// Reads one txt label file.
pub fn read_txt(path: &Path) -> Result<Vec<TextInstance>, DatasetError> {
    first_error(parse_txt(path)?)
}

/// Every line of a txt label file, each parsed on its own.
pub(crate) fn parse_txt(path: &Path) -> Result<Vec<Parsed<TextInstance>>, DatasetError> {
    let text = read_text(path)?;
    Ok(label_lines(&text)
        .map(|(n, line)| (n, parse_line(line, path, n)))
        .collect())
}

fn parse_line(line: &str, path: &Path, n: usize) -> Result<TextInstance, DatasetError> {
    let (coords, transcription) = match line.split_once(",####") {
        Some((c, t)) => (c, t),
        None => (line, "###"),
    };
    let mut v = Vec::new();
    for (k, f) in coords.split(',').enumerate() {
        v.push(parse_num(f, path, n, &format!("coordinate {}", k + 1))?);
    }
    if v.len() % 2 != 0 || v.len() < 6 {
        return Err(DatasetError::parse(
            path,
            n,
            format!("{} coordinates: need an even count of at least 6", v.len()),
        ));
    }
    let t = if transcription.is_empty() {
        "###"
    } else {
        transcription
    };
    Ok(TextInstance::new(pairs(&v), t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourteen_points_and_transcription() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("1001.txt");
        let coords: Vec<String> = (0..28).map(|k| k.to_string()).collect();
        std::fs::write(
            &p,
            format!(
                "{},####HELLO, WORLD\n{}\n",
                coords.join(","),
                coords.join(",")
            ),
        )
        .unwrap();
        let g = read_txt(&p).unwrap();
        assert_eq!(g[0].points.len(), 14);
        assert_eq!(g[0].text, "HELLO, WORLD");
        assert!(g[1].ignore);
        std::fs::write(&p, "1,2,3,4,5\n").unwrap();
        assert!(read_txt(&p).unwrap_err().to_string().contains("1001.txt:1"));
    }
}

/// Reads a training-style XML label file:
/// `<Annotations><image file=".."><box ...><label>text</label><segs>x1,y1,...,x14,y14</segs>`.
/// Returns the instances of every `<image>` element, keyed by its `file` attribute.
pub fn read_xml(path: &Path) -> Result<Vec<(String, Vec<TextInstance>)>, DatasetError> {
    let text = read_text(path)?;
    let doc = roxmltree::Document::parse(&text)
        .map_err(|e| DatasetError::parse(path, e.pos().row as usize, format!("XML: {e}")))?;
    let line_of = |n: roxmltree::Node| doc.text_pos_at(n.range().start).row as usize;
    let mut out = Vec::new();
    for image in doc.descendants().filter(|n| n.has_tag_name("image")) {
        let file = image.attribute("file").unwrap_or_default().to_string();
        let mut instances = Vec::new();
        for b in image.children().filter(|n| n.has_tag_name("box")) {
            let segs = b
                .children()
                .find(|n| n.has_tag_name("segs"))
                .and_then(|n| n.text())
                .ok_or_else(|| DatasetError::parse(path, line_of(b), "<box> without <segs>"))?;
            let mut v = Vec::new();
            for (k, f) in segs.split(',').enumerate() {
                v.push(parse_num(
                    f,
                    path,
                    line_of(b),
                    &format!("segs value {}", k + 1),
                )?);
            }
            if v.len() % 2 != 0 || v.len() < 6 {
                return Err(DatasetError::parse(
                    path,
                    line_of(b),
                    format!(
                        "<segs> has {} values: need an even count of at least 6",
                        v.len()
                    ),
                ));
            }
            let label = b
                .children()
                .find(|n| n.has_tag_name("label"))
                .and_then(|n| n.text())
                .unwrap_or("###");
            instances.push(TextInstance::new(pairs(&v), label));
        }
        out.push((file, instances));
    }
    Ok(out)
}

#[cfg(test)]
mod xml_tests {
    use super::*;

    #[test]
    fn training_xml_is_read_and_bad_segs_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("0001.xml");
        let segs: Vec<String> = (0..28).map(|k| (k * 3).to_string()).collect();
        std::fs::write(
            &p,
            format!(
                "<Annotations>\n<image file=\"0001.jpg\">\n<box height=\"1\" left=\"2\" top=\"3\" width=\"4\">\n<label>ABC</label>\n<segs>{}</segs>\n</box>\n</image>\n</Annotations>\n",
                segs.join(",")
            ),
        )
        .unwrap();
        let r = read_xml(&p).unwrap();
        assert_eq!(r[0].0, "0001.jpg");
        assert_eq!(r[0].1[0].points.len(), 14);
        assert_eq!(r[0].1[0].text, "ABC");
        std::fs::write(
            &p,
            "<Annotations>\n<image file=\"a.jpg\">\n<box>\n<segs>1,2,x</segs>\n</box>\n</image>\n</Annotations>\n",
        )
        .unwrap();
        let e = read_xml(&p).unwrap_err().to_string();
        assert!(
            e.contains("0001.xml:3") && e.contains("segs value 3"),
            "{e}"
        );
        std::fs::write(&p, "<Annotations><image></Annotations>").unwrap();
        assert!(read_xml(&p).unwrap_err().to_string().contains("XML"));
    }
}
