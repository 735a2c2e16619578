//! A tiny element tree: every answer is built once as a tree and printed as Junos XML
//! (`| display xml`) or Junos JSON (`| display json`).

use std::fmt::Write as _;

/// The namespace release written on `<rpc-reply xmlns:junos=…>`.
pub const JUNOS_XMLNS: &str = "http://xml.juniper.net/junos/21.4R0/junos";

/// An XML element: either a leaf holding text or a container holding elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    /// `(name, value)` pairs, printed in this order (`junos:style`).
    pub attributes: Vec<(String, String)>,
    pub content: Content,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text(String),
    Children(Vec<Element>),
}

impl Element {
    /// An empty container.
    pub fn new(name: impl Into<String>) -> Self {
        Element {
            name: name.into(),
            attributes: Vec::new(),
            content: Content::Children(Vec::new()),
        }
    }

    /// A leaf with text.
    pub fn leaf(name: impl Into<String>, text: impl ToString) -> Self {
        Element {
            name: name.into(),
            attributes: Vec::new(),
            content: Content::Text(text.to_string()),
        }
    }

    pub fn attr(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push((name.into(), value.into()));
        self
    }

    /// Appends a child (turns a leaf into a container).
    pub fn push(&mut self, child: Element) {
        match &mut self.content {
            Content::Children(c) => c.push(child),
            Content::Text(_) => self.content = Content::Children(vec![child]),
        }
    }

    /// Builder form of [`Element::push`].
    pub fn with(mut self, child: Element) -> Self {
        self.push(child);
        self
    }

    /// Builder form: appends a leaf.
    pub fn with_leaf(self, name: &str, text: impl ToString) -> Self {
        self.with(Element::leaf(name, text))
    }

    pub fn children(&self) -> &[Element] {
        match &self.content {
            Content::Children(c) => c,
            Content::Text(_) => &[],
        }
    }

    /// The first child with this name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children().iter().find(|c| c.name == name)
    }

    /// The text of a leaf (`None` for containers).
    pub fn text(&self) -> Option<&str> {
        match &self.content {
            Content::Text(t) => Some(t),
            Content::Children(_) => None,
        }
    }
}

/// The whole `| display xml` answer: `<rpc-reply>` around `root`, then the CLI banner.
pub fn to_xml(root: &Element) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<rpc-reply xmlns:junos=\"{JUNOS_XMLNS}\">");
    write_xml(&mut out, root, 1);
    let cli = Element::new("cli").with(Element::leaf("banner", ""));
    write_xml(&mut out, &cli, 1);
    out.push_str("</rpc-reply>\n");
    out
}

/// `| display xml` of a command whose RPC replies nothing: `<rpc-reply>` with the banner.
pub fn to_xml_without_reply() -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<rpc-reply xmlns:junos=\"{JUNOS_XMLNS}\">");
    let cli = Element::new("cli").with(Element::leaf("banner", ""));
    write_xml(&mut out, &cli, 1);
    out.push_str("</rpc-reply>\n");
    out
}

fn write_xml(out: &mut String, e: &Element, depth: usize) {
    let indent = "    ".repeat(depth);
    out.push_str(&indent);
    out.push('<');
    out.push_str(&e.name);
    for (k, v) in &e.attributes {
        let _ = write!(out, " {k}=\"{}\"", escape_xml(v, true));
    }
    out.push('>');
    match &e.content {
        Content::Text(t) => {
            out.push_str(&escape_xml(t, false));
        }
        Content::Children(children) => {
            out.push('\n');
            for c in children {
                write_xml(out, c, depth + 1);
            }
            out.push_str(&indent);
        }
    }
    let _ = writeln!(out, "</{}>", e.name);
}

/// Escapes `&`, `<`, `>` (and `"` in attribute values).
pub fn escape_xml(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole `| display json` answer, Junos style: an object holding the reply root; every
/// element is an array of objects (same-named siblings share one array), every leaf
/// `[{"data" : "…"}]`, attributes under `"attributes"`.
pub fn to_json(root: &Element) -> String {
    let mut out = String::from("{\n");
    write_members(&mut out, std::slice::from_ref(root), &[], 1);
    out.push_str("}\n");
    out
}

/// Writes the members of one JSON object: its attributes, then its children grouped by name.
fn write_members(out: &mut String, children: &[Element], attrs: &[(String, String)], depth: usize) {
    let indent = "    ".repeat(depth);
    let mut first = true;
    let mut sep = |out: &mut String| {
        if !std::mem::take(&mut first) {
            out.push_str(",\n");
        }
    };
    if !attrs.is_empty() {
        sep(out);
        let _ = write!(out, "{indent}\"attributes\" : {{");
        for (i, (k, v)) in attrs.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{} : {}", json_string(k), json_string(v));
        }
        out.push('}');
    }
    let mut names: Vec<&str> = Vec::new();
    for c in children {
        if !names.contains(&c.name.as_str()) {
            names.push(&c.name);
        }
    }
    for name in names {
        sep(out);
        let _ = writeln!(out, "{indent}{} : [", json_string(name));
        let group: Vec<&Element> = children.iter().filter(|c| c.name == name).collect();
        for (i, e) in group.iter().enumerate() {
            let _ = writeln!(out, "{indent}{{");
            match &e.content {
                Content::Text(t) => {
                    let inner = "    ".repeat(depth + 1);
                    let _ = write!(out, "{inner}\"data\" : {}", json_string(t));
                    if e.attributes.is_empty() {
                        out.push('\n');
                    } else {
                        out.push_str(",\n");
                        write_members(out, &[], &e.attributes, depth + 1);
                    }
                }
                Content::Children(c) => write_members(out, c, &e.attributes, depth + 1),
            }
            let _ = write!(out, "{indent}}}");
            if i + 1 < group.len() {
                out.push(',');
            }
            out.push('\n');
        }
        let _ = write!(out, "{indent}]");
    }
    if !first {
        out.push('\n');
    }
}

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_layout_and_escaping() {
        let root = Element::new("a")
            .attr("junos:style", "x\"y")
            .with_leaf("b", "1 < 2 & 3")
            .with(Element::new("c"));
        assert_eq!(
            to_xml(&root),
            "<rpc-reply xmlns:junos=\"http://xml.juniper.net/junos/21.4R0/junos\">\n    \
             <a junos:style=\"x&quot;y\">\n        <b>1 &lt; 2 &amp; 3</b>\n        <c>\n        \
             </c>\n    </a>\n    <cli>\n        <banner></banner>\n    </cli>\n</rpc-reply>\n"
        );
    }

    #[test]
    fn json_groups_siblings() {
        let root = Element::new("r")
            .with(Element::new("e").with_leaf("n", "1"))
            .with_leaf("x", "q\"")
            .with(Element::new("e").with_leaf("n", "2"));
        let j = to_json(&root);
        assert_eq!(
            j,
            "{\n    \"r\" : [\n    {\n        \"e\" : [\n        {\n            \"n\" : [\n            \
             {\n                \"data\" : \"1\"\n            }\n            ]\n        },\n        {\n            \
             \"n\" : [\n            {\n                \"data\" : \"2\"\n            }\n            ]\n        }\n        \
             ],\n        \"x\" : [\n        {\n            \"data\" : \"q\\\"\"\n        }\n        ]\n    }\n    ]\n}\n"
        );
    }
}
