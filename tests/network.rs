//! The network side of a run, seen from the servers: HTTP/2 over TLS on one connection, a
//! registry profile's request rate, and git hosts that want a token and rate-limit (dumb-HTTP
//! git served by the loopback server, `Retry-After` waited out, the token sent only to its
//! host and written nowhere). Loopback only.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

fn run_with_env(w: &World, extra: &[&str], specs: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = w.base_args();
    args.extend(["--format", "json"].iter().map(|s| s.to_string()));
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(specs.iter().map(|s| s.to_string()));
    let mut cmd = run::hermetic_command(env!("CARGO_BIN_EXE_provero"), &w.cwd());
    cmd.env_remove("GITHUB_TOKEN")
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run::wait_output(cmd, &args);
    out.assert_no_crash();
    out
}

fn verified(out: &Output, names: &[&str]) {
    let report = Report::parse(&out.stdout, out);
    for n in names {
        assert_eq!(
            report.result(n).verdict(),
            "verified",
            "{n}\n{}",
            out.dump()
        );
    }
}

#[test]
fn a_tls_registry_is_read_over_http2_on_one_connection_per_host() {
    let w = World::over_tls();
    let names = ["h2a", "h2b", "h2c", "h2d"];
    let mut specs = Vec::new();
    for n in names {
        let fx = w.honest_crate(n, "1.0.0");
        w.publish(&fx, &fx.crate_bytes);
        specs.push(fx.spec());
    }
    // Downloads from another host name (the same server): its first burst of requests
    // shares one new connection too.
    let config = serde_json::json!({
        "dl": format!("https://127.0.0.1:{}/dl/{{lowerprefix}}/{{crate}}/{{crate}}-{{version}}.crate", w.server.port()),
        "api": w.server.base_url(),
    });
    std::fs::write(
        w.root().join("served/index/config.json"),
        serde_json::to_vec(&config).unwrap(),
    )
    .unwrap();
    let ca = w.root().join("ca.pem");
    std::fs::write(&ca, w.server.cert_pem()).unwrap();
    let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
    let out = run_with_env(
        &w,
        &["--jobs", "8"],
        &specs,
        &[("SSL_CERT_FILE", ca.to_str().unwrap())],
    );
    verified(&out, &names);
    // config.json, an index file and a download per crate (plus trusted-publishing asks):
    // all on one HTTP/2 connection per host name.
    let requests = w.server.requests();
    assert!(requests.len() > 2 * names.len(), "{requests:#?}");
    assert_eq!(w.server.connections(), vec!["h2", "h2"], "{requests:#?}");
}

#[test]
fn a_registry_not_trusted_is_an_error_naming_it() {
    let w = World::over_tls();
    let fx = w.honest_crate("untrusted", "1.0.0");
    w.publish(&fx, &fx.crate_bytes);
    // No SSL_CERT_FILE: the self-signed certificate is not trusted, nothing is fetched.
    let out = run_with_env(&w, &[], &[&fx.spec()], &[]);
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(out.stderr.contains("https://localhost:"), "{}", out.dump());
    assert!(w.server.requests().is_empty(), "{:#?}", w.server.requests());
}

#[test]
fn a_profile_rate_spaces_every_request_under_its_prefix() {
    let w = World::new();
    let names = ["paced1", "paced2", "paced3"];
    let mut specs = Vec::new();
    for n in names {
        let fx = w.honest_crate(n, "1.0.0");
        w.publish(&fx, &fx.crate_bytes);
        specs.push(fx.spec());
    }
    let profile = w.root().join("paced.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"paced\"\necosystem = \"crates\"\nprotocol = \"sparse\"\nurl = \"{}\"\n\
             rate = {{ \"{}/\" = \"5/s\" }}\n",
            w.registry.index_url(),
            w.server.base_url()
        ),
    )
    .unwrap();
    let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
    let registry = format!("crates={}", profile.display());
    let out = run_with_env(&w, &["--jobs", "8", "--registry", &registry], &specs, &[]);
    verified(&out, &names);
    let mut at: Vec<_> = w.server.requests().iter().map(|r| r.at).collect();
    at.sort();
    assert!(at.len() >= 7, "config.json, 3 index files, 3 downloads");
    // 5/s is one request every 200 ms. The server notes a request when its thread has read the
    // request line, which a loaded machine delays by some ms: 150 ms allows for that, and
    // requests not paced (8 jobs in flight) would be a few ms apart.
    let least = at.windows(2).map(|p| p[1] - p[0]).min().unwrap();
    assert!(
        least >= Duration::from_millis(150),
        "{least:?} between two requests"
    );
}

