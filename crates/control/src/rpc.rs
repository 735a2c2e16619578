//! The Junos XML RPC of each operational command: the one table both directions use
//! (a NETCONF `<get-msp-session-table>` → `show services sessions`, and `| display xml rpc`).
//!
//! Source: the JUNOScript Perl table `services_methods.pl` (generated from the Junos schema,
//! 2001–2013), which names each command's method, reply element and arguments
//! (`$TOGGLE` arguments are empty elements, `$STRING` ones carry a value). `clear services
//! sessions` is not in that file: its method name here is mspic's, its reply element
//! (`service-msp-sess-drain-information`) is the one Junos prints. `show interfaces` is
//! `get-interface-information` with `interface-name` and the level flags, replying
//! `interface-information` (as `show interfaces terse ge-0/0/0 | display xml rpc` prints).

use mspic_flow::SessionFilter;
use mspic_wire::proto;

use crate::command::{Command, Detail, NatMappingsKind, StatsDetail};
use crate::tree::Element;

/// One argument of an RPC: its element, and the CLI keyword it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcArg {
    /// The XML element (`source-prefix`).
    pub element: &'static str,
    /// The CLI words it becomes (`source-prefix`); empty for a positional value.
    pub keyword: &'static str,
    /// Does the element carry a value (`$STRING`) or is it a flag (`$TOGGLE`)?
    pub value: bool,
}

const fn flag(element: &'static str, keyword: &'static str) -> RpcArg {
    RpcArg {
        element,
        keyword,
        value: false,
    }
}

const fn value(element: &'static str) -> RpcArg {
    RpcArg {
        element,
        keyword: element,
        value: true,
    }
}

/// One operational command and its RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcEntry {
    /// The method (`get-msp-session-table`).
    pub rpc: &'static str,
    /// The command words in full (`show services sessions`).
    pub command: &'static str,
    /// The element of the reply (`msp-session-table`).
    pub reply: &'static str,
    pub args: &'static [RpcArg],
}

const FILTERS: [RpcArg; 8] = [
    value("source-prefix"),
    value("destination-prefix"),
    value("source-port"),
    value("destination-port"),
    value("protocol"),
    value("service-set"),
    value("interface"),
    value("application-protocol"),
];

const SESSION_ARGS: &[RpcArg] = &[
    value("limit"),
    flag("extensive", "extensive"),
    flag("brief", "brief"),
    flag("terse", "terse"),
    flag("get-service-msp-sess-count-information", "count"),
    flag("count", "count"),
    FILTERS[0],
    FILTERS[1],
    FILTERS[2],
    FILTERS[3],
    FILTERS[4],
    FILTERS[5],
    FILTERS[6],
    FILTERS[7],
];

const FLOW_ARGS: &[RpcArg] = &[
    value("limit"),
    flag("extensive", "extensive"),
    flag("brief", "brief"),
    flag("terse", "terse"),
    flag("get-service-sfw-flow-count-information", "count"),
    flag("count", "count"),
    FILTERS[0],
    FILTERS[1],
    FILTERS[2],
    FILTERS[3],
    FILTERS[4],
    FILTERS[5],
    FILTERS[6],
    FILTERS[7],
];

const CLEAR_ARGS: &[RpcArg] = &[
    value("limit"),
    FILTERS[0],
    FILTERS[1],
    FILTERS[2],
    FILTERS[3],
    FILTERS[4],
    FILTERS[5],
    FILTERS[6],
    FILTERS[7],
];

const INTERFACE: &[RpcArg] = &[value("interface")];
const INTERFACE_SERVICE_SET: &[RpcArg] = &[value("interface"), value("service-set")];

