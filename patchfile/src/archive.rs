//! The files of one shapefile: from a zip archive or given separately.

use std::io::{Cursor, Read};

use crate::Error;

/// Bounds on what a patch file may make the reader do.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The most bytes the shapefile's members may unpack to, together (zip bombs).
    pub max_uncompressed_bytes: u64,
    /// The most records (patches) in one file.
    pub max_records: usize,
    /// The most vertices in one file, all records together.
    pub max_points: usize,
}

impl Default for Limits {
    /// 64 MiB unpacked, 20 000 patches, 4 million vertices: a province's monthly
    /// delivery is a few thousand patches of a few dozen vertices each.
    fn default() -> Self {
        Limits { max_uncompressed_bytes: 64 << 20, max_records: 20_000, max_points: 4_000_000 }
    }
}

/// The member files of one shapefile, as bytes.
#[derive(Clone, Debug, Default)]
pub struct ShapefileSet {
    /// The shapefile's name: the `.shp` file's name without its extension.
    pub name: String,
    pub shp: Vec<u8>,
    /// The index; read only to count records (the `.shp` is read in order).
    pub shx: Option<Vec<u8>>,
    pub dbf: Vec<u8>,
    /// The coordinate system, ESRI WKT1.
    pub prj: Option<Vec<u8>>,
    /// The code page of the `.dbf` text, e.g. `GBK`, `936` or `UTF-8`.
    pub cpg: Option<Vec<u8>>,
}

const MEMBERS: [&str; 5] = ["shp", "shx", "dbf", "prj", "cpg"];

/// Splits a member's path into its folder-and-stem (lower case) and extension (lower case).
fn stem_and_ext(path: &str) -> Option<(String, String)> {
    let base = path.rsplit(['/', '\\']).next().unwrap_or(path);
    // macOS archive litter: `__MACOSX/…` and `._name` resource forks.
    if base.starts_with("._") || path.split(['/', '\\']).any(|p| p == "__MACOSX") {
        return None;
    }
    let dot = path.rfind('.')?;
    if dot < path.len() - base.len() {
        return None;
    }
    Some((path[..dot].to_lowercase(), path[dot + 1..].to_lowercase()))
}

impl ShapefileSet {
    /// The shapefile in a zip archive: exactly one `.shp`, at the root or in a folder,
    /// with its `.dbf` (required), `.shx`, `.prj` and `.cpg` beside it; extensions in any
    /// case. The members read may unpack to at most `limits.max_uncompressed_bytes`,
    /// counted as they are inflated (the sizes a zip declares are not trusted).
    pub fn from_zip(bytes: &[u8], limits: &Limits) -> Result<ShapefileSet, Error> {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| Error::Zip(e.to_string()))?;
        let mut entries: Vec<(usize, String, String, String)> = Vec::new();
        for i in 0..zip.len() {
            let Some(name) = zip.name_for_index(i) else { continue };
            if name.ends_with('/') {
                continue;
            }
            if let Some((stem, ext)) = stem_and_ext(name)
                && MEMBERS.contains(&ext.as_str())
            {
                entries.push((i, name.to_owned(), stem, ext));
            }
        }
        let shps: Vec<&(usize, String, String, String)> = entries.iter().filter(|e| e.3 == "shp").collect();
        let shp = match shps.as_slice() {
            [one] => (*one).clone(),
            [] => {
                let mut names: Vec<&str> = zip.file_names().take(20).collect();
                names.sort_unstable();
                return Err(Error::NoShp(if names.is_empty() { "nothing".into() } else { names.join(", ") }));
            }
            several => {
                return Err(Error::SeveralShp(several.iter().map(|e| e.1.as_str()).collect::<Vec<_>>().join(", ")));
            }
        };
        let base = shp.1.rsplit(['/', '\\']).next().unwrap_or(&shp.1);
        let name = base[..base.len().saturating_sub(4)].to_owned();
        let mut budget = limits.max_uncompressed_bytes;
        let mut read = |ext: &str| -> Result<Option<Vec<u8>>, Error> {
            let Some(entry) = entries.iter().find(|e| e.2 == shp.2 && e.3 == ext) else { return Ok(None) };
            let file = zip.by_index(entry.0).map_err(|e| Error::Zip(format!("{}: {e}", entry.1)))?;
            if file.size() > budget {
                return Err(Error::TooLarge { limit: limits.max_uncompressed_bytes });
            }
            let mut out = Vec::new();
            file.take(budget + 1).read_to_end(&mut out).map_err(|e| Error::Zip(format!("{}: {e}", entry.1)))?;
            let used = out.len() as u64;
            if used > budget {
                return Err(Error::TooLarge { limit: limits.max_uncompressed_bytes });
            }
            budget -= used;
            Ok(Some(out))
        };
        let shp_bytes = read("shp")?.unwrap_or_default();
        let dbf = read("dbf")?.ok_or_else(|| Error::Missing { name: name.clone(), ext: "dbf" })?;
        let shx = read("shx")?;
        let prj = read("prj")?;
        let cpg = read("cpg")?;
        Ok(ShapefileSet { name, shp: shp_bytes, shx, dbf, prj, cpg })
    }

    /// The shapefile given as separate files (the `.dbf` is required).
    pub fn from_files(
        name: impl Into<String>,
        shp: Vec<u8>,
        shx: Option<Vec<u8>>,
        dbf: Option<Vec<u8>>,
        prj: Option<Vec<u8>>,
        cpg: Option<Vec<u8>>,
    ) -> Result<ShapefileSet, Error> {
        let name = name.into();
        let dbf = dbf.ok_or_else(|| Error::Missing { name: name.clone(), ext: "dbf" })?;
        Ok(ShapefileSet { name, shp, shx, dbf, prj, cpg })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_extensions() {
        assert_eq!(stem_and_ext("A/WP.SHP"), Some(("a/wp".into(), "shp".into())));
        assert_eq!(stem_and_ext("wp.tar.dbf"), Some(("wp.tar".into(), "dbf".into())));
        assert_eq!(stem_and_ext("dir.v2/readme"), None);
        assert_eq!(stem_and_ext("__MACOSX/x/._wp.shp"), None);
        assert_eq!(stem_and_ext("x/._wp.shp"), None);
    }
}
