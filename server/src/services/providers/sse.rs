//! Server-sent events out of a byte stream that arrives in arbitrary pieces: a network chunk may end
//! in the middle of a line, of a UTF-8 character or between an event's lines, so bytes are kept
//! until a line is complete and an event is handed out only at its blank line.

/// Reassembles `data:` events from chunks.
#[derive(Debug, Default)]
pub struct SseBuffer {
    /// Bytes after the last complete line.
    pending: Vec<u8>,
    /// The `data:` lines of the event being read.
    data: Vec<String>,
}

/// Longest line kept while waiting for its end; a provider that sends more without a newline is
/// not speaking server-sent events.
const MAX_LINE: usize = 4 * 1024 * 1024;

impl SseBuffer {
    /// Feeds a chunk; returns the data of every event it completed (multi-line data joined by
    /// `\n`), or an error when a line grows past any reasonable size.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<String>, String> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(offset) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset;
            let line = String::from_utf8_lossy(&self.pending[start..end]);
            let line = line.strip_suffix('\r').unwrap_or(&line).to_owned();
            self.line(&line, &mut events);
            start = end + 1;
        }
        self.pending.drain(..start);
        if self.pending.len() > MAX_LINE {
            return Err("an event line is longer than 4 MiB".to_owned());
        }
        Ok(events)
    }

    /// The event left when the stream ends without its blank line.
    pub fn finish(&mut self) -> Option<String> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            let line = String::from_utf8_lossy(&rest).trim_end_matches('\r').to_owned();
            let mut events = Vec::new();
            self.line(&line, &mut events);
            if let Some(event) = events.pop() {
                return Some(event);
            }
        }
        (!self.data.is_empty()).then(|| std::mem::take(&mut self.data).join("\n"))
    }

    fn line(&mut self, line: &str, events: &mut Vec<String>) {
        if line.is_empty() {
            if !self.data.is_empty() {
                events.push(std::mem::take(&mut self.data).join("\n"));
            }
            return;
        }
        // Comments (`: keep-alive`) and the other fields (`event:`, `id:`, `retry:`) carry nothing
        // an OpenAI-compatible stream needs.
        if let Some(value) = line.strip_prefix("data:") {
            self.data.push(value.strip_prefix(' ').unwrap_or(value).to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_are_reassembled() {
        let stream = "data: {\"a\":1}\n\n: keep-alive\n\ndata: {\"b\":\"é\"}\r\n\r\nevent: x\ndata: [DONE]\n\n";
        let bytes = stream.as_bytes();
        for size in 1..=bytes.len() {
            let mut buffer = SseBuffer::default();
            let mut events = Vec::new();
            for chunk in bytes.chunks(size) {
                events.extend(buffer.push(chunk).expect("bounded"));
            }
            assert_eq!(events, ["{\"a\":1}", "{\"b\":\"é\"}", "[DONE]"], "chunk size {size}");
            assert_eq!(buffer.finish(), None);
        }
    }

    #[test]
    fn multi_line_data_is_joined_and_a_trailing_event_is_kept() {
        let mut buffer = SseBuffer::default();
        assert_eq!(buffer.push(b"data: one\ndata:two\n\ndata: last").expect("bounded"), ["one\ntwo"]);
        assert_eq!(buffer.finish().as_deref(), Some("last"));
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut buffer = SseBuffer::default();
        let chunk = vec![b'x'; MAX_LINE + 1];
        assert!(buffer.push(&chunk).is_err());
    }
}
