//! A small reader for JUnit files: elements, attributes and text, nothing more (an
//! independent check that what provero writes is well-formed XML with the right shape).

use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};

#[derive(Debug, Default)]
pub struct Elem {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Elem>,
    pub text: String,
}

impl Elem {
    pub fn attr(&self, k: &str) -> &str {
        self.attrs
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("<{}> has no {k}: {self:#?}", self.name))
    }

    pub fn child(&self, name: &str, key: &str, value: &str) -> &Elem {
        self.children
            .iter()
            .find(|c| c.name == name && c.attrs.iter().any(|(k, v)| k == key && v == value))
            .unwrap_or_else(|| panic!("no <{name} {key}=\"{value}\"> in {self:#?}"))
    }

    /// The one child called `name` (besides system-out).
    pub fn only(&self, name: &str) -> &Elem {
        let found: Vec<&Elem> = self
            .children
            .iter()
            .filter(|c| c.name != "system-out")
            .collect();
        assert!(
            found.len() == 1 && found[0].name == name,
            "expected <{name}>: {self:#?}"
        );
        found[0]
    }
}

fn elem(e: &quick_xml::events::BytesStart<'_>) -> Elem {
    Elem {
        name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                    a.normalized_value(XmlVersion::Explicit1_0)
                        .unwrap()
                        .into_owned(),
                )
            })
            .collect(),
        ..Elem::default()
    }
}

pub fn parse(text: &str) -> Elem {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Elem> = vec![Elem::default()];
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => stack.push(elem(&e)),
            Event::Empty(e) => {
                let el = elem(&e);
                stack.last_mut().unwrap().children.push(el);
            }
            Event::Text(t) => {
                let s = t.decode().expect("UTF-8 text").into_owned();
                stack.last_mut().unwrap().text.push_str(&s);
            }
            // Entity references come as events of their own.
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().expect("a valid character reference") {
                    Some(c) => c,
                    None => match r.decode().unwrap().as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("unknown entity &{other};"),
                    },
                };
                stack.last_mut().unwrap().text.push(c);
            }
            Event::End(_) => {
                let el = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(el);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut doc = stack.pop().unwrap();
    assert!(stack.is_empty(), "unclosed elements");
    doc.children.pop().expect("a root element")
}
