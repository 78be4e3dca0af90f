//! A reader for CPython's `marshal` format (the body of a `.pyc`), in Rust so that bytecode
//! from an artifact is never handed to a Python interpreter: `marshal.loads` is documented as
//! unsafe on hostile data. It builds a tree with references resolved, so two streams can be
//! compared by what they hold, not by `FLAG_REF` bits (which depend on reference counts in the
//! process that wrote them, so two honest compilations can differ there).

/// One marshalled value. Strings of every marshal type are `Str` (interning is not content).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    None,
    False,
    True,
    StopIteration,
    Ellipsis,
    Int(i64),
    /// Arbitrary precision: sign and 15-bit digits as written.
    Long(bool, Vec<u16>),
    Float(u64),
    Complex(u64, u64),
    Bytes(Vec<u8>),
    Str(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Set(Vec<Value>),
    FrozenSet(Vec<Value>),
    Slice(Box<[Value; 3]>),
    /// A code object: its integer fields and its object fields, in marshal order.
    Code(Vec<i64>, Vec<Value>),
}

/// Where a code object's fields sit for one Python version: leading 32-bit integers, objects,
/// one integer (`co_firstlineno`), then trailing objects.
#[derive(Debug, Clone, Copy)]
pub struct CodeLayout {
    pub ints: usize,
    pub objects: usize,
    pub trailing: usize,
    /// Index among the objects of `co_filename`.
    pub filename: usize,
}

/// The layout of CPython `3.minor`'s code objects, for the versions this reader knows.
pub fn layout(minor: u8) -> Option<CodeLayout> {
    Some(match minor {
        // argcount, kwonly, nlocals, stacksize, flags | code, consts, names, varnames,
        // freevars, cellvars, filename, name | firstlineno | lnotab
        7 => CodeLayout {
            ints: 5,
            objects: 8,
            trailing: 1,
            filename: 6,
        },
        // + posonlyargcount (3.8); lnotab becomes linetable in 3.10, same position
        8..=10 => CodeLayout {
            ints: 6,
            objects: 8,
            trailing: 1,
            filename: 6,
        },
        // argcount, posonly, kwonly, stacksize, flags | code, consts, names,
        // localsplusnames, localspluskinds, filename, name, qualname | firstlineno |
        // linetable, exceptiontable
        11..=13 => CodeLayout {
            ints: 5,
            objects: 8,
            trailing: 2,
            filename: 5,
        },
        _ => return None,
    })
}

const FLAG_REF: u8 = 0x80;
const MAX_DEPTH: usize = 200;
const MAX_ITEMS: usize = 1 << 24;

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
    refs: Vec<Option<Value>>,
    layout: CodeLayout,
}

/// Read one value from `data` (the bytes after a `.pyc` header) with the code layout of the
/// Python that wrote it. `None` when the stream is malformed or has bytes left over.
pub fn read(data: &[u8], layout: CodeLayout) -> Option<Value> {
    let mut r = Reader {
        data,
        at: 0,
        refs: Vec::new(),
        layout,
    };
    let v = r.value(0)?;
    (r.at == data.len()).then_some(v)
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.data.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn len(&mut self) -> Option<usize> {
        let n = usize::try_from(self.i32()?).ok()?;
        (n <= MAX_ITEMS && n <= self.data.len()).then_some(n)
    }
    fn items(&mut self, n: usize, depth: usize) -> Option<Vec<Value>> {
        (0..n).map(|_| self.value(depth + 1)).collect()
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        let code = self.byte()?;
        let flagged = code & FLAG_REF != 0;
        // A flagged container is registered before its items are read (they may refer to
        // it); a placeholder stands in until it is complete.
        let slot = flagged.then(|| {
            self.refs.push(None);
            self.refs.len() - 1
        });
        let v = match code & !FLAG_REF {
            b'0' => Value::Null,
            b'N' => Value::None,
            b'F' => Value::False,
            b'T' => Value::True,
            b'S' => Value::StopIteration,
            b'.' => Value::Ellipsis,
            b'i' => Value::Int(self.i32()?.into()),
            b'l' => {
                let n = self.i32()?;
                let count = usize::try_from(n.unsigned_abs()).ok()?;
                if count > self.data.len() {
                    return None;
                }
                let digits = (0..count)
                    .map(|_| Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?)))
                    .collect::<Option<Vec<_>>>()?;
                Value::Long(n < 0, digits)
            }
            b'g' => Value::Float(u64::from_le_bytes(self.take(8)?.try_into().ok()?)),
            b'y' => {
                let re = u64::from_le_bytes(self.take(8)?.try_into().ok()?);
                let im = u64::from_le_bytes(self.take(8)?.try_into().ok()?);
                Value::Complex(re, im)
            }
            b's' => {
                let n = self.len()?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            b'u' | b't' | b'a' | b'A' => {
                let n = self.len()?;
                Value::Str(self.take(n)?.to_vec())
            }
            b'z' | b'Z' => {
                let n = usize::from(self.byte()?);
                Value::Str(self.take(n)?.to_vec())
            }
            b'r' => {
                let i = usize::try_from(self.i32()?).ok()?;
                return self.refs.get(i)?.clone();
            }
            b'(' => {
                let n = self.len()?;
                Value::Tuple(self.items(n, depth)?)
            }
            b')' => {
                let n = usize::from(self.byte()?);
                Value::Tuple(self.items(n, depth)?)
            }
            b'[' => {
                let n = self.len()?;
                Value::List(self.items(n, depth)?)
            }
            b'<' | b'>' => {
                let n = self.len()?;
                let items = self.items(n, depth)?;
                if code & !FLAG_REF == b'<' {
                    Value::Set(items)
                } else {
                    Value::FrozenSet(items)
                }
            }
            b'{' => {
                let mut pairs = Vec::new();
                loop {
                    let k = self.value(depth + 1)?;
                    if k == Value::Null {
                        break;
                    }
                    let v = self.value(depth + 1)?;
                    pairs.push((k, v));
                    if pairs.len() > MAX_ITEMS {
                        return None;
                    }
                }
                Value::Dict(pairs)
            }
            b':' => {
                let a = self.value(depth + 1)?;
                let b = self.value(depth + 1)?;
                let c = self.value(depth + 1)?;
                Value::Slice(Box::new([a, b, c]))
            }
            b'c' => {
                let l = self.layout;
                let mut ints = (0..l.ints)
                    .map(|_| self.i32().map(i64::from))
                    .collect::<Option<Vec<_>>>()?;
                let mut objects = self.items(l.objects, depth)?;
                ints.push(self.i32()?.into());
                objects.extend(self.items(l.trailing, depth)?);
                Value::Code(ints, objects)
            }
            _ => return None,
        };
        if let Some(i) = slot {
            self.refs[i] = Some(v.clone());
        }
        Some(v)
    }
}