/// Every command mspic answers, with its RPC.
pub const RPCS: &[RpcEntry] = &[
    RpcEntry {
        rpc: "get-msp-session-table",
        command: "show services sessions",
        reply: "msp-session-table",
        args: SESSION_ARGS,
    },
    RpcEntry {
        rpc: "get-service-msp-flow-table-information",
        command: "show services flows",
        reply: "service-sfw-flow-table-information",
        args: FLOW_ARGS,
    },
    RpcEntry {
        rpc: "get-service-sfw-flow-table-information",
        command: "show services stateful-firewall flows",
        reply: "service-sfw-flow-table-information",
        args: FLOW_ARGS,
    },
    RpcEntry {
        rpc: "get-service-sfw-statistics-information",
        command: "show services stateful-firewall statistics",
        reply: "service-sfw-statistics-information",
        args: &[
            flag("brief", "brief"),
            flag("detail", "detail"),
            flag("extensive", "extensive"),
            value("interface"),
        ],
    },
    RpcEntry {
        rpc: "get-service-nat-pool-information",
        command: "show services nat pool",
        reply: "service-nat-pool-information",
        args: &[
            RpcArg {
                element: "pool-name",
                keyword: "",
                value: true,
            },
            flag("brief", "brief"),
            flag("detail", "detail"),
        ],
    },
    RpcEntry {
        rpc: "get-service-nat-mapping-summary",
        command: "show services nat mappings summary",
        reply: "service-nat-mapping-summary",
        args: &[],
    },
    // The detail and brief replies are named as `services_methods.pl` names them (the
    // endpoint-independent and the address-pooling-paired reply).
    RpcEntry {
        rpc: "get-service-nat-mapping-detail",
        command: "show services nat mappings detail",
        reply: "service-nat-mapping-endpoint-independent",
        args: POOL_NAME,
    },
    RpcEntry {
        rpc: "get-service-nat-mapping-brief",
        command: "show services nat mappings brief",
        reply: "service-nat-mapping-address-pooling-paired",
        args: POOL_NAME,
    },
    RpcEntry {
        rpc: "get-service-nat-mapping-endpoint-independent",
        command: "show services nat mappings endpoint-independent",
        reply: "service-nat-mapping-endpoint-independent",
        args: &[],
    },
    RpcEntry {
        rpc: "get-service-nat-mapping-address-pooling-paired",
        command: "show services nat mappings address-pooling-paired",
        reply: "service-nat-mapping-address-pooling-paired",
        args: &[],
    },
    // JUNOS::Methods lists `get-service-softwire-statistics-information` returning
    // `service-softwire-statistics-information` for this command (with `interface`,
    // `ds-lite` and `v6rd` arguments).
    RpcEntry {
        rpc: "get-service-softwire-statistics-information",
        command: "show services softwire statistics",
        reply: "service-softwire-statistics-information",
        args: INTERFACE,
    },
    RpcEntry {
        rpc: "get-service-nat-statistics-information",
        command: "show services nat statistics",
        reply: "service-nat-statistics-information",
        args: INTERFACE,
    },
    RpcEntry {
        rpc: "get-service-detnat-information",
        command: "show services nat deterministic-nat internal-host",
        reply: "service-detnat-information",
        args: &[
            RpcArg {
                element: "nat-address",
                keyword: "",
                value: true,
            },
            RpcArg {
                element: "nat-port",
                keyword: "port",
                value: true,
            },
        ],
    },
    RpcEntry {
        rpc: "get-service-detnat-pb-information",
        command: "show services nat deterministic-nat nat-port-block",
        reply: "service-detnat-information",
        args: &[RpcArg {
            element: "internal-address",
            keyword: "",
            value: true,
        }],
    },
    RpcEntry {
        rpc: "get-service-set-summary-information",
        command: "show services service-sets summary",
        reply: "service-set-summary-information",
        args: INTERFACE,
    },
    RpcEntry {
        rpc: "get-service-set-syslog-statistics",
        command: "show services service-sets statistics syslog",
        reply: "service-set-syslog-statistics-information",
        args: INTERFACE,
    },
    // JUNOScript services_methods: <get-service-set-cpu-statistics> returns
    // <service-set-cpu-statistics-information>, <get-service-set-memory-statistics>
    // returns <service-set-memory-statistics-information>; both take interface and
    // service-set.
    RpcEntry {
        rpc: "get-service-set-cpu-statistics",
        command: "show services service-sets cpu-usage",
        reply: "service-set-cpu-statistics-information",
        args: INTERFACE_SERVICE_SET,
    },
    RpcEntry {
        rpc: "get-service-set-memory-statistics",
        command: "show services service-sets memory-usage",
        reply: "service-set-memory-statistics-information",
        args: INTERFACE_SERVICE_SET,
    },
    // JUNOScript services_methods: <get-service-set-tcp-mss-statistics> returns
    // <service-set-tcp-mss-statistics>.
    RpcEntry {
        rpc: "get-service-set-tcp-mss-statistics",
        command: "show services service-sets statistics tcp-mss",
        reply: "service-set-tcp-mss-statistics",
        args: INTERFACE,
    },
    RpcEntry {
        rpc: "get-service-msp-alg-conversation-information",
        command: "show services alg conversations",
        reply: "service-msp-alg-conversation-information",
        args: &[
            value("interface"),
            value("application-protocol"),
            flag("extensive", "extensive"),
            flag("brief", "brief"),
        ],
    },
    RpcEntry {
        rpc: "get-interface-information",
        command: "show interfaces",
        reply: "interface-information",
        args: &[
            RpcArg {
                element: "interface-name",
                keyword: "",
                value: true,
            },
            flag("terse", "terse"),
            flag("brief", "brief"),
            flag("detail", "detail"),
            flag("extensive", "extensive"),
            value("routing-instance"),
        ],
    },
    RpcEntry {
        rpc: "clear-msp-session-table",
        command: "clear services sessions",
        reply: "service-msp-sess-drain-information",
        args: CLEAR_ARGS,
    },
    // `services_methods.pl`: no reply element (`Returns: <none>`).
    RpcEntry {
        rpc: "clear-stateful-firewall-statistics",
        command: "clear services stateful-firewall statistics",
        reply: "",
        args: INTERFACE,
    },
    RpcEntry {
        rpc: "clear-service-nat-statistics-information",
        command: "clear services nat statistics",
        reply: "service-nat-statistics-clear-information",
        args: INTERFACE,
    },
    // Not in JUNOS::Methods: named after the NAT clear pair.
    RpcEntry {
        rpc: "clear-service-softwire-statistics-information",
        command: "clear services softwire statistics",
        reply: "service-softwire-statistics-clear-information",
        args: INTERFACE,
    },
];

