//! A reader for MATLAB level-5 MAT files (what `scipy.io.savemat` and MATLAB's default `save`
//! write, compressed or not): numeric arrays, char arrays and cell arrays, enough for the
//! annotation files of Total-Text. Structs, sparse and complex arrays are refused.

use std::path::Path;

use super::DatasetError;

/// A MATLAB value.
#[derive(Clone, Debug, PartialEq)]
pub enum MatValue {
    /// A numeric array (any class, as f64), column-major, with its dimensions.
    Num {
        /// Dimensions.
        dims: Vec<usize>,
        /// Values, column-major.
        data: Vec<f64>,
    },
    /// A char array (rows joined with newlines when there are several).
    Char(String),
    /// A cell array, column-major.
    Cell {
        /// Dimensions.
        dims: Vec<usize>,
        /// Elements, column-major.
        items: Vec<MatValue>,
    },
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Result<u32, String> {
        let s = self.b.get(self.pos..self.pos + 4).ok_or("truncated file")?;
        self.pos += 4;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// One data element: (type, payload). Handles the small (4-byte) element form.
    fn element(&mut self) -> Result<(u32, &'a [u8]), String> {
        let first = self.u32()?;
        if first >> 16 != 0 {
            let (ty, n) = (first & 0xffff, (first >> 16) as usize);
            let s = self
                .b
                .get(self.pos..self.pos + 4)
                .ok_or("truncated small element")?;
            self.pos += 4;
            return Ok((ty, &s[..n.min(4)]));
        }
        let n = self.u32()? as usize;
        let s = self
            .b
            .get(self.pos..self.pos + n)
            .ok_or_else(|| format!("element of {n} bytes runs past the end"))?;
        self.pos += n;
        if first != MI_COMPRESSED {
            self.pos = self.pos.div_ceil(8) * 8;
        }
        Ok((first, s))
    }
}

fn numbers(ty: u32, s: &[u8]) -> Result<Vec<f64>, String> {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            s.chunks_exact($n)
                .map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk")) as f64)
                .collect()
        };
    }
    Ok(match ty {
        1 => s.iter().map(|&v| v as i8 as f64).collect(),
        2 => s.iter().map(|&v| v as f64).collect(),
        3 => conv!(i16, 2),
        4 => conv!(u16, 2),
        5 => conv!(i32, 4),
        6 => conv!(u32, 4),
        7 => conv!(f32, 4),
        9 => conv!(f64, 8),
        12 => conv!(i64, 8),
        13 => conv!(u64, 8),
        16 => s.iter().map(|&v| v as f64).collect(),
        _ => return Err(format!("unsupported data type {ty}")),
    })
}

/// Cell arrays nested deeper than this are refused (each level is a recursive call).
const MAX_DEPTH: usize = 64;

fn matrix(payload: &[u8], depth: usize) -> Result<(String, MatValue), String> {
    if depth > MAX_DEPTH {
        return Err(format!("cell arrays nested more than {MAX_DEPTH} deep"));
    }
    let mut r = Reader { b: payload, pos: 0 };
    let (_, flags) = r.element()?;
    let class = flags.first().copied().ok_or("empty array flags")?;
    let complex = flags.get(1).is_some_and(|f| f & 0x08 != 0);
    let (_, dims_raw) = r.element()?;
    let dims: Vec<usize> = numbers(5, dims_raw)?
        .into_iter()
        .map(|d| d as usize)
        .collect();
    let (_, name_raw) = r.element()?;
    let name = String::from_utf8_lossy(name_raw).into_owned();
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("array dimensions {dims:?} overflow"))?;
    let value = match class {
        1 => {
            // Every element takes at least 8 bytes: the dimensions cannot reserve more.
            let mut items = Vec::with_capacity(count.min(payload.len() / 8));
            for _ in 0..count {
                let (ty, p) = r.element()?;
                if ty != MI_MATRIX {
                    return Err(format!("cell element of type {ty}"));
                }
                items.push(matrix(p, depth + 1)?.1);
            }
            MatValue::Cell { dims, items }
        }
        4 => {
            let (ty, p) = r.element()?;
            let codes: Vec<u32> = if ty == 16 {
                String::from_utf8_lossy(p)
                    .chars()
                    .map(|c| c as u32)
                    .collect()
            } else {
                numbers(ty, p)?.into_iter().map(|v| v as u32).collect()
            };
            // At most one row per character: the dimensions cannot make more (empty) rows.
            let rows = dims
                .first()
                .copied()
                .unwrap_or(0)
                .clamp(1, codes.len().max(1));
            let cols = codes.len() / rows;
            let text: Vec<String> = (0..rows)
                .map(|i| {
                    (0..cols)
                        .filter_map(|j| char::from_u32(codes[j * rows + i]))
                        .collect()
                })
                .collect();
            MatValue::Char(text.join("\n"))
        }
        2 | 3 | 5 => {
            return Err(format!(
                "array class {class} (struct/object/sparse) is not supported"
            ));
        }
        6..=15 => {
            if complex {
                return Err("complex arrays are not supported".into());
            }
            let (ty, p) = r.element()?;
            MatValue::Num {
                dims,
                data: numbers(ty, p)?,
            }
        }
        _ => return Err(format!("unknown array class {class}")),
    };
    Ok((name, value))
}