/// Whether `ours` (compiled here with the file name `placeholder`) holds what `theirs` holds,
/// with any file name in `theirs` where ours has the placeholder: the build machine's path is
/// the only thing a recompilation elsewhere cannot reproduce.
pub fn same_code(ours: &Value, theirs: &Value, placeholder: &[u8], layout: CodeLayout) -> bool {
    use Value::*;
    match (ours, theirs) {
        (Str(a), Str(_)) if a == placeholder => true,
        (Code(ia, oa), Code(ib, ob)) => {
            ia == ib
                && oa.len() == ob.len()
                && oa.iter().zip(ob).enumerate().all(|(i, (a, b))| {
                    if i == layout.filename {
                        matches!((a, b), (Str(p), Str(_)) if p == placeholder)
                    } else {
                        same_code(a, b, placeholder, layout)
                    }
                })
        }
        (Tuple(a), Tuple(b))
        | (List(a), List(b))
        | (Set(a), Set(b))
        | (FrozenSet(a), FrozenSet(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| same_code(x, y, placeholder, layout))
        }
        (Dict(a), Dict(b)) => {
            a.len() == b.len()
                && a.iter().zip(b).all(|((ka, va), (kb, vb))| {
                    same_code(ka, kb, placeholder, layout) && same_code(va, vb, placeholder, layout)
                })
        }
        (Slice(a), Slice(b)) => a
            .iter()
            .zip(b.iter())
            .all(|(x, y)| same_code(x, y, placeholder, layout)),
        _ => ours == theirs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: CodeLayout = CodeLayout {
        ints: 5,
        objects: 8,
        trailing: 2,
        filename: 5,
    };

    #[test]
    fn refs_resolve_and_flags_do_not_matter() {
        // (("ab", "ab")) written once with FLAG_REF and a back reference, and once plainly.
        let flagged = [b')', 2, b'z' | 0x80, 2, b'a', b'b', b'r', 0, 0, 0, 0];
        let plain = [b')', 2, b'z', 2, b'a', b'b', b'z', 2, b'a', b'b'];
        let a = read(&flagged, L).unwrap();
        let b = read(&plain, L).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a,
            Value::Tuple(vec![Value::Str(b"ab".to_vec()), Value::Str(b"ab".to_vec())])
        );
    }

    #[test]
    fn hostile_streams_are_rejected_not_panicking() {
        for bad in [
            &b""[..],
            &b"r\x05\x00\x00\x00"[..],
            &b"(\xff\xff\xff\x7f"[..],
            &b"l\x00\x00\x00\x80"[..],
            &b"zx"[..],
            &b"NN"[..],
            &[b'('; 4096][..],
        ] {
            assert!(read(bad, L).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn placeholder_matches_any_file_name_only_there() {
        let ours = Value::Tuple(vec![Value::Str(b"@P@".to_vec()), Value::Int(1)]);
        let theirs = Value::Tuple(vec![Value::Str(b"/build/x.py".to_vec()), Value::Int(1)]);
        assert!(same_code(&ours, &theirs, b"@P@", L));
        let other = Value::Tuple(vec![Value::Str(b"/build/x.py".to_vec()), Value::Int(2)]);
        assert!(!same_code(&ours, &other, b"@P@", L));
    }
}
