//! Reading back the unified diffs findings carry (`findings[].diff`), for renderers that show
//! them differently: side by side (HTML) or as the first changed line (SARIF regions).

/// One row of a side-by-side view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row<'a> {
    /// A `@@ ... @@` hunk header.
    Hunk(&'a str),
    /// A line on either side (`None`: nothing there), with line numbers from 1.
    Line {
        left: Option<(usize, &'a str)>,
        right: Option<(usize, &'a str)>,
        changed: bool,
    },
    /// Anything else the diff says (`\ No newline at end of file`, a truncation note).
    Note(&'a str),
}

/// `@@ -a,b +c,d @@` -> (a, c).
fn hunk_starts(header: &str) -> Option<(usize, usize)> {
    let mut parts = header.split_whitespace().skip(1);
    let num = |p: Option<&str>, sign: char| -> Option<usize> {
        p?.strip_prefix(sign)?.split(',').next()?.parse().ok()
    };
    Some((num(parts.next(), '-')?, num(parts.next(), '+')?))
}

/// The rows of a unified diff side by side: removed and added runs are paired line by line,
/// context lines stand on both sides.
type Run<'a> = Vec<(usize, &'a str)>;

fn flush<'a>(rows: &mut Vec<Row<'a>>, removed: &mut Run<'a>, added: &mut Run<'a>) {
    let n = removed.len().max(added.len());
    for i in 0..n {
        rows.push(Row::Line {
            left: removed.get(i).copied(),
            right: added.get(i).copied(),
            changed: true,
        });
    }
    removed.clear();
    added.clear();
}

pub fn side_by_side(diff: &str) -> Vec<Row<'_>> {
    let mut rows = Vec::new();
    let (mut l, mut r) = (0usize, 0usize);
    let mut removed: Run = Vec::new();
    let mut added: Run = Vec::new();
    for line in diff.lines() {
        if line.starts_with("--- ") || line.starts_with("+++ ") {
            continue;
        }
        if line.starts_with("@@") {
            flush(&mut rows, &mut removed, &mut added);
            if let Some((a, c)) = hunk_starts(line) {
                (l, r) = (a, c);
            }
            rows.push(Row::Hunk(line));
        } else if let Some(text) = line.strip_prefix('-') {
            removed.push((l, text));
            l += 1;
        } else if let Some(text) = line.strip_prefix('+') {
            added.push((r, text));
            r += 1;
        } else if let Some(text) = line.strip_prefix(' ').or((line.is_empty()).then_some("")) {
            flush(&mut rows, &mut removed, &mut added);
            rows.push(Row::Line {
                left: Some((l, text)),
                right: Some((r, text)),
                changed: false,
            });
            l += 1;
            r += 1;
        } else {
            flush(&mut rows, &mut removed, &mut added);
            rows.push(Row::Note(line));
        }
    }
    flush(&mut rows, &mut removed, &mut added);
    rows
}

/// The first line of the artifact's file that the diff shows as changed (added, or where a
/// removal happened).
pub fn first_changed_line(diff: &str) -> Option<usize> {
    side_by_side(diff).into_iter().find_map(|row| match row {
        Row::Line {
            changed: true,
            left,
            right,
        } => right.map(|(n, _)| n).or(left.map(|(n, _)| n)),
        _ => None,
    })
}

/// The source file's path as the diff header names it (`--- source/<path>`).
pub fn source_path(diff: &str) -> Option<&str> {
    diff.lines()
        .find_map(|l| l.strip_prefix("--- source/"))
        .map(str::trim_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "--- source/src/lib.rs\n+++ artifact/src/lib.rs\n@@ -3,4 +3,5 @@\n fn a() {\n-    a + b\n+    a + b + 1\n+    // extra\n }\n";

    #[test]
    fn pairs_removed_and_added_lines_with_their_numbers() {
        let rows = side_by_side(DIFF);
        assert_eq!(rows[0], Row::Hunk("@@ -3,4 +3,5 @@"));
        assert_eq!(
            rows[1],
            Row::Line {
                left: Some((3, "fn a() {")),
                right: Some((3, "fn a() {")),
                changed: false
            }
        );
        assert_eq!(
            rows[2],
            Row::Line {
                left: Some((4, "    a + b")),
                right: Some((4, "    a + b + 1")),
                changed: true
            }
        );
        assert_eq!(
            rows[3],
            Row::Line {
                left: None,
                right: Some((5, "    // extra")),
                changed: true
            }
        );
        assert_eq!(
            rows[4],
            Row::Line {
                left: Some((5, "}")),
                right: Some((6, "}")),
                changed: false
            }
        );
        assert_eq!(first_changed_line(DIFF), Some(4));
        assert_eq!(source_path(DIFF), Some("src/lib.rs"));
    }

    #[test]
    fn a_removal_only_points_at_where_it_was() {
        let d = "@@ -1,2 +1,1 @@\n a\n-b\n";
        assert_eq!(first_changed_line(d), Some(2));
    }
}