/// The positional pool name of `show services nat mappings detail|brief`.
const POOL_NAME: &[RpcArg] = &[RpcArg {
    element: "pool-name",
    keyword: "",
    value: true,
}];

/// The command words of a `show services nat mappings` variant (its RPC table entry).
pub fn mappings_command(kind: NatMappingsKind) -> &'static str {
    match kind {
        NatMappingsKind::Summary => "show services nat mappings summary",
        NatMappingsKind::Detail => "show services nat mappings detail",
        NatMappingsKind::Brief => "show services nat mappings brief",
        NatMappingsKind::EndpointIndependent => "show services nat mappings endpoint-independent",
        NatMappingsKind::AddressPoolingPaired => {
            "show services nat mappings address-pooling-paired"
        }
    }
}

/// The reply element of command words `command` (an entry of the table).
pub fn reply_of(command: &str) -> &'static str {
    RPCS.iter()
        .find(|e| e.command == command)
        .map_or("", |e| e.reply)
}

/// The entry of RPC `name`.
pub fn by_rpc(name: &str) -> Option<&'static RpcEntry> {
    RPCS.iter().find(|e| e.rpc == name)
}

/// Why an RPC could not be turned into a command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcArgError {
    /// An element that is not an argument of the RPC.
    #[error("syntax error: {element} is not an argument of {rpc}")]
    Unknown { rpc: &'static str, element: String },
    /// A value that cannot be one word of a command line.
    #[error("invalid value for {element}: {reason}")]
    BadValue {
        element: &'static str,
        reason: &'static str,
    },
    /// A flag given a value, or a value argument given none.
    #[error("{element} {reason}")]
    Shape {
        element: &'static str,
        reason: &'static str,
    },
}

/// Largest argument value accepted.
pub const MAX_VALUE: usize = 256;

impl RpcEntry {
    /// The command line for this RPC with `args` (element name, text) in the given order.
    pub fn command_line<'a>(
        &self,
        args: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<String, RpcArgError> {
        let mut line = self.command.to_string();
        for (element, text) in args {
            let Some(arg) = self.args.iter().find(|a| a.element == element) else {
                return Err(RpcArgError::Unknown {
                    rpc: self.rpc,
                    element: element.to_string(),
                });
            };
            let text = text.trim();
            if arg.value {
                if text.is_empty() {
                    return Err(RpcArgError::Shape {
                        element: arg.element,
                        reason: "needs a value",
                    });
                }
                if text.len() > MAX_VALUE {
                    return Err(RpcArgError::BadValue {
                        element: arg.element,
                        reason: "longer than 256 bytes",
                    });
                }
                if text
                    .chars()
                    .any(|c| c.is_whitespace() || c == '|' || c.is_control())
                {
                    return Err(RpcArgError::BadValue {
                        element: arg.element,
                        reason: "must be one word",
                    });
                }
                if !arg.keyword.is_empty() {
                    line.push(' ');
                    line.push_str(arg.keyword);
                }
                line.push(' ');
                line.push_str(text);
            } else {
                if !text.is_empty() {
                    return Err(RpcArgError::Shape {
                        element: arg.element,
                        reason: "takes no value",
                    });
                }
                line.push(' ');
                line.push_str(arg.keyword);
            }
        }
        Ok(line)
    }
}

