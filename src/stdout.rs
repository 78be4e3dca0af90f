//! Writing the report to standard output. A reader that goes away (`provero verify … | head`)
//! ends the process quietly with exit 0, as ripgrep does; any other write error (a full disk,
//! `> /dev/full`) is one sentence on stderr and exit 2. Never a panic (`print!` panics on both).
//! Results already decided are in the results store, so the next run resumes from there.

use std::io::Write;

/// Write `text` to standard output and flush it; on failure end the process as above.
pub fn write(text: &str) {
    if text.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        exit_on_write_error(&e)
    }
}

/// Standard output as a buffered writer for a report rendered as it is read: a failed write
/// ends the process as [`write`] does, so the only errors a renderer sees are its own.
pub fn writer() -> impl Write {
    Stdout(std::io::BufWriter::with_capacity(
        1 << 16,
        std::io::stdout(),
    ))
}

struct Stdout(std::io::BufWriter<std::io::Stdout>);

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).or_else(|e| exit_on_write_error(&e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().or_else(|e| exit_on_write_error(&e))
    }
}

impl Drop for Stdout {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Write to standard error, ignoring failure (there is nowhere left to say it).
pub fn note(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

fn exit_on_write_error(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    note(&format!(
        "error: cannot write the report to standard output: {e}\n"
    ));
    std::process::exit(2)
}
