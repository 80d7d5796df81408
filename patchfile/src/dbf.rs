//! A reader of dBase III `.dbf` attribute tables as shapefiles carry them, and the
//! choice of their text encoding.

use chrono::NaiveDate;
use encoding_rs::Encoding;

use crate::{Error, Limits};

/// A column of the table.
#[derive(Clone, Debug)]
pub(crate) struct Field {
    pub name: String,
    pub kind: u8,
    offset: usize,
    len: usize,
}

/// A value of one cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Number(f64),
    Date(NaiveDate),
    Bool(bool),
}

#[derive(Debug)]
pub(crate) struct Record {
    pub deleted: bool,
    pub values: Vec<Value>,
}

#[derive(Debug)]
pub(crate) struct Table {
    pub fields: Vec<Field>,
    pub records: Vec<Record>,
}

/// The encoding of the `.dbf` text: the `.cpg` file if there is one, else the DBF's
/// language driver byte, else GBK (the files this importer reads are Chinese).
/// Returns the encoding and where it came from.
pub(crate) fn encoding(cpg: Option<&[u8]>, dbf: &[u8]) -> Result<(&'static Encoding, String), Error> {
    if let Some(cpg) = cpg {
        let label = String::from_utf8_lossy(cpg).trim().trim_matches('\u{feff}').to_owned();
        let lower = label.to_ascii_lowercase();
        let code = lower.trim_start_matches("ansi").trim_start_matches("cp").trim_start_matches("windows-").trim();
        let by_number = match code {
            "936" => Some(encoding_rs::GBK),
            "54936" => Some(encoding_rs::GB18030),
            "950" => Some(encoding_rs::BIG5),
            "65001" => Some(encoding_rs::UTF_8),
            "1252" => Some(encoding_rs::WINDOWS_1252),
            _ => None,
        };
        let enc = by_number
            .or_else(|| Encoding::for_label(lower.as_bytes()))
            .or_else(|| if lower == "utf8" { Some(encoding_rs::UTF_8) } else { None })
            .ok_or_else(|| {
                Error::Dbf(format!("the .cpg names code page {label:?}, which this importer does not know"))
            })?;
        return Ok((enc, format!("{} (.cpg {label:?})", enc.name())));
    }
    let ldid = dbf.get(29).copied().unwrap_or(0);
    let (enc, how) = match ldid {
        // 0x4D and 0x7A: code page 936 (GBK); 0x57: the writer's ANSI code page, 936 on Chinese Windows.
        0x4D | 0x7A | 0x57 => (encoding_rs::GBK, format!("language driver 0x{ldid:02X}")),
        0x4F | 0x78 => (encoding_rs::BIG5, format!("language driver 0x{ldid:02X}")),
        0x03 => (encoding_rs::WINDOWS_1252, "language driver 0x03".to_owned()),
        0x00 => (encoding_rs::GBK, "no .cpg and no language driver: the default".to_owned()),
        _ => (encoding_rs::GBK, format!("language driver 0x{ldid:02X} unknown: the default")),
    };
    Ok((enc, format!("{} ({how})", enc.name())))
}

fn le_u16(b: &[u8], at: usize) -> usize {
    b.get(at..at + 2).map_or(0, |s| u16::from_le_bytes([s[0], s[1]]) as usize)
}

fn le_u32(b: &[u8], at: usize) -> usize {
    b.get(at..at + 4).map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
}

fn decode(enc: &'static Encoding, bytes: &[u8]) -> String {
    let (text, _, _) = enc.decode(bytes);
    text.trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_owned()
}

