//! Parquet through the crate's column writers: one row group per batch, every column optional
//! (NULL as a definition level of 0), snappy-compressed. Bytes are taken out of the writer's
//! buffer after each row group, so the file streams; the footer comes with `finish`.

use std::io::Write;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use parquet::basic::Compression;
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use super::{Cell, Column, Encoder, Kind};

/// A buffer the writer appends to and the encoder drains.
#[derive(Clone, Default)]
struct Drained(Arc<Mutex<Vec<u8>>>);

impl Drained {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

impl Write for Drained {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes Parquet.
pub struct ParquetEncoder {
    writer: SerializedFileWriter<Drained>,
    buffer: Drained,
}

/// The message type of `columns`: every column optional, text as UTF-8, times as UTC µs.
fn schema(columns: &[Column]) -> String {
    let fields: String = columns
        .iter()
        .map(|c| {
            let kind = match c.kind {
                Kind::Text => "binary",
                Kind::Int => "int64",
                Kind::Float => "double",
                Kind::Bool => "boolean",
                Kind::Time => "int64",
            };
            let annotation = match c.kind {
                Kind::Text => " (STRING)",
                Kind::Time => " (TIMESTAMP(MICROS,true))",
                _ => "",
            };
            format!("optional {kind} {}{annotation};", c.name)
        })
        .collect();
    format!("message export {{ {fields} }}")
}

impl ParquetEncoder {
    /// An encoder for `columns`.
    pub fn new(columns: &'static [Column]) -> anyhow::Result<Self> {
        let schema = Arc::new(parse_message_type(&schema(columns)).context("the export's Parquet schema")?);
        let properties = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
        let buffer = Drained::default();
        let writer = SerializedFileWriter::new(buffer.clone(), schema, properties)?;
        Ok(Self { writer, buffer })
    }
}

/// Definition levels (1 present, 0 NULL) and the present values of one column.
fn split<T>(rows: &[Vec<Cell>], index: usize, value: impl Fn(&Cell) -> Option<T>) -> (Vec<T>, Vec<i16>) {
    let mut values = Vec::with_capacity(rows.len());
    let levels = rows
        .iter()
        .map(|row| match value(&row[index]) {
            Some(v) => {
                values.push(v);
                1
            }
            None => 0,
        })
        .collect();
    (values, levels)
}

impl Encoder for ParquetEncoder {
    fn encode(&mut self, rows: &[Vec<Cell>]) -> anyhow::Result<Vec<u8>> {
        if rows.is_empty() {
            return Ok(self.buffer.take());
        }
        let mut group = self.writer.next_row_group()?;
        let mut index = 0;
        while let Some(mut column) = group.next_column()? {
            match column.untyped() {
                ColumnWriter::ByteArrayColumnWriter(w) => {
                    let (values, levels) = split(rows, index, |c| match c {
                        Cell::Text(v) => v.as_deref().map(|s| ByteArray::from(s.as_bytes().to_vec())),
                        _ => None,
                    });
                    w.write_batch(&values, Some(&levels), None)?;
                }
                ColumnWriter::Int64ColumnWriter(w) => {
                    let (values, levels) = split(rows, index, |c| match c {
                        Cell::Int(v) => *v,
                        Cell::Time(v) => v.map(|t| t.timestamp_micros()),
                        _ => None,
                    });
                    w.write_batch(&values, Some(&levels), None)?;
                }
                ColumnWriter::DoubleColumnWriter(w) => {
                    let (values, levels) = split(rows, index, |c| if let Cell::Float(v) = c { *v } else { None });
                    w.write_batch(&values, Some(&levels), None)?;
                }
                ColumnWriter::BoolColumnWriter(w) => {
                    let (values, levels) = split(rows, index, |c| if let Cell::Bool(v) = c { *v } else { None });
                    w.write_batch(&values, Some(&levels), None)?;
                }
                _ => anyhow::bail!("column {index} has a type the export does not write"),
            }
            column.close()?;
            index += 1;
        }
        group.close()?;
        Ok(self.buffer.take())
    }

    fn finish(self: Box<Self>) -> anyhow::Result<Vec<u8>> {
        let buffer = self.buffer.clone();
        self.writer.close()?;
        Ok(buffer.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_written_in_pieces_reads_back_with_its_nulls() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        const COLUMNS: &[Column] = &[
            Column { name: "who", kind: Kind::Text, doc: "" },
            Column { name: "n", kind: Kind::Int, doc: "" },
            Column { name: "x", kind: Kind::Float, doc: "" },
            Column { name: "ok", kind: Kind::Bool, doc: "" },
            Column { name: "at", kind: Kind::Time, doc: "" },
        ];
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z").expect("time").to_utc();
        let mut encoder: Box<dyn Encoder> = Box::new(ParquetEncoder::new(COLUMNS).expect("schema"));
        let mut file = encoder
            .encode(&[vec![Cell::Text(Some("a".into())), Cell::Int(Some(7)), Cell::Float(Some(0.5)), Cell::Bool(Some(true)), Cell::Time(Some(at))]])
            .expect("row group");
        file.extend(
            encoder.encode(&[vec![Cell::Text(None), Cell::Int(None), Cell::Float(None), Cell::Bool(None), Cell::Time(None)]]).expect("row group"),
        );
        file.extend(encoder.finish().expect("footer"));
        let reader = SerializedFileReader::new(axum::body::Bytes::from(file)).expect("a Parquet file");
        assert_eq!(reader.metadata().file_metadata().num_rows(), 2);
        assert_eq!(reader.metadata().num_row_groups(), 2);
        let rows: Vec<String> = reader.get_row_iter(None).expect("rows").map(|r| r.expect("row").to_string()).collect();
        assert_eq!(rows[0], "{who: \"a\", n: 7, x: 0.5, ok: true, at: 2026-12-03 10:00:00.000000 +00:00}");
        assert_eq!(rows[1], "{who: null, n: null, x: null, ok: null, at: null}");
    }
}
