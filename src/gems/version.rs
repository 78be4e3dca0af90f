//! RubyGems version strings, ordered the way `Gem::Version#<=>` orders them: segments are runs
//! of digits or letters (`1.0.0.rc1` → `1, 0, 0, "rc", 1`), a letter makes a prerelease, a
//! string segment sorts below any number (`1.0.a` < `1.0`), and trailing zeros do not count
//! (`1.0` == `1.0.0`). Also splits the platform off a version spec (`1.16.0-x86_64-linux`).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Num(u64),
    Str(String),
}

fn segments(v: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<Seg>| {
        if cur.is_empty() {
            return;
        }
        out.push(match cur.parse::<u64>() {
            Ok(n) => Seg::Num(n),
            // A number too long for u64 still sorts as a number; saturate.
            Err(_) if cur.chars().all(|c| c.is_ascii_digit()) => Seg::Num(u64::MAX),
            Err(_) => Seg::Str(cur.clone()),
        });
        cur.clear();
    };
    for c in v.chars() {
        let same_kind = cur
            .chars()
            .last()
            .is_some_and(|l| l.is_ascii_digit() == c.is_ascii_digit());
        if !c.is_ascii_alphanumeric() {
            flush(&mut cur, &mut out);
            continue;
        }
        if !cur.is_empty() && !same_kind {
            flush(&mut cur, &mut out);
        }
        cur.push(c);
    }
    flush(&mut cur, &mut out);
    out
}

/// `Gem::Version#canonical_segments`: trailing zeros dropped from the numeric release part and
/// from the prerelease part.
fn canonical(v: &str) -> Vec<Seg> {
    let segs = segments(v);
    let split = segs
        .iter()
        .position(|s| matches!(s, Seg::Str(_)))
        .unwrap_or(segs.len());
    let (num, pre) = segs.split_at(split);
    let trim = |part: &[Seg]| -> Vec<Seg> {
        let mut p = part.to_vec();
        while p.last() == Some(&Seg::Num(0)) {
            p.pop();
        }
        p
    };
    let mut out = trim(num);
    out.extend(trim(pre));
    out
}

/// Compare two RubyGems versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (l, r) = (canonical(a), canonical(b));
    for i in 0..l.len().max(r.len()) {
        let x = l.get(i).cloned().unwrap_or(Seg::Num(0));
        let y = r.get(i).cloned().unwrap_or(Seg::Num(0));
        let o = match (&x, &y) {
            (Seg::Num(p), Seg::Num(q)) => p.cmp(q),
            (Seg::Str(p), Seg::Str(q)) => p.cmp(q),
            (Seg::Str(_), Seg::Num(_)) => Ordering::Less,
            (Seg::Num(_), Seg::Str(_)) => Ordering::Greater,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// A version with a letter in it is a prerelease (`1.0.0.rc1`, `2.0.0.pre`).
pub fn is_prerelease(v: &str) -> bool {
    v.chars().any(|c| c.is_ascii_alphabetic())
}

/// Split `1.16.0-x86_64-linux` into the number and the platform. Versions never contain `-`
/// (RubyGems writes prereleases as `1.0.0.rc1`), platforms always do (`java` is the exception:
/// `9.4.0.0-java`); so the first `-` separates them. `None` platform when there is no `-`.
pub fn split_platform(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once('-') {
        Some((n, p)) if !n.is_empty() && !p.is_empty() => (n, Some(p)),
        _ => (spec, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_like_gem_version() {
        use Ordering::*;
        for (a, b, o) in [
            ("1.0", "1.0.0", Equal),
            ("1.10", "1.9", Greater),
            ("1.0.0.rc1", "1.0.0", Less),
            ("1.0.0.rc2", "1.0.0.rc10", Less),
            ("1.0.0.beta", "1.0.0.rc1", Less),
            ("1.0.a", "1.0", Less),
            ("2.0.0.pre", "1.9.9", Greater),
            ("3.1.8", "3.1.10", Less),
            ("1.0.0.a10", "1.0.0.a9", Greater),
            ("0.0.1", "0.0.1.0", Equal),
        ] {
            assert_eq!(compare(a, b), o, "{a} vs {b}");
        }
    }

    #[test]
    fn prereleases() {
        assert!(is_prerelease("1.0.0.rc1"));
        assert!(is_prerelease("2.0.0.pre"));
        assert!(!is_prerelease("1.16.0"));
    }

    #[test]
    fn platform_suffix() {
        assert_eq!(
            split_platform("1.16.0-x86_64-linux"),
            ("1.16.0", Some("x86_64-linux"))
        );
        assert_eq!(split_platform("9.4.0.0-java"), ("9.4.0.0", Some("java")));
        assert_eq!(split_platform("1.0.0.rc1"), ("1.0.0.rc1", None));
        assert_eq!(split_platform("1.0"), ("1.0", None));
    }
}