fn filter_args(e: &mut Element, f: &SessionFilter) {
    if let Some(l) = f.limit {
        e.push(Element::leaf("limit", l));
    }
    if let Some(p) = &f.source_prefix {
        e.push(Element::leaf("source-prefix", p));
    }
    if let Some(p) = &f.destination_prefix {
        e.push(Element::leaf("destination-prefix", p));
    }
    if let Some(p) = f.source_port {
        e.push(Element::leaf("source-port", p));
    }
    if let Some(p) = f.destination_port {
        e.push(Element::leaf("destination-port", p));
    }
    if let Some(p) = f.protocol {
        let text = proto::keyword(p)
            .map(str::to_string)
            .unwrap_or_else(|| p.to_string());
        e.push(Element::leaf("protocol", text));
    }
    if let Some(s) = &f.service_set {
        e.push(Element::leaf("service-set", s));
    }
    if let Some(i) = &f.interface {
        e.push(Element::leaf("interface", i));
    }
    if let Some(a) = f.application_protocol {
        e.push(Element::leaf("application-protocol", a.keyword()));
    }
}

fn level(e: &mut Element, d: Detail) {
    let name = match d {
        Detail::Normal => return,
        Detail::Brief => "brief",
        Detail::Terse => "terse",
        Detail::Extensive => "extensive",
    };
    e.push(Element::new(name));
}

