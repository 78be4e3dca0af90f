//! The one HTTP client: user agent, timeouts, bounded connections per host, and retries with
//! exponential backoff and jitter for timeouts, 5xx and 429 (honouring `Retry-After`).
//! HTTP/2 is negotiated by ALPN over TLS (one connection per host multiplexes the requests in
//! flight; plain-HTTP mirrors and hosts without h2 keep HTTP/1.1 keep-alive), and a registry
//! profile's `rate` paces every request under a URL prefix (crates.io's API: 1 a second).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::Semaphore;

#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("{url} was not found (HTTP {status})")]
    NotFound { url: String, status: u16 },
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    #[error("{url}: response larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
}

#[derive(Debug, Clone)]
pub struct Body {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    /// The URL after redirects.
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub retries: u32,
    pub per_host: usize,
    pub base_delay: Duration,
    pub max_bytes: u64,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Longest silence while waiting for a response or between bytes of one: a host that
    /// accepts and never answers fails after this, not after minutes.
    pub read_timeout: Duration,
    /// Requests under a URL prefix at most this often (`rate` in registry profiles); the
    /// longest matching prefix applies.
    pub rates: Vec<(String, Rate)>,
}

/// A request rate: at most `count` requests per `per` (`"1/s"`, `"20/s"`, `"100/min"`,
/// `"5000/h"`), spaced evenly: one request every `per / count`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    /// The least time between two requests.
    pub fn interval(&self) -> Duration {
        self.per / self.count
    }
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Rate, String> {
        let bad = || {
            format!(
                "`{s}` is not a request rate: write COUNT/UNIT with a unit of s, min or h \
                 (`1/s`, `100/min`)"
            )
        };
        let (count, unit) = s.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 {
            return Err(format!("`{s}`: a rate of 0 would never send a request"));
        }
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        Ok(Rate { count, per })
    }
}

impl<'de> serde::Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Requests under one URL prefix, spaced by its rate: the time the next may be sent.
/// A tokio mutex: waiters queue in order and the lock is held across the sleep.
struct Pacer {
    prefix: String,
    interval: Duration,
    next: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Pacer {
    async fn wait(&self) {
        let mut next = self.next.lock().await;
        if let Some(at) = *next {
            tokio::time::sleep_until(at).await;
        }
        *next = Some(tokio::time::Instant::now() + self.interval);
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            retries: 4,
            per_host: 8,
            base_delay: Duration::from_millis(250),
            max_bytes: 256 * 1024 * 1024,
            connect_timeout: Timeouts::default().connect,
            read_timeout: Timeouts::default().read,
            rates: Vec::new(),
        }
    }
}

/// The time limits a run applies (`--connect-timeout`, `--read-timeout`, `--package-timeout`).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub read: Duration,
    /// A package's registry requests and download together.
    pub package: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(20),
            package: Duration::from_secs(300),
        }
    }
}

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    config: HttpConfig,
    hosts: Arc<Mutex<HashMap<String, Arc<Host>>>>,
    pacers: Arc<Vec<Pacer>>,
    meta: Arc<Mutex<MetaCache>>,
}

/// One host's bound on requests in flight, and the gate its first request goes through alone
/// until its response's head is in: the connection it opens (TLS, ALPN) is the one the others
/// reuse, so a burst of requests to a new HTTP/2 host shares one connection instead of each
/// opening its own.
struct Host {
    permits: Semaphore,
    opened: tokio::sync::Mutex<bool>,
}

/// One metadata response, fetched once by whoever asks first.
type MetaCell = Arc<tokio::sync::OnceCell<Result<Body, HttpError>>>;

/// This run's metadata responses, bounded by bytes ([`crate::cache_budget::meta`]), least
/// recently used evicted first. The engine orders the work so that every version of a package
/// is taken in one stretch: the packages that share an index file or a Simple page are in
/// flight together or one after another, so what they share is the most recently used entry
/// and is not evicted before the last of them has read it. An entry evicted is only fetched
/// again if a later package asks for it (one whose name came back in the list), never
/// answered wrongly.
struct MetaCache {
    entries: HashMap<String, MetaEntry>,
    /// Entries by last use (a counter), oldest first.
    order: std::collections::BTreeMap<u64, String>,
    tick: u64,
    bytes: usize,
    budget: usize,
}

struct MetaEntry {
    cell: MetaCell,
    used: u64,
    /// Bytes counted against the budget once the answer is in (0 while in flight).
    bytes: usize,
}

impl MetaCache {
    fn new(budget: usize) -> MetaCache {
        MetaCache {
            entries: HashMap::new(),
            order: std::collections::BTreeMap::new(),
            tick: 0,
            bytes: 0,
            budget,
        }
    }

