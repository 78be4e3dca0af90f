//! Finding the tag that marks a version, for packages that record no commit. Tag spellings seen
//! in the wild: `v{v}`, `{v}`, `{name}-v{v}`, `{name}-{v}`, `{name}_v{v}`, `{name}/v{v}`,
//! `{name}@{v}`, `release-{v}`. The whole remainder after a known prefix must be the version
//! (compared by the ecosystem's rule), so `1.2` never matches `1.2.10`. Name-prefixed tags win:
//! in a monorepo a bare `v1.0` may belong to another package.

/// A tag that matches the version, with how strongly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagMatch {
    pub tag: String,
    pub commit: String,
    /// Lower is better: 0 the metadata's own hint, 1 name-prefixed, 2 `v`/bare, 3 `release-`.
    pub rank: u8,
}

fn name_variants(name: &str) -> Vec<String> {
    let lower = name.to_ascii_lowercase();
    let mut v = vec![
        lower.clone(),
        lower.replace('_', "-"),
        lower.replace('-', "_"),
        lower.replace(['-', '_'], "."),
        // PEP 503 spellings: `zope.interface` is tagged `zope-interface-5.0` or `zope_interface-5.0`.
        lower.replace(['.', '_'], "-"),
        lower.replace(['.', '-'], "_"),
    ];
    // `@scope/name`-like and `org/name` names: the last part alone is also used.
    if let Some((_, last)) = lower.rsplit_once('/') {
        v.push(last.to_string());
    }
    v.sort();
    v.dedup();
    v
}

/// Whether `s` starts with `prefix`, ASCII case aside (`prefix` is lowercase): what
/// `s.to_ascii_lowercase().starts_with(prefix)` says, without a copy of `s` per tag.
fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// The version part of `tag` if it is one of the known spellings, with its rank.
fn version_part<'t>(tag: &'t str, names: &[String]) -> Vec<(&'t str, u8)> {
    let mut out = Vec::new();
    each_version_part(tag, names, &mut |v, r| out.push((v, r)));
    out
}

/// [`version_part`] handed over one by one (it runs for every tag of a repository for every
/// package: no allocation per tag).
fn each_version_part<'t>(tag: &'t str, names: &[String], f: &mut dyn FnMut(&'t str, u8)) {
    for n in names {
        if starts_with_ci(tag, n) {
            let rest = &tag[n.len()..];
            for sep in [
                "-v",
                "_v",
                "/v",
                "@v",
                " v",
                "-",
                "_",
                "/",
                "@",
                " ",
                "-release-",
                "/release-",
                ".v",
            ] {
                if let Some(v) = rest.strip_prefix(sep) {
                    f(v, 1);
                }
            }
        }
    }
    if let Some(v) = tag.strip_prefix('v').or_else(|| tag.strip_prefix('V')) {
        f(v, 2);
    }
    f(tag, 2);
    for p in [
        "release-",
        "release_",
        "release/",
        "rel-",
        "version-",
        "ver-",
        "releases/",
        "release-v",
        // pycparser: `release_v2.21`.
        "release_v",
        "r",
    ] {
        if starts_with_ci(tag, p) {
            f(&tag[p.len()..], 3);
        }
    }
}

/// The runs of digits in a string, as numbers: `release_2_01_0` → [2, 1, 0].
fn digit_groups(s: &str) -> Vec<u64> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .map(|g| g.parse().unwrap_or(u64::MAX))
        .collect()
}

/// `rel_2_0_52` for 2.0.52 (SQLAlchemy's spelling): after a known prefix, only digits and
/// underscores, whose numbers are exactly the version's.
fn underscore_version(tag: &str, names: &[String], version: &str) -> bool {
    // Every spelling below needs an underscore after its prefix.
    if !tag.contains('_') {
        return false;
    }
    // Digits and underscores are the same in either case: the rest is read from `tag` itself.
    let mut rests: Vec<&str> = Vec::new();
    for p in ["rel_", "release_", "rel-", "release-", "v", "version_"] {
        if starts_with_ci(tag, p) {
            rests.push(&tag[p.len()..]);
        }
    }
    for n in names {
        if !starts_with_ci(tag, n) {
            continue;
        }
        let after = &tag[n.len()..];
        for sep in ["_", "-", "_v", "-v", "_rel_", "-rel-"] {
            if starts_with_ci(after, sep) {
                rests.push(&after[sep.len()..]);
            }
        }
    }
    rests.into_iter().any(|r| {
        r.contains('_')
            && r.split('_')
                .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
            && digit_groups(r) == digit_groups(version)
    })
}

