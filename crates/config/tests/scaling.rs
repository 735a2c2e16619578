//! Parsing time grows linearly with the configuration: ten times the statements take
//! about ten times as long (a quadratic step would take a hundred).

use std::time::{Duration, Instant};

use mspic_config::parse;

mod gen;
use gen::{mixed, routes};

/// CPU time this thread has run: unlike the wall clock, it does not count the time other
/// work on a shared machine takes the CPU.
fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Parses `text` once, returning how long it took: CPU time where the system says it,
/// else wall time.
fn time(text: &str) -> Duration {
    let (wall, cpu) = (Instant::now(), thread_cpu_time());
    let cfg = parse(text, "scale.conf").expect("valid configuration");
    let elapsed = match (cpu, thread_cpu_time()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => wall.elapsed(),
    };
    assert!(!cfg.static_routes.is_empty());
    elapsed
}

/// time(`large`)/time(`small`), each the shortest of a few runs, interleaved.
fn ratio(small: &str, large: &str) -> (Duration, Duration, f64) {
    // Interleaved, and the shortest of each kept: both sizes meet the same load from
    // other work on the machine, and the least disturbed runs are compared.
    let (mut t_small, mut t_large) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        for _ in 0..3 {
            t_small = t_small.min(time(small));
        }
        t_large = t_large.min(time(large));
    }
    (
        t_small,
        t_large,
        t_large.as_secs_f64() / t_small.as_secs_f64(),
    )
}

#[test]
fn parse_time_is_linear_in_static_routes() {
    let (t_small, t_large, ratio) = ratio(&routes(10_000), &routes(100_000));
    println!("10k routes: {t_small:?}, 100k routes: {t_large:?}, ratio {ratio:.1}");
    assert!(
        ratio <= 20.0,
        "time(100k)/time(10k) = {ratio:.1} ({t_large:?}/{t_small:?}), expected near 10"
    );
}

#[test]
fn parse_time_is_linear_in_mixed_set_lines() {
    let (t_small, t_large, ratio) = ratio(&mixed(200_000), &mixed(2_000_000));
    println!("200 kB: {t_small:?}, 2 MB: {t_large:?}, ratio {ratio:.1}");
    assert!(
        ratio <= 20.0,
        "time(2 MB)/time(200 kB) = {ratio:.1} ({t_large:?}/{t_small:?}), expected near 10"
    );
}
