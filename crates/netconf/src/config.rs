//! Junos configuration XML ↔ `set` lines, the inverse of `show configuration | display
//! xml`: `<statement><name>N</name>…</statement>` is `statement N …`, a leaf with text is
//! `statement value`, an empty element a bare keyword.

use crate::xml::Node;

/// The `set` lines of a `<configuration>` element (its children are the top statements).
/// `operation="delete"` (or `delete="delete"`) on an element gives a `delete` line.
/// An element to be replaced — `operation="replace"` (RFC 6241 §7.2), or with `replace`,
/// Junos's `replace="replace"` of `load-configuration action="replace"` ("Replace
/// Elements in Configuration Data Using the Junos XML Protocol") — gives a `delete` line
/// for its path before its `set` lines.
pub fn set_lines(configuration: &Node, replace: bool) -> String {
    let mut out = String::new();
    for c in &configuration.children {
        walk(c, "configuration", replace, &mut Vec::new(), &mut out);
    }
    out
}

fn quote(w: &str) -> String {
    if !w.is_empty()
        && !w
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '{' | '}' | ';' | '[' | ']' | '"' | '#'))
    {
        w.to_string()
    } else {
        let mut s = String::from("\"");
        for c in w.chars() {
            if c == '"' || c == '\\' {
                s.push('\\');
            }
            s.push(c);
        }
        s.push('"');
        s
    }
}

fn walk(n: &Node, parent: &str, replace: bool, path: &mut Vec<String>, out: &mut String) {
    let len = path.len();
    let delete = n.attribute("operation") == Some("delete") || n.attribute("delete").is_some();
    let name = n.child("name").filter(|c| c.children.is_empty());
    // `<interface><name>ms-1/1/0</name>` under `<interfaces>` is `interfaces ms-1/1/0`.
    if name.is_none() || n.name != mspic_config::display::item_element(parent) {
        path.push(quote(&n.name));
    }
    if let Some(name) = name {
        path.push(quote(name.text.trim()));
    }
    let rest: Vec<&Node> = n
        .children
        .iter()
        .filter(|c| name.is_none_or(|nm| !std::ptr::eq(*c, nm)))
        .collect();
    let replaced = n.attribute("operation") == Some("replace")
        || (replace && n.attribute("replace") == Some("replace"));
    if replaced && !delete {
        out.push_str("delete ");
        out.push_str(&path.join(" "));
        out.push('\n');
    }
    let verb = if delete { "delete" } else { "set" };
    let one_line = mspic_config::display::RANGE_STATEMENTS.contains(&n.name.as_str())
        && !rest.is_empty()
        && rest.iter().all(|c| c.children.is_empty());
    if one_line && !delete {
        // `<range><low>2000</low><high>3000</high></range>`: `range low 2000 high 3000`.
        for c in &rest {
            path.push(quote(&c.name));
            let text = c.text.trim();
            if !text.is_empty() {
                path.push(quote(text));
            }
        }
        out.push_str("set ");
        out.push_str(&path.join(" "));
        out.push('\n');
    } else if rest.is_empty() {
        let text = n.text.trim();
        if !text.is_empty() && name.is_none() {
            path.push(quote(text));
        }
        out.push_str(verb);
        out.push(' ');
        out.push_str(&path.join(" "));
        out.push('\n');
    } else if delete {
        out.push_str("delete ");
        out.push_str(&path.join(" "));
        out.push('\n');
    } else {
        for c in rest {
            walk(c, &n.name, replace, path, out);
        }
    }
    path.truncate(len);
}

/// The hierarchy a subtree filter asks for (`<configuration><services><nat/></services>
/// </configuration>` → `services nat`): the words down to the first element that is empty
/// or has siblings. `None` asks for everything.
pub fn filter_path(configuration: &Node) -> Vec<String> {
    let mut path = Vec::new();
    let mut n = configuration;
    while n.children.len() == 1 || (n.children.len() == 2 && n.child("name").is_some()) {
        let Some(c) = n.children.iter().find(|c| c.name != "name") else {
            break;
        };
        path.push(quote(&c.name));
        if let Some(name) = c.child("name") {
            path.push(quote(name.text.trim()));
        } else if c.children.is_empty() && !c.text.trim().is_empty() {
            path.push(quote(c.text.trim()));
        }
        n = c;
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse;

    #[test]
    fn xml_to_set_lines() {
        let x = parse(
            b"<configuration><services><nat><pool><name>p1</name>\
              <address>203.0.113.0/24</address><port><automatic/></port></pool></nat>\
              <service-set operation=\"delete\"><name>old</name></service-set></services>\
              </configuration>",
        )
        .unwrap();
        assert_eq!(
            set_lines(&x, false),
            "set services nat pool p1 address 203.0.113.0/24\n\
             set services nat pool p1 port automatic\n\
             delete services service-set old\n"
        );
    }

    #[test]
    fn names_in_keyword_position() {
        let x = parse(
            b"<configuration><interfaces><interface><name>ms-1/1/0</name><unit><name>0</name>\
              <family><inet/></family></unit></interface></interfaces></configuration>",
        )
        .unwrap();
        assert_eq!(
            set_lines(&x, false),
            "set interfaces ms-1/1/0 unit 0 family inet\n"
        );
    }

    /// Which attributes replace an element, by action: `replace="replace"` only with
    /// `action="replace"`, `operation="replace"` always.
    #[test]
    fn replaced_elements() {
        let pool = |attr: &str| {
            format!(
                "<configuration><services><nat><pool {attr}><name>p1</name>\
                 <address>203.0.113.0/24</address></pool></nat></services></configuration>"
            )
        };
        let set = "set services nat pool p1 address 203.0.113.0/24\n";
        let replaced = format!("delete services nat pool p1\n{set}");
        let cases = [
            ("replace=\"replace\"", true, replaced.as_str()),
            ("replace=\"replace\"", false, set),
            ("operation=\"replace\"", false, replaced.as_str()),
            ("operation=\"replace\"", true, replaced.as_str()),
            ("operation=\"merge\"", true, set),
        ];
        for (attr, replace, want) in cases {
            let x = parse(pool(attr).as_bytes()).unwrap();
            assert_eq!(set_lines(&x, replace), want, "{attr} replace={replace}");
        }
    }

    #[test]
    fn filters() {
        let x = parse(b"<configuration><services><nat><pool><name>p1</name></pool></nat></services></configuration>").unwrap();
        assert_eq!(filter_path(&x), ["services", "nat", "pool", "p1"]);
        let x = parse(b"<configuration/>").unwrap();
        assert!(filter_path(&x).is_empty());
        let x = parse(b"<configuration><services/><interfaces/></configuration>").unwrap();
        assert!(filter_path(&x).is_empty());
    }
}
