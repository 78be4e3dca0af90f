//! Diagnostics (`-v` info, `-vv` debug, `RUST_LOG`) go to stderr through `tracing`, never into
//! the report. This module holds the two helpers other layers call so that `-v` says what a
//! run did (each git command) and a finding's message stays one readable line: a tool's
//! multi-line stderr is logged in full and only the line that matters is kept.

use std::process::Command;

/// Log a command about to run (`-v`), without the fixed `-c key=value` safety settings.
pub fn command(c: &Command) {
    if !tracing::enabled!(tracing::Level::INFO) {
        return;
    }
    let mut shown = vec![c.get_program().to_string_lossy().into_owned()];
    let mut args = c.get_args().map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = args.next() {
        if a == "-c" {
            args.next();
            continue;
        }
        shown.push(a);
    }
    tracing::info!("running {}", shown.join(" "));
}

/// A tool's stderr for an error message: the full text goes to the `-v` log; what is kept
/// is the first `fatal:`/`error:` line (git's cause; later ones repeat it in general terms),
/// else the last line that is not a hint, warning or progress line, else the first line.
pub fn tool_stderr(tool: &str, what: &str, stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() <= 1 {
        return text.to_string();
    }
    tracing::info!("{tool} {what}: stderr:\n{text}");
    let noise = |l: &str| {
        let l = l.to_ascii_lowercase();
        [
            "hint:",
            "warning:",
            "cloning into",
            "remote: counting",
            "remote: enumerating",
        ]
        .iter()
        .any(|p| l.starts_with(p))
    };
    lines
        .iter()
        .find(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("fatal:") || l.starts_with("error:")
        })
        .or_else(|| lines.iter().rev().find(|l| !noise(l)))
        .unwrap_or(&lines[0])
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_that_matters() {
        let clone = b"Cloning into bare repository '/c/x.tmp1'...\nhint: something\nfatal: repository 'https://h/x/' not found\n";
        assert_eq!(
            tool_stderr("git", "clone", clone),
            "fatal: repository 'https://h/x/' not found"
        );
        let auth = b"remote: Repository not found.\nerror: auth failed\nfatal: could not read from remote\n";
        assert_eq!(tool_stderr("git", "fetch", auth), "error: auth failed");
        let local = b"fatal: '/x' does not appear to be a git repository\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n";
        assert_eq!(
            tool_stderr("git", "clone", local),
            "fatal: '/x' does not appear to be a git repository"
        );
        assert_eq!(
            tool_stderr("git", "fetch", b"warning: x\nsomething broke\n"),
            "something broke"
        );
        assert_eq!(tool_stderr("git", "x", b" one line \n"), "one line");
        assert!(!tool_stderr("git", "x", b"a\nb\nc").contains('\n'));
    }
}
