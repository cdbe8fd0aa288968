//! What the examples share: where they print and how they read their flags.

// Each example uses its own subset.
#![allow(dead_code, unused_macros, unused_imports)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where an example prints: stdout when it runs, a buffer when a test runs its logic.
pub type Out = Arc<Mutex<dyn Write + Send>>;

/// Standard output as an [`Out`].
pub fn stdout() -> Out {
    Arc::new(Mutex::new(std::io::stdout()))
}

/// Prints one formatted line to an [`Out`].
macro_rules! say {
    // `Out` holds a `dyn Write`, whose methods need no import at the call site. A
    // closed pipe (`| head`) is not worth a panic: the demo just stops being heard.
    ($out:expr, $($arg:tt)*) => {
        let _ = writeln!($out.lock().unwrap(), $($arg)*);
    };
}
pub(crate) use say;

/// Whole milliseconds, for printing.
pub fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// Reads `--flag value` pairs, and the value-less flags named in `switches` (given an
/// empty value), handing each to `set`. `--help`, a missing value, or an error from `set`
/// ends it with a message that carries `usage`.
pub fn parse_flags(
    mut argv: impl Iterator<Item = String>,
    usage: &str,
    switches: &[&str],
    mut set: impl FnMut(&str, &str) -> Result<(), String>,
) -> Result<(), String> {
    while let Some(flag) = argv.next() {
        if flag == "--help" || flag == "-h" {
            return Err(usage.to_owned());
        }
        let value = if switches.contains(&flag.as_str()) {
            String::new()
        } else {
            argv.next()
                .ok_or_else(|| format!("{flag} needs a value\n{usage}"))?
        };
        set(&flag, &value).map_err(|e| format!("{e}\n{usage}"))?;
    }
    Ok(())
}

/// Parses the whole number given to `flag`.
pub fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: `{value}` is not a whole number"))
}

/// The command-line arguments after the program name, parsed by `parse`; on an error,
/// prints it and exits with status 2.
pub fn args_or_exit<A>(
    parse: impl FnOnce(std::iter::Skip<std::env::Args>) -> Result<A, String>,
) -> A {
    parse(std::env::args().skip(1)).unwrap_or_else(|message| {
        eprintln!("{message}");
        std::process::exit(2)
    })
}
