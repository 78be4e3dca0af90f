//! A tiny static HTTP/1.1 server for loopback-only tests.
//!
//! Serves files from a directory by URL path (a directory path ending in `/` by its
//! `index.html`, or by its `index.json` to a client that accepts PEP 691 JSON; 404
//! otherwise), one thread per
//! connection, `Connection: close`. Faults can be queued per path (for
//! example "answer 503 twice, then serve normally") and every request is
//! logged so a test can count how often a path was fetched. The server stops
//! when dropped.
//!
//! [`TestServer::serve_files`] serves an in-memory map instead (the bulk tests' and the
//! benchmark's synthetic registry), with HTTP/1.1 keep-alive on or off (a plain static
//! mirror closes every connection) and a delay per path prefix.
//!
//! [`TestServer::serve_dir_tls`] serves the same over TLS (a self-signed certificate for
//! `localhost` and 127.0.0.1 made by rcgen, [`TestServer::cert_pem`]) with HTTP/2 or HTTP/1.1
//! chosen by ALPN, as real registries do; every connection and its protocol is logged
//! ([`TestServer::connections`]). Paths can require an `Authorization` header
//! ([`TestServer::require_auth`]), which is what a private git host over dumb HTTP needs.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One programmed answer that replaces the normal response for a path.
#[derive(Clone, Debug)]
pub struct Fault {
    pub status: u16,
    pub retry_after: Option<u32>,
    pub body: Vec<u8>,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Percent-decoded path, without the query string.
    pub path: String,
    /// The raw request target (path and query) as sent.
    pub target: String,
    /// Status code the server answered with.
    pub status: u16,
    /// When the request line had been read.
    pub at: Instant,
    /// The `Authorization` header the client sent, if any.
    pub authorization: Option<String>,
}

struct State {
    root: PathBuf,
    faults: Mutex<HashMap<String, VecDeque<Fault>>>,
    /// Paths whose requests are read and then never answered (a stalled host).
    stalls: Mutex<std::collections::HashSet<String>>,
    log: Mutex<Vec<Request>>,
    /// In-memory files by URL path; `None` serves `root`.
    files: Option<HashMap<String, Vec<u8>>>,
    /// Keep connections open between requests (HTTP/1.1 keep-alive).
    keep_alive: bool,
    /// A delay before answering any path starting with the prefix.
    delays: Mutex<Vec<(String, Duration)>>,
    /// Paths under the prefix are answered 401 without this exact `Authorization` value.
    auth: Mutex<Vec<(String, String)>>,
    /// The protocol of every connection accepted over TLS (`h2`, `http/1.1`), in order.
    connections: Mutex<Vec<String>>,
}

pub struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
    /// `https` servers: the certificate (PEM) a client must trust.
    cert_pem: Option<String>,
}

impl TestServer {
    /// Serve the files below `root` on 127.0.0.1 with an ephemeral port.
    pub fn serve_dir(root: impl Into<PathBuf>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let root = root.into();
        TestServer::start(listener, |_| (root, None), false)
    }