/// Reads the table.
pub(crate) fn read(bytes: &[u8], enc: &'static Encoding, limits: &Limits) -> Result<Table, Error> {
    if bytes.len() < 33 {
        return Err(Error::Dbf("too short for a table header".into()));
    }
    let count = le_u32(bytes, 4);
    let header_len = le_u16(bytes, 8);
    let record_len = le_u16(bytes, 10);
    if header_len < 33 || header_len > bytes.len() || record_len == 0 {
        return Err(Error::Dbf(format!("header length {header_len} or record length {record_len} impossible")));
    }
    if count > limits.max_records {
        return Err(Error::TooMany(format!("{count} records, more than {}", limits.max_records)));
    }
    let mut fields = Vec::new();
    let mut offset = 1;
    let mut at = 32;
    while at + 32 <= header_len && bytes.get(at) != Some(&0x0D) {
        let d = &bytes[at..at + 32];
        let name_bytes = d[..11].split(|&b| b == 0).next().unwrap_or(&[]);
        let len = d[16] as usize;
        fields.push(Field { name: decode(enc, name_bytes), kind: d[11].to_ascii_uppercase(), offset, len });
        offset += len;
        at += 32;
    }
    if offset > record_len {
        return Err(Error::Dbf(format!("the columns take {offset} bytes, a record {record_len}")));
    }
    let mut records = Vec::with_capacity(count.min(bytes.len() / record_len));
    for i in 0..count {
        let start = header_len + i * record_len;
        let Some(rec) = bytes.get(start..start + record_len) else {
            return Err(Error::Dbf(format!("{count} records declared, the file ends in record {i}")));
        };
        let values = fields.iter().map(|f| value(f, &rec[f.offset..f.offset + f.len], enc)).collect();
        records.push(Record { deleted: rec[0] == b'*', values });
    }
    Ok(Table { fields, records })
}

