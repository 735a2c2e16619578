//! Property tests: random valid configurations printed in both syntaxes parse back to the
//! same model; random text never makes the parser panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mspic_config::*;
use proptest::prelude::*;

/// splitmix64: a small deterministic generator driven by one proptest seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// In `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn n(&mut self, max: usize) -> usize {
        self.range(0, max as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.next() as usize % v.len()]
    }
    fn opt<T>(&mut self, f: impl FnOnce(&mut Rng) -> T) -> Option<T> {
        if self.chance(50) {
            Some(f(self))
        } else {
            None
        }
    }
    /// A unicast IPv4 address that may be a NAT pool member.
    fn v4(&mut self) -> Ipv4Addr {
        let first = *self.pick(&[10u8, 100, 172, 192, 198, 203, 1, 126, 128, 223]);
        Ipv4Addr::new(
            first,
            self.range(0, 255) as u8,
            self.range(0, 255) as u8,
            self.range(1, 254) as u8,
        )
    }
    fn v6(&mut self) -> Ipv6Addr {
        Ipv6Addr::new(
            0x2001,
            0xdb8,
            self.range(0, 0xffff) as u16,
            0,
            0,
            0,
            0,
            self.range(0, 0xffff) as u16,
        )
    }
    fn prefix4(&mut self) -> Prefix {
        Prefix::new(IpAddr::V4(self.v4()), self.range(17, 32) as u8).unwrap()
    }
    fn prefix6(&mut self) -> Prefix {
        Prefix::new(IpAddr::V6(self.v6()), self.range(32, 128) as u8).unwrap()
    }
    fn prefix(&mut self) -> Prefix {
        if self.chance(80) {
            self.prefix4()
        } else {
            self.prefix6()
        }
    }
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn from(r: &mut Rng, apps: &[String], sets: &[String], pls: &[String]) -> MatchConditions {
    let mut m = MatchConditions::default();
    let addr = |r: &mut Rng| {
        let except = r.chance(20);
        if r.chance(10) {
            AddressMatch::AnyUnicast { except }
        } else {
            AddressMatch::Prefix {
                prefix: r.prefix(),
                except,
            }
        }
    };
    for _ in 0..r.n(2) {
        let a = addr(r);
        push_unique(&mut m.source_address, a);
    }
    for _ in 0..r.n(2) {
        let a = addr(r);
        push_unique(&mut m.destination_address, a);
    }
    let range = |r: &mut Rng| {
        let (a, b) = if r.chance(70) {
            (IpAddr::V4(r.v4()), IpAddr::V4(r.v4()))
        } else {
            (IpAddr::V6(r.v6()), IpAddr::V6(r.v6()))
        };
        AddressRange {
            low: a.min(b),
            high: a.max(b),
            except: r.chance(30),
        }
    };
    for _ in 0..r.n(1) {
        let x = range(r);
        push_unique(&mut m.source_address_range, x);
    }
    for _ in 0..r.n(1) {
        let x = range(r);
        push_unique(&mut m.destination_address_range, x);
    }
    if !pls.is_empty() {
        for _ in 0..r.n(1) {
            let p = r.pick(pls).clone();
            push_unique(&mut m.source_prefix_list, p);
        }
        for _ in 0..r.n(1) {
            let p = r.pick(pls).clone();
            push_unique(&mut m.destination_prefix_list, p);
        }
        for _ in 0..r.n(1) {
            let p = r.pick(pls).clone();
            push_unique(&mut m.source_prefix_list_except, p);
        }
        for _ in 0..r.n(1) {
            let p = r.pick(pls).clone();
            push_unique(&mut m.destination_prefix_list_except, p);
        }
    }
    let mut app_names: Vec<String> = apps.to_vec();
    app_names.extend(sets.iter().cloned());
    app_names.extend(["junos-ftp", "junos-sip", "junos-dns-udp", "junos-http"].map(String::from));
    for _ in 0..r.n(3) {
        let a = r.pick(&app_names).clone();
        push_unique(&mut m.applications, a);
    }
    let mut set_names: Vec<String> = sets.to_vec();
    set_names.push("junos-dns".into());
    for _ in 0..r.n(1) {
        let a = r.pick(&set_names).clone();
        push_unique(&mut m.application_sets, a);
    }
    m
}