    /// Serve the files `files(port)` returns (URL path → bytes) on 127.0.0.1, with
    /// keep-alive on or off.
    pub fn serve_files(
        files: impl FnOnce(u16) -> HashMap<String, Vec<u8>>,
        keep_alive: bool,
    ) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        TestServer::start(
            listener,
            |port| (PathBuf::new(), Some(files(port))),
            keep_alive,
        )
    }

    fn start(
        listener: TcpListener,
        content: impl FnOnce(u16) -> (PathBuf, Option<HashMap<String, Vec<u8>>>),
        keep_alive: bool,
    ) -> TestServer {
        let addr = listener.local_addr().unwrap();
        let (root, files) = content(addr.port());
        let state = State::new(root, files, keep_alive);
        let stop = Arc::new(AtomicBool::new(false));
        let accept_thread = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let state = Arc::clone(&state);
                    std::thread::spawn(move || {
                        // A client that misbehaves only loses its own connection.
                        let _ = handle(stream, &state);
                    });
                }
            })
        };
        TestServer {
            addr,
            state,
            stop,
            accept_thread: Some(accept_thread),
            cert_pem: None,
        }
    }

    /// Serve the files below `root` over TLS on 127.0.0.1 (`https://localhost:PORT`), HTTP/2
    /// to a client that offers `h2` by ALPN and HTTP/1.1 keep-alive to one that does not.
    pub fn serve_dir_tls(root: impl Into<PathBuf>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = State::new(root.into(), None, true);
        let cert = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .expect("self-signed certificate");
        let cert_pem = cert.cert.pem();
        let key = tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(
            cert.key_pair.serialize_der().into(),
        );
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut tls = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .expect("TLS server config");
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let stop = Arc::new(AtomicBool::new(false));
        let accept_thread = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || tls::serve(listener, acceptor, state, stop))
        };
        TestServer {
            addr,
            state,
            stop,
            accept_thread: Some(accept_thread),
            cert_pem: Some(cert_pem),
        }
    }

    /// The certificate of an `https` server, PEM (for `SSL_CERT_FILE`).
    pub fn cert_pem(&self) -> &str {
        self.cert_pem.as_deref().expect("a TLS server")
    }

    /// The protocol of every TLS connection accepted so far (`h2`, `http/1.1`).
    pub fn connections(&self) -> Vec<String> {
        self.state.connections.lock().unwrap().clone()
    }

    /// Answer 401 to a request under `prefix` whose `Authorization` header is not `value`.
    pub fn require_auth(&self, prefix: &str, value: &str) {
        self.state
            .auth
            .lock()
            .unwrap()
            .push((prefix.to_string(), value.to_string()));
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`, or `https://localhost:PORT` for a TLS server (no trailing
    /// slash).
    pub fn base_url(&self) -> String {
        match self.cert_pem {
            Some(_) => format!("https://localhost:{}", self.addr.port()),
            None => format!("http://{}", self.addr),
        }
    }

    /// Absolute URL for a path starting with `/`.
    pub fn url(&self, path: &str) -> String {
        assert!(
            path.starts_with('/'),
            "url path must start with '/': {path}"
        );
        format!("{}{}", self.base_url(), path)
    }

    pub fn root(&self) -> &Path {
        &self.state.root
    }

    /// Queue a fault for `path`; queued faults are answered in order before
    /// the path is served normally again.
    pub fn push_fault(&self, path: &str, fault: Fault) {
        self.state
            .faults
            .lock()
            .unwrap()
            .entry(path.to_string())
            .or_default()
            .push_back(fault);
    }

    /// Answer `status` (e.g. 503) the next `times` requests for `path`.
    pub fn fail_next(&self, path: &str, status: u16, times: usize) {
        for _ in 0..times {
            self.push_fault(
                path,
                Fault {
                    status,
                    retry_after: None,
                    body: format!("injected {status}\n").into_bytes(),
                },
            );
        }
    }

    /// Answer `429 Too Many Requests` with `Retry-After: secs` the next
    /// `times` requests for `path`.
    pub fn rate_limit_next(&self, path: &str, times: usize, secs: u32) {
        for _ in 0..times {
            self.push_fault(
                path,
                Fault {
                    status: 429,
                    retry_after: Some(secs),
                    body: b"slow down\n".to_vec(),
                },
            );
        }
    }

    /// From now on, read every request for `path` and never answer it: the connection
    /// stays open and silent (for a minute), like a host that accepts and then stalls.
    pub fn stall(&self, path: &str) {
        self.state.stalls.lock().unwrap().insert(path.to_string());
    }

    /// Wait `delay` before answering any path that starts with `prefix`.
    pub fn delay(&self, prefix: &str, delay: Duration) {
        self.state
            .delays
            .lock()
            .unwrap()
            .push((prefix.to_string(), delay));
    }

    /// Answer without delays from now on.
    pub fn clear_delays(&self) {
        self.state.delays.lock().unwrap().clear();
    }

    /// Every request seen so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.log.lock().unwrap().clone()
    }

    /// The requests for `path`, in arrival order.
    pub fn requests_for(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// How many requests (any method) asked for `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.state
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .count()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the thread sees the stop flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
    }
}

