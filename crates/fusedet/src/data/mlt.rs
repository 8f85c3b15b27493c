//! ICDAR 2017 MLT: `gt_img_N.txt` lines `x1,y1,x2,y2,x3,y3,x4,y4,script,transcription`
//! (script e.g. `Latin`, `Arabic`, `None`; `###` = don't care).

use std::path::Path;

use super::{DatasetError, TextInstance, pairs, parse_num, read_text};

/// One text region with its script.
#[derive(Clone, Debug, PartialEq)]
pub struct MltInstance {
    /// The region.
    pub instance: TextInstance,
    /// The script column.
    pub script: String,
}

/// Reads one MLT ground-truth file.
pub fn read_gt(path: &Path) -> Result<Vec<MltInstance>, DatasetError> {
    let text = read_text(path)?;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.splitn(10, ',').collect();
        if f.len() < 10 {
            return Err(DatasetError::parse(
                path,
                i + 1,
                format!(
                    "expected x1,y1,...,x4,y4,script,transcription, found {} fields",
                    f.len()
                ),
            ));
        }
        let mut c = Vec::with_capacity(8);
        for (k, v) in f[..8].iter().enumerate() {
            c.push(parse_num(v, path, i + 1, &format!("coordinate {}", k + 1))?);
        }
        let mut instance = TextInstance::new(pairs(&c), f[9]);
        instance.ignore |= f[8] == "None" && f[9] == "###";
        out.push(MltInstance {
            instance,
            script: f[8].to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_script_and_commas() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gt_img_1.txt");
        std::fs::write(&p, "1,2,3,2,3,4,1,4,Latin,a,b\n5,6,7,6,7,8,5,8,None,###\n").unwrap();
        let g = read_gt(&p).unwrap();
        assert_eq!(g[0].script, "Latin");
        assert_eq!(g[0].instance.text, "a,b");
        assert!(g[1].instance.ignore);
        std::fs::write(&p, "1,2,3,2,3,4,1,4,Latin\n").unwrap();
        assert!(
            read_gt(&p)
                .unwrap_err()
                .to_string()
                .contains("gt_img_1.txt:1")
        );
    }
}
