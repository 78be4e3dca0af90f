//! Comparing version requirements and platform keys the way cargo and crates.io wrote them.

/// Two version requirements mean the same (`1.0` and `^1.0`, `>=1, <2` and `>= 1, < 2`).
pub fn same_req(a: &str, b: &str) -> bool {
    if a.trim() == b.trim() {
        return true;
    }
    let (a, b) = (old_wildcard(a), old_wildcard(b));
    match (semver::VersionReq::parse(&a), semver::VersionReq::parse(&b)) {
        (Ok(x), Ok(y)) => x == y || same_versions(&x, &y),
        _ => strip_ws(&a) == strip_ws(&b),
    }
}

/// A release version as (major, minor, patch); ordering is semver's for releases.
type Triple = (u64, u64, u64);

/// Do two requirements admit the same releases? `1.0.23` and `>=1.0.23, <2.0.0` are one
/// requirement spelled two ways (some publishing tools wrote the index's `req` as the range).
/// A requirement is an intersection of comparators, each a half-open range of releases, so
/// each side is one range `[lo, hi)`. A comparator with a pre-release also admits that
/// version's pre-releases, which a range of releases does not show: those are compared as
/// written.
fn same_versions(a: &semver::VersionReq, b: &semver::VersionReq) -> bool {
    match (range(a), range(b)) {
        (Some(x), Some(y)) => x == y || (is_empty(x) && is_empty(y)),
        _ => false,
    }
}

fn is_empty((lo, hi): (Triple, Option<Triple>)) -> bool {
    hi.is_some_and(|hi| hi <= lo)
}

/// The releases `req` admits as `[lo, hi)` (`None`: no upper bound), or `None` when a
/// comparator names a pre-release.
fn range(req: &semver::VersionReq) -> Option<(Triple, Option<Triple>)> {
    let mut lo: Triple = (0, 0, 0);
    let mut hi: Option<Triple> = None;
    for c in &req.comparators {
        if !c.pre.is_empty() {
            return None;
        }
        let (l, h) = comparator_range(c)?;
        lo = lo.max(l);
        hi = match (hi, h) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
    }
    Some((lo, hi))
}

/// One comparator as `[lo, hi)` over releases, as the semver crate (and so cargo) reads it.
fn comparator_range(c: &semver::Comparator) -> Option<(Triple, Option<Triple>)> {
    use semver::Op;
    let (i, j, k) = (c.major, c.minor, c.patch);
    // The first release past the version as written (`1` → 2.0.0, `1.2` → 1.3.0, `1.2.3` →
    // 1.2.4), and the version itself with missing parts as 0.
    let next = match (j, k) {
        (None, _) => (i + 1, 0, 0),
        (Some(j), None) => (i, j + 1, 0),
        (Some(j), Some(k)) => (i, j, k + 1),
    };
    let at = (i, j.unwrap_or(0), k.unwrap_or(0));
    let bump_minor = (i, j.unwrap_or(0) + 1, 0);
    Some(match c.op {
        Op::Exact | Op::Wildcard => (at, Some(next)),
        Op::Greater => (next, None),
        Op::GreaterEq => (at, None),
        Op::Less => ((0, 0, 0), Some(at)),
        Op::LessEq => ((0, 0, 0), Some(next)),
        Op::Tilde => (at, Some(if j.is_some() { bump_minor } else { next })),
        Op::Caret => match (i, j, k) {
            (0, Some(0), Some(_)) => (at, Some(next)),
            (0, Some(0), None) => (at, Some((0, 1, 0))),
            (0, Some(j), _) => (at, Some((0, j + 1, 0))),
            (0, None, _) => (at, Some((1, 0, 0))),
            _ => (at, Some((i + 1, 0, 0))),
        },
        _ => return None,
    })
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

#[cfg(test)]
mod tests {
    use super::same_req;

    #[test]
    fn one_requirement_spelled_as_a_range_is_the_same() {
        // syn 1.0.51's index line against its manifest.
        assert!(same_req("1.0.23", ">=1.0.23, <2.0.0"));
        assert!(same_req("^1.0", ">= 1.0.0, < 2.0.0"));
        assert!(same_req("0.3.2", ">=0.3.2, <0.4.0"));
        assert!(same_req("0.0.3", "=0.0.3"));
        assert!(same_req("~1.2", ">=1.2.0, <1.3.0"));
        assert!(same_req("1.2.*", "~1.2"));
        assert!(same_req(">1.2.3", ">=1.2.4"));
        assert!(same_req("<=1.2", "<1.3.0"));
        assert!(same_req("*", ">=0.0.0"));
        assert!(same_req("0.*", "^0.*"));
    }

    #[test]
    fn requirements_admitting_other_versions_differ() {
        assert!(!same_req("1.0.23", ">=1.0.23"));
        assert!(!same_req("1.0.23", ">=1.0.22, <2.0.0"));
        assert!(!same_req("0.3", "0.3.2"));
        assert!(!same_req("^0.1", "^0.1.5"));
        assert!(!same_req("~1", "~1.0"));
        assert!(!same_req("1.0.0", "=1.0.0"));
        // A pre-release comparator also admits that version's pre-releases: as written.
        assert!(!same_req(">=1.0.0-alpha, <2.0.0", "^1.0.0-alpha.1"));
        assert!(same_req("^1.0.0-alpha", "^1.0.0-alpha"));
    }
}