/// Serve a bare copy of `upstream` by dumb HTTP at `served/git/acme/<name>`.
fn serve_git(served: &Path, upstream: &Repo, name: &str) {
    let dest = served.join("git/acme").join(name);
    let src = upstream.path.display().to_string();
    let out = run::hermetic_command("git", served)
        .args(["clone", "--quiet", "--bare", &src])
        .arg(&dest)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    common::git::git(&dest, &["update-server-info"]);
}

#[test]
fn a_git_host_gets_its_token_and_its_retry_after_is_waited_out() {
    let w = World::new();
    let other = TestServer::serve_dir(w.root().join("other"));
    std::fs::create_dir_all(w.root().join("other")).unwrap();
    let private = w.honest_crate("private", "1.0.0");
    w.publish(&private, &private.crate_bytes);
    let public = w.honest_crate("public", "1.0.0");
    w.publish(&public, &public.crate_bytes);
    serve_git(&w.root().join("served"), &private.upstream, "private");
    serve_git(&w.root().join("other"), &public.upstream, "public");

    let token = format!("tok-{}", std::process::id());
    let github = format!("ghp-{}", std::process::id());
    let header = {
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
        format!("Basic {b}")
    };
    w.server.require_auth("/git/", &header);
    w.server
        .rate_limit_next("/git/acme/private/info/refs", 1, 1);
    let config = w.root().join("provero.toml");
    std::fs::write(
        &config,
        format!(
            "[git-tokens]\n\"{}/git/\" = \"PROVERO_TEST_GIT_TOKEN\"\n",
            w.server.base_url()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let rw_private = format!(
        "{FAKE_FORGE}private={}/git/acme/private",
        w.server.base_url()
    );
    let rw_public = format!("{FAKE_FORGE}public={}/git/acme/public", other.base_url());
    let out = run_with_env(
        &w,
        &[
            "-v",
            "--config",
            &config,
            "--git-rewrite",
            &rw_private,
            "--git-rewrite",
            &rw_public,
        ],
        &[&private.spec(), &public.spec()],
        &[
            ("PROVERO_TEST_GIT_TOKEN", &token),
            ("GITHUB_TOKEN", &github),
            ("RUST_LOG", "provero=debug"),
        ],
    );
    verified(&out, &["private", "public"]);

    // The 429 was waited out for as long as the host asked.
    let refs = w.server.requests_for("/git/acme/private/info/refs");
    assert_eq!(refs[0].status, 429, "{refs:#?}");
    let next = refs
        .iter()
        .find(|r| r.status == 200)
        .expect("fetched after the pause");
    assert!(next.at - refs[0].at >= Duration::from_secs(1), "{refs:#?}");
    assert!(
        out.stderr.contains("is limiting requests (HTTP 429)"),
        "{}",
        out.dump()
    );
    // The token went with every git request to its host, and to nothing else.
    for r in w.server.requests() {
        let expected = r.path.starts_with("/git/").then_some(header.as_str());
        assert_eq!(r.authorization.as_deref(), expected, "{r:#?}");
    }
    assert!(other.requests().iter().all(|r| r.authorization.is_none()));
    assert!(!other.requests().is_empty());

    // Written nowhere: not in what was printed, not in the store or the clones.
    let b64 = header.trim_start_matches("Basic ");
    for secret in [token.as_str(), github.as_str(), b64] {
        assert!(!out.stdout.contains(secret), "{secret} in stdout");
        assert!(!out.stderr.contains(secret), "{secret} in stderr");
        for f in files_under(&w.cache_dir()) {
            let bytes = std::fs::read(&f).unwrap();
            let found = bytes
                .windows(secret.len())
                .any(|win| win == secret.as_bytes());
            assert!(!found, "{secret} in {}", f.display());
        }
    }
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    assert!(!out.is_empty(), "nothing under {}", dir.display());
    out
}
