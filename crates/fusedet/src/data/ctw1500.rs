//! SCUT-CTW1500 curved text, test-style txt labels: `x1,y1,...,x14,y14,####transcription`
//! (absolute coordinates, any even count of numbers before `,####`; a missing or `###`
//! transcription is don't care).

use std::path::Path;

use super::{DatasetError, TextInstance, pairs, parse_num, read_text};

/// Reads one txt label file.
pub fn read_txt(path: &Path) -> Result<Vec<TextInstance>, DatasetError> {
    let text = read_text(path)?;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let (coords, transcription) = match line.split_once(",####") {
            Some((c, t)) => (c, t),
            None => (line, "###"),
        };
        let mut v = Vec::new();
        for (k, f) in coords.split(',').enumerate() {
            v.push(parse_num(f, path, i + 1, &format!("coordinate {}", k + 1))?);
        }
        if v.len() % 2 != 0 || v.len() < 6 {
            return Err(DatasetError::parse(
                path,
                i + 1,
                format!("{} coordinates: need an even count of at least 6", v.len()),
            ));
        }
        let t = if transcription.is_empty() {
            "###"
        } else {
            transcription
        };
        out.push(TextInstance::new(pairs(&v), t));
    }
    Ok(out)
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
