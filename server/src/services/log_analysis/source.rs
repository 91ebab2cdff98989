//! Feeding files and standard input to an [`Analyzer`], and the report the server makes of its own
//! log files for `GET /api/agent/health`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};

use super::Analyzer;
use crate::contract::error::ApiError;
use crate::contract::log_report::LogReport;

/// How much of each file the endpoint reads: its last 16 MiB (about 50,000 lines), so a request
/// never parses a log of many gigabytes. The command line reads whole files.
pub const ENDPOINT_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Longest line kept in memory; a longer one (no log line of ours is near it) is read past and
/// counted by its first part, which does not parse: a file without newlines cannot fill memory.
pub const MAX_LINE_BYTES: u64 = 1024 * 1024;

/// Feeds every line of `reader` (invalid UTF-8 replaced, a last line without newline included).
pub fn feed(analyzer: &mut Analyzer, reader: impl BufRead) -> io::Result<()> {
    let mut reader = reader;
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        if (&mut reader).take(MAX_LINE_BYTES).read_until(b'\n', &mut buffer)? == 0 {
            return Ok(());
        }
        if buffer.last() != Some(&b'\n') && buffer.len() as u64 == MAX_LINE_BYTES {
            skip_rest_of_line(&mut reader)?;
        }
        let line = String::from_utf8_lossy(&buffer);
        analyzer.line(line.trim_end_matches(['\n', '\r']));
    }
}

/// Reads past the rest of an over-long line, a bounded chunk at a time.
fn skip_rest_of_line(reader: &mut impl BufRead) -> io::Result<()> {
    let mut scratch = Vec::new();
    loop {
        scratch.clear();
        let read = reader.take(MAX_LINE_BYTES).read_until(b'\n', &mut scratch)?;
        if read == 0 || scratch.last() == Some(&b'\n') {
            return Ok(());
        }
    }
}

/// Reads the file at `path` into `analyzer` as a source of its own; with `max_bytes`, only its last
/// `max_bytes` from the first whole line on. A file that cannot be opened or read is recorded in
/// the source's `error`, and the error returned.
pub fn feed_file(analyzer: &mut Analyzer, path: &Path, max_bytes: Option<u64>) -> io::Result<()> {
    analyzer.begin_source(&path.display().to_string());
    let result = read_file(analyzer, path, max_bytes);
    if let Err(error) = &result {
        analyzer.source_failed(error.to_string());
    }
    result
}

fn read_file(analyzer: &mut Analyzer, path: &Path, max_bytes: Option<u64>) -> io::Result<()> {
    let mut file = File::open(path)?;
    let length = file.metadata()?.len();
    match max_bytes {
        Some(max) if length > max => {
            file.seek(SeekFrom::Start(length - max))?;
            let mut reader = BufReader::new(file.take(max));
            // The first line is most likely cut: skip to the next whole one.
            reader.read_until(b'\n', &mut Vec::new())?;
            analyzer.mark_truncated();
            feed(analyzer, reader)
        }
        _ => feed(analyzer, BufReader::new(file)),
    }
}

/// Feeds standard input as the source `-`.
pub fn feed_stdin(analyzer: &mut Analyzer) -> io::Result<()> {
    analyzer.begin_source("-");
    let result = feed(analyzer, io::stdin().lock());
    if let Err(error) = &result {
        analyzer.source_failed(error.to_string());
    }
    result
}

/// The report over the last `window` of the server's log files (`LOG_FILES`), read on a blocking
/// thread. A file that does not exist is listed with its error; when none can be read the report
/// has no score (`health.status` `unknown`).
pub async fn server_report(files: Vec<PathBuf>, window: TimeDelta) -> Result<LogReport, ApiError> {
    let now = Utc::now();
    let since: Option<DateTime<Utc>> = now.checked_sub_signed(window);
    tokio::task::spawn_blocking(move || {
        let mut analyzer = Analyzer::new(since);
        for file in &files {
            // Recorded in the report's sources; the others are still read.
            let _ = feed_file(&mut analyzer, file, Some(ENDPOINT_MAX_BYTES));
        }
        analyzer.finish(now)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("the log analysis did not finish: {e}")))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const LINE: &str = r#"{"timestamp":"2026-12-04T22:00:33Z","level":"INFO","message":"finished processing request","latency":"5 ms","status":200,"target":"tower_http::trace::on_response","spans":[{"http.method":"GET","http.route":"/api/ping","name":"request"}]}"#;

    /// A file of this test's own under the temporary directory, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn with(name: &str, bytes: &[u8]) -> Self {
            let path = std::env::temp_dir().join(format!("c4m-log-analysis-{}-{name}", std::process::id()));
            File::create(&path).and_then(|mut f| f.write_all(bytes)).expect("write the test file");
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn a_file_without_a_final_newline_and_with_invalid_utf8_is_read_whole() {
        let bytes = [LINE.as_bytes(), &b"\n\x00garbage \xff\xfe\r\n"[..], LINE.as_bytes()].concat();
        let file = TempFile::with("whole", &bytes);
        let mut analyzer = Analyzer::new(None);
        feed_file(&mut analyzer, &file.0, None).expect("read");
        let report = analyzer.finish(Utc::now());
        assert_eq!((report.lines.parsed, report.lines.unparsable), (2, 1));
        assert_eq!(report.requests.count, 2);
        assert!(!report.sources[0].truncated);
    }

    #[test]
    fn with_a_byte_limit_only_the_whole_lines_of_the_files_end_are_read() {
        let file = TempFile::with("tail", format!("{LINE}\n").repeat(10).as_bytes());
        let mut analyzer = Analyzer::new(None);
        // Three lines and a half: the half line is skipped, not counted as unparsable.
        let limit = (LINE.len() as u64 + 1) * 3 + 10;
        feed_file(&mut analyzer, &file.0, Some(limit)).expect("read");
        let report = analyzer.finish(Utc::now());
        assert_eq!((report.lines.parsed, report.lines.unparsable), (3, 0));
        assert_eq!(report.sources[0].lines, 3);
        assert!(report.sources[0].truncated);
    }

    #[test]
    fn a_missing_file_is_an_error_recorded_in_its_source() {
        let mut analyzer = Analyzer::new(None);
        assert!(feed_file(&mut analyzer, Path::new("/nonexistent/c4m/server.log"), None).is_err());
        let report = analyzer.finish(Utc::now());
        assert_eq!(report.sources[0].name, "/nonexistent/c4m/server.log");
        assert!(report.sources[0].error.is_some());
        assert_eq!(report.health.score, None);
    }
}
