//! `show services service-sets statistics syslog` (Junos "show services service-sets
//! statistics syslog", MS-PIC/MS-MPC): per services interface, then per service set, the
//! logs sent to the syslog hosts and the logs dropped. `Rate limit` is the interface's
//! `syslog message-rate-limit` (0: none), shown on the interface and on each of its sets.

use std::fmt::Write;

use crate::backend::SyslogStatistics;
use crate::render::sessions::compare_interfaces;
use crate::tree::Element;

fn sorted(rows: &[SyslogStatistics]) -> Vec<SyslogStatistics> {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| compare_interfaces(&a.interface, &b.interface));
    for r in &mut rows {
        r.service_sets.sort_by(|a, b| a.0.cmp(&b.0));
    }
    rows
}

/// Sent and dropped over the interface's service sets.
fn totals(r: &SyslogStatistics) -> (u64, u64) {
    r.service_sets
        .iter()
        .fold((0, 0), |(s, d), (_, s1, d1)| (s + s1, d + d1))
}

/// ```text
/// Interface: ms-1/1/0
///   Rate limit: 0
///   Sent: 4
///   Dropped: 0
///   Service-set: ss
///     Rate limit: 0
///     Sent: 4
///     Dropped: 0
/// ```
pub fn render_syslog_statistics(rows: &[SyslogStatistics]) -> String {
    let mut out = String::new();
    for r in sorted(rows) {
        let (sent, dropped) = totals(&r);
        let rate = r.rate_limit;
        let _ = writeln!(out, "Interface: {}", r.interface);
        let _ = writeln!(
            out,
            "  Rate limit: {rate}\n  Sent: {sent}\n  Dropped: {dropped}"
        );
        for (name, sent, dropped) in &r.service_sets {
            let _ = writeln!(out, "  Service-set: {name}");
            let _ = writeln!(
                out,
                "    Rate limit: {rate}\n    Sent: {sent}\n    Dropped: {dropped}"
            );
        }
    }
    out
}

/// `service-set-syslog-statistics-information/service-set-syslog-statistics-entry/
/// {interface-name, syslog-rate-limit, syslog-sent, syslog-dropped,
/// service-set-syslog-entry/{service-set-name, syslog-rate-limit, syslog-sent,
/// syslog-dropped}}`.
pub fn syslog_statistics_tree(rows: &[SyslogStatistics]) -> Element {
    let mut root = Element::new("service-set-syslog-statistics-information");
    for r in sorted(rows) {
        let (sent, dropped) = totals(&r);
        let mut e = Element::new("service-set-syslog-statistics-entry")
            .with_leaf("interface-name", &r.interface)
            .with_leaf("syslog-rate-limit", r.rate_limit)
            .with_leaf("syslog-sent", sent)
            .with_leaf("syslog-dropped", dropped);
        for (name, sent, dropped) in &r.service_sets {
            e.push(
                Element::new("service-set-syslog-entry")
                    .with_leaf("service-set-name", name)
                    .with_leaf("syslog-rate-limit", r.rate_limit)
                    .with_leaf("syslog-sent", *sent)
                    .with_leaf("syslog-dropped", *dropped),
            );
        }
        root.push(e);
    }
    root
}
