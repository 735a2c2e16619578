//! Interface-name patterns, as Junos accepts them in `show interfaces ms-*` and in
//! `<interface-name>` of `<get-interface-information>`.

/// Whether `name` matches `pattern`: `*`, `?` and `[..]` (ranges included). Patterns
/// longer than 64 characters or with more than four `*` match nothing (bounded work).
pub fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some(('[', rest)) => {
                let Some(close) = rest.iter().position(|&c| c == ']') else {
                    return false;
                };
                let Some((&c, nrest)) = n.split_first() else {
                    return false;
                };
                let set = &rest[..close];
                let mut ok = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        ok |= set[i] <= c && c <= set[i + 2];
                        i += 3;
                    } else {
                        ok |= set[i] == c;
                        i += 1;
                    }
                }
                ok && go(&rest[close + 1..], nrest)
            }
            Some((&pc, rest)) => n.first() == Some(&pc) && go(rest, &n[1..]),
        }
    }
    if pattern.len() > 64 || pattern.matches('*').count() > 4 {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// Whether `s` is a pattern rather than a plain name.
pub fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?', '['])
}
