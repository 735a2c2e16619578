//! `show services service-sets cpu-usage` from the workers' reports: each service set gets
//! the mean over the workers of its share of their time; `System` is the busy time left
//! over, `Idle` the rest, on every services interface (the workers serve them all).

use std::sync::Arc;

use mspic_offline::answers::{service_sets_cpu_usage, ShardReport};

const CONFIG: &str = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet { service { input { service-set a; } } address 10.0.0.1/24; } } }
    ge-0/0/1 { unit 0 { family inet { service { input { service-set b; } } address 10.0.1.1/24; } } }
    ge-0/0/2 { unit 0 { family inet { service { input { service-set c; } } address 10.0.2.1/24; } } }
    ms-1/1/0 { unit 0 { family inet; } }
    ms-2/0/0 { unit 0 { family inet; } }
}
services {
    service-set a { interface-service { service-interface ms-1/1/0; } }
    service-set b { interface-service { service-interface ms-1/1/0; } }
    service-set c { interface-service { service-interface ms-2/0/0; } }
}
"#;

fn report(busy: Option<f64>, per_set: Option<[f64; 3]>) -> ShardReport {
    ShardReport {
        cpu_percent: busy,
        cpu_per_set: per_set.map(|p| p.to_vec()),
        ..ShardReport::default()
    }
}

fn rows(reports: &[ShardReport]) -> Vec<(String, String, String)> {
    let c = mspic_config::parse(CONFIG, "t.conf").unwrap();
    let p = Arc::new(mspic_flow::Policy::compile(&c).unwrap());
    service_sets_cpu_usage(&p, reports)
        .into_iter()
        .map(|r| (r.interface, r.service_set, format!("{:.2}", r.percent)))
        .collect()
}

fn want(t: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    t.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[test]
fn shares_system_and_idle_from_two_workers() {
    let got = rows(&[
        report(Some(50.0), Some([20.0, 10.0, 0.0])),
        report(Some(30.0), Some([0.0, 10.0, 16.0])),
    ]);
    // Means: a 10, b 10, c 8; busy 40 → System 12, Idle 60.
    assert_eq!(
        got,
        want(&[
            ("ms-1/1/0", "a", "10.00"),
            ("ms-1/1/0", "b", "10.00"),
            ("ms-1/1/0", "System", "12.00"),
            ("ms-1/1/0", "Idle", "60.00"),
            ("ms-2/0/0", "c", "8.00"),
            ("ms-2/0/0", "System", "12.00"),
            ("ms-2/0/0", "Idle", "60.00"),
        ])
    );
}

#[test]
fn unmeasured_workers_show_zero_and_no_categories() {
    let got = rows(&[report(None, None), report(None, None)]);
    assert_eq!(
        got,
        want(&[
            ("ms-1/1/0", "a", "0.00"),
            ("ms-1/1/0", "b", "0.00"),
            ("ms-2/0/0", "c", "0.00"),
        ])
    );
}
