//! What the examples share: where they print, how they show progress on long runs, and
//! how they read their flags.

// Each example uses its own subset.
#![allow(dead_code, unused_macros, unused_imports)]

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::time::Instant;

/// Where an example prints: stdout when it runs, a buffer when a test runs its logic.
#[derive(Clone)]
pub struct Out {
    writer: Arc<Mutex<dyn Write + Send>>,
    /// Whether progress may be drawn as a bar on stderr (a terminal) rather than as lines.
    terminal: bool,
}

impl Out {
    /// Standard output; progress is a bar when stderr is a terminal, lines otherwise.
    pub fn stdout() -> Self {
        Self {
            writer: Arc::new(Mutex::new(std::io::stdout())),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Any writer, progress as plain lines into it (what the tests use).
    pub fn new(writer: impl Write + Send + 'static) -> Self {
        Self {
            writer: Arc::new(Mutex::new(writer)),
            terminal: false,
        }
    }

    /// The writer, for [`say!`]. A panic while printing elsewhere does not silence it.
    pub fn lock(&self) -> MutexGuard<'_, dyn Write + Send + 'static> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Prints one formatted line to an [`Out`].
macro_rules! say {
    // `Out` holds a `dyn Write`, whose methods need no import at the call site. A
    // closed pipe (`| head`) is not worth a panic: the demo just stops being heard.
    ($out:expr, $($arg:tt)*) => {
        let _ = writeln!($out.lock(), $($arg)*);
    };
}
pub(crate) use say;

/// Whole milliseconds, for printing.
pub fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// Progress through `total` steps of a long phase: a bar on stderr when [`Out`] is a
/// terminal, otherwise one line into it every 10%, or nothing at all when hidden.
pub struct Progress {
    bar: Option<ProgressBar>,
    out: Option<Out>,
    total: usize,
    /// What a step is, e.g. "yielded in order".
    what: &'static str,
    /// The next step count that prints a line (plain mode).
    next_line: usize,
    start: Instant,
}

impl Progress {
    /// Shows progress through `total` steps on `out`; `what` says what a step is
    /// ("yielded in order" reads as "40% yielded in order (800 of 2000)").
    pub fn new(out: &Out, total: usize, what: &'static str) -> Self {
        let bar = out.terminal.then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
                    .with_style(
                        ProgressStyle::with_template(
                            // `wide_msg` is cut to the terminal's width: one line, always.
                            "{spinner} {elapsed:>4} [{bar:25}] {pos}/{len} {wide_msg}",
                        )
                        .expect("a valid template")
                        .progress_chars("=> "),
                    );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Self {
            out: bar.is_none().then(|| out.clone()),
            bar,
            total,
            what,
            next_line: step(total),
            start: Instant::now(),
        }
    }

    /// Shows nothing (`--quiet`, or a run small enough to print every event).
    pub fn hidden() -> Self {
        Self {
            bar: None,
            out: None,
            total: 0,
            what: "",
            next_line: usize::MAX,
            start: Instant::now(),
        }
    }

    /// `done` of the total steps are done; `detail` adds what else is worth knowing now
    /// (only called when something is shown).
    pub fn set(&mut self, done: usize, detail: impl FnOnce() -> String) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
            bar.set_message(format!("{}, {}", self.what, detail()));
        } else if let Some(out) = &self.out {
            if done >= self.next_line {
                say!(
                    out,
                    "{:>6} ms   {:>3}% {} ({done} of {}), {}",
                    ms(self.start.elapsed()),
                    done * 100 / self.total.max(1),
                    self.what,
                    self.total,
                    detail()
                );
                self.next_line = done + step(self.total);
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Steps between two plain progress lines: a tenth of the total.
fn step(total: usize) -> usize {
    (total / 10).max(1)
}

/// A whole number in `1..=max`, for clap's `value_parser`: a count of tasks, items,
/// producers or slots, where 0 would make the demo say nothing true.
pub fn count(max: usize) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(1..=max as u64)
}

/// Parses `argv` (the arguments after the program name) with `parse`; on an error, or on
/// `--help`, prints clap's message and exits (0 for help, 2 for a usage error).
pub fn args_or_exit<A>(
    parse: impl FnOnce(std::iter::Skip<std::env::Args>) -> Result<A, clap::Error>,
) -> A {
    parse(std::env::args().skip(1)).unwrap_or_else(|e| e.exit())
}
