//! Parsing a received message into an owned element tree, and writing XML text.

/// Deepest element nesting accepted in a message.
pub const MAX_DEPTH: usize = 64;
/// Most XML nodes (elements, text, attributes' owners) accepted in a message: far more
/// than any RPC or configuration mspic reads, few enough to bound the parser's memory.
pub const MAX_NODES: u32 = 200_000;

/// An element of a received message: local names (namespaces dropped, as Junos does for
/// its own RPCs), attributes, text (the concatenation of its text children) and children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a message is not XML mspic can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("message is not UTF-8")]
    NotUtf8,
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("elements nested deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// Parses one message; DTDs are refused (no entity expansion).
pub fn parse(bytes: &[u8]) -> Result<Node, XmlError> {
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
    };
    let doc = roxmltree::Document::parse_with_options(text, opts)
        .map_err(|e| XmlError::Malformed(e.to_string()))?;
    // Nodes come in document order, so a parent's depth is known before its children's.
    let mut depth = vec![0usize; doc.descendants().count()];
    for n in doc.descendants() {
        let d = n.parent().map_or(0, |p| depth[p.id().get_usize()] + 1);
        if d > MAX_DEPTH + 1 {
            return Err(XmlError::TooDeep);
        }
        depth[n.id().get_usize()] = d;
    }
    Ok(convert(doc.root_element()))
}

fn convert(n: roxmltree::Node<'_, '_>) -> Node {
    let mut out = Node {
        name: n.tag_name().name().to_string(),
        attributes: n
            .attributes()
            .map(|a| (a.name().to_string(), a.value().to_string()))
            .collect(),
        ..Node::default()
    };
    for c in n.children() {
        if c.is_element() {
            out.children.push(convert(c));
        } else if c.is_text() {
            out.text.push_str(c.text().unwrap_or(""));
        }
    }
    out
}

/// Escapes `&`, `<`, `>` (and `"` in attribute values).
pub fn escape(s: &str, attribute: bool) -> String {
    mspic_control::tree::escape_xml(s, attribute)
}