/// The RPC of a parsed command with its arguments (`| display xml rpc`).
pub fn rpc_of(command: &Command) -> Element {
    let find = |cli: &str| {
        RPCS.iter()
            .find(|e| e.command == cli)
            .expect("every command has an RPC entry")
            .rpc
    };
    match command {
        Command::ShowSessions {
            detail,
            count,
            filter,
        } => {
            let mut e = Element::new(find("show services sessions"));
            level(&mut e, *detail);
            if *count {
                e.push(Element::new("get-service-msp-sess-count-information"));
            }
            filter_args(&mut e, filter);
            e
        }
        Command::ShowFlows {
            detail,
            count,
            filter,
        } => {
            let mut e = Element::new(find("show services flows"));
            level(&mut e, *detail);
            if *count {
                e.push(Element::new("get-service-sfw-flow-count-information"));
            }
            filter_args(&mut e, filter);
            e
        }
        Command::ShowSfwStatistics { detail, interface } => {
            let mut e = Element::new(find("show services stateful-firewall statistics"));
            match detail {
                StatsDetail::Normal => {}
                StatsDetail::Brief => e.push(Element::new("brief")),
                StatsDetail::Detail => e.push(Element::new("detail")),
                StatsDetail::Extensive => e.push(Element::new("extensive")),
            }
            if let Some(i) = interface {
                e.push(Element::leaf("interface", i));
            }
            e
        }
        Command::ClearSessions { filter } => {
            let mut e = Element::new(find("clear services sessions"));
            filter_args(&mut e, filter);
            e
        }
        Command::ClearSfwStatistics { interface }
        | Command::ClearNatStatistics { interface }
        | Command::ClearSoftwireStatistics { interface } => {
            let mut e = Element::new(find(command.name()));
            if let Some(i) = interface {
                e.push(Element::leaf("interface", i));
            }
            e
        }
        Command::ShowNatPool { name, detail } => {
            let mut e = Element::new(find("show services nat pool"));
            if let Some(n) = name {
                e.push(Element::leaf("pool-name", n));
            }
            if *detail {
                e.push(Element::new("detail"));
            }
            e
        }
        Command::ShowNatMappings { kind, pool } => {
            let mut e = Element::new(find(mappings_command(*kind)));
            if let Some(p) = pool {
                e.push(Element::leaf("pool-name", p));
            }
            e
        }
        Command::ShowSoftwireStatistics { interface } => {
            let mut e = Element::new(find("show services softwire statistics"));
            if let Some(i) = interface {
                e.push(Element::leaf("interface", i));
            }
            e
        }
        Command::ShowNatStatistics { interface } => {
            let mut e = Element::new(find("show services nat statistics"));
            if let Some(i) = interface {
                e.push(Element::leaf("interface", i));
            }
            e
        }
        Command::ShowDetNatPortBlock { internal } => {
            Element::new(find("show services nat deterministic-nat nat-port-block"))
                .with_leaf("internal-address", internal)
        }
        Command::ShowDetNatInternalHost { address, port } => {
            Element::new(find("show services nat deterministic-nat internal-host"))
                .with_leaf("nat-address", address)
                .with_leaf("nat-port", port)
        }
        Command::ShowServiceSetsSummary { interface } => {
            let mut e = Element::new(find("show services service-sets summary"));
            if let Some(i) = interface {
                e.push(Element::leaf("interface", i));
            }
            e
        }
        Command::ShowServiceSetsSyslog { interface } => {
            let mut e = Element::new(find("show services service-sets statistics syslog"));
            if let Some(i) = interface {
                e.push(Element::leaf("interface", i));
            }
            e
        }
        Command::ShowServiceSetsCpuUsage {
            interface,
            service_set,
        }
        | Command::ShowServiceSetsMemoryUsage {
            interface,
            service_set,
        } => {
            let mut e = Element::new(find(command.name()));
            if let Some(i) = interface {
                e.push(Element::leaf("interface", i));
            }
            if let Some(s) = service_set {
                e.push(Element::leaf("service-set", s));
            }
            e
        }
        Command::ShowServiceSetsTcpMss { interface } => {
            let mut e = Element::new(find("show services service-sets statistics tcp-mss"));
            if let Some(i) = interface {
                e.push(Element::leaf("interface", i));
            }
            e
        }
        Command::ShowInterfaces {
            name,
            level,
            routing_instance,
        } => {
            let mut e = Element::new(find("show interfaces"));
            if let Some(n) = name {
                e.push(Element::leaf("interface-name", n));
            }
            if let Some(r) = routing_instance {
                e.push(Element::leaf("routing-instance", r));
            }
            if let Some(l) = level {
                e.push(Element::new(*l));
            }
            e
        }
        Command::ShowAlgConversations {
            detail,
            application_protocol,
            interface,
        } => {
            let mut e = Element::new(find("show services alg conversations"));
            level(&mut e, *detail);
            if let Some(i) = interface {
                e.push(Element::leaf("interface", i));
            }
            if let Some(a) = application_protocol {
                e.push(Element::leaf("application-protocol", a.keyword()));
            }
            e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_command;

    #[test]
    fn every_rpc_parses_back_to_its_command() {
        for e in RPCS {
            // The deterministic NAT queries need their addresses.
            let args: &[(&str, &str)] = match e.rpc {
                "get-service-detnat-information" => {
                    &[("nat-address", "203.0.113.1"), ("nat-port", "1024")]
                }
                "get-service-detnat-pb-information" => &[("internal-address", "10.0.0.1")],
                _ => &[],
            };
            let line = e.command_line(args.iter().copied()).unwrap();
            let cmd = parse_command(&line).unwrap_or_else(|err| panic!("{line}: {err}"));
            let back = by_rpc(&rpc_of(&cmd).name).unwrap();
            assert_eq!(back.reply, e.reply, "{line}");
        }
    }

    #[test]
    fn arguments_become_words() {
        let e = by_rpc("get-msp-session-table").unwrap();
        let line = e
            .command_line([
                ("extensive", ""),
                ("source-prefix", "10.0.0.2"),
                ("get-service-msp-sess-count-information", ""),
            ])
            .unwrap();
        assert_eq!(
            line,
            "show services sessions extensive source-prefix 10.0.0.2 count"
        );
        let pool = by_rpc("get-service-nat-pool-information").unwrap();
        assert_eq!(
            pool.command_line([("pool-name", "p1"), ("detail", "")])
                .unwrap(),
            "show services nat pool p1 detail"
        );
        assert_eq!(
            e.command_line([("interface", "ms-1/1/0 | count")])
                .unwrap_err()
                .to_string(),
            "invalid value for interface: must be one word"
        );
        assert_eq!(
            e.command_line([("bogus", "")]).unwrap_err().to_string(),
            "syntax error: bogus is not an argument of get-msp-session-table"
        );
    }

    #[test]
    fn rpc_of_names_arguments() {
        let cmd =
            parse_command("show services sessions extensive count source-prefix 10.0.0.2").unwrap();
        let e = rpc_of(&cmd);
        let names: Vec<&str> = e.children().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "extensive",
                "get-service-msp-sess-count-information",
                "source-prefix"
            ]
        );
    }
}