/// Tags that mark `version` of `name`, best first. `hint` is a tag the metadata names.
pub fn matching_tags(
    tags: &[(String, String)],
    name: &str,
    version: &str,
    hint: Option<&str>,
    same_version: &dyn Fn(&str, &str) -> bool,
) -> Vec<TagMatch> {
    let names = name_variants(name);
    let mut found: Vec<TagMatch> = Vec::new();
    for (tag, commit) in tags {
        // A tag the metadata names wins, but only when it spells this version's numbers
        // (`release_2_1_0` for 2.1.0): a stale `/tree/v1.0.0` on a 1.1.0 release must not.
        if Some(tag.as_str()) == hint && digit_groups(tag) == digit_groups(version) {
            found.push(TagMatch {
                tag: tag.clone(),
                commit: commit.clone(),
                rank: 0,
            });
            continue;
        }
        let mut best: Option<u8> = None;
        each_version_part(tag, &names, &mut |v, r| {
            if v.as_bytes().first().is_some_and(u8::is_ascii_digit)
                && best.map_or(true, |b| r < b)
                && same_version(v, version)
            {
                best = Some(r);
            }
        });
        let best = best.or_else(|| underscore_version(tag, &names, version).then_some(3));
        if let Some(rank) = best {
            found.push(TagMatch {
                tag: tag.clone(),
                commit: commit.clone(),
                rank,
            });
        }
    }
    found.sort_by(|a, b| a.rank.cmp(&b.rank).then_with(|| a.tag.cmp(&b.tag)));
    found
}

/// A release tag's version as numbers, when the tag is a plain release of `name` (`v1.2.3`,
/// `name-1.2.3`, ...; no pre-release letters), with whether it is name-prefixed.
fn release_numbers(tag: &str, names: &[String]) -> Option<(Vec<u64>, bool)> {
    version_part(tag, names)
        .into_iter()
        .filter(|(v, r)| {
            *r <= 2
                && v.chars().next().is_some_and(|c| c.is_ascii_digit())
                && v.chars().all(|c| c.is_ascii_digit() || c == '.')
        })
        .map(|(v, r)| (digit_groups(v), r == 1))
        .min_by_key(|(_, prefixed)| !prefixed)
}

