//! The three forms of one answer agree: the XML (read by a real XML parser), the Junos
//! JSON and the text. XML and JSON must hold the same elements, attributes and values, in
//! the same order within each element name; every value of the XML must appear in the text,
//! but for the elements the Junos text layout does not print (named per command).
#![allow(dead_code)]

use std::collections::BTreeMap;

/// One element: its name, attributes (local names), text and children grouped by name in
/// document order (JSON objects keep no order across names; Junos JSON keeps it within).
#[derive(Debug)]
pub struct Node {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    pub text: Option<String>,
    pub children: BTreeMap<String, Vec<Node>>,
}

fn from_xml(e: roxmltree::Node<'_, '_>) -> Node {
    let mut children: BTreeMap<String, Vec<Node>> = BTreeMap::new();
    for c in e.children().filter(|c| c.is_element()) {
        children
            .entry(c.tag_name().name().to_string())
            .or_default()
            .push(from_xml(c));
    }
    let text: String = e
        .children()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect();
    let text = text.trim();
    let mut attrs: BTreeMap<String, String> = e
        .attributes()
        .map(|a| (a.name().to_string(), a.value().to_string()))
        .collect();
    // A default namespace declared here is an attribute in Junos JSON.
    let ns = e.tag_name().namespace();
    let parent_ns = e.parent_element().and_then(|p| p.tag_name().namespace());
    if let Some(ns) = ns.filter(|ns| parent_ns != Some(*ns)) {
        attrs.insert("xmlns".to_string(), ns.to_string());
    }
    Node {
        name: e.tag_name().name().to_string(),
        attrs,
        text: (!text.is_empty()).then(|| text.to_string()),
        children,
    }
}

fn from_json(name: &str, v: &serde_json::Value) -> Node {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{name}: not an object: {v}"));
    let mut node = Node {
        name: name.to_string(),
        attrs: BTreeMap::new(),
        text: None,
        children: BTreeMap::new(),
    };
    for (k, val) in obj {
        match k.as_str() {
            "attributes" => {
                for (a, av) in val.as_object().expect("attributes object") {
                    let local = a.rsplit(':').next().unwrap_or(a);
                    node.attrs.insert(
                        local.to_string(),
                        av.as_str().unwrap_or_default().to_string(),
                    );
                }
            }
            "data" => {
                let t = val.as_str().expect("data is a string").trim();
                node.text = (!t.is_empty()).then(|| t.to_string());
            }
            child => {
                let list = val
                    .as_array()
                    .unwrap_or_else(|| panic!("{child}: not an array"));
                node.children.insert(
                    child.to_string(),
                    list.iter().map(|c| from_json(child, c)).collect(),
                );
            }
        }
    }
    node
}

/// The reply element(s) of `| display xml` (inside `<rpc-reply>`; the CLI's own `<cli>`
/// trailer, which the JSON form does not carry, left out).
pub fn xml_replies(xml: &str) -> Vec<Node> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("XML: {e}\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "rpc-reply", "{xml}");
    root.children()
        .filter(|c| c.is_element() && c.tag_name().name() != "cli")
        .map(from_xml)
        .collect()
}

/// The first difference between `a` (XML) and `b` (JSON), as a path and what differs.
pub fn first_difference(path: &str, a: &Node, b: &Node) -> Option<String> {
    let here = format!("{path}/{}", a.name);
    if a.name != b.name {
        return Some(format!("{here}: element {} vs {}", a.name, b.name));
    }
    if a.attrs != b.attrs {
        return Some(format!("{here}: attributes {:?} vs {:?}", a.attrs, b.attrs));
    }
    if a.text != b.text {
        return Some(format!("{here}: value {:?} vs {:?}", a.text, b.text));
    }
    let names: Vec<&String> = a.children.keys().chain(b.children.keys()).collect();
    for name in names {
        let (x, y) = (a.children.get(name), b.children.get(name));
        let (x, y) = (x.map_or(&[][..], |v| v), y.map_or(&[][..], |v| v));
        if x.len() != y.len() {
            return Some(format!(
                "{here}/{name}: {} vs {} elements",
                x.len(),
                y.len()
            ));
        }
        for (i, (c, d)) in x.iter().zip(y).enumerate() {
            if let Some(diff) = first_difference(&format!("{here}[{i}]"), c, d) {
                return Some(diff);
            }
        }
    }
    None
}

/// The reply element(s) of `| display json`.
pub fn json_replies(json: &str) -> Vec<Node> {
    let v: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("JSON: {e}\n{json}"));
    let obj = v.as_object().expect("a JSON object");
    obj.iter()
        .flat_map(|(name, list)| {
            list.as_array()
                .expect("an array of replies")
                .iter()
                .map(|r| from_json(name, r))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every (element name, value) pair of `n`'s leaves, in document order per name.
pub fn leaves<'a>(n: &'a Node, out: &mut Vec<(&'a str, &'a str)>) {
    if let Some(t) = &n.text {
        out.push((&n.name, t));
    }
    for list in n.children.values() {
        for c in list {
            leaves(c, out);
        }
    }
}

/// Checks the three forms of one answer against each other; `not_in_text` names the
/// elements the Junos text of this command does not print.
pub fn check(cmd: &str, text: &str, xml: &str, json: &str, not_in_text: &[&str]) {
    let x = xml_replies(xml);
    let j = json_replies(json);
    assert!(!x.is_empty(), "{cmd}: no reply element");
    assert_eq!(x.len(), j.len(), "{cmd}: reply elements in XML and JSON");
    for (a, b) in x.iter().zip(&j) {
        if let Some(d) = first_difference("", a, b) {
            panic!("{cmd}: XML and JSON differ at {d}");
        }
    }
    let mut vals = Vec::new();
    for r in &x {
        leaves(r, &mut vals);
    }
    let missing: Vec<String> = vals
        .into_iter()
        .filter(|(name, value)| !not_in_text.contains(name) && !text.contains(value))
        .map(|(name, value)| format!("<{name}>{value}</{name}>"))
        .collect();
    assert!(
        missing.is_empty(),
        "{cmd}: not in the text: {}\n{text}",
        missing.join(" ")
    );
}
