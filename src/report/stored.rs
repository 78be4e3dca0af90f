//! `provero report`: what a results store holds, as a report, read a package at a time into a
//! spill (`src/spill.rs`) so a store of any size is never whole in memory. The store keeps a
//! package's rows together, which is all `regression` needs.

use std::path::Path;

use super::model::{PackageResult, Report, Summary, Timing};

/// What a store holds as a report, read a package at a time into a spill in `cache_dir`:
/// `regression` judged against the package's other stored versions (the store keeps a
/// package's rows together), today's allow entries applied, the regressions first, and the
/// `slowest` packages kept aside.
pub fn read(
    db: &Path,
    cache_dir: &Path,
    allow: &crate::allow::AllowList,
    slowest: usize,
) -> anyhow::Result<Report> {
    let store = crate::store::Store::open(db)?;
    let today = crate::allow::today();
    let mut spill = crate::spill::SpillWriter::create(cache_dir)?;
    let (mut first, mut rest) = (Vec::new(), Vec::new());
    let mut summary = Summary::default();
    let mut slow: Vec<Timing> = Vec::new();
    let mut used: Vec<usize> = Vec::new();
    let by_time = |a: &Timing, b: &Timing| {
        b.duration_ms
            .cmp(&a.duration_ms)
            .then(a.package.cmp(&b.package))
    };
    let mut package: Vec<PackageResult> = Vec::new();
    let mut flush = |package: &mut Vec<PackageResult>| -> anyhow::Result<()> {
        let history: Vec<crate::regression::Past> =
            package.iter().map(crate::regression::Past::of).collect();
        for mut r in package.drain(..) {
            crate::regression::annotate(&mut r, &history);
            for i in allow.apply(&mut r, today) {
                if !used.contains(&i) {
                    used.push(i);
                }
            }
            summary.add(&r);
            slow.push(Timing {
                package: r.package.clone(),
                duration_ms: r.duration_ms,
            });
            if slow.len() > 2 * slowest + 64 {
                slow.sort_by(by_time);
                slow.truncate(slowest);
            }
            let at = spill.append(&r)?;
            if crate::regression::has_regression(&r) {
                first.push(at);
            } else {
                rest.push(at);
            }
        }
        Ok(())
    };
    store.for_each(|r| {
        let same = package.last().is_some_and(|p| {
            p.package.ecosystem == r.package.ecosystem && p.package.name == r.package.name
        });
        if !same {
            flush(&mut package)?;
        }
        package.push(r);
        Ok(())
    })?;
    flush(&mut package)?;
    slow.sort_by(by_time);
    slow.truncate(slowest);
    summary.slowest = slow;
    first.extend(rest);
    let mut report = Report::spilled(
        spill.finish(crate::spill::Places::held(first))?,
        Vec::new(),
        summary,
    );
    report.warnings = allow.warnings(&used, today);
    Ok(report)
}
