//! The HTML renderer: one self-contained file (inline CSS and JS, nothing fetched) for reading a
//! run offline: the summary (counts per verdict, ecosystem and finding code), a filterable
//! table of packages, and per package its source, commit, findings, excused files with their
//! rule, and side-by-side diffs of `content-differs` (all of the diff). Files and commits link to
//! the repository host where it is known (GitHub, GitLab). The page works without JS; the
//! script only filters.

use std::fmt::Write as _;
use std::io::Write;

use super::diff::{side_by_side, source_path, Row};
use super::model::{PackageResult, Report};
use crate::finding::{Code, Finding, Severity, Verdict};

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The hosts whose web UI shows a file at a commit, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    GitHub,
    GitLab,
}

fn host(repo: &str) -> Option<Host> {
    let u = url::Url::parse(repo).ok()?;
    if !matches!(u.scheme(), "https" | "http") {
        return None;
    }
    let h = u.host_str()?.to_ascii_lowercase();
    if h == "github.com" || h == "www.github.com" {
        Some(Host::GitHub)
    } else if h == "gitlab.com" || h.starts_with("gitlab.") || h == "salsa.debian.org" {
        Some(Host::GitLab)
    } else {
        None
    }
}

fn base(repo: &str) -> &str {
    repo.trim_end_matches('/').trim_end_matches(".git")
}

