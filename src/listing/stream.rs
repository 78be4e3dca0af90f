//! Reading a registry's listing as a stream: a URL is downloaded chunk by chunk into a
//! blocking parser thread (a bounded channel: the download waits for the parser, memory stays
//! small, and the download stops when the parser has what it needs); a local file is read
//! the same way. Either says every few seconds how much has been read.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::ecosystem::RegistryError;
use crate::http::Http;

use super::NOTE_EVERY;

/// Read a listing (a URL, streamed; or a local file) with `read` on a blocking thread, so a
/// file of hundreds of megabytes is never held whole. Says every few seconds how much has
/// been read.
pub async fn read_source<T: Send + 'static>(
    http: &Http,
    source: &str,
    accept: Option<&str>,
    what: &str,
    quiet: bool,
    read: impl FnOnce(&mut dyn Read) -> Result<T, String> + Send + 'static,
) -> Result<T, RegistryError> {
    let meter = Meter {
        what: what.to_string(),
        source: source.to_string(),
        read: Arc::new(AtomicU64::new(0)),
        total: None,
        quiet,
    };
    if !source.starts_with("http://") && !source.starts_with("https://") {
        let path = source.strip_prefix("file://").unwrap_or(source).to_string();
        let file = std::fs::File::open(&path)
            .map_err(|e| RegistryError::Failed(format!("cannot read the listing {path}: {e}")))?;
        let meter = Meter {
            total: file.metadata().ok().map(|m| m.len()),
            ..meter
        };
        let shown = path.clone();
        return tokio::task::spawn_blocking(move || {
            let mut r = Metered::new(std::io::BufReader::new(file), meter);
            read(&mut r)
        })
        .await
        .map_err(|e| RegistryError::Failed(format!("reading the listing {shown}: {e}")))?
        .map_err(|e| RegistryError::Failed(format!("the listing {shown}: {e}")));
    }
    let mut stream = http.open(source, accept).await.map_err(|e| match e {
        crate::http::HttpError::NotFound { .. } => {
            RegistryError::Failed(format!("there is no listing at {source} ({e})"))
        }
        e => RegistryError::Failed(format!("cannot read the listing: {e}")),
    })?;
    let meter = Meter {
        total: stream.announced_len(),
        ..meter
    };
    // A few chunks in flight: the download waits for the parser, memory stays small.
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    let parser = tokio::task::spawn_blocking(move || {
        let mut r = Metered::new(
            ChannelReader {
                rx,
                chunk: Vec::new(),
                at: 0,
            },
            meter,
        );
        read(&mut r)
    });
    let mut cut = None;
    loop {
        match stream.chunk().await {
            Ok(Some(c)) => {
                // The parser ended early (it found what it needed, or an error): stop.
                if tx.send(c).await.is_err() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                cut = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let parsed = parser
        .await
        .map_err(|e| RegistryError::Failed(format!("reading the listing {source}: {e}")))?;
    match (parsed, cut) {
        (Ok(v), None) => Ok(v),
        // A cut connection explains whatever the parser made of the short stream.
        (_, Some(e)) => Err(RegistryError::Failed(format!(
            "the listing {source} was cut off: {e}"
        ))),
        (Err(e), None) => Err(RegistryError::Failed(format!("the listing {source}: {e}"))),
    }
}

/// Chunks from the download, as a `Read` for the parser thread.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.chunk.len() {
            // On the parser's blocking thread, never on the runtime's.
            match self.rx.blocking_recv() {
                Some(c) => {
                    self.chunk = c;
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

struct Meter {
    what: String,
    source: String,
    read: Arc<AtomicU64>,
    total: Option<u64>,
    quiet: bool,
}

/// Counts what is read and says so every [`NOTE_EVERY`].
struct Metered<R> {
    inner: R,
    meter: Meter,
    last: Instant,
}

impl<R> Metered<R> {
    fn new(inner: R, meter: Meter) -> Metered<R> {
        Metered {
            inner,
            meter,
            last: Instant::now(),
        }
    }
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = self.meter.read.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if !self.meter.quiet && self.last.elapsed() >= NOTE_EVERY {
            self.last = Instant::now();
            let mb = |b: u64| b as f64 / 1e6;
            let of = self
                .meter
                .total
                .map(|t| format!(" of {:.0}", mb(t)))
                .unwrap_or_default();
            crate::stdout::note(&format!(
                "note: listing {}: {:.0}{of} MB of {} read\n",
                self.meter.what,
                mb(read),
                self.meter.source
            ));
        }
        Ok(n)
    }
}
