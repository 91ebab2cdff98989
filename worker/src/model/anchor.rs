//! A stable start for the plugin's sliding prefix window, so consecutive keystrokes reuse the KV
//! cache.
//!
//! The plugin sends the last 512 characters before the caret. While the user types, that window's
//! start moves with every character, so each prompt differs from the previous one at its very
//! first token and a prompt-prefix cache never hits. Once the window is full, the prompt therefore
//! starts at an *anchor* instead: the first line start inside the window whose line is picked by
//! a hash of its own text (about one line in [`ANCHOR_EVERY`]). The anchor depends only on the
//! text, not on where the window happens to begin, so it stays put — and the cached sequence
//! stays a prefix of the next prompt — until the window's start passes it; then the next anchor,
//! a few lines further down, takes over. A short prefix (the caret near the top of a file) is the
//! file's real start and is used whole.

/// Prefixes at least this long (in characters) are treated as a sliding window.
pub const WINDOW_CHARS: usize = 500;

/// Roughly one line in this many is an anchor.
pub const ANCHOR_EVERY: u64 = 4;

/// The part of `prefix` to prompt with: from the first anchor line when `prefix` is a full window,
/// else all of it. Never drops more than half of the window.
pub fn stable_prefix(prefix: &str) -> &str {
    if prefix.chars().count() < WINDOW_CHARS {
        return prefix;
    }
    let limit = prefix.len() / 2;
    let mut first_line_start = None;
    for (newline, _) in prefix.match_indices('\n') {
        let start = newline + 1;
        if start > limit {
            break;
        }
        first_line_start.get_or_insert(start);
        let line = prefix[start..].split('\n').next().unwrap_or("");
        // The line must be complete (a newline follows): the last line is still being typed.
        if start + line.len() < prefix.len() && fnv1a(line.as_bytes()).is_multiple_of(ANCHOR_EVERY) {
            return &prefix[start..];
        }
    }
    // No anchor in the first half: start at a line anyway (still stable while that line is in).
    first_line_start.map_or(prefix, |start| &prefix[start..])
}

/// FNV-1a: a fixed, dependency-free hash (anchors must not change between processes or builds).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> String {
        (0..200).map(|i| format!("let value_{i} = compute({i}, \"{}\");\n", "x".repeat(i % 7))).collect()
    }

    /// The plugin's window: the last 512 characters before `caret`.
    fn window(text: &str, caret: usize) -> &str {
        let start = text[..caret].char_indices().rev().nth(511).map_or(0, |(i, _)| i);
        &text[start..caret]
    }

    #[test]
    fn a_short_prefix_is_the_file_start_and_is_kept_whole() {
        assert_eq!(stable_prefix("fn main() {\n    let x = 1;\n"), "fn main() {\n    let x = 1;\n");
    }

    #[test]
    fn the_prompt_start_stays_put_while_typing_until_the_window_passes_it() {
        let text = source();
        let mut starts = Vec::new();
        for caret in 2000..3000 {
            let prefix = window(&text, caret);
            let stable = stable_prefix(prefix);
            assert!(prefix.ends_with(stable), "a suffix of the window");
            assert!(stable.len() * 2 >= prefix.len() - 1, "at most half is dropped");
            // Where the prompt starts, as a position in the file.
            starts.push(caret - stable.len());
        }
        let moves = starts.windows(2).filter(|w| w[0] != w[1]).count();
        // A window start moves 1000 times over 1000 keystrokes; the anchor far less often.
        assert!(moves <= 1000 / 40, "the prompt start moved {moves} times in 1000 keystrokes");
    }

    #[test]
    fn a_window_without_newlines_is_used_whole() {
        let long = "x".repeat(600);
        assert_eq!(stable_prefix(&long), long);
    }
}
