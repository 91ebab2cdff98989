//! Spawning helper processes that cannot outlive the test process.

use std::net::TcpListener;
use std::process::Command;

/// Makes `command`'s child receive `signal` when the thread that spawned it exits. Spawn from a
/// thread that lives as long as the child should (see `postgres::cluster`).
#[allow(unsafe_code)]
pub fn die_with_parent(command: &mut Command, signal: nix::sys::signal::Signal) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls prctl(2), which is
    // async-signal-safe; it allocates nothing and touches no locks.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(signal).map_err(std::io::Error::from)?;
            Ok(())
        })
    }
}

/// A TCP port that was free a moment ago on 127.0.0.1 (for servers that cannot take port 0).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address of a bound socket").port()
}

/// Root of the repository (the harness finds `data/` and `website/` from here).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ lives in the repository").to_path_buf()
}