/// A random configuration that passes validation, in the canonical form `parse` returns.
fn gen_config(seed: u64) -> Config {
    let r = &mut Rng(seed);
    let mut c = Config::default();

    // Services interfaces; ms-9/0/0 carries the inside/outside units for next-hop sets.
    for i in 0..r.range(1, 3) {
        let mut units = Vec::new();
        for u in 0..r.n(3) as u32 {
            units.push(ServiceUnit {
                number: u,
                inet: r.chance(70),
                inet6: r.chance(30),
                service_domain: None,
            });
        }
        c.service_interfaces.push(ServiceInterface {
            name: format!("ms-{i}/{}/0", r.range(0, 3)),
            options: ServicesOptions {
                inactivity_timeout: r.opt(|r| r.range(4, 86400) as u32),
                inactivity_tcp_timeout: r.opt(|r| r.range(4, 86400) as u32),
                inactivity_non_tcp_timeout: r.opt(|r| r.range(4, 86400) as u32),
                open_timeout: r.opt(|r| r.range(4, 224) as u32),
                close_timeout: r.opt(|r| r.range(4, 300) as u32),
                session_limit_maximum: r.opt(|r| r.range(0, 10_000_000) as u32),
                session_limit_rate: r.opt(|r| r.range(0, 100_000) as u32),
                tcp_tickles: r.opt(|r| r.range(0, 30) as u32),
                pba_interim_logging_interval: r.opt(|r| r.range(0, 86400) as u32),
                syslog: syslog_hosts(r),
                syslog_rate_limit: r.opt(|r| r.range(1, 100_000) as u32),
            },
            units,
        });
    }
    let next_hop_sets = r.chance(30);
    if next_hop_sets {
        c.service_interfaces.push(ServiceInterface {
            name: "ms-9/0/0".into(),
            options: ServicesOptions::default(),
            units: vec![
                ServiceUnit {
                    number: 1,
                    inet: true,
                    inet6: false,
                    service_domain: Some(ServiceDomain::Inside),
                },
                ServiceUnit {
                    number: 2,
                    inet: true,
                    inet6: false,
                    service_domain: Some(ServiceDomain::Outside),
                },
            ],
        });
    }

    // Applications, sets, prefix lists.
    let app_names = names("app", r.n(4));
    for n in &app_names {
        // No `term` (one unnamed term) or one to three named terms.
        let term_names: Vec<Option<String>> = if r.chance(50) {
            vec![None]
        } else {
            (1..=r.range(1, 3)).map(|i| Some(format!("t{i}"))).collect()
        };
        let terms = term_names.into_iter().map(|tn| app_term(r, tn)).collect();
        c.applications.push(Application {
            name: n.clone(),
            terms,
            predefined: false,
        });
    }
    let set_names = names("aset", r.n(3));
    for (i, n) in set_names.iter().enumerate() {
        let mut s = ApplicationSet {
            name: n.clone(),
            applications: vec![],
            application_sets: vec![],
            predefined: false,
        };
        if !app_names.is_empty() {
            for _ in 0..r.range(1, 3) {
                let a = r.pick(&app_names).clone();
                push_unique(&mut s.applications, a);
            }
        } else {
            s.applications.push("junos-ftp".into());
        }
        if i > 0 && r.chance(50) {
            let a = set_names[r.n(i - 1)].clone();
            push_unique(&mut s.application_sets, a);
        }
        c.application_sets.push(s);
    }
    let pl_names = names("pl", r.n(3));
    for n in &pl_names {
        let mut prefixes = Vec::new();
        for _ in 0..r.n(3) {
            let p = r.prefix();
            push_unique(&mut prefixes, p);
        }
        c.prefix_lists.push(PrefixList {
            name: n.clone(),
            prefixes,
        });
    }

    // Stateful firewall.
    let sfw_names = names("fw", r.n(3));
    for n in &sfw_names {
        let mut terms = Vec::new();
        for t in 0..r.range(0, 3) {
            let mut opts = Vec::new();
            for _ in 0..r.n(2) {
                let o = if r.chance(50) {
                    r.pick(&mspic_config::names::IP_OPTIONS).0.to_string()
                } else {
                    r.range(0, 255).to_string()
                };
                push_unique(&mut opts, o);
            }
            terms.push(SfwTerm {
                name: format!("t{t}"),
                from: from(r, &app_names, &set_names, &pl_names),
                action: *r.pick(&[SfwAction::Accept, SfwAction::Discard, SfwAction::Reject]),
                syslog: r.chance(30),
                allow_ip_options: opts,
            });
        }
        c.sfw_rules.push(SfwRule {
            name: n.clone(),
            match_direction: *r.pick(&[
                MatchDirection::Input,
                MatchDirection::Output,
                MatchDirection::InputOutput,
            ]),
            terms,
        });
    }
    for (i, _) in (0..r.n(2)).enumerate() {
        if sfw_names.is_empty() {
            break;
        }
        let mut rules = Vec::new();
        for _ in 0..r.range(1, 2) {
            let x = r.pick(&sfw_names).clone();
            push_unique(&mut rules, x);
        }
        c.sfw_rule_sets.push(RuleSet {
            name: format!("fwset{i}"),
            rules,
        });
    }

    // NAT pools: napt0 (with ports) and addr0 (address only) always exist.
    let pool_addr = |r: &mut Rng| Prefix::new(IpAddr::V4(r.v4()), r.range(24, 32) as u8).unwrap();
    let mut pools = vec!["napt0".to_string(), "addr0".to_string()];
    pools.extend(names("pool", r.n(2)));
    for (i, n) in pools.iter().enumerate() {
        let mut addresses = Vec::new();
        for _ in 0..r.range(1, 3) {
            let a = pool_addr(r);
            push_unique(&mut addresses, a);
        }
        let mut ranges = Vec::new();
        for _ in 0..r.n(2) {
            // Narrow ranges starting below 126.0.0.0 or above 128.0.0.0 stay clear of the
            // forbidden blocks.
            let mut a = r.v4();
            if a.octets()[0] == 126 || a.octets()[0] == 223 {
                a = Ipv4Addr::new(100, 64, 0, 1);
            }
            let b = Ipv4Addr::from(u32::from(a) + r.range(0, 300) as u32);
            push_unique(&mut ranges, (a, b));
        }
        let port = match i {
            0 => Some(()),
            1 => None,
            _ => r.opt(|_| ()),
        }
        .map(|_| {
            let random = r.chance(30);
            if r.chance(50) {
                PoolPort::Automatic { random }
            } else {
                // Port 0 cannot be allocated.
                let a = r.range(1, 65535) as u16;
                let b = r.range(1, 65535) as u16;
                PoolPort::Range {
                    low: a.min(b),
                    high: a.max(b),
                    random,
                }
            }
        });
        // Secured port block allocation: no parity or range preservation, and
        // blocks no larger than the range.
        let port_block = match port {
            Some(pp) if r.chance(30) => {
                let span = u64::from(pp.range().high - pp.range().low) + 1;
                Some(SecuredPortBlock {
                    block_size: r.range(1, span.min(60000)) as u16,
                    max_blocks: r.range(1, 512) as u16,
                    active_timeout: if r.chance(50) {
                        0
                    } else {
                        r.range(120, 86400) as u32
                    },
                    interim_logging_interval: r.opt(|r| r.range(0, 86400) as u32),
                })
            }
            _ => None,
        };
        let plain = port.is_some() && port_block.is_none();
        c.nat_pools.push(NatPool {
            name: n.clone(),
            addresses,
            address_ranges: ranges,
            preserve_parity: plain && r.chance(30),
            preserve_range: plain && r.chance(30),
            port,
            address_allocation_round_robin: r.chance(30),
            mapping_timeout: r.opt(|r| r.range(120, 86400) as u32),
            ei_mapping_timeout: r.opt(|r| r.range(120, 86400) as u32),
            app_mapping_timeout: r.opt(|r| r.range(120, 86400) as u32),
            port_block,
            deterministic: None,
        });
    }

    // Port-forwarding maps: distinct destined ports, each with one translated port.
    let pf_names = names("pf", r.n(2));
    for n in &pf_names {
        let mut mappings: Vec<(u16, u16)> = Vec::new();
        for _ in 0..r.range(1, 3) {
            let dst = r.range(1, 65535) as u16;
            if mappings.iter().all(|m| m.0 != dst) {
                mappings.push((dst, r.range(1, 65535) as u16));
            }
        }
        c.nat_port_forwarding.push(PortForwarding {
            name: n.clone(),
            mappings,
        });
    }

    // NAT rules.
    let nat_names = names("nat", r.n(3));
    for n in &nat_names {
        let mut terms = Vec::new();
        for t in 0..r.range(0, 3) {
            let then = if r.chance(20) {
                NatThen::NoTranslation
            } else {
                // deterministic-napt44 needs a pool and a source range of its own (not
                // generated here; tests/deterministic.rs and statements.rs cover it).
                let tt = *r.pick(&TranslationType::ALL[..7]);
                let mut x = Translated {
                    source_pool: None,
                    destination_pool: None,
                    source_prefix: None,
                    destination_prefix: None,
                    translation_type: tt,
                    address_pooling_paired: r.chance(30),
                    mapping_type_eim: r.chance(30),
                    filtering_type_eif: r.chance(30),
                    port_forwarding_mappings: None,
                };
                if matches!(tt, TranslationType::Dnat44 | TranslationType::TwiceNapt44)
                    && !pf_names.is_empty()
                    && r.chance(50)
                {
                    x.port_forwarding_mappings = Some(r.pick(&pf_names).clone());
                }
                let dst = |r: &mut Rng, x: &mut Translated| {
                    if r.chance(50) {
                        x.destination_pool = Some("addr0".into());
                    } else {
                        x.destination_prefix = Some(r.prefix4());
                    }
                };
                use TranslationType::*;
                match tt {
                    Napt44 | TwiceNapt44 => x.source_pool = Some("napt0".into()),
                    // Dynamic NAT without ports takes an address-only pool.
                    DynamicNat44 | TwiceDynamicNat44 => x.source_pool = Some("addr0".into()),
                    BasicNat44 | TwiceBasicNat44 => {
                        if r.chance(50) {
                            x.source_pool = Some(r.pick(&pools).clone());
                        } else {
                            x.source_prefix = Some(r.prefix4());
                        }
                    }
                    Dnat44 | DeterministicNapt44 | StatefulNat64 => {}
                }
                if matches!(
                    tt,
                    Dnat44 | TwiceNapt44 | TwiceBasicNat44 | TwiceDynamicNat44
                ) {
                    dst(r, &mut x);
                }
                NatThen::Translated(x)
            };
            let mut from = from(r, &app_names, &set_names, &pl_names);
            // A static mapping maps from the first address prefix of its side: a host,
            // which any translated range can hold.
            if let NatThen::Translated(x) = &then {
                use TranslationType::*;
                let host = |r: &mut Rng| AddressMatch::Prefix {
                    prefix: Prefix::new(IpAddr::V4(r.v4()), 32).unwrap(),
                    except: false,
                };
                if matches!(x.translation_type, BasicNat44 | TwiceBasicNat44) {
                    let h = host(r);
                    if !from.source_address.contains(&h) {
                        from.source_address.insert(0, h);
                    }
                }
                if matches!(
                    x.translation_type,
                    Dnat44 | TwiceNapt44 | TwiceBasicNat44 | TwiceDynamicNat44
                ) {
                    let h = host(r);
                    if !from.destination_address.contains(&h) {
                        from.destination_address.insert(0, h);
                    }
                }
            }
            terms.push(NatTerm {
                name: format!("t{t}"),
                from,
                then,
                syslog: r.chance(20),
            });
        }
        c.nat_rules.push(NatRule {
            name: n.clone(),
            match_direction: *r.pick(&[MatchDirection::Input, MatchDirection::Output]),
            terms,
        });
    }
    if !nat_names.is_empty() && r.chance(50) {
        c.nat_rule_sets.push(RuleSet {
            name: "natset0".into(),
            rules: vec![nat_names[0].clone()],
        });
    }

    // Service sets.
    let mut iface_sets = Vec::new();
    // A services unit is a leg of one next-hop set at most.
    let mut next_hop_units_free = next_hop_sets;
    for i in 0..r.range(1, 3) {
        let name = format!("ss{i}");
        let style = if next_hop_units_free && r.chance(40) {
            next_hop_units_free = false;
            ServiceSetStyle::NextHop {
                inside: "ms-9/0/0.1".into(),
                outside: "ms-9/0/0.2".into(),
            }
        } else {
            let si = &c.service_interfaces[r.n(c.service_interfaces.len() - 1)];
            iface_sets.push(format!("ss{i}"));
            ServiceSetStyle::Interface {
                service_interface: si.name.clone(),
            }
        };
        let pick_some = |r: &mut Rng, from: &[String]| {
            let mut v = Vec::new();
            if !from.is_empty() {
                for _ in 0..r.n(2) {
                    let x = r.pick(from).clone();
                    push_unique(&mut v, x);
                }
            }
            v
        };
        let per_subscriber = matches!(style, ServiceSetStyle::Interface { .. })
            .then(|| r.opt(|r| r.range(1, 10_000) as u32))
            .flatten();
        let fw_sets: Vec<String> = c.sfw_rule_sets.iter().map(|s| s.name.clone()).collect();
        let nat_sets: Vec<String> = c.nat_rule_sets.iter().map(|s| s.name.clone()).collect();
        c.service_sets.push(ServiceSet {
            name,
            sfw_rules: pick_some(r, &sfw_names),
            sfw_rule_sets: pick_some(r, &fw_sets),
            nat_rules: pick_some(r, &nat_names),
            nat_rule_sets: pick_some(r, &nat_sets),
            softwire_rules: Vec::new(),
            style,
            max_flows: r.opt(|r| r.range(0, 1_000_000) as u32),
            syslog: syslog_hosts(r),
            tcp_mss: r.opt(|r| r.range(536, 65535) as u16),
            max_session_setup_rate: r.opt(|r| r.range(1, 429_496_729) as u32),
            // Interface-style sets only: a next-hop set has no subscriber interfaces.
            max_sessions_per_subscriber: per_subscriber,
            nat64_clear_df: r.chance(30),
        });
    }

    // Interfaces.
    for i in 0..r.range(1, 4) {
        let name = *r.pick(&["ge", "xe", "et"]);
        let mut units = Vec::new();
        for u in 0..r.n(2) as u32 {
            let fam = |r: &mut Rng, v6: bool| {
                let mut addresses = Vec::new();
                for _ in 0..r.n(2) {
                    let p = if v6 { r.prefix6() } else { r.prefix4() };
                    push_unique(&mut addresses, p);
                }
                let pick = |r: &mut Rng| {
                    if iface_sets.is_empty() || r.chance(50) {
                        None
                    } else {
                        Some(r.pick(&iface_sets).clone())
                    }
                };
                Family {
                    addresses,
                    input_service_set: pick(r),
                    output_service_set: pick(r),
                }
            };
            units.push(Unit {
                number: u * 10,
                inet: r.opt(|r| fam(r, false)),
                inet6: r.opt(|r| fam(r, true)),
            });
        }
        c.interfaces.push(Interface {
            name: format!("{name}-0/0/{i}"),
            units,
        });
    }

    // Routes: IPv4 first, then IPv6 (the order the printers use).
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for _ in 0..r.n(4) {
        let six = r.chance(25);
        let prefix = if six { r.prefix6() } else { r.prefix4() };
        let next_hop = match r.n(3) {
            0 => NextHop::Discard,
            1 => NextHop::Reject,
            2 => {
                let i = &c.interfaces[r.n(c.interfaces.len() - 1)];
                match i.units.first() {
                    Some(u) => NextHop::Interface(format!("{}.{}", i.name, u.number)),
                    None => NextHop::Interface(i.name.clone()),
                }
            }
            // A next hop must lie on a connected subnet: an interface address of the family.
            _ => {
                let on_link: Vec<IpAddr> = c
                    .interfaces
                    .iter()
                    .flat_map(|i| &i.units)
                    .flat_map(|u| if six { &u.inet6 } else { &u.inet })
                    .flat_map(|f| f.addresses.iter().map(|p| p.addr))
                    .collect();
                if on_link.is_empty() {
                    NextHop::Discard
                } else {
                    NextHop::Address(*r.pick(&on_link))
                }
            }
        };
        let v = if six { &mut v6 } else { &mut v4 };
        if !v.iter().any(|x: &StaticRoute| x.prefix == prefix) {
            v.push(StaticRoute { prefix, next_hop });
        }
    }
    c.static_routes = v4.into_iter().chain(v6).collect();

    // Emulator.
    for (k, i) in c.interfaces.iter().enumerate() {
        if r.chance(60) {
            c.emulator.interfaces.push(EmulatorInterface {
                name: i.name.clone(),
                device: format!("veth{k}"),
            });
        }
    }
    c.emulator.workers = r.opt(|r| r.range(1, 1024) as u32);
    c.emulator.queues = r.opt(|r| r.range(1, 1024) as u32);

    c.applications.extend(predefined::applications());
    c.application_sets.extend(predefined::application_sets());
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn printed_configs_parse_back_to_the_same_model(seed in any::<u64>()) {
        let cfg = gen_config(seed);
        let braces = display::braces(&cfg);
        let set = display::set(&cfg);
        let b = parse(&braces, "gen.conf").map_err(|e| TestCaseError::fail(format!("{e}\n{braces}")))?;
        let s = parse(&set, "gen.set").map_err(|e| TestCaseError::fail(format!("{e}\n{set}")))?;
        prop_assert!(b.warnings.is_empty(), "{:?}", b.warnings);
        prop_assert_eq!(&b, &s);
        prop_assert_eq!(&b, &cfg, "\n{}", braces);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = parse(&text, "x");
    }

    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(prop_oneof![
        Just("{"), Just("}"), Just(";"), Just("["), Just("]"), Just("\""), Just("\n"), Just("#"),
        Just("/*"), Just("*/"), Just("set"), Just("delete"), Just("deactivate"), Just("activate"),
        Just("inactive:"), Just("protect:"), Just("interfaces"), Just("ge-0/0/0"), Just("ms-1/1/0"),
        Just("unit"), Just("0"), Just("family"), Just("inet"), Just("address"), Just("10.0.0.1/24"),
        Just("service"), Just("input"), Just("service-set"), Just("ss"), Just("services"), Just("nat"),
        Just("pool"), Just("p"), Just("port"), Just("automatic"), Just("range"), Just("low"), Just("high"),
        Just("rule"), Just("r"), Just("term"), Just("t"), Just("from"), Just("then"), Just("translated"),
        Just("source-pool"), Just("translation-type"), Just("napt-44"), Just("stateful-firewall"),
        Just("match-direction"), Just("accept"), Just("applications"), Just("junos-ftp"),
        Just("application"), Just("protocol"), Just("tcp"), Just("destination-port"), Just("65536"),
        Just("emulator"), Just("device"), Just("routing-options"), Just("static"), Just("route"),
        Just("next-hop"), Just("system"), Just("interface-service"), Just("service-interface"),
        Just("policy-options"), Just("prefix-list"), Just("except"), Just("any-unicast"),
    ], 0..80)) {
        let text = tokens.join(" ");
        let _ = parse(&text, "soup");
    }

    #[test]
    fn mutated_testbed_never_panics(pos in 0usize..2000, len in 0usize..20, insert in "\\PC{0,5}") {
        let base = include_str!("data/testbed.conf");
        let mut chars: Vec<char> = base.chars().collect();
        let at = pos.min(chars.len());
        let end = (at + len).min(chars.len());
        chars.splice(at..end, insert.chars());
        let text: String = chars.into_iter().collect();
        let _ = parse(&text, "mut");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let text = "a { ".repeat(100_000);
    let e = parse(&text, "deep").unwrap_err();
    assert!(e.0[0].message.contains("nesting deeper than"), "{e}");
    let text = "{".repeat(100_000);
    assert!(parse(&text, "deep").is_err());
}

