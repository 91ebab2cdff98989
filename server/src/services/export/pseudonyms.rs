//! Pseudonyms for exported ids: HMAC-SHA256 of the id under a key drawn for one export and never
//! stored, so within an export a user keeps one pseudonym (per-user analysis works) while nobody —
//! us included — can map it back or link it to another export.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use uuid::Uuid;

/// Hex characters kept (64 bits: collisions need billions of users).
const PSEUDONYM_HEX_CHARS: usize = 16;

/// This export's key.
pub struct Pseudonyms {
    key: [u8; 32],
}

impl Pseudonyms {
    /// A fresh random key.
    pub fn new() -> Self {
        let mut key = [0_u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self { key }
    }

    /// The pseudonym of `id`.
    pub fn of(&self, id: Uuid) -> String {
        // Why the expect cannot fail: HMAC takes keys of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        hex.truncate(PSEUDONYM_HEX_CHARS);
        hex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_export_keeps_a_pseudonym_per_id_and_another_export_gets_other_ones() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let export = Pseudonyms::new();
        assert_eq!(export.of(a), export.of(a));
        assert_ne!(export.of(a), export.of(b));
        assert_eq!(export.of(a).len(), 16);
        assert!(!export.of(a).contains(&a.simple().to_string()[..8]));
        assert_ne!(Pseudonyms::new().of(a), export.of(a), "a new key per export");
    }
}
