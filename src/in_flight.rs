//! The packages of a run in flight, for `regression`: every version of a package comes
//! together (`in_groups` in `src/engine.rs`), and a version decided early may precede one decided
//! later in the run. When a package's last version has finished, the results that can be a
//! regression are judged again against all of them (the spill gets the new result), counted in
//! the summary, and the package's history is forgotten: what is held is the packages in flight,
//! never the run.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::ecosystem::Ecosystem;
use crate::engine::{note_regression, Work};
use crate::report::Summary;
use crate::store::Store;

/// A package (ecosystem, canonical name): the unit [`in_groups`](crate::engine) keeps together.
pub(crate) type GroupKey = (Ecosystem, String);

pub(crate) fn group_of(w: &Work) -> GroupKey {
    (w.ecosystem, w.ecosystem.handler().canonical_name(&w.name))
}

/// The packages whose versions are in flight, so that each one's `regression` can be judged
/// again against all of its versions in this run once the last of them finishes, and then
/// forgotten. The work comes grouped ([`in_groups`](crate::engine)): a package is fully started when the next
/// one starts.
#[derive(Default)]
pub(crate) struct Groups {
    open: HashMap<GroupKey, Open>,
    current: Option<GroupKey>,
    /// Packages complete since [`Groups::take_done`] was last asked.
    done: Vec<Open>,
}

#[derive(Default)]
pub(crate) struct Open {
    started: usize,
    finished: usize,
    /// Every version has started.
    closed: bool,
    /// Results that may still change: list indexes.
    candidates: Vec<usize>,
    /// The names this package's results carry (the `regression` history's keys).
    names: Vec<GroupKey>,
}

impl Groups {
    pub(crate) fn started(&mut self, key: GroupKey) {
        if self.current.as_ref() != Some(&key) {
            if let Some(prev) = self.current.take() {
                if let Some(o) = self.open.get_mut(&prev) {
                    o.closed = true;
                }
                self.complete(&prev);
            }
            self.current = Some(key.clone());
        }
        self.open.entry(key).or_default().started += 1;
    }

    /// A result of package `key` finished, carrying `name`.
    pub(crate) fn finished(
        &mut self,
        key: GroupKey,
        index: usize,
        candidate: bool,
        name: GroupKey,
    ) {
        let o = self.open.entry(key.clone()).or_default();
        o.finished += 1;
        if candidate {
            o.candidates.push(index);
        }
        if !o.names.contains(&name) {
            o.names.push(name);
        }
        self.complete(&key);
    }

    fn complete(&mut self, key: &GroupKey) {
        if self
            .open
            .get(key)
            .is_some_and(|o| o.closed && o.finished == o.started)
        {
            self.done.extend(self.open.remove(key));
        }
    }

    /// The packages whose every version has started and finished.
    pub(crate) fn take_done(&mut self) -> Vec<Open> {
        std::mem::take(&mut self.done)
    }

    /// Every package, complete or not (the run is over).
    pub(crate) fn drain(self) -> impl Iterator<Item = Open> {
        self.done.into_iter().chain(self.open.into_values())
    }
}

/// A package's every version has finished: judge `regression` again for those that can have
/// one, now against all of them (the spill gets the new result), count them in the summary,
/// and forget the package's history.
pub(crate) fn finish_group(
    g: Open,
    spill: &mut crate::spill::SpillWriter,
    at: &mut crate::spill::Places,
    summary: &mut Summary,
    seen: &mut crate::regression::History,
    store: Option<&Mutex<Store>>,
) -> std::io::Result<()> {
    for i in g.candidates {
        let Some(offset) = at.get(i)? else {
            continue;
        };
        let mut r = spill.read(offset)?;
        let before = r.findings.clone();
        note_regression(&mut r, store, seen);
        if r.findings != before {
            at.put(i, spill.append(&r)?)?;
        }
        summary.add(&r);
    }
    for name in &g.names {
        seen.remove(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_is_done_when_every_version_started_and_finished() {
        let key = |n: &str| (Ecosystem::Crates, n.to_string());
        let done = |g: &mut Groups| -> Vec<Vec<usize>> {
            g.take_done().into_iter().map(|o| o.candidates).collect()
        };
        let mut g = Groups::default();
        g.started(key("a"));
        g.started(key("a"));
        g.finished(key("a"), 0, true, key("a"));
        g.finished(key("a"), 1, false, key("A"));
        assert!(
            done(&mut g).is_empty(),
            "a third version of `a` may still come"
        );
        // `b` starts: `a`, already finished, is complete.
        g.started(key("b"));
        assert_eq!(done(&mut g), [vec![0]]);
        g.started(key("c"));
        assert!(done(&mut g).is_empty(), "b is in flight");
        g.finished(key("b"), 2, true, key("b"));
        assert_eq!(done(&mut g), [vec![2]]);
        assert_eq!(g.drain().count(), 1, "c is open when the run ends");
        let mut names = Groups::default();
        names.started(key("a"));
        names.started(key("a"));
        names.finished(key("a"), 0, false, key("a"));
        names.finished(key("a"), 1, false, key("A"));
        names.started(key("b"));
        assert_eq!(names.take_done()[0].names, [key("a"), key("A")]);
    }
}