/// Reads the named variables of a MAT file.
pub fn read(path: &Path) -> Result<Vec<(String, MatValue)>, DatasetError> {
    let bytes = std::fs::read(path).map_err(|e| DatasetError::io(path, e))?;
    let bad = |reason: String| DatasetError::Layout {
        path: path.to_path_buf(),
        reason: format!("not a readable MAT file: {reason}"),
    };
    if bytes.len() < 128 || &bytes[126..128] != b"IM" {
        return Err(bad(
            "no level-5 MAT header (MATLAB v7.3 / HDF5 files are not supported)".into(),
        ));
    }
    let mut out = Vec::new();
    let mut r = Reader {
        b: &bytes,
        pos: 128,
    };
    while r.pos + 8 <= bytes.len() {
        let (ty, payload) = r.element().map_err(bad)?;
        let inflated;
        let (ty, payload) = if ty == MI_COMPRESSED {
            use std::io::Read;
            let mut buf = Vec::new();
            flate2::read::ZlibDecoder::new(payload)
                .read_to_end(&mut buf)
                .map_err(|e| bad(format!("compressed element: {e}")))?;
            inflated = buf;
            let mut inner = Reader {
                b: &inflated,
                pos: 0,
            };
            inner.element().map_err(bad)?
        } else {
            (ty, payload)
        };
        if ty == MI_MATRIX {
            out.push(matrix(payload, 0).map_err(bad)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(ty: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = ty.to_le_bytes().to_vec();
        v.extend((payload.len() as u32).to_le_bytes());
        v.extend(payload);
        v.resize(v.len().div_ceil(8) * 8, 0);
        v
    }

    /// A miMATRIX element of `class` (1 cell, 4 char, 6 double) with `rest` after the name.
    fn matrix_el(class: u8, dims: &[i32], name: &str, rest: &[u8]) -> Vec<u8> {
        let mut p = element(6, &[class, 0, 0, 0, 0, 0, 0, 0]);
        let d: Vec<u8> = dims.iter().flat_map(|d| d.to_le_bytes()).collect();
        p.extend(element(5, &d));
        p.extend(element(1, name.as_bytes()));
        p.extend(rest);
        element(MI_MATRIX, &p)
    }

    fn file(elements: &[u8]) -> tempfile::NamedTempFile {
        let mut bytes = vec![b' '; 116];
        bytes.extend([0; 8]);
        bytes.extend([0, 1, b'I', b'M']);
        bytes.extend(elements);
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), bytes).unwrap();
        f
    }

    fn error(elements: &[u8]) -> String {
        let f = file(elements);
        read(f.path()).unwrap_err().to_string()
    }

    #[test]
    fn cell_dims_claiming_billions_of_items_reserve_nothing() {
        // Found by fuzz/mat: 10^10 claimed items were reserved before any was read (OOM).
        let e = error(&matrix_el(1, &[100_000, 100_000], "c", &[]));
        assert!(
            e.contains("runs past the end") || e.contains("truncated"),
            "{e}"
        );
    }

    #[test]
    fn dims_whose_product_overflows_are_an_error() {
        let e = error(&matrix_el(6, &[i32::MAX, i32::MAX, i32::MAX], "x", &[]));
        assert!(e.contains("overflow"), "{e}");
    }

    #[test]
    fn char_rows_beyond_the_text_make_no_empty_rows() {
        let f = file(&matrix_el(4, &[1 << 30, 1], "s", &element(16, b"abc")));
        let vars = read(f.path()).unwrap();
        let MatValue::Char(s) = &vars[0].1 else {
            panic!("{vars:?}")
        };
        assert_eq!(s.lines().count(), 3, "{s:?}");
    }

    #[test]
    fn deeply_nested_cells_are_refused_not_a_stack_overflow() {
        let mut el = matrix_el(6, &[1, 1], "", &element(9, &1.0f64.to_le_bytes()));
        for _ in 0..100 {
            el = matrix_el(1, &[1, 1], "", &el);
        }
        let e = error(&el);
        assert!(e.contains("nested more than"), "{e}");
    }

    #[test]
    fn a_nested_cell_within_the_limit_reads() {
        let mut el = matrix_el(6, &[1, 1], "", &element(9, &2.5f64.to_le_bytes()));
        for _ in 0..10 {
            el = matrix_el(1, &[1, 1], "c", &el);
        }
        let f = file(&el);
        assert_eq!(read(f.path()).unwrap().len(), 1);
    }
}