/// A random application term named `name` (`None`: the statements of an application
/// without terms).
fn app_term(r: &mut Rng, name: Option<String>) -> AppTerm {
    let protocol = *r.pick(&[
        Some(6u8),
        Some(17),
        Some(1),
        Some(58),
        Some(47),
        Some(253),
        None,
    ]);
    let ports = matches!(protocol, Some(6) | Some(17));
    let icmp = matches!(protocol, Some(1) | Some(58));
    let port = |r: &mut Rng| {
        let a = r.range(0, 65535) as u16;
        let b = r.range(0, 65535) as u16;
        if r.chance(50) {
            PortRange::single(a)
        } else {
            PortRange {
                low: a.min(b),
                high: a.max(b),
            }
        }
    };
    let alg = r.opt(|r| *r.pick(&AppProtocol::ALL));
    let traceroute = alg == Some(AppProtocol::Traceroute);
    AppTerm {
        name,
        application_protocol: alg,
        ttl_threshold: if traceroute {
            r.opt(|r| r.range(0, 255) as u8)
        } else {
            None
        },
        protocol,
        source_port: if ports { r.opt(port) } else { None },
        destination_port: if ports { r.opt(port) } else { None },
        icmp_type: if icmp {
            r.opt(|r| r.range(0, 255) as u8)
        } else {
            None
        },
        icmp_code: if icmp {
            r.opt(|r| r.range(0, 255) as u8)
        } else {
            None
        },
        inactivity_timeout: r.opt(|r| {
            if r.chance(20) {
                Timeout::Never
            } else {
                Timeout::Seconds(r.range(4, 86400) as u32)
            }
        }),
        rpc_program_number: r.opt(|r| {
            let a = r.range(100000, 100100) as u32;
            (a, a + r.range(0, 3) as u32)
        }),
        uuid: r.opt(|r| {
            format!(
                "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                r.next() as u32,
                r.next() as u16,
                r.next() as u16,
                r.next() as u16,
                r.next() & 0xffff_ffff_ffff
            )
        }),
    }
}

