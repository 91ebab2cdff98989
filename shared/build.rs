//! Rebuild when a migration is added: `sqlx::migrate!` embeds the directory at compile time and
//! cargo would otherwise not notice a new file.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
