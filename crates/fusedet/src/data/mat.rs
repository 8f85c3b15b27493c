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

fn matrix(payload: &[u8]) -> Result<(String, MatValue), String> {
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
    let count: usize = dims.iter().product();
    let value = match class {
        1 => {
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                let (ty, p) = r.element()?;
                if ty != MI_MATRIX {
                    return Err(format!("cell element of type {ty}"));
                }
                items.push(matrix(p)?.1);
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
            let rows = dims.first().copied().unwrap_or(0).max(1);
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
            out.push(matrix(payload).map_err(bad)?);
        }
    }
    Ok(out)
}
