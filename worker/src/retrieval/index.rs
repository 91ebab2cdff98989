//! Bringing a project's chunks up to date from an `index_files` job.
//!
//! Per file: cut it into chunks, reuse the stored vector of every chunk whose text is unchanged,
//! embed the rest, then replace the file's rows in one transaction — only if the job's version is
//! newer than the stored one, so a late job never rolls a file back and a repeated job is a no-op.
//! File names and chunk texts are stored through [`pg_text`], so a NUL in a file can never make the
//! job one PostgreSQL refuses (the dead set).

use std::collections::HashMap;

use code4me_shared::jobs::index::{FileContents, IndexFilesRecord};
use pgvector::Vector;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::chunks::chunk_lines;
use super::{RetrievalError, Retriever, embedded_text};
use crate::pg_text::pg_text;

/// Chunks embedded per model call.
const EMBED_BATCH: usize = 16;

/// What one job changed, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexReport {
    /// Files whose chunks were replaced.
    pub files_indexed: usize,
    /// Files skipped because the index already holds this or a newer version.
    pub files_skipped: usize,
    /// Chunks that needed the embedding model.
    pub chunks_embedded: usize,
    /// Chunks whose stored vector was reused.
    pub chunks_reused: usize,
}

impl Retriever {
    /// Indexes every file of `record`.
    pub async fn index(&self, record: &IndexFilesRecord) -> Result<IndexReport, RetrievalError> {
        let mut report = IndexReport::default();
        for (file_name, contents) in &record.files {
            self.index_file(record.project_id, file_name, contents, &mut report).await?;
        }
        Ok(report)
    }

    async fn index_file(&self, project_id: Uuid, file_name: &str, contents: &FileContents, report: &mut IndexReport) -> Result<(), RetrievalError> {
        // The stored name, so lookups, rows and searches (which exclude by name) agree.
        let file_name = &*pg_text(file_name);
        let stored: Option<i64> = sqlx::query_scalar("SELECT version FROM retrieval_file WHERE project_id = $1 AND file_name = $2")
            .bind(project_id)
            .bind(file_name)
            .fetch_optional(&self.db)
            .await?;
        if stored.is_some_and(|v| v >= contents.version) {
            report.files_skipped += 1;
            return Ok(());
        }
        let chunks = chunk_lines(&contents.lines);
        let texts: Vec<String> = chunks.iter().map(|c| embedded_text(file_name, &c.text)).collect();
        let hashes: Vec<Vec<u8>> = texts.iter().map(|t| Sha256::digest(t.as_bytes()).to_vec()).collect();
        let mut vectors: HashMap<Vec<u8>, Vector> =
            sqlx::query_as("SELECT content_hash, embedding FROM retrieval_chunk WHERE project_id = $1 AND file_name = $2")
                .bind(project_id)
                .bind(file_name)
                .fetch_all(&self.db)
                .await?
                .into_iter()
                .collect();
        let missing: Vec<usize> = {
            let mut seen = std::collections::HashSet::new();
            (0..chunks.len()).filter(|&i| !vectors.contains_key(&hashes[i]) && seen.insert(&hashes[i])).collect()
        };
        report.chunks_reused += chunks.len() - missing.len();
        report.chunks_embedded += missing.len();
        {
            let _one_at_a_time = self.indexing.acquire().await.expect("the semaphore is never closed");
            for batch in missing.chunks(EMBED_BATCH) {
                let embedded = self.embed(batch.iter().map(|&i| texts[i].clone()).collect()).await?;
                for (&i, vector) in batch.iter().zip(embedded) {
                    vectors.insert(hashes[i].clone(), Vector::from(vector));
                }
            }
        }

        let mut tx = self.db.begin().await?;
        let newer: Option<i64> = sqlx::query_scalar(
            "INSERT INTO retrieval_file (project_id, file_name, version) VALUES ($1, $2, $3) \
             ON CONFLICT (project_id, file_name) DO UPDATE SET version = EXCLUDED.version, indexed_at = now() \
             WHERE retrieval_file.version < EXCLUDED.version RETURNING version",
        )
        .bind(project_id)
        .bind(file_name)
        .bind(contents.version)
        .fetch_optional(&mut *tx)
        .await?;
        if newer.is_none() {
            // A newer version landed while this one was being embedded.
            report.files_skipped += 1;
            return Ok(());
        }
        sqlx::query("DELETE FROM retrieval_chunk WHERE project_id = $1 AND file_name = $2")
            .bind(project_id)
            .bind(file_name)
            .execute(&mut *tx)
            .await?;
        for (chunk, hash) in chunks.iter().zip(&hashes) {
            sqlx::query(
                "INSERT INTO retrieval_chunk (project_id, file_name, start_line, end_line, content, content_hash, embedding) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(project_id)
            .bind(file_name)
            .bind(i32::try_from(chunk.start_line).unwrap_or(i32::MAX))
            .bind(i32::try_from(chunk.end_line).unwrap_or(i32::MAX))
            .bind(pg_text(&chunk.text))
            .bind(hash)
            .bind(&vectors[hash])
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.last_searches.forget(project_id);
        report.files_indexed += 1;
        Ok(())
    }
}
