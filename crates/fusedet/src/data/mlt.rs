//! ICDAR 2017 MLT: `gt_img_N.txt` lines `x1,y1,x2,y2,x3,y3,x4,y4,script,transcription`
//! (script e.g. `Latin`, `Arabic`, `None`; `###` = don't care).

use std::path::Path;

use super::{
    DatasetError, Parsed, TextInstance, first_error, label_lines, read_text, split_quad_line,
};

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
    first_error(parse_gt(path)?)
}

/// Every line of a ground-truth file, each parsed on its own.
pub(crate) fn parse_gt(path: &Path) -> Result<Vec<Parsed<MltInstance>>, DatasetError> {
    let text = read_text(path)?;
    let layout = "x1,y1,...,x4,y4,script,transcription";
    Ok(label_lines(&text)
        .map(|(n, line)| {
            let r = split_quad_line(line, 2, 2, path, n, layout).map(|(points, f)| {
                let mut instance = TextInstance::new(points, f[1]);
                instance.ignore |= f[0] == "None" && f[1] == "###";
                MltInstance {
                    instance,
                    script: f[0].to_string(),
                }
            });
            (n, r)
        })
        .collect())
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
