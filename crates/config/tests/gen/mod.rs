//! Large configurations for the scaling test and the benchmark.

use std::fmt::Write;

/// `n` static routes in `set` form, with the interface whose subnet holds their next hop.
pub fn routes(n: u32) -> String {
    let mut s = String::from("set interfaces ge-0/0/0 unit 0 family inet address 192.0.2.1/24\n");
    for i in 0..n {
        let [_, a, b, c] = (0x0a00_0000 + i).to_be_bytes();
        let _ = writeln!(
            s,
            "set routing-options static route 10.{a}.{b}.{c}/32 next-hop 192.0.2.2"
        );
    }
    s
}

/// About `bytes` of `set` lines touching every stanza: applications and sets, prefix
/// lists, stateful-firewall and NAT rules with terms referring to them, pools, rule sets,
/// service sets, interfaces and routes. Valid, so that every check runs.
pub fn mixed(bytes: usize) -> String {
    let mut s = String::from(
        "set interfaces ge-0/0/0 unit 0 family inet address 192.0.2.1/24\n\
         set interfaces ms-1/1/0 unit 0 family inet\n",
    );
    let mut i = 0u32;
    while s.len() < bytes {
        let [_, a, b, c] = (0x0a00_0000 + i).to_be_bytes();
        let (rule, set, pool) = (i / 20, i / 200, i / 1000);
        let port = 1024 + i % 60_000;
        let _ = write!(
            s,
            "set applications application app{i} protocol tcp\n\
             set applications application app{i} destination-port {port}\n\
             set applications application-set as{set} application app{i}\n\
             set policy-options prefix-list pl{set} 10.{a}.{b}.{c}/32\n\
             set services stateful-firewall rule fw{rule} match-direction input\n\
             set services stateful-firewall rule fw{rule} term t{i} from applications app{i}\n\
             set services stateful-firewall rule fw{rule} term t{i} from source-prefix-list pl{set}\n\
             set services stateful-firewall rule fw{rule} term t{i} then accept\n\
             set services stateful-firewall rule-set fws{set} rule fw{rule}\n\
             set services nat pool p{pool} address 198.{}.{}.0/24\n\
             set services nat pool p{pool} port automatic\n\
             set services nat rule nat{rule} match-direction input\n\
             set services nat rule nat{rule} term t{i} from source-address 10.{a}.{b}.{c}/32\n\
             set services nat rule nat{rule} term t{i} then translated source-pool p{pool}\n\
             set services nat rule nat{rule} term t{i} then translated translation-type napt-44\n\
             set routing-options static route 172.{a}.{b}.{c}/32 next-hop 192.0.2.2\n",
            18 + (pool >> 8) % 2,
            pool % 256,
        );
        // The first term of each group of 200 opens its service set.
        if i == set * 200 {
            let _ = write!(
                s,
                "set services service-set ss{set} stateful-firewall-rule-sets fws{set}\n\
                 set services service-set ss{set} nat-rules nat{rule}\n\
                 set services service-set ss{set} interface-service service-interface ms-1/1/0\n"
            );
        }
        i += 1;
    }
    s
}