/// Random `syslog host` blocks of a service set (distinct hosts; only what the model
/// keeps distinct survives printing: both session classes print as `session-logs`).
fn syslog_hosts(r: &mut Rng) -> Vec<SyslogHost> {
    let mut v: Vec<SyslogHost> = Vec::new();
    for i in 0..r.range(0, 3) {
        let host = match r.range(0, 9) {
            0 if i == 0 => SyslogTarget::Local,
            1 => SyslogTarget::Address(format!("2001:db8::{}", i + 1).parse().unwrap()),
            _ => SyslogTarget::Address(format!("192.0.2.{}", i + 1).parse().unwrap()),
        };
        let class = r.opt(|r| SyslogClass {
            session_open: r.chance(50),
            session_close: r.chance(50),
            nat: r.chance(50),
            stateful_firewall: r.chance(50),
        });
        v.push(SyslogHost {
            host,
            services: r.opt(|r| r.pick(&SyslogSeverity::ALL).0),
            class,
            port: r.opt(|r| r.range(1, 65535) as u16),
            facility_override: r.opt(|r| r.pick(&SyslogFacility::ALL).0),
            log_prefix: r.opt(|r| r.pick(&["CGN", "pic one", "a-b"]).to_string()),
            source_address: r.opt(|r| format!("198.51.100.{}", r.range(1, 254)).parse().unwrap()),
        });
    }
    v
}
