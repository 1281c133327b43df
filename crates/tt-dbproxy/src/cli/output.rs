//! Standard output of the subcommands. A reader that goes away early
//! (`tt-dbproxy admin user list | head -1`) ends the command quietly with
//! status 0, as for any Unix filter, instead of a panic: `println!` panics
//! on a closed pipe, and resetting SIGPIPE for the whole process would also
//! change `serve`.

use std::fmt;
use std::io::{self, Write};

/// Standard output was closed by its reader; not a failure of the command.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct StdoutClosed;

/// Writes one line to standard output.
pub fn line(args: fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to standard output")),
    }
}

/// Whether `error` only says that standard output was closed.
pub fn is_closed_stdout(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.is::<StdoutClosed>())
}

/// `println!` for the subcommands: returns an error instead of panicking
/// (see [`line`]).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::output::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;