    /// The cell for `key`, made if absent, marked as just used.
    fn cell(&mut self, key: &str) -> MetaCell {
        self.tick += 1;
        let tick = self.tick;
        let e = self
            .entries
            .entry(key.to_string())
            .or_insert_with(|| MetaEntry {
                cell: MetaCell::default(),
                used: 0,
                bytes: 0,
            });
        if e.used != 0 {
            self.order.remove(&e.used);
        }
        e.used = tick;
        self.order.insert(tick, key.to_string());
        e.cell.clone()
    }

    fn remove(&mut self, key: &str) {
        if let Some(e) = self.entries.remove(key) {
            self.order.remove(&e.used);
            self.bytes -= e.bytes;
        }
    }

    /// Count an answer against the budget, then evict the least recently used answers (never
    /// one still in flight) until the rest fit.
    fn settle(&mut self, key: &str, bytes: usize) {
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        self.bytes = self.bytes - e.bytes + bytes;
        e.bytes = bytes;
        let mut in_flight = Vec::new();
        while self.bytes > self.budget {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            match self.entries.get(&oldest) {
                Some(e) if !e.cell.initialized() => in_flight.push((e.used, oldest)),
                Some(_) => {
                    let e = self.entries.remove(&oldest).expect("present");
                    self.bytes -= e.bytes;
                }
                None => {}
            }
        }
        self.order.extend(in_flight);
    }
}

/// What a cached answer costs: its bytes and its URL, plus bookkeeping.
fn meta_bytes(key: &str, r: &Result<Body, HttpError>) -> usize {
    let body = match r {
        Ok(b) => b.bytes.len() + b.url.len() + b.content_type.as_ref().map_or(0, String::len),
        Err(_) => 64,
    };
    body + 2 * key.len() + 128
}

