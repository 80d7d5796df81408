//! Reading CSV imports (parcels, approvals): RFC 4180 fields, a byte-order
//! mark and CRLF or LF line ends, each record with the line it starts on so
//! that row errors can name it.

/// A CSV record: the line it starts on and its fields.
pub type Record = (usize, Vec<String>);

/// Splits CSV text (RFC 4180: quoted fields may hold commas, quotes doubled,
/// line breaks) into records with the line each starts on.
pub fn read(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let mut records = Vec::new();
    let mut field = String::new();
    let mut record: Vec<String> = Vec::new();
    let mut chars = text.chars().peekable();
    let (mut line, mut start) = (1usize, 1usize);
    let mut quoted = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => {
                    quoted = false;
                    if !matches!(chars.peek(), None | Some(',' | '\r' | '\n')) {
                        return Err((line, "text after a closing quote".into()));
                    }
                }
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                record.push(std::mem::take(&mut field));
                let r = std::mem::take(&mut record);
                if !(r.len() == 1 && r[0].trim().is_empty()) {
                    records.push((start, r));
                }
                line += 1;
                start = line;
                at_field_start = true;
            }
            _ => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err((start, "a quoted field is not closed".into()));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        if !(record.len() == 1 && record[0].trim().is_empty()) {
            records.push((start, record));
        }
    }
    Ok(records)
}
