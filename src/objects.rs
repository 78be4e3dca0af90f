//! Reading commits and trees in bulk: one long-lived in-process object reader per repository
//! (its delta-base cache shared by every package of the repository) instead of a `git ls-tree`
//! process per package, and each tree object parsed once (versions of a package share most of
//! their subtrees). Only objects a partial clone always has (commits, trees) are read here, so
//! nothing is ever fetched.

use std::collections::HashMap;
use std::sync::Arc;

use crate::git::{Entry, GitError, Kind, ObjectKind, Objects, Repo, Tree};

/// Bytes of parsed tree objects kept per repository before the cache is dropped (memory
/// bound; a repository's caches together are bounded by [`crate::shared_repo::RepoCaches`]).
fn trees_budget() -> usize {
    crate::cache_budget::repos() / 2
}

/// One entry of a tree object: name, mode, object id (20 bytes, not 40 hex digits: parsed
/// trees are the largest cache of a run).
type RawEntry = (Box<str>, u32, [u8; 20]);

/// About what one parsed entry holds: the tuple and the name's allocation.
fn entry_bytes(name: &str) -> usize {
    std::mem::size_of::<RawEntry>() + name.len() + 16
}

pub struct ObjectReader {
    objects: Objects,
    url: String,
    trees: HashMap<[u8; 20], Arc<[RawEntry]>>,
    /// About how many bytes `trees` holds.
    trees_bytes: usize,
}

impl ObjectReader {
    pub fn spawn(repo: &Repo) -> Result<ObjectReader, GitError> {
        Ok(ObjectReader {
            objects: repo.objects()?,
            url: repo.url.clone(),
            trees: HashMap::new(),
            trees_bytes: 0,
        })
    }

    fn fail(&self, msg: String) -> GitError {
        GitError::Failed {
            action: "read of an object".into(),
            url: self.url.clone(),
            stderr: msg,
        }
    }

    /// One object: its kind and bytes.
    fn read(&mut self, oid: &str) -> Result<(ObjectKind, Vec<u8>), GitError> {
        self.objects.read(oid)
    }

    fn tree_entries(&mut self, oid: &str) -> Result<Arc<[RawEntry]>, GitError> {
        let mut key = [0; 20];
        if hex::decode_to_slice(oid, &mut key).is_err() {
            return Err(self.fail(format!("{oid:?} is not a full object id")));
        }
        if let Some(t) = self.trees.get(&key) {
            return Ok(t.clone());
        }
        let (kind, data) = self.read(oid)?;
        if kind != ObjectKind::Tree {
            return Err(self.fail(format!("{oid} is a {kind}, not a tree")));
        }
        let entries: Arc<[RawEntry]> = parse_tree(&data)
            .ok_or_else(|| self.fail(format!("tree {oid} is malformed")))?
            .into();
        // The key, the shared slice's header and the map's slot, then the entries.
        let bytes = 20
            + 16
            + 16
            + 16
            + entries
                .iter()
                .map(|(n, _, _)| entry_bytes(n))
                .sum::<usize>();
        if self.trees_bytes + bytes > trees_budget() {
            self.trees.clear();
            self.trees_bytes = 0;
        }
        self.trees_bytes += bytes;
        self.trees.insert(key, entries.clone());
        Ok(entries)
    }

    /// About how many bytes the parsed trees and the object reader's cache hold.
    pub fn cached_bytes(&self) -> usize {
        self.trees_bytes + self.objects.cached_bytes()
    }

    /// The root tree of a commit (or the tree itself).
    fn root_of(&mut self, commit: &str) -> Result<String, GitError> {
        let (kind, data) = self.read(commit)?;
        match kind {
            ObjectKind::Commit => String::from_utf8_lossy(&data)
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("tree "))
                .map(str::to_string)
                .ok_or_else(|| self.fail(format!("commit {commit} has no tree"))),
            ObjectKind::Tree => Ok(commit.to_string()),
            other => Err(self.fail(format!("{commit} is a {other}, not a commit"))),
        }
    }

    /// The mode and object id at one path of a commit's tree, reading only the trees on the
    /// way (each parsed once): cheap enough to ask of a thousand commits.
    pub fn entry_at(
        &mut self,
        commit: &str,
        path: &str,
    ) -> Result<Option<(u32, String)>, GitError> {
        let mut oid = self.root_of(commit)?;
        let mut parts = path.split('/').filter(|p| !p.is_empty()).peekable();
        while let Some(name) = parts.next() {
            let entries = self.tree_entries(&oid)?;
            let Some((_, mode, child)) = entries.iter().find(|(n, _, _)| &**n == name) else {
                return Ok(None);
            };
            if parts.peek().is_none() {
                return Ok(Some((*mode, hex::encode(child))));
            }
            if *mode != 0o040000 {
                return Ok(None);
            }
            oid = hex::encode(child);
        }
        Ok(None)
    }

    /// Every path of a commit's tree, as `git ls-tree -r -t` would list them.
    pub fn tree(&mut self, commit: &str) -> Result<Tree, GitError> {
        let root = self.root_of(commit)?;
        let mut tree = Tree::default();
        let mut stack = vec![(String::new(), root)];
        while let Some((prefix, oid)) = stack.pop() {
            for (name, mode, child) in self.tree_entries(&oid)?.iter() {
                let path = if prefix.is_empty() {
                    name.to_string()
                } else {
                    format!("{prefix}/{name}")
                };
                let kind = match mode {
                    0o040000 => Kind::Tree,
                    0o160000 => Kind::Commit,
                    _ => Kind::Blob,
                };
                let child = hex::encode(child);
                if kind == Kind::Tree {
                    stack.push((path.clone(), child.clone()));
                }
                tree.entries.insert(
                    path,
                    Entry {
                        mode: *mode,
                        kind,
                        oid: child,
                    },
                );
            }
        }
        Ok(tree)
    }
}

/// A tree object: `<octal mode> <name>\0<20-byte id>` repeated.
fn parse_tree(data: &[u8]) -> Option<Vec<RawEntry>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let sp = i + data[i..].iter().position(|b| *b == b' ')?;
        let mode = u32::from_str_radix(std::str::from_utf8(&data[i..sp]).ok()?, 8).ok()?;
        let nul = sp + 1 + data[sp + 1..].iter().position(|b| *b == 0)?;
        let name = String::from_utf8_lossy(&data[sp + 1..nul]).into();
        let id: [u8; 20] = data.get(nul + 1..nul + 21)?.try_into().ok()?;
        out.push((name, mode, id));
        i = nul + 21;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_objects_parse() {
        let mut data = b"100644 a.txt\0".to_vec();
        data.extend([0x11; 20]);
        data.extend(b"40000 dir\0");
        data.extend([0x22; 20]);
        let e = parse_tree(&data).unwrap();
        assert_eq!(e[0], ("a.txt".into(), 0o100644, [0x11; 20]));
        assert_eq!(e[1], ("dir".into(), 0o040000, [0x22; 20]));
        assert!(parse_tree(b"100644 x\0short").is_none());
    }
}