fn handle(stream: TcpStream, state: &State) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    // Header and body go out in two writes: without this, Nagle's algorithm and delayed ACKs
    // add ~40 ms to every keep-alive response, which no real registry does.
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    while answer(&mut reader, &stream, state)? {}
    Ok(())
}

/// Read one request and answer it; `true` when the connection stays open for another.
fn answer(
    reader: &mut BufReader<TcpStream>,
    stream: &TcpStream,
    state: &State,
) -> std::io::Result<bool> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(false); // the wake-up connection from Drop, a closed probe, or the client done
    }
    let at = Instant::now();
    let mut content_length = 0usize;
    let mut accept = String::new();
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                content_length = v.trim().parse().unwrap_or(0);
            }
            if k.trim().eq_ignore_ascii_case("accept") {
                accept = v.trim().to_ascii_lowercase();
            }
            if k.trim().eq_ignore_ascii_case("authorization") {
                authorization = Some(v.trim().to_string());
            }
        }
    }
    if content_length > 0 {
        let mut sink = vec![0u8; content_length.min(1 << 20)];
        let _ = reader.read_exact(&mut sink);
    }

    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let Some((status, headers, body)) =
        respond(state, &method, &target, &accept, authorization, at)
    else {
        return Ok(false);
    };
    let mut extra = String::new();
    for (k, v) in headers {
        extra.push_str(&format!("{k}: {v}\r\n"));
    }

    let mut out = stream;
    let connection = if state.keep_alive {
        "keep-alive"
    } else {
        "close"
    };
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: {connection}\r\n{extra}\r\n",
        reason(status),
        body.len()
    );
    out.write_all(head.as_bytes())?;
    if method != "HEAD" {
        out.write_all(&body)?;
    }
    out.flush()?;
    if !state.keep_alive {
        let _ = out.shutdown(Shutdown::Write);
    }
    Ok(state.keep_alive)
}

impl State {
    fn new(root: PathBuf, files: Option<HashMap<String, Vec<u8>>>, keep_alive: bool) -> Arc<State> {
        Arc::new(State {
            root,
            faults: Mutex::new(HashMap::new()),
            stalls: Mutex::new(std::collections::HashSet::new()),
            log: Mutex::new(Vec::new()),
            files,
            keep_alive,
            delays: Mutex::new(Vec::new()),
            auth: Mutex::new(Vec::new()),
            connections: Mutex::new(Vec::new()),
        })
    }
}

/// Status, header lines and body of one answer.
type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// The answer to one request (status, header lines, body), logged; `None` for a stalled path
/// (after a minute of silence). Blocking: delays and stalls sleep.
fn respond(
    state: &State,
    method: &str,
    target: &str,
    accept: &str,
    authorization: Option<String>,
    at: Instant,
) -> Option<Answer> {
    let method = method.to_string();
    let target = target.to_string();
    let raw_path = target.split(['?', '#']).next().unwrap_or("/");
    let path = percent_decode(raw_path);

    if state.stalls.lock().unwrap().contains(&path) {
        state.log.lock().unwrap().push(Request {
            method,
            path,
            target,
            status: 0,
            at,
            authorization,
        });
        std::thread::sleep(Duration::from_secs(60));
        return None;
    }
    let delay = state
        .delays
        .lock()
        .unwrap()
        .iter()
        .find(|(p, _)| path.starts_with(p.as_str()))
        .map(|(_, d)| *d);
    if let Some(d) = delay {
        std::thread::sleep(d);
    }
    let unauthorized = state
        .auth
        .lock()
        .unwrap()
        .iter()
        .any(|(p, v)| path.starts_with(p.as_str()) && authorization.as_deref() != Some(v));

    let fault = state
        .faults
        .lock()
        .unwrap()
        .get_mut(&path)
        .and_then(|q| q.pop_front());

    let (status, extra, body) = if unauthorized {
        let challenge = vec![(
            "WWW-Authenticate".to_string(),
            "Basic realm=\"test\"".to_string(),
        )];
        (401, challenge, b"who are you?\n".to_vec())
    } else if let Some(f) = fault {
        let extra = f
            .retry_after
            .map(|s| vec![("Retry-After".to_string(), s.to_string())])
            .unwrap_or_default();
        (f.status, extra, f.body)
    } else if method != "GET" && method != "HEAD" {
        (405, Vec::new(), b"method not allowed\n".to_vec())
    } else if let Some(files) = &state.files {
        match files.get(&path) {
            Some(bytes) => (200, content_type(&path), bytes.clone()),
            None => (404, Vec::new(), b"not found\n".to_vec()),
        }
    } else if let Some(json) = simple_json(&state.root, &path, accept) {
        (
            200,
            vec![("Content-Type".to_string(), PEP691.to_string())],
            json,
        )
    } else {
        match resolve(&state.root, &path).and_then(|p| std::fs::read(p).ok()) {
            Some(bytes) => (200, content_type(&path), bytes),
            None => (404, Vec::new(), b"not found\n".to_vec()),
        }
    };

    state.log.lock().unwrap().push(Request {
        method,
        path,
        target,
        status,
        at,
        authorization,
    });
    Some((status, extra, body))
}

