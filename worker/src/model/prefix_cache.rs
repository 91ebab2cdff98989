//! Reuse of evaluated prompts: a bounded, most-recently-used set of finished sequences per model.
//! A new request takes the one sharing the longest token prefix with its prompt and evaluates only
//! the rest — what makes consecutive completions in one file cheap.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::native::Sequence;

/// Finished sequences kept for their KV caches.
pub struct PrefixCache {
    capacity: usize,
    entries: Mutex<VecDeque<Sequence>>,
}

impl PrefixCache {
    /// Keeps at most `capacity` sequences (0 disables reuse).
    pub fn new(capacity: usize) -> Self {
        Self { capacity, entries: Mutex::new(VecDeque::new()) }
    }

    /// The cached sequence sharing the longest prefix with `prompt`, cut to that prefix (always
    /// leaving at least the last prompt token to evaluate, whose logits start the generation), with
    /// the tokens cut off — typically the previous completion of the same document, which drafts
    /// for speculative decoding draw on — or `None` when nothing is shared. The sequence leaves the
    /// cache: it belongs to one request at a time, and comes back through [`PrefixCache::store`].
    pub fn take(&self, prompt: &[u32]) -> Option<(Sequence, Vec<u32>)> {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (index, shared) = entries.iter().enumerate().map(|(i, s)| (i, common_prefix(s.tokens(), prompt))).max_by_key(|&(_, shared)| shared)?;
        let usable = shared.min(prompt.len().saturating_sub(1));
        if usable == 0 {
            return None;
        }
        let mut sequence = entries.remove(index)?;
        let cut_off = sequence.tokens()[usable..].to_vec();
        sequence.truncate(usable);
        Some((sequence, cut_off))
    }

    /// Offers a finished sequence for reuse, evicting the least recently used beyond capacity.
    pub fn store(&self, sequence: Sequence) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.push_front(sequence);
        entries.truncate(self.capacity);
    }

    /// Sequences held now.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