fn value(field: &Field, raw: &[u8], enc: &'static Encoding) -> Value {
    let ascii = || String::from_utf8_lossy(raw).trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_owned();
    match field.kind {
        b'N' | b'F' => {
            let s = ascii();
            if s.is_empty() || s.chars().all(|c| c == '*') {
                Value::Null
            } else {
                s.parse::<f64>().map_or(Value::Text(s), Value::Number)
            }
        }
        b'D' => {
            let s = ascii();
            if s.is_empty() || s.chars().all(|c| c == '0') {
                Value::Null
            } else {
                NaiveDate::parse_from_str(&s, "%Y%m%d").map_or(Value::Text(s), Value::Date)
            }
        }
        b'L' => match raw.first() {
            Some(b'T' | b't' | b'Y' | b'y') => Value::Bool(true),
            Some(b'F' | b'f' | b'N' | b'n') => Value::Bool(false),
            _ => Value::Null,
        },
        b'I' | b'+' if raw.len() == 4 => Value::Number(i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as f64),
        b'O' if raw.len() == 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(raw);
            Value::Number(f64::from_le_bytes(b))
        }
        // Memo, binary and general fields point into a .dbt file shapefiles do not carry.
        b'M' | b'B' | b'G' | b'P' => Value::Null,
        _ => {
            let s = decode(enc, raw);
            if s.is_empty() { Value::Null } else { Value::Text(s) }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `.dbf` file: columns (name bytes, type, length), records of raw cell bytes.
    pub(crate) fn dbf_file(ldid: u8, fields: &[(&[u8], u8, u8)], records: &[Vec<&[u8]>]) -> Vec<u8> {
        let record_len: usize = 1 + fields.iter().map(|f| f.2 as usize).sum::<usize>();
        let header_len = 32 + 32 * fields.len() + 1;
        let mut out = vec![0u8; 32];
        out[0] = 3;
        out[4..8].copy_from_slice(&(records.len() as u32).to_le_bytes());
        out[8..10].copy_from_slice(&(header_len as u16).to_le_bytes());
        out[10..12].copy_from_slice(&(record_len as u16).to_le_bytes());
        out[29] = ldid;
        for (name, kind, len) in fields {
            let mut d = [0u8; 32];
            d[..name.len()].copy_from_slice(name);
            d[11] = *kind;
            d[16] = *len;
            out.extend_from_slice(&d);
        }
        out.push(0x0D);
        for r in records {
            out.push(b' ');
            for (cell, f) in r.iter().zip(fields) {
                let mut c = cell.to_vec();
                c.resize(f.2 as usize, b' ');
                out.extend_from_slice(&c);
            }
        }
        out.push(0x1A);
        out
    }

    #[test]
    fn encodings_by_cpg_then_language_driver_then_gbk() {
        let dbf = |ldid| dbf_file(ldid, &[(b"A", b'C', 4)], &[]);
        let name = |cpg: Option<&[u8]>, ldid| encoding(cpg, &dbf(ldid)).unwrap().0.name();
        assert_eq!(name(Some(b"UTF-8\r\n"), 0x4D), "UTF-8");
        assert_eq!(name(Some(b"936"), 0), "GBK");
        assert_eq!(name(Some(b"ANSI 936"), 0), "GBK");
        assert_eq!(name(Some(b"GB2312"), 0), "GBK");
        assert_eq!(name(Some(b"cp1252"), 0), "windows-1252");
        assert_eq!(name(Some(b"65001"), 0), "UTF-8");
        assert_eq!(name(None, 0x4D), "GBK");
        assert_eq!(name(None, 0x4F), "Big5");
        assert_eq!(name(None, 0x03), "windows-1252");
        assert_eq!(name(None, 0), "GBK");
        assert!(encoding(Some(b"EBCDIC-37"), &dbf(0)).is_err());
    }

    #[test]
    fn reads_typed_cells_and_gbk_text() {
        let (gbk, _, _) = encoding_rs::GBK.encode("新增建设用地");
        let (name, _, _) = encoding_rs::GBK.encode("图斑编号");
        let file = dbf_file(
            0x4D,
            &[(&name, b'C', 20), (b"JCMJ", b'N', 12), (b"JCSJ", b'D', 8), (b"OK", b'L', 1), (b"BHLX", b'C', 20)],
            &[
                vec![b"  WP-1 ", b"   1234.50", b"20170312", b"T", &gbk],
                vec![b"WP-2", b"", b"        ", b"?", b""],
                vec![b"WP-3", b"**********", b"2017-3-1", b"n", b"x"],
            ],
        );
        let t = read(&file, encoding_rs::GBK, &Limits::default()).unwrap();
        assert_eq!(t.fields[0].name, "图斑编号");
        assert_eq!(t.records.len(), 3);
        let r = &t.records[0].values;
        assert_eq!(r[0], Value::Text("WP-1".into()));
        assert_eq!(r[1], Value::Number(1234.5));
        assert_eq!(r[2], Value::Date(NaiveDate::from_ymd_opt(2017, 3, 12).unwrap()));
        assert_eq!(r[3], Value::Bool(true));
        assert_eq!(r[4], Value::Text("新增建设用地".into()));
        assert_eq!(t.records[1].values[1..], [Value::Null, Value::Null, Value::Null, Value::Null]);
        assert_eq!(t.records[2].values[1], Value::Null);
        assert_eq!(t.records[2].values[2], Value::Text("2017-3-1".into()));
        assert_eq!(t.records[2].values[3], Value::Bool(false));
    }

    #[test]
    fn damaged_tables_are_errors() {
        let mut file = dbf_file(0, &[(b"A", b'C', 4)], &[vec![b"x"], vec![b"y"]]);
        assert!(read(&file, encoding_rs::GBK, &Limits::default()).is_ok());
        file[4] = 9;
        assert!(
            matches!(read(&file, encoding_rs::GBK, &Limits::default()), Err(Error::Dbf(m)) if m.contains("record 2"))
        );
        assert!(read(b"short", encoding_rs::GBK, &Limits::default()).is_err());
        let limits = Limits { max_records: 1, ..Limits::default() };
        file[4] = 2;
        assert!(matches!(read(&file, encoding_rs::GBK, &limits), Err(Error::TooMany(_))));
    }
}