/// The tags of the releases just before and just after `version` (by their numbers), for a
/// version no tag names: its commit lies between them. In a monorepo, when the package has
/// name-prefixed tags only those count.
pub fn neighbours(
    tags: &[(String, String)],
    name: &str,
    version: &str,
) -> (Option<TagMatch>, Option<TagMatch>) {
    let names = name_variants(name);
    let ours = digit_groups(version);
    let releases: Vec<(Vec<u64>, bool, &(String, String))> = tags
        .iter()
        .filter_map(|t| release_numbers(&t.0, &names).map(|(n, p)| (n, p, t)))
        .collect();
    let prefixed = releases.iter().any(|(_, p, _)| *p);
    let mut prev: Option<(&Vec<u64>, &(String, String))> = None;
    let mut next: Option<(&Vec<u64>, &(String, String))> = None;
    for (nums, p, t) in &releases {
        if prefixed && !p {
            continue;
        }
        if *nums < ours && prev.map_or(true, |(b, _)| nums > b) {
            prev = Some((nums, t));
        }
        if *nums > ours && next.map_or(true, |(b, _)| nums < b) {
            next = Some((nums, t));
        }
    }
    let to_match = |x: Option<(&Vec<u64>, &(String, String))>| {
        x.map(|(_, (tag, commit))| TagMatch {
            tag: tag.clone(),
            commit: commit.clone(),
            rank: 2,
        })
    };
    (to_match(prev), to_match(next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(names: &[&str]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| (n.to_string(), format!("c-{n}")))
            .collect()
    }

    fn exact(a: &str, b: &str) -> bool {
        a == b
    }

    #[test]
    fn every_spelling_matches() {
        for t in [
            "v1.2.3",
            "1.2.3",
            "foo-v1.2.3",
            "foo-1.2.3",
            "foo_v1.2.3",
            "foo/v1.2.3",
            "foo@1.2.3",
            "release-1.2.3",
            "release_v1.2.3",
        ] {
            let m = matching_tags(&tags(&[t]), "foo", "1.2.3", None, &exact);
            assert_eq!(m.len(), 1, "{t}");
        }
    }

    #[test]
    fn underscore_spelled_versions() {
        let t = tags(&[
            "rel_2_0_52",
            "rel_2_0_5",
            "rel_2_0_520",
            "foo_1_2",
            "other_2_0_52",
        ]);
        let m = matching_tags(&t, "foo", "2.0.52", None, &exact);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].tag, "rel_2_0_52");
        let m = matching_tags(&t, "foo", "1.2", None, &exact);
        assert_eq!(
            m.iter().map(|t| t.tag.as_str()).collect::<Vec<_>>(),
            vec!["foo_1_2"]
        );
    }

    #[test]
    fn never_a_substring_of_a_longer_version() {
        let m = matching_tags(
            &tags(&["v1.2.10", "1.2.1", "foo-1.2.10", "v1.2-rc1"]),
            "foo",
            "1.2",
            None,
            &exact,
        );
        assert!(m.is_empty(), "{m:?}");
    }

    #[test]
    fn name_prefixed_wins_and_other_names_do_not_match() {
        let m = matching_tags(
            &tags(&["v0.3.0", "foo-v0.3.0", "bar-v0.3.0"]),
            "foo",
            "0.3.0",
            None,
            &exact,
        );
        assert_eq!(m[0].tag, "foo-v0.3.0");
        assert!(m.iter().all(|t| t.tag != "bar-v0.3.0"));
    }

    #[test]
    fn pep503_name_variants_and_release_underscore() {
        let pep440 = |a: &str, b: &str| crate::pypi::same_version(a, b);
        for t in [
            "zope-interface-5.0",
            "zope_interface-5.0",
            "release_5.0.0",
            "zope.interface-v5",
        ] {
            let m = matching_tags(&tags(&[t]), "zope.interface", "5.0", None, &pep440);
            assert_eq!(m.len(), 1, "{t}");
        }
        let m = matching_tags(
            &tags(&["v2026.07.22", "2026.7.2"]),
            "x",
            "2026.7.22",
            None,
            &pep440,
        );
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].tag, "v2026.07.22");
    }

    #[test]
    fn hint_comes_first() {
        let m = matching_tags(
            &tags(&["v2.0", "rel_2_0"]),
            "foo",
            "2.0",
            Some("rel_2_0"),
            &exact,
        );
        assert_eq!(m[0].tag, "rel_2_0");
        // A stale hint naming another version is not taken.
        let m = matching_tags(&tags(&["v1.0", "v1.1"]), "foo", "1.1", Some("v1.0"), &exact);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].tag, "v1.1");
    }

    #[test]
    fn neighbouring_releases() {
        let t = tags(&["v1.0.0", "v1.1.0", "v1.3.0", "v1.3.0-rc1", "v0.9.0", "foo"]);
        let (p, n) = neighbours(&t, "foo", "1.2.0");
        assert_eq!(p.unwrap().tag, "v1.1.0");
        assert_eq!(n.unwrap().tag, "v1.3.0");
        let (p, n) = neighbours(&t, "foo", "2.0.0");
        assert_eq!(p.unwrap().tag, "v1.3.0");
        assert!(n.is_none());
        // In a monorepo only the package's own tags count.
        let t = tags(&["v5.0.0", "foo-v1.0.0", "foo-v2.0.0", "bar-v1.5.0"]);
        let (p, n) = neighbours(&t, "foo", "1.5.0");
        assert_eq!(p.unwrap().tag, "foo-v1.0.0");
        assert_eq!(n.unwrap().tag, "foo-v2.0.0");
    }
}
