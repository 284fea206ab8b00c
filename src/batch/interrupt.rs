//! Ctrl-C and SIGTERM (what Slurm and Kubernetes send before killing): the first stops the
//! batch cleanly (no new inputs, running ones abandoned, reports written for what is done,
//! marked incomplete); the second exits at once. Nothing is ever half-written either way:
//! the journal commits atomically and reports are renamed into place.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Exit status when a second signal stops the process at once (inputs left unscanned).
pub const EXIT_AT_ONCE: i32 = 2;

/// Whether a stop was asked for.
#[derive(Clone)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Installs the handlers for SIGINT and SIGTERM.
    pub fn install() -> std::io::Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Registered first, so it sees the flag as the previous signal left it: set
            // means this is the second signal.
            signal_hook::flag::register_conditional_shutdown(sig, EXIT_AT_ONCE, Arc::clone(&flag))?;
            signal_hook::flag::register(sig, Arc::clone(&flag))?;
        }
        Ok(Self(flag))
    }

    /// A flag nobody sets (library use, tests).
    pub fn never() -> Self {
        Self(Arc::new(AtomicBool::new(false)))
    }

    /// True once a stop was asked for.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