impl Http {
    pub fn new(config: HttpConfig) -> anyhow::Result<Http> {
        let client = reqwest::Client::builder()
            .user_agent(concat!(
                "provero/",
                env!("CARGO_PKG_VERSION"),
                " (+provenance verifier)"
            ))
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            // HTTP/2 where the server offers it by ALPN: the flow-control window follows the
            // bandwidth-delay product (a large index file or artifact is not held to 64 KiB
            // in flight), and a quiet connection is pinged so a dead one is noticed before a
            // request waits on it.
            .http2_adaptive_window(true)
            .http2_keep_alive_interval(Duration::from_secs(20))
            .http2_keep_alive_timeout(config.read_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        let pacers = config
            .rates
            .iter()
            .map(|(prefix, rate)| Pacer {
                prefix: prefix.clone(),
                interval: rate.interval(),
                next: tokio::sync::Mutex::new(None),
            })
            .collect();
        Ok(Http {
            client,
            config,
            hosts: Arc::default(),
            pacers: Arc::new(pacers),
            meta: Arc::new(Mutex::new(MetaCache::new(crate::cache_budget::meta()))),
        })
    }

    /// The same client (connections, per-host bounds, rates) with other retries and size cap.
    pub fn with_limits(&self, retries: u32, max_bytes: u64) -> Http {
        let mut h = self.clone();
        h.config.retries = retries;
        h.config.max_bytes = max_bytes;
        h
    }

    /// Wait for the rate of the longest prefix of `url` that has one.
    async fn pace(&self, url: &str) {
        let pacer = self
            .pacers
            .iter()
            .filter(|p| url.starts_with(p.prefix.as_str()))
            .max_by_key(|p| p.prefix.len());
        if let Some(p) = pacer {
            p.wait().await;
        }
    }

    fn host(&self, url: &str) -> Arc<Host> {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(0)))
            })
            .unwrap_or_default();
        self.hosts
            .lock()
            .expect("host map")
            .entry(host)
            .or_insert_with(|| {
                Arc::new(Host {
                    permits: Semaphore::new(self.config.per_host),
                    opened: tokio::sync::Mutex::new(false),
                })
            })
            .clone()
    }

    /// GET registry metadata (index files, API pages), answered from memory when this run
    /// already fetched it: a crate's index file serves every version of it.
    pub async fn get_meta(&self, url: &str, accept: Option<&str>) -> Result<Body, HttpError> {
        let key = format!("{url}\0{}", accept.unwrap_or(""));
        // Single flight: packages of one crate in flight together share one request.
        let cell = self.meta.lock().expect("meta cache").cell(&key);
        if cell.initialized() {
            tracing::debug!("GET {url}: answered from this run's metadata cache");
        }
        let result = cell.get_or_init(|| self.get(url, accept)).await.clone();
        let bytes = meta_bytes(&key, &result);
        let mut cache = self.meta.lock().expect("meta cache");
        let keep = match &result {
            // One answer may take up to half the budget, so a large Simple page is still
            // fetched once for all of its versions.
            Ok(_) => bytes <= cache.budget / 2,
            // An answer that says "no such thing" holds for the run; a failure may pass.
            Err(HttpError::NotFound { .. }) => true,
            Err(_) => false,
        };
        // Only the cell this request used: a newer one under the same key stays.
        let same = cache
            .entries
            .get(&key)
            .is_some_and(|e| Arc::ptr_eq(&e.cell, &cell));
        if same {
            if keep {
                cache.settle(&key, bytes);
            } else {
                cache.remove(&key);
            }
        }
        result
    }

    /// GET a URL, retrying transient failures. 404 and 410 are `NotFound` and never retried.
    pub async fn get(&self, url: &str, accept: Option<&str>) -> Result<Body, HttpError> {
        let host = self.host(url);
        let mut attempt = 0;
        loop {
            let result = {
                let _permit = host.permits.acquire().await.expect("semaphore open");
                let opened = host.opened.lock().await;
                if *opened {
                    drop(opened);
                    self.get_once(url, accept, None).await
                } else {
                    self.get_once(url, accept, Some(opened)).await
                }
            };
            attempt += 1;
            match result {
                Ok(b) => return Ok(b),
                Err(Attempt::Final(e)) => return Err(e),
                Err(Attempt::Retry(e, after)) => {
                    // A host that let a request time out usually does it again: one more
                    // try, not the full budget of a flaky 503.
                    let budget = if is_timeout(&e) {
                        self.config.retries.min(1)
                    } else {
                        self.config.retries
                    };
                    if attempt > budget {
                        return Err(e);
                    }
                    let backoff = self.config.base_delay * 2u32.pow(attempt - 1);
                    let jitter = backoff.mul_f64(fastrand::f64() * 0.5);
                    let wait = after
                        .unwrap_or(backoff + jitter)
                        .min(Duration::from_secs(120));
                    tracing::debug!("retrying {url} in {wait:?} after: {e}");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// GET a response to read as a stream ([`Streamed`]), without the size cap of [`get`]:
    /// for a whole-registry listing (the crates.io database dump is several hundred MB).
    /// Failures before the first byte are retried like [`get`] (`Retry-After` honoured).
    ///
    /// [`get`]: Http::get
    pub async fn open(&self, url: &str, accept: Option<&str>) -> Result<Streamed, HttpError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.pace(url).await;
            tracing::info!("GET {url} (streamed)");
            let mut req = self.client.get(url);
            if let Some(a) = accept {
                req = req.header(reqwest::header::ACCEPT, a);
            }
            let sent = req.send().await;
            let (err, after) = match sent {
                Err(e) => (
                    HttpError::Transport {
                        url: url.to_string(),
                        message: describe(&e),
                    },
                    None,
                ),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    if (200..300).contains(&status) {
                        return Ok(Streamed {
                            resp,
                            url: url.to_string(),
                        });
                    }
                    let err = if status == 404 || status == 410 {
                        return Err(HttpError::NotFound {
                            url: url.to_string(),
                            status,
                        });
                    } else {
                        HttpError::Status {
                            url: url.to_string(),
                            status,
                        }
                    };
                    if !(status == 429 || status == 408 || (500..600).contains(&status)) {
                        return Err(err);
                    }
                    let after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry_after(v, SystemTime::now()));
                    (err, after)
                }
            };
            if attempt > self.config.retries {
                return Err(err);
            }
            let backoff = self.config.base_delay * 2u32.pow(attempt - 1);
            let wait = after.unwrap_or(backoff).min(Duration::from_secs(120));
            tracing::debug!("retrying {url} in {wait:?} after: {err}");
            tokio::time::sleep(wait).await;
        }
    }

    /// One GET. `first` is the host's gate when this is its first request: it is opened as
    /// soon as the response's head is in (a connection exists, or the host refused one), so
    /// the others reuse the connection without waiting for this body.
    async fn get_once(
        &self,
        url: &str,
        accept: Option<&str>,
        first: Option<tokio::sync::MutexGuard<'_, bool>>,
    ) -> Result<Body, Attempt> {
        self.pace(url).await;
        tracing::info!("GET {url}");
        let mut req = self.client.get(url);
        if let Some(a) = accept {
            req = req.header(reqwest::header::ACCEPT, a);
        }
        let sent = req.send().await;
        if let Some(mut gate) = first {
            *gate = true;
        }
        let resp = sent.map_err(|e| {
            let err = HttpError::Transport {
                url: url.to_string(),
                message: describe(&e),
            };
            if e.is_builder() {
                Attempt::Final(err)
            } else {
                Attempt::Retry(err, None)
            }
        })?;
        tracing::debug!("{url}: answered over {:?}", resp.version());
        let status = resp.status().as_u16();
        if status == 404 || status == 410 {
            return Err(Attempt::Final(HttpError::NotFound {
                url: url.to_string(),
                status,
            }));
        }
        if status == 429 || (500..600).contains(&status) || status == 408 {
            let after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after(v, SystemTime::now()));
            return Err(Attempt::Retry(
                HttpError::Status {
                    url: url.to_string(),
                    status,
                },
                after,
            ));
        }
        if !(200..300).contains(&status) {
            return Err(Attempt::Final(HttpError::Status {
                url: url.to_string(),
                status,
            }));
        }
        let final_url = resp.url().to_string();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(len) = resp.content_length() {
            if len > self.config.max_bytes {
                return Err(Attempt::Final(HttpError::TooLarge {
                    url: url.to_string(),
                    limit: self.config.max_bytes,
                }));
            }
        }
        let mut resp = resp;
        let mut bytes = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    bytes.extend_from_slice(&c);
                    if bytes.len() as u64 > self.config.max_bytes {
                        return Err(Attempt::Final(HttpError::TooLarge {
                            url: url.to_string(),
                            limit: self.config.max_bytes,
                        }));
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(Attempt::Retry(
                        HttpError::Transport {
                            url: url.to_string(),
                            message: describe(&e),
                        },
                        None,
                    ))
                }
            }
        }
        Ok(Body {
            bytes,
            content_type,
            url: final_url,
        })
    }
}

