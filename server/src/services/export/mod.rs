//! Research exports for papers: a dataset (generations, queries, study participants) as CSV or
//! Parquet, streamed — rows are read, pseudonymised, encoded and sent in batches, so memory stays
//! flat at a million rows and a slow client slows the database read instead of filling memory.
//! Consent is applied by the statements (`db::analytics::export`); user and session ids leave only as
//! pseudonyms keyed by a secret drawn for this export alone, so two exports cannot be joined on them.

mod columns;
mod csv_file;
mod parquet_file;
mod pseudonyms;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

pub use columns::{Cell, Column, Kind, columns};
use pseudonyms::Pseudonyms;

use crate::db::analytics::export as rows;
use crate::services::state::AppState;

/// Rows encoded per chunk sent (and per Parquet row group).
const BATCH_ROWS: usize = 8_192;

/// Days before a study whose acceptance the studies export reports per participant (as the
/// evaluation's CUPED covariate).
pub const PRE_PERIOD_DAYS: i32 = 30;

/// What is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// One row per generation.
    Generations,
    /// One row per query.
    Queries,
    /// One row per study participant.
    Studies,
}

impl Dataset {
    /// Its `dataset` parameter value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Generations => "generations",
            Self::Queries => "queries",
            Self::Studies => "studies",
        }
    }
}

/// The file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header row; times in RFC 3339, empty cells for NULL.
    Csv,
    /// Apache Parquet, snappy-compressed, typed columns (timestamps in µs, UTC).
    Parquet,
}

impl Format {
    /// Its media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Parquet => "application/vnd.apache.parquet",
        }
    }

    /// Its file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Parquet => "parquet",
        }
    }
}

/// Turns batches of rows into the bytes of one file.
trait Encoder: Send {
    /// The bytes of `rows` (and of the file's start, on the first call).
    fn encode(&mut self, rows: &[Vec<Cell>]) -> anyhow::Result<Vec<u8>>;
    /// The file's last bytes.
    fn finish(self: Box<Self>) -> anyhow::Result<Vec<u8>>;
}

fn encoder(format: Format, columns: &'static [Column]) -> anyhow::Result<Box<dyn Encoder>> {
    Ok(match format {
        Format::Csv => Box::new(csv_file::CsvEncoder::new(columns)),
        Format::Parquet => Box::new(parquet_file::ParquetEncoder::new(columns)?),
    })
}

/// The file's bytes as a stream of chunks. A database failure mid-way ends the stream with an
/// error, so the client sees a cut transfer, never a short file that looks whole.
pub fn export(
    state: &AppState,
    dataset: Dataset,
    format: Format,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> impl Stream<Item = std::io::Result<Bytes>> + use<> {
    let (chunks_tx, chunks) = mpsc::channel::<std::io::Result<Bytes>>(2);
    let db = state.db.clone();
    tokio::spawn(async move {
        let pseudonyms = Pseudonyms::new();
        let result = async {
            let mut encoder = encoder(format, columns(dataset))?;
            let mut rows = match dataset {
                Dataset::Generations => rows::generations(&db, start, end).map(|r| r.map(|row| columns::generation(&row, &pseudonyms))).boxed(),
                Dataset::Queries => rows::queries(&db, start, end).map(|r| r.map(|row| columns::query(&row, &pseudonyms))).boxed(),
                Dataset::Studies => {
                    rows::participants(&db, start, end, PRE_PERIOD_DAYS).map(|r| r.map(|row| columns::participant(&row, &pseudonyms))).boxed()
                }
            };
            let mut batch = Vec::with_capacity(BATCH_ROWS);
            let mut first = true;
            loop {
                let next = rows.next().await.transpose()?;
                let done = next.is_none();
                batch.extend(next);
                if batch.len() == BATCH_ROWS || (done && (first || !batch.is_empty())) {
                    let bytes = encoder.encode(&batch)?;
                    batch.clear();
                    first = false;
                    if chunks_tx.send(Ok(Bytes::from(bytes))).await.is_err() {
                        return Ok(()); // the client left: stop reading
                    }
                }
                if done {
                    break;
                }
            }
            let last = encoder.finish()?;
            let _ = chunks_tx.send(Ok(Bytes::from(last))).await;
            anyhow::Ok(())
        }
        .await;
        if let Err(error) = result {
            tracing::error!(error = format!("{error:#}"), dataset = dataset.name(), "export failed mid-way");
            let _ = chunks_tx.send(Err(std::io::Error::other("the export failed"))).await;
        }
    });
    futures::stream::unfold(chunks, |mut chunks| async move { chunks.recv().await.map(|chunk| (chunk, chunks)) })
}
