//! Comparing version requirements and platform keys the way cargo and crates.io wrote them.

/// Two version requirements mean the same (`1.0` and `^1.0`, `>=1, <2` and `>= 1, < 2`).
pub fn same_req(a: &str, b: &str) -> bool {
    if a.trim() == b.trim() {
        return true;
    }
    let (a, b) = (old_wildcard(a), old_wildcard(b));
    match (semver::VersionReq::parse(&a), semver::VersionReq::parse(&b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => strip_ws(&a) == strip_ws(&b),
    }
}

/// crates.io's index of 2015-2017 has `^0.*` where the manifest says `0.*` (the semver crate
/// cargo used then printed a caret before wildcards); a caret on a wildcard adds nothing.
fn old_wildcard(req: &str) -> String {
    req.split(',')
        .map(|c| {
            let c = c.trim();
            match c.strip_prefix('^') {
                Some(rest) if rest.contains(['*', 'x', 'X']) => rest.trim().to_string(),
                _ => c.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn strip_ws(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}