/// The TLS front end: tokio, rustls and hyper (HTTP/2 or HTTP/1.1 by ALPN) over [`respond`].
mod tls {
    use super::*;
    use http_body_util::Full;
    use hyper::body::Bytes;

    pub(super) fn serve(
        listener: TcpListener,
        acceptor: tokio_rustls::TlsAcceptor,
        state: Arc<State>,
        stop: Arc<AtomicBool>,
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let alpn = tls
                        .get_ref()
                        .1
                        .alpn_protocol()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .unwrap_or_else(|| "none".to_string());
                    state.connections.lock().unwrap().push(alpn);
                    let service = hyper::service::service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, std::convert::Infallible>(answer(state, req).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
                });
            }
        });
        // A stalled request's blocking sleep must not hold the test up.
        rt.shutdown_background();
    }

    async fn answer(
        state: Arc<State>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        let at = Instant::now();
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let accept = header("accept").unwrap_or_default().to_ascii_lowercase();
        let authorization = header("authorization");
        let method = req.method().to_string();
        let target = req
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_else(|| "/".to_string());
        let head = method == "HEAD";
        let answered = tokio::task::spawn_blocking(move || {
            respond(&state, &method, &target, &accept, authorization, at)
        })
        .await
        .ok()
        .flatten();
        let (status, headers, body) = answered.unwrap_or((500, Vec::new(), b"stalled\n".to_vec()));
        let mut resp = hyper::Response::builder().status(status);
        for (k, v) in headers {
            resp = resp.header(k, v);
        }
        let body = if head { Vec::new() } else { body };
        resp.body(Full::new(Bytes::from(body))).unwrap()
    }
}

/// Map a URL path onto a regular file under `root`, refusing `..`.
fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let rel = Path::new(path.trim_start_matches('/'));
    if rel
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return None;
    }
    let full = root.join(rel);
    // A directory is served by its `index.html`, as static servers (and PyPI mirrors) do.
    if path.ends_with('/') && full.join("index.html").is_file() {
        return Some(full.join("index.html"));
    }
    full.is_file().then_some(full)
}

/// The PEP 691 JSON media type of the PyPI Simple API.
const PEP691: &str = "application/vnd.pypi.simple.v1+json";

/// A directory's `index.json`, for a client that accepts PEP 691 JSON (PyPI's content
/// negotiation); other clients get the directory's `index.html`.
fn simple_json(root: &Path, path: &str, accept: &str) -> Option<Vec<u8>> {
    if !path.ends_with('/') || !accept.contains(PEP691) {
        return None;
    }
    std::fs::read(resolve(root, &format!("{path}index.json"))?).ok()
}

fn content_type(path: &str) -> Vec<(String, String)> {
    let ct = if path.ends_with(".json") {
        "application/json"
    } else if path.ends_with(".html") || path.ends_with('/') {
        "text/html"
    } else {
        "application/octet-stream"
    };
    vec![("Content-Type".to_string(), ct.to_string())]
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