/// A link to `path` (from the repository root) at `commit`, where the host is known.
fn file_url(repo: &str, commit: &str, path: &str) -> Option<String> {
    let path: String = path
        .split('/')
        .map(|seg| {
            seg.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/");
    Some(match host(repo)? {
        Host::GitHub => format!("{}/blob/{commit}/{path}", base(repo)),
        Host::GitLab => format!("{}/-/blob/{commit}/{path}", base(repo)),
    })
}

fn commit_url(repo: &str, commit: &str) -> Option<String> {
    Some(match host(repo)? {
        Host::GitHub => format!("{}/commit/{commit}", base(repo)),
        Host::GitLab => format!("{}/-/commit/{commit}", base(repo)),
    })
}

fn link(url: Option<String>, text: &str) -> String {
    match url {
        Some(u) => format!("<a href=\"{}\">{}</a>", esc(&u), esc(text)),
        None => esc(text),
    }
}

/// Where an artifact file lives in the repository: the diff names it when there is one, else
/// the package directory joined with the file's path.
fn repo_path(r: &PackageResult, f_path: &str, f: Option<&Finding>) -> String {
    if let Some(p) = f.and_then(|f| f.diff.as_deref()).and_then(source_path) {
        return p.to_string();
    }
    match r.source.path_in_repo.as_deref().filter(|p| !p.is_empty()) {
        Some(dir) => format!("{}/{f_path}", dir.trim_end_matches('/')),
        None => f_path.to_string(),
    }
}

fn path_link(r: &PackageResult, path: &str, f: Option<&Finding>) -> String {
    let url = match (&r.source.repository, &r.source.commit) {
        (Some(repo), Some(c)) => file_url(repo, c, &repo_path(r, path, f)),
        _ => None,
    };
    format!("<code>{}</code>", link(url, path))
}

const CSS: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2127;background:#fafbfc}
header,main{padding:0 24px}header{background:#24292f;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}header .meta{color:#c9d1d9;font-size:12px}
h2{margin-top:28px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f3f6}td.n{text-align:right}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 16px;min-width:110px}
.card b{display:block;font-size:24px}
.v-verified{color:#1a7f37}.v-mismatch{color:#cf222e;font-weight:bold}.v-unverifiable{color:#9a6700}.v-error{color:#8250df}
.s-red-flag{color:#cf222e;font-weight:bold}.s-warning{color:#9a6700}.s-unverifiable{color:#8250df}.s-info{color:#0969da}.s-allowed{color:#57606a;font-style:italic}
#filters{position:sticky;top:0;background:#fafbfc;padding:8px 0;border-bottom:1px solid #d0d7de;z-index:1}
#filters input,#filters select{font:inherit;padding:2px 6px;margin-right:8px}
.pkg{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:4px 16px 12px;margin:16px 0}
.pkg h3{margin:8px 0}dl.src{display:grid;grid-template-columns:max-content auto;gap:2px 12px;margin:4px 0}dl.src dt{color:#57606a}dl.src dd{margin:0}
table.diff{font:12px/1.35 ui-monospace,SFMono-Regular,Menlo,monospace;width:100%;table-layout:fixed}
table.diff td{border:none;padding:0 6px;white-space:pre-wrap;word-break:break-all}
table.diff td.ln{width:4em;color:#8c959f;text-align:right;user-select:none}
table.diff tr.hunk td{background:#ddf4ff;color:#57606a}
td.del{background:#ffebe9}td.add{background:#e6ffec}td.none{background:#f6f8fa}
.hidden{display:none}code{font-size:12px}
"#;

const JS: &str = r#"
(function(){
  var errors=[];
  window.addEventListener('error',function(e){errors.push(String(e.message));document.body.dataset.errors=errors.join('\n');});
  var q=document.getElementById('q'),fv=document.getElementById('f-verdict'),fe=document.getElementById('f-eco'),fc=document.getElementById('f-code');
  var rows=Array.prototype.slice.call(document.querySelectorAll('#packages tbody tr'));
  var shown=document.getElementById('shown');
  function matches(el){
    var t=q.value.trim().toLowerCase();
    if(fv.value&&el.dataset.verdict!==fv.value&&!(fv.value==='error'&&el.dataset.error==='1'))return false;
    if(fe.value&&el.dataset.eco!==fe.value)return false;
    if(fc.value&&(' '+el.dataset.codes+' ').indexOf(' '+fc.value+' ')<0)return false;
    if(t&&el.dataset.text.indexOf(t)<0)return false;
    return true;
  }
  function apply(){
    var n=0;
    rows.forEach(function(r){var ok=matches(r);r.classList.toggle('hidden',!ok);if(ok)n++;
      var s=document.getElementById(r.dataset.target);if(s)s.classList.toggle('hidden',!ok);});
    shown.textContent=n+' of '+rows.length+' shown';
    var h=[];if(fv.value)h.push('verdict='+fv.value);if(fe.value)h.push('eco='+fe.value);if(fc.value)h.push('code='+fc.value);if(q.value)h.push('q='+encodeURIComponent(q.value));
    if(h.length||location.hash.indexOf('=')>=0)history.replaceState(null,'',h.length?'#'+h.join('&'):location.pathname);
  }
  location.hash.replace(/^#/,'').split('&').forEach(function(kv){
    var p=kv.split('=');if(p.length!==2)return;var v=decodeURIComponent(p[1]);
    if(p[0]==='verdict')fv.value=v;else if(p[0]==='eco')fe.value=v;else if(p[0]==='code')fc.value=v;else if(p[0]==='q')q.value=v;
  });
  [q,fv,fe,fc].forEach(function(el){el.addEventListener('input',apply);el.addEventListener('change',apply);});
  apply();
  document.body.dataset.ready='1';
})();
"#;

fn diff_table(diff: &str) -> String {
    let mut out = String::from("<table class=\"diff\"><colgroup><col style=\"width:4em\"><col><col style=\"width:4em\"><col></colgroup><tr><th colspan=\"2\">source</th><th colspan=\"2\">published</th></tr>\n");
    for row in side_by_side(diff) {
        match row {
            Row::Hunk(h) => {
                let _ = writeln!(
                    out,
                    "<tr class=\"hunk\"><td colspan=\"4\">{}</td></tr>",
                    esc(h)
                );
            }
            Row::Note(n) => {
                let _ = writeln!(
                    out,
                    "<tr class=\"hunk\"><td colspan=\"4\">{}</td></tr>",
                    esc(n)
                );
            }
            Row::Line {
                left,
                right,
                changed,
            } => {
                let cell = |side: Option<(usize, &str)>, class: &str| match side {
                    Some((n, t)) => format!(
                        "<td class=\"ln\">{n}</td><td class=\"{}\">{}</td>",
                        if changed { class } else { "" },
                        esc(t)
                    ),
                    None => "<td class=\"ln\"></td><td class=\"none\"></td>".to_string(),
                };
                let _ = writeln!(out, "<tr>{}{}</tr>", cell(left, "del"), cell(right, "add"));
            }
        }
    }
    out.push_str("</table>\n");
    out
}

fn summary(out: &mut String, report: &Report) {
    let s = &report.summary;
    out.push_str("<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">");
    for (label, n, class) in [
        ("packages", s.packages, ""),
        ("verified", s.verified, "v-verified"),
        ("mismatch", s.mismatch, "v-mismatch"),
        ("unverifiable", s.unverifiable, "v-unverifiable"),
        ("errors", s.errors, "v-error"),
    ] {
        let _ = write!(out, "<div class=\"card {class}\"><b>{n}</b>{label}</div>");
    }
    out.push_str("</div>\n");
    if !s.by_ecosystem.is_empty() {
        out.push_str("<h3>By ecosystem</h3><table><tr><th>ecosystem</th><th>verified</th><th>mismatch</th><th>unverifiable</th></tr>\n");
        for (eco, counts) in &s.by_ecosystem {
            let n = |v: &str| counts.get(v).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(eco),
                n("verified"),
                n("mismatch"),
                n("unverifiable")
            );
        }
        out.push_str("</table>\n");
    }
    if !s.by_code.is_empty() {
        out.push_str("<h3>By finding code</h3><table><tr><th>code</th><th>severity</th><th>count</th><th>meaning</th></tr>\n");
        for (code, n) in &s.by_code {
            let (sev, meaning) = Code::parse(code)
                .map(|c| (c.severity().as_str(), c.meaning()))
                .unwrap_or(("", ""));
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td class=\"s-{sev}\">{sev}</td><td class=\"n\">{n}</td><td>{}</td></tr>",
                esc(code),
                esc(meaning)
            );
        }
        out.push_str("</table>\n");
    }
    if !report.errors.is_empty() {
        out.push_str("<h3>Input errors</h3><ul>\n");
        for e in &report.errors {
            let _ = writeln!(
                out,
                "<li class=\"v-error\"><code>{}</code>: {}</li>",
                esc(&e.input),
                esc(&e.message)
            );
        }
        out.push_str("</ul>\n");
    }
    if !report.skipped_inputs.is_empty() {
        out.push_str("<h3>Not checked</h3><ul>\n");
        for i in &report.skipped_inputs {
            let _ = writeln!(
                out,
                "<li><code>{}</code>: {}</li>",
                esc(&i.input),
                esc(&i.reason)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

/// Packages as a reader triages them: mismatches first, then errors, unverifiable, verified
/// (the run's order within each): one pass over the results per rank. Each keeps its index
/// as its anchor.
fn in_order(
    report: &Report,
    mut each: impl FnMut(usize, &PackageResult) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let rank = |r: &PackageResult| match (r.verdict, r.error.is_some()) {
        (Verdict::Mismatch, _) => 0,
        (_, true) => 1,
        (Verdict::Unverifiable, false) => 2,
        (Verdict::Verified, false) => 3,
    };
    for pass in 0..4 {
        for (i, r) in report.each().enumerate() {
            let r = r?;
            if rank(&r) == pass {
                each(i, &r)?;
            }
        }
    }
    Ok(())
}

fn package_table(out: &mut String, w: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    let s = &report.summary;
    out.push_str("<section id=\"packages-section\"><h2>Packages</h2><div id=\"filters\">");
    out.push_str("<input id=\"q\" type=\"search\" placeholder=\"filter: name, repository, path\" size=\"32\">");
    out.push_str("<select id=\"f-verdict\"><option value=\"\">every verdict</option><option>mismatch</option><option>unverifiable</option><option>verified</option><option value=\"error\">error</option></select>");
    out.push_str("<select id=\"f-eco\"><option value=\"\">every ecosystem</option>");
    for eco in s.by_ecosystem.keys() {
        let _ = write!(out, "<option>{}</option>", esc(eco));
    }
    out.push_str("</select><select id=\"f-code\"><option value=\"\">any finding</option>");
    for code in s.by_code.keys() {
        let _ = write!(out, "<option>{}</option>", esc(code));
    }
    out.push_str("</select><span id=\"shown\"></span></div>\n");
    out.push_str("<table id=\"packages\"><thead><tr><th>package</th><th>ecosystem</th><th>verdict</th><th>red flags</th><th>warnings</th><th>source</th></tr></thead><tbody>\n");
    in_order(report, |i, r| {
        let count = |sev: Severity| {
            r.findings
                .iter()
                .filter(|f| f.severity == sev && f.allowed.is_none())
                .count()
        };
        let codes: Vec<&str> = r.findings.iter().map(|f| f.code.as_str()).collect();
        let mut text = format!(
            "{} {}",
            r.package,
            r.source.repository.as_deref().unwrap_or("")
        );
        for f in &r.findings {
            text.push(' ');
            text.push_str(f.path.as_deref().unwrap_or(""));
        }
        let source = match (&r.source.repository, &r.source.commit) {
            (Some(repo), Some(c)) => format!(
                "{} @ {}",
                link(Some(repo.clone()).filter(|_| host(repo).is_some()), repo),
                link(commit_url(repo, c), &c[..c.len().min(12)])
            ),
            (Some(repo), None) => esc(repo),
            _ => String::new(),
        };
        let v = r.verdict.as_str();
        let _ = writeln!(
            out,
            "<tr data-target=\"pkg-{i}\" data-verdict=\"{v}\" data-error=\"{}\" data-eco=\"{}\" data-codes=\"{}\" data-text=\"{}\"><td><a href=\"#pkg-{i}\">{}</a></td><td>{}</td><td class=\"v-{v}\">{v}{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{source}</td></tr>",
            u8::from(r.error.is_some()),
            r.package.ecosystem.as_str(),
            esc(&codes.join(" ")),
            esc(&text.to_lowercase()),
            esc(&r.package.to_string()),
            r.package.ecosystem.as_str(),
            if r.error.is_some() { " (error)" } else { "" },
            count(Severity::RedFlag),
            count(Severity::Warning),
        );
        flush(out, w)
    })?;
    out.push_str("</tbody></table></section>\n");
    Ok(())
}

/// Write what `out` holds so far.
fn flush(out: &mut String, w: &mut dyn Write) -> std::io::Result<()> {
    w.write_all(out.as_bytes())?;
    out.clear();
    Ok(())
}

/// An attestation: its kind and where it came from, the publisher, and each check's status.
fn attestation_html(a: &crate::report::AttestationInfo) -> String {
    let p = &a.publisher;
    let mut who = Vec::new();
    for (k, v) in [
        ("repository", &p.repository),
        ("workflow", &p.workflow),
        ("ref", &p.git_ref),
        ("commit", &p.commit),
        ("issuer", &p.issuer),
        ("provider", &p.provider),
        ("identity", &p.identity),
        ("run", &p.run_id),
    ] {
        if let Some(v) = v {
            who.push(format!("{k} <code>{}</code>", esc(v)));
        }
    }
    let checks: Vec<String> = a
        .checks
        .all()
        .iter()
        .map(|(n, c)| {
            let title = c.detail.as_deref().map(esc).unwrap_or_default();
            format!("<span title=\"{title}\">{n}: {}</span>", c.status.as_str())
        })
        .collect();
    format!(
        "{} from {}<br>{}<br>{}",
        a.kind.as_str(),
        esc(&a.url),
        who.join(", "),
        checks.join(", ")
    )
}

fn package_detail(out: &mut String, i: usize, r: &PackageResult) {
    let v = r.verdict.as_str();
    let _ = writeln!(
        out,
        "<section class=\"pkg\" id=\"pkg-{i}\"><h3>{} <span class=\"v-{v}\">{v}</span></h3><dl class=\"src\">",
        esc(&r.package.to_string())
    );
    let mut dd = |k: &str, html: String| {
        let _ = writeln!(out, "<dt>{k}</dt><dd>{html}</dd>");
    };
    if let Some(repo) = &r.source.repository {
        dd(
            "repository",
            link(Some(repo.clone()).filter(|_| host(repo).is_some()), repo),
        );
        if let Some(c) = &r.source.commit {
            dd(
                "commit",
                format!("<code>{}</code>", link(commit_url(repo, c), c)),
            );
        }
    }
    if let Some(from) = r.source.commit_from {
        dd("commit from", format!("<code>{}</code>", from.as_str()));
    }
    if let Some(t) = &r.source.tag {
        dd("tag", format!("<code>{}</code>", esc(t)));
    }
    for a in &r.attestations {
        dd("attestation", attestation_html(a));
    }
    if let Some(p) = r.source.path_in_repo.as_deref().filter(|p| !p.is_empty()) {
        dd("directory", format!("<code>{}/</code>", esc(p)));
    }
    if let Some(u) = &r.artifact.url {
        dd("artifact", esc(u));
    }
    if let Some(d) = &r.artifact.sha256 {
        dd("sha256", format!("<code>{}</code>", esc(d)));
    }
    if r.stats.files > 0 {
        dd(
            "files",
            format!(
                "{} ({} identical, {} excused by rules)",
                r.stats.files, r.stats.identical, r.stats.excused
            ),
        );
    }
    if let Some(rb) = &r.rebuild {
        let line = crate::rebuild::human_line(rb);
        if !line.trim().is_empty() {
            dd("rebuild", esc(line.trim()));
        }
    }
    if let Some(e) = &r.error {
        dd(
            "error",
            format!("<span class=\"v-error\">{}</span>", esc(e)),
        );
    }
    if let Some(l) = &r.lockfile {
        dd(
            "lockfile",
            format!("<code>{}:{}</code>", esc(&l.path), l.line),
        );
    }
    out.push_str("</dl>\n");
    if !r.findings.is_empty() {
        out.push_str("<table class=\"findings\"><tr><th>severity</th><th>code</th><th>path</th><th>message</th><th>rule</th></tr>\n");
        let mut findings: Vec<&Finding> = r.findings.iter().collect();
        findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.path.cmp(&b.path)));
        for f in &findings {
            // An accepted finding shows as `allowed`, its reason after the message.
            let sev = if f.allowed.is_some() {
                "allowed"
            } else {
                f.severity.as_str()
            };
            let message = match &f.allowed {
                Some(a) => format!("{} (allowed: {})", f.message, a.reason),
                None => f.message.clone(),
            };
            let _ = writeln!(
                out,
                "<tr><td class=\"s-{sev}\">{sev}</td><td><code title=\"{}\">{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(f.code.meaning()),
                f.code.as_str(),
                f.path.as_deref().map(|p| path_link(r, p, Some(f))).unwrap_or_default(),
                esc(&message),
                f.rule.as_deref().map(|x| format!("<code>{}</code>", esc(x))).unwrap_or_default()
            );
        }
        out.push_str("</table>\n");
        for f in findings.iter().filter(|f| f.diff.is_some()) {
            let _ = writeln!(
                out,
                "<details class=\"diff\" open><summary>diff of <code>{}</code></summary>",
                esc(f.path.as_deref().unwrap_or(""))
            );
            out.push_str(&diff_table(f.diff.as_deref().unwrap_or("")));
            out.push_str("</details>\n");
        }
    }
    if !r.excused.is_empty() {
        let _ = writeln!(
            out,
            "<details class=\"excused\"><summary>{} file(s) excused by rules</summary><table><tr><th>path</th><th>rule</th></tr>",
            r.excused.len()
        );
        for e in &r.excused {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td></tr>",
                path_link(r, &e.path, None),
                esc(&e.rule)
            );
        }
        out.push_str("</table></details>\n");
    }
    out.push_str("</section>\n");
}

fn repositories(out: &mut String, w: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    let views = super::repository::of_report(report)?;
    let mut views = views.iter().peekable();
    if views.peek().is_none() {
        return Ok(());
    }
    out.push_str("<section id=\"repositories\"><h2>By repository</h2><table><tr><th>repository</th><th>registries</th><th>package</th><th>verdict</th><th>commit</th><th>tag</th></tr>\n");
    for v in views {
        let v = v?;
        for (j, rel) in v.releases.iter().enumerate() {
            out.push_str("<tr>");
            if j == 0 {
                let n = v.releases.len();
                let _ = write!(
                    out,
                    "<td rowspan=\"{n}\">{}</td><td rowspan=\"{n}\">{}</td>",
                    link(
                        Some(v.repository.clone()).filter(|_| host(&v.repository).is_some()),
                        &v.repository
                    ),
                    esc(&v.ecosystems.join(", "))
                );
            }
            let verdict = rel.verdict.as_str();
            let commit = rel
                .commit
                .as_deref()
                .map(|c| {
                    format!(
                        "<code>{}</code>",
                        link(commit_url(&v.repository, c), &c[..c.len().min(12)])
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "<td>{}</td><td class=\"v-{verdict}\">{verdict}</td><td>{commit}</td><td>{}</td></tr>",
                esc(&rel.package.to_string()),
                esc(rel.tag.as_deref().unwrap_or(""))
            );
        }
        flush(out, w)?;
    }
    out.push_str("</table></section>\n");
    Ok(())
}

/// The report as one self-contained HTML page.
pub fn html(report: &Report) -> std::io::Result<String> {
    let mut out = Vec::new();
    write_html(report, &mut out)?;
    Ok(String::from_utf8(out).expect("HTML is UTF-8"))
}

/// The page into `w`, a package at a time as results are read.
pub fn write_html(report: &Report, w: &mut dyn Write) -> std::io::Result<()> {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>provero report</title>\n");
    // Nothing is fetched: no scripts, styles, fonts or images from anywhere.
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n");
    let _ = writeln!(out, "<style>{CSS}</style></head><body>");
    out.push_str("<header><h1>provero report</h1><div class=\"meta\">");
    match &report.run {
        Some(run) => {
            let _ = write!(
                out,
                "provero {} · {} → {} · mode {}",
                esc(&run.provero_version),
                esc(&run.started_at),
                esc(&run.finished_at),
                esc(&run.settings.mode)
            );
            for (eco, url) in &run.settings.registries {
                let _ = write!(out, " · {}: {}", esc(eco), esc(url));
            }
            for rw in &run.settings.rewrites {
                let _ = write!(out, " · rewrite {}", esc(rw));
            }
        }
        None => out.push_str("from a results store"),
    }
    out.push_str("</div></header><main>\n");
    summary(&mut out, report);
    package_table(&mut out, w, report)?;
    out.push_str("<section id=\"details\"><h2>Details</h2>\n");
    in_order(report, |i, r| {
        package_detail(&mut out, i, r);
        flush(&mut out, w)
    })?;
    out.push_str("</section>\n");
    repositories(&mut out, w, report)?;
    let _ = writeln!(out, "</main><script>{JS}</script></body></html>");
    flush(&mut out, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_only_where_the_host_is_known() {
        assert_eq!(
            file_url("https://github.com/a/b", "c0ffee", "src/a b.rs").as_deref(),
            Some("https://github.com/a/b/blob/c0ffee/src/a%20b.rs")
        );
        assert_eq!(
            file_url("https://gitlab.com/g/sub/p.git", "c0ffee", "x.rs").as_deref(),
            Some("https://gitlab.com/g/sub/p/-/blob/c0ffee/x.rs")
        );
        assert_eq!(
            file_url("https://example.org/a/b", "c", "x").as_deref(),
            None
        );
        assert_eq!(file_url("file:///tmp/up/a", "c", "x").as_deref(), None);
        assert_eq!(
            esc("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }
}