/// A response read as it arrives ([`Http::open`]), for files too big to hold (a registry's
/// whole listing): bytes are handed on chunk by chunk, never collected.
pub struct Streamed {
    resp: reqwest::Response,
    url: String,
}

impl Streamed {
    /// The length the server announced, if it did.
    pub fn announced_len(&self) -> Option<u64> {
        self.resp.content_length()
    }

    /// The next chunk; `None` at the end. A connection cut off midway is an error (nothing
    /// is retried past the first byte: what was handed on cannot be taken back).
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        match self.resp.chunk().await {
            Ok(c) => Ok(c.map(|b| b.to_vec())),
            Err(e) => Err(HttpError::Transport {
                url: self.url.clone(),
                message: describe(&e),
            }),
        }
    }
}

fn is_timeout(e: &HttpError) -> bool {
    matches!(e, HttpError::Transport { message, .. } if message.contains(TIMED_OUT))
}

/// What [`describe`] says about a request that ran out of time.
/// How long a `Retry-After` value asks to wait: delay-seconds or an HTTP-date (RFC 9110
/// 10.2.3), a date already past meaning now. Anything else is no answer (the caller backs off).
pub(crate) fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

const TIMED_OUT: &str = "timed out";

enum Attempt {
    Final(HttpError),
    Retry(HttpError, Option<Duration>),
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    if e.is_timeout() {
        return format!("no answer in time: {TIMED_OUT} (a host that accepts and stalls)");
    }
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod meta_cache_tests {
    use super::*;

    fn answer(cache: &mut MetaCache, key: &str, len: usize) -> MetaCell {
        let cell = cache.cell(key);
        cell.set(Ok(Body {
            bytes: vec![0; len],
            content_type: None,
            url: String::new(),
        }))
        .unwrap();
        cache.settle(key, len);
        cell
    }

    #[test]
    fn the_least_recently_used_answer_goes_first_and_in_flight_ones_stay() {
        let mut c = MetaCache::new(300);
        answer(&mut c, "a", 100);
        answer(&mut c, "b", 100);
        let pending = c.cell("p"); // in flight: never evicted
        c.cell("a"); // used again: now newer than b
        answer(&mut c, "c", 150);
        assert!(c.entries.contains_key("a"));
        assert!(
            !c.entries.contains_key("b"),
            "b was the least recently used"
        );
        assert!(c.entries.contains_key("c"));
        assert!(c.entries.contains_key("p"));
        assert_eq!(c.bytes, 250);
        answer(&mut c, "d", 300);
        assert!(c.entries.contains_key("p"), "{:?}", pending.initialized());
        assert_eq!(c.order.len(), c.entries.len());
        assert!(c.bytes <= 300);
    }
}

#[cfg(test)]
mod tests {
    use super::retry_after;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        // Sun, 06 Nov 1994 08:49:37 GMT, the RFC's own example date.
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        // A date already past: retry now, not never.
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }
}
