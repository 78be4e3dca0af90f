//! A listing's versions sorted on disk. A database dump of all of crates.io has 1.8 million
//! versions, in publication order, and they are sent by crate in name order: past a bound they
//! are spooled to an anonymous file in the cache directory as they are read, then sorted a
//! bounded chunk at a time into runs (a second anonymous file) and merged as they are read back,
//! so what is held is one chunk and a small buffer per run, never the table. Sequential I/O
//! only: no index is built.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;

use crate::spill::ReadAt;

/// One version: its group (the crate, by its id in the dump while spooled, by its place in name
/// order once sorted), publication time and row id (the order within a group), and number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rec {
    pub group: u64,
    pub created: u64,
    pub id: u64,
    /// The version number (the last key: only a corrupt dump has two rows that tie before it).
    pub num: String,
    pub yanked: bool,
}

/// Bytes before a record's number: group, created, id, yanked, the number's length.
const HEAD: usize = 8 + 8 + 8 + 1 + 2;

fn write_rec(w: &mut impl Write, r: &Rec) -> io::Result<()> {
    let mut head = [0u8; HEAD];
    head[..8].copy_from_slice(&r.group.to_le_bytes());
    head[8..16].copy_from_slice(&r.created.to_le_bytes());
    head[16..24].copy_from_slice(&r.id.to_le_bytes());
    head[24] = u8::from(r.yanked);
    let len = u16::try_from(r.num.len())
        .map_err(|_| io::Error::other("a version number longer than 64 KiB"))?;
    head[25..].copy_from_slice(&len.to_le_bytes());
    w.write_all(&head)?;
    w.write_all(r.num.as_bytes())
}

fn read_rec(r: &mut impl Read) -> io::Result<Rec> {
    let mut head = [0u8; HEAD];
    r.read_exact(&mut head)?;
    let word = |i: usize| u64::from_le_bytes(head[i..i + 8].try_into().expect("8 bytes"));
    let mut num = vec![0u8; usize::from(u16::from_le_bytes([head[25], head[26]]))];
    r.read_exact(&mut num)?;
    Ok(Rec {
        group: word(0),
        created: word(8),
        id: word(16),
        yanked: head[24] != 0,
        num: String::from_utf8(num)
            .map_err(|_| io::Error::other("a version number is not UTF-8"))?,
    })
}

/// Versions as they are read, unsorted, in an anonymous file.
pub struct Spool {
    w: BufWriter<File>,
    len: usize,
}

impl Spool {
    /// A new spool in `dir` (created when missing).
    pub fn create(dir: &Path) -> io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        Ok(Spool {
            w: BufWriter::with_capacity(1 << 16, tempfile::tempfile_in(dir)?),
            len: 0,
        })
    }

    pub fn push(&mut self, r: &Rec) -> io::Result<()> {
        write_rec(&mut self.w, r)?;
        self.len += 1;
        Ok(())
    }

    /// Every spooled version in order, each in its group `place(group)` (`None`: left out),
    /// sorted `chunk` versions at a time into runs in an anonymous file in `dir`.
    pub fn sort(
        self,
        dir: &Path,
        place: impl Fn(u64) -> Option<u64>,
        chunk: usize,
    ) -> io::Result<Sorted> {
        let len = self.len;
        let spooled = self.w.into_inner().map_err(|e| e.into_error())?;
        let mut from = BufReader::with_capacity(
            1 << 16,
            ReadAt {
                file: &spooled,
                at: 0,
            },
        );
        let mut out = BufWriter::with_capacity(1 << 16, tempfile::tempfile_in(dir)?);
        let mut runs = Vec::new();
        let (mut at, mut held) = (0u64, Vec::with_capacity(chunk.clamp(1, 1 << 20)));
        let mut write_run = |held: &mut Vec<Rec>, at: &mut u64| -> io::Result<()> {
            held.sort_unstable();
            let start = *at;
            for r in held.iter() {
                write_rec(&mut out, r)?;
                *at += (HEAD + r.num.len()) as u64;
            }
            runs.push((start, held.len()));
            held.clear();
            Ok(())
        };
        for _ in 0..len {
            let mut r = read_rec(&mut from)?;
            let Some(group) = place(r.group) else {
                continue;
            };
            r.group = group;
            held.push(r);
            if held.len() >= chunk.max(1) {
                write_run(&mut held, &mut at)?;
            }
        }
        if !held.is_empty() {
            write_run(&mut held, &mut at)?;
        }
        drop(spooled);
        let file = Arc::new(out.into_inner().map_err(|e| e.into_error())?);
        let mut sorted = Sorted {
            heap: BinaryHeap::with_capacity(runs.len()),
            runs: runs
                .into_iter()
                .map(|(start, left)| Run {
                    r: BufReader::with_capacity(
                        1 << 14,
                        ReadAt {
                            file: file.clone(),
                            at: start,
                        },
                    ),
                    left,
                })
                .collect(),
            failed: false,
        };
        for i in 0..sorted.runs.len() {
            sorted.advance(i)?;
        }
        Ok(sorted)
    }
}

struct Run {
    r: BufReader<ReadAt<Arc<File>>>,
    left: usize,
}

/// The spooled versions merged from their runs, in order.
pub struct Sorted {
    /// Each run's next version, smallest first.
    heap: BinaryHeap<Reverse<(Rec, usize)>>,
    runs: Vec<Run>,
    failed: bool,
}

impl Sorted {
    /// Put run `i`'s next version in the heap, if it has one.
    fn advance(&mut self, i: usize) -> io::Result<()> {
        let run = &mut self.runs[i];
        if run.left > 0 {
            run.left -= 1;
            let rec = read_rec(&mut run.r)?;
            self.heap.push(Reverse((rec, i)));
        }
        Ok(())
    }

    /// The next version's group, without taking it.
    pub fn peek_group(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((r, _))| r.group)
    }
}

impl Iterator for Sorted {
    type Item = io::Result<Rec>;

    fn next(&mut self) -> Option<io::Result<Rec>> {
        if self.failed {
            return None;
        }
        let Reverse((rec, i)) = self.heap.pop()?;
        if let Err(e) = self.advance(i) {
            self.failed = true;
            return Some(Err(e));
        }
        Some(Ok(rec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_back_sorted_in_their_new_groups_in_any_chunk_size() {
        let dir = tempfile::tempdir().unwrap();
        let recs: Vec<Rec> = (0..500u64)
            .map(|i| Rec {
                group: (i * 7919) % 37,
                created: (i * 31) % 11,
                id: 1000 - i,
                num: format!("0.{}.{}", i % 3, i),
                yanked: i % 5 == 0,
            })
            .collect();
        // Groups renumbered (reversed), group 3 left out.
        let place = |g: u64| (g != 3).then_some(100 - g);
        let mut expected: Vec<Rec> = recs
            .iter()
            .filter_map(|r| {
                Some(Rec {
                    group: place(r.group)?,
                    ..r.clone()
                })
            })
            .collect();
        expected.sort();
        for chunk in [1, 7, 64, 499, 500, 10_000] {
            let mut spool = Spool::create(dir.path()).unwrap();
            for r in &recs {
                spool.push(r).unwrap();
            }
            let sorted = spool.sort(dir.path(), place, chunk).unwrap();
            let got: Vec<Rec> = sorted.map(Result::unwrap).collect();
            assert_eq!(got, expected, "chunk {chunk}");
        }
        // Anonymous files only.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
