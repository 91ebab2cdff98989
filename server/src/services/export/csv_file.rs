//! CSV: a header row, then one line per row; NULL as an empty cell, times in RFC 3339 (UTC).

use super::{Cell, Column, Encoder};

/// Writes CSV.
pub struct CsvEncoder {
    columns: &'static [Column],
    header_written: bool,
}

impl CsvEncoder {
    /// An encoder for `columns`.
    pub fn new(columns: &'static [Column]) -> Self {
        Self { columns, header_written: false }
    }
}

fn field(cell: &Cell) -> String {
    match cell {
        Cell::Text(v) => v.clone().unwrap_or_default(),
        Cell::Int(v) => v.map(|v| v.to_string()).unwrap_or_default(),
        Cell::Float(v) => v.map(|v| v.to_string()).unwrap_or_default(),
        Cell::Bool(v) => v.map(|v| v.to_string()).unwrap_or_default(),
        Cell::Time(v) => v.map(|v| v.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)).unwrap_or_default(),
    }
}

impl Encoder for CsvEncoder {
    fn encode(&mut self, rows: &[Vec<Cell>]) -> anyhow::Result<Vec<u8>> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        if !self.header_written {
            writer.write_record(self.columns.iter().map(|c| c.name))?;
            self.header_written = true;
        }
        for row in rows {
            writer.write_record(row.iter().map(field))?;
        }
        writer.into_inner().map_err(|e| anyhow::anyhow!("CSV buffer: {e}"))
    }

    fn finish(self: Box<Self>) -> anyhow::Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::export::Kind;

    #[test]
    fn quotes_what_needs_quoting_and_leaves_null_empty() {
        const COLUMNS: &[Column] = &[
            Column { name: "a", kind: Kind::Text, doc: "" },
            Column { name: "b", kind: Kind::Int, doc: "" },
            Column { name: "c", kind: Kind::Time, doc: "" },
        ];
        let mut encoder = CsvEncoder::new(COLUMNS);
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z").expect("time").to_utc();
        let first = encoder.encode(&[vec![Cell::Text(Some("x, \"y\"\nz".into())), Cell::Int(None), Cell::Time(Some(at))]]).expect("csv");
        assert_eq!(String::from_utf8(first).expect("utf-8"), "a,b,c\n\"x, \"\"y\"\"\nz\",,2026-12-03T10:00:00.000000Z\n");
        let second = encoder.encode(&[vec![Cell::Text(None), Cell::Int(Some(-3)), Cell::Time(None)]]).expect("csv");
        assert_eq!(String::from_utf8(second).expect("utf-8"), ",-3,\n", "the header once");
    }
}
