//! argon2id password hashing, always off the async executor (a hash takes tens of milliseconds of
//! CPU), with constant-time verification and no timing difference between "no such user" and
//! "wrong password".

use std::sync::Arc;

use anyhow::Context;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
use code4me_shared::settings::PasswordHashSettings;

/// Hashes and verifies passwords with the configured cost.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Arc<Argon2<'static>>,
    /// A hash of a random password, verified against when the e-mail is unknown so both failure paths
    /// cost the same.
    decoy: Arc<String>,
}

impl PasswordHasher {
    /// Builds a hasher; fails when the cost parameters are outside argon2's limits.
    pub fn new(settings: PasswordHashSettings) -> anyhow::Result<Self> {
        let params =
            Params::new(settings.memory_kib, settings.iterations, 1, None).map_err(|e| anyhow::anyhow!("invalid PASSWORD_HASH_* settings: {e}"))?;
        let argon2 = Arc::new(Argon2::new(Algorithm::Argon2id, Version::V0x13, params));
        let decoy_password = uuid::Uuid::new_v4().to_string();
        let decoy = argon2.hash_password(decoy_password.as_bytes()).map_err(|e| anyhow::anyhow!("hashing: {e}"))?.to_string();
        Ok(Self { argon2, decoy: Arc::new(decoy) })
    }

    /// The PHC string (`$argon2id$v=19$...`) of `password`, with a fresh random salt.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            argon2.hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| anyhow::anyhow!("hashing: {e}"))
        })
        .await
        .context("password hashing task")?
    }

    /// Whether `password` matches `stored` (a PHC string). `None` checks against the decoy and returns
    /// false, taking as long as a real check.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> anyhow::Result<bool> {
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.decoy.as_ref().clone(), str::to_owned);
        tokio::task::spawn_blocking(move || {
            // An unparsable stored hash (e.g. an account imported with another scheme) never matches.
            let Ok(parsed) = PasswordHash::new(&stored) else { return false };
            argon2.verify_password(password.as_bytes(), &parsed).is_ok() && known
        })
        .await
        .context("password verification task")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(PasswordHashSettings { memory_kib: 64, iterations: 1 }).expect("valid params")
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hasher = cheap();
        let hash = hasher.hash("Secret123").await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(hasher.verify("Secret123", Some(&hash)).await.expect("verify"));
        assert!(!hasher.verify("Secret124", Some(&hash)).await.expect("verify"));
    }

    #[tokio::test]
    async fn unknown_users_and_garbage_hashes_never_match() {
        let hasher = cheap();
        assert!(!hasher.verify("anything", None).await.expect("verify"));
        assert!(!hasher.verify("anything", Some("not-a-phc-string")).await.expect("verify"));
    }

    #[tokio::test]
    async fn salts_differ_between_hashes_of_the_same_password() {
        let hasher = cheap();
        assert_ne!(hasher.hash("Secret123").await.expect("hash"), hasher.hash("Secret123").await.expect("hash"));
    }
}
