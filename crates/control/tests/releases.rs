//! The session layouts of `emulator { junos-release R; }`.
//!
//! Where the 17.1 layout comes from: no Junos documentation page within reach of this
//! project shows it (the stored copies of the current `show services sessions` page,
//! juniper.net/documentation/us/en/software/junos/cli-reference/topics/ref/command/
//! show-services-sessions-jsf.html, hold its opening only, not its sample output). The one
//! dated capture is Juniper's own test data: the `SRV_SESS_EXT_1` reply of the unit tests of
//! the Toby services library (`jnpr.toby.services.services`, public copy in the GitHub
//! repository SrijaGupta/file, `NITA/…`), whose other replies in the same test module carry
//! `xmlns:junos="http://xml.juniper.net/junos/17.1I0/junos"`. It is copied byte for byte in
//! tests/data/release17/sample-nat64-extensive.txt. Releases from 17.1 on select it; earlier
//! releases keep the 13.1 page's layout (tests/samples.rs), the only earlier one dated.
//!
//! The sample's `| display xml` form is not public: the XML and JSON of the 17.1 layout are
//! those of the 13.1 layout (its `service-set-name` element already names the service set);
//! `Session timeout` and `NAT Destination` are text only.

mod common;
mod fixture;

use common::*;
use mspic_config::{AppProtocol, JunosRelease, TranslationType};
use mspic_control::{execute_with, ExecuteOptions, HeaderStyle, SnapshotBackend};
use mspic_flow::{FlowDirection::*, FlowRole, FlowState::*, SessionSnapshot};

fn release(text: &str) -> ExecuteOptions {
    let config = format!("set emulator junos-release {text}\n");
    let cfg = mspic_config::parse(&config, "r.conf").expect("valid release");
    ExecuteOptions::for_config(&cfg)
}

fn show_with(options: &ExecuteOptions, sessions: Vec<SessionSnapshot>, cmd: &str) -> String {
    let mut b = SnapshotBackend::new(sessions);
    execute_with(cmd, &mut b, options).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

fn show17(cmd: &str) -> String {
    show_with(&release("17.1"), fixture::sessions(), cmd)
}

/// The NAT64 session of the 17.1 sample, as the engine would snapshot it.
fn nat64_session() -> SessionSnapshot {
    let mut s = session("ms-4/0/0", "ss1", 67108866)
        .alg(AppProtocol::Icmpv6)
        .flags(0x200000)
        .nat(
            TranslationType::StatefulNat64,
            Some(("[3001::1]:42583", "161.161.161.1:24831")),
            Some(("1001::401:102", "4.1.1.2")),
        )
        .flow(ICMPV6, "3001::1", "1001::401:102", Forward, I, 29)
        .ext(3016, FlowRole::Initiator, 100)
        .flow(ICMP, "4.1.1.2", "161.161.161.1", Forward, O, 28)
        .ext(2352, FlowRole::Responder, 100);
    s.session_timeout = 72;
    s
}

#[test]
fn release17_sample_byte_for_byte() {
    let path = format!(
        "{}/tests/data/release17/sample-nat64-extensive.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let (prompt, expected) = text.split_once('\n').unwrap();
    let cmd = prompt.split_once("> ").unwrap().1;
    let got = show_with(&release("17.1"), vec![nat64_session()], cmd);
    assert_eq!(got, expected);
}

#[test]
fn releases_select_their_layout() {
    let layout = |r: &str| release(r).header_style;
    for r in ["10.4", "13.1", "15.1", "16.2"] {
        assert_eq!(layout(r), HeaderStyle::Current, "{r}");
    }
    for r in ["17.1", "17.1R2", "18.4", "24.4"] {
        assert_eq!(layout(r), HeaderStyle::Release17, "{r}");
    }
    let none = mspic_config::parse("", "r.conf").unwrap();
    assert_eq!(
        ExecuteOptions::for_config(&none),
        ExecuteOptions::default(),
        "no junos-release: the reference page's layout"
    );
    assert_eq!(
        HeaderStyle::for_release(Some(JunosRelease {
            major: 16,
            minor: 2
        })),
        HeaderStyle::Current
    );
}

#[test]
fn earlier_releases_print_the_reference_layout_unchanged() {
    for cmd in [
        "show services sessions",
        "show services sessions extensive",
        "show services sessions brief | display xml",
        "show services sessions extensive | display json",
    ] {
        let default = show_with(&ExecuteOptions::default(), fixture::sessions(), cmd);
        assert_eq!(
            show_with(&release("16.2"), fixture::sessions(), cmd),
            default,
            "{cmd}"
        );
    }
}

/// The XML and JSON of the 17.1 layout are the golden ones of tests/layouts.rs.
#[test]
fn machine_output_is_the_same_in_both_layouts() {
    for cmd in [
        "show services sessions extensive | display xml",
        "show services sessions extensive | display json",
        "show services sessions | display xml",
        "show services sessions | display json",
    ] {
        let default = show_with(&ExecuteOptions::default(), fixture::sessions(), cmd);
        assert_eq!(show17(cmd), default, "{cmd}");
    }
}

#[test]
fn release17_plain() {
    insta::assert_snapshot!(show17("show services sessions"));
}

#[test]
fn release17_extensive() {
    insta::assert_snapshot!(show17("show services sessions extensive"));
}

#[test]
fn release17_terse_and_brief_print_the_plain_layout() {
    let plain = show17("show services sessions");
    assert_eq!(show17("show services sessions terse"), plain);
    assert_eq!(show17("show services sessions brief"), plain);
}
