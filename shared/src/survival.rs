//! Code survival: how much of an accepted completion is still in the code some time later. The
//! plugin re-sends the text around an accepted completion (32 characters either side of it) at
//! fixed times after acceptance; the completion survives unchanged when it still occurs verbatim,
//! and mostly unchanged when some stretch of the later text is within a fifth of its length in
//! edits (edit similarity ≥ 0.8; completion studies measure persistence this way, e.g. Ziegler et
//! al. 2022, "Productivity assessment of neural code completion"). The worker scores each ground truth once, when it is stored, so the analytics only count.

/// Longest completion scored (characters); longer ones are scored on their start.
pub const MAX_COMPLETION_CHARS: usize = 2_000;
/// Longest later text searched (characters).
pub const MAX_LATER_CHARS: usize = 4_000;
/// Edit similarity at which a completion counts as mostly unchanged.
pub const MOSTLY_UNCHANGED: f64 = 0.8;

/// 1 − d / |completion|, where d is the fewest character edits turning the completion into some
/// substring of `later` (Sellers' semi-global edit distance: the match may start and end anywhere
/// in `later`); 1.0 means it occurs verbatim, 0.0 that nothing of it is left. `None` for an empty
/// completion (nothing to survive). Line endings are compared as `\n`.
pub fn edit_similarity_within(completion: &str, later: &str) -> Option<f64> {
    let pattern: Vec<char> = completion.replace("\r\n", "\n").chars().take(MAX_COMPLETION_CHARS).collect();
    let text: Vec<char> = later.replace("\r\n", "\n").chars().take(MAX_LATER_CHARS).collect();
    if pattern.is_empty() {
        return None;
    }
    // Row i holds, for each end position j in `text`, the fewest edits matching pattern[..i] to a
    // substring of text ending at j; row 0 is all zeros (the match may start anywhere).
    let mut previous = vec![0usize; text.len() + 1];
    let mut current = vec![0usize; text.len() + 1];
    for (i, &p) in pattern.iter().enumerate() {
        current[0] = i + 1;
        for (j, &t) in text.iter().enumerate() {
            let substitution = previous[j] + usize::from(p != t);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    let distance = previous.iter().copied().min().unwrap_or(pattern.len());
    Some((1.0 - distance as f64 / pattern.len() as f64).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completion_still_in_the_text_scores_one_and_edits_lower_it_by_their_share() {
        let around = |middle: &str| format!("def total(items):\n    {middle}\n\nprint(total([1, 2]))");
        assert_eq!(edit_similarity_within("return sum(items)", &around("return sum(items)")), Some(1.0));
        // One character changed out of 17 (by hand: 1 − 1/17).
        let changed = edit_similarity_within("return sum(items)", &around("return sum(item)")).expect("scored");
        assert!((changed - (1.0 - 1.0 / 17.0)).abs() < 1e-12, "{changed}");
        assert!(changed >= MOSTLY_UNCHANGED);
        // Rewritten as a loop: little of it is left.
        let rewritten = edit_similarity_within("return sum(items)", &around("acc = 0\n    for i in items: acc += i")).expect("scored");
        assert!(rewritten < MOSTLY_UNCHANGED, "{rewritten}");
        assert_eq!(edit_similarity_within("abc", ""), Some(0.0), "deleted entirely");
        assert_eq!(edit_similarity_within("", "anything"), None);
        assert_eq!(edit_similarity_within("a\r\nb", "x a\nb y"), Some(1.0), "line endings");
    }
}
