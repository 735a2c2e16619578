//! The fuzz seed corpus of the ALG parsers (tests/fuzz/seeds, written by
//! `cargo xtask fuzz-seeds`) holds messages those parsers accept: a seed that no longer
//! parses would start the fuzzer from noise instead of the protocol's structure.

use std::path::PathBuf;

use mspic_alg::{dcerpc, h323, ike, pptp, rpc, rtsp, sqlnet, talk};

fn seed(target: &str, name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fuzz/seeds")
        .join(target)
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn talk_pptp_ike_seeds_parse() {
    assert!(talk::parse(&seed("alg_talk", "ntalk-announce"), talk::NTALK).is_ok());
    assert!(talk::parse(&seed("alg_talk", "otalk-leave-invite"), talk::OTALK).is_ok());
    for name in [
        "outgoing-call-request",
        "outgoing-call-reply",
        "call-clear-request",
    ] {
        let m = seed("alg_pptp", name);
        assert_eq!(pptp::parse(&m).map(|(len, _)| len), Ok(m.len()), "{name}");
    }
    for name in ["v2-ike-auth-response", "v1-quick-mode"] {
        assert!(ike::parse(&seed("alg_ike", name)).is_ok(), "{name}");
    }
}

#[test]
fn rpc_and_dcerpc_seeds_parse() {
    assert!(matches!(
        rpc::parse(&seed("alg_rpc", "getport-call")),
        Ok(rpc::Msg::Get(_))
    ));
    assert!(matches!(
        rpc::parse(&seed("alg_rpc", "getport-reply")),
        Ok(rpc::Msg::Reply { .. })
    ));
    assert_eq!(
        rpc::parse_uaddr(&seed("alg_rpc", "uaddr")),
        Ok(([198, 51, 100, 7].into(), 2049))
    );
    let bind = seed("alg_dcerpc", "bind-epm");
    let h = dcerpc::header(&bind).expect("bind header");
    assert_eq!(dcerpc::epm_contexts(&bind, &h).map(|(_, n)| n), Ok(1));
    let resp = seed("alg_dcerpc", "ept-map-response");
    let h = dcerpc::header(&resp).expect("response header");
    let (eps, n) = dcerpc::map_response(&resp, h.le, 24, resp.len()).expect("ept_map");
    assert_eq!(n, 1);
    let ep = eps[0].as_ref().expect("an endpoint");
    assert_eq!(ep.ip, std::net::Ipv4Addr::new(198, 51, 100, 7));
}

#[test]
fn rtsp_sqlnet_h323_seeds_parse() {
    let setup = seed("alg_rtsp", "setup");
    assert!(matches!(
        rtsp::parse(&setup),
        Ok(Some(rtsp::Unit::Message { .. }))
    ));
    let redirect = seed("alg_sqlnet", "redirect");
    let data = sqlnet::redirect_data(&redirect).expect("redirect data");
    assert_eq!(sqlnet::addresses(&redirect[data]).map(|(_, n)| n), Ok(1));
    let t = seed("alg_h323", "tpkt-setup");
    let (len, r) = h323::tpkt(&t).expect("tpkt");
    assert_eq!(len, t.len());
    assert!(h323::q931(&t[r]).expect("q931").uuie.is_some());
    assert_eq!(h323::ras_type(&seed("alg_h323", "ras-rrq")), Ok(6));
}
