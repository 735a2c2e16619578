//! Control plane of mspic: parses Junos operational commands (`show services sessions …`),
//! asks the engine through [`Backend`], and prints the answer exactly as Junos does (text),
//! or as `| display xml` / `| display json`.
//!
//! Sans-IO: no sockets, files or clock. The daemon and the replay tool own the I/O and call
//! [`execute`] with a command line and their backend.
//!
//! ```
//! use mspic_control::{execute, SnapshotBackend};
//! let mut backend = SnapshotBackend::default();
//! assert_eq!(execute("show services sessions", &mut backend).unwrap(), "");
//! assert_eq!(
//!     execute("show services sessions foo", &mut backend).unwrap_err().to_string(),
//!     "error: syntax error: foo"
//! );
//! ```

#![forbid(unsafe_code)]

pub mod backend;
pub mod command;
pub mod glob;
pub mod protocol;
pub mod render;
pub mod rpc;
pub mod tree;

pub use backend::{
    Backend, BackendError, ClearedSessions, DetNatBlock, DetNatQuery, NatAddressMapping,
    NatMapping, NatMappingsSummary, NatPoolInfo, NatStatistics, PortBlockInfo, ServiceSetCpuUsage,
    ServiceSetMemoryUsage, ServiceSetsSummary, SnapshotBackend, SyslogStatistics, TcpMssStatistics,
};
pub use command::{
    apply_pipes, complete, help, parse_command, parse_pipes, parse_request, Command, CommandError,
    Completions, Detail, Keyword, NatMappingsKind, OutputFormat, Pipe, PipeItem, Request,
    StatsDetail,
};
pub use render::counts::{CountRow, CountTable};
pub use render::flows::{flows_tree, render_flows};
pub use render::sessions::{
    count_rows, flow_line, flow_line_with, render_sessions, render_sessions_with, select_sessions,
    session_header, sessions_tree, sort_sessions, HeaderStyle, InterfaceLabel, SessionsLayout,
};
pub use render::stats::{merge_stats, render_sfw_statistics, sfw_statistics_tree};
pub use render::Answer;
pub use tree::{to_json, to_xml, Element};

/// What the printed text depends on besides the command line and the engine: choices and
/// facts of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecuteOptions {
    /// Session layout of the reference page or of another Junos release.
    pub header_style: HeaderStyle,
    /// The configured services interfaces and their units (`show interfaces`).
    pub services_interfaces: Vec<mspic_config::ServiceInterface>,
}

impl ExecuteOptions {
    /// The options a configuration asks for (`emulator { junos-release R; }`), so a commit
    /// or reload switches the layout with the configuration.
    pub fn for_config(config: &mspic_config::Config) -> ExecuteOptions {
        ExecuteOptions {
            header_style: HeaderStyle::for_release(config.emulator.junos_release),
            services_interfaces: config.service_interfaces.clone(),
        }
    }
}

/// Parses `line`, asks `backend`, renders the answer (text, XML or JSON per the pipe).
pub fn execute(line: &str, backend: &mut dyn Backend) -> Result<String, CommandError> {
    execute_with(line, backend, &ExecuteOptions::default())
}

/// [`execute`] with explicit [`ExecuteOptions`].
pub fn execute_with(
    line: &str,
    backend: &mut dyn Backend,
    options: &ExecuteOptions,
) -> Result<String, CommandError> {
    let request = parse_request(line)?;
    let text = if request.display_rpc {
        to_xml(&Element::new("rpc").with(rpc::rpc_of(&request.command)))
    } else {
        run(&request.command, backend, options)?.render(request.format)
    };
    Ok(command::apply_pipes(&text, &request.pipes))
}

fn backend_error(command: &Command, e: BackendError) -> CommandError {
    match e {
        BackendError::Unsupported => CommandError::Unsupported {
            command: command.name(),
        },
        BackendError::Failed(msg) => CommandError::Backend(msg),
    }
}

/// The mappings a `show services nat mappings` variant shows: detail and brief show both
/// kinds (a backend without paired-pooling mappings shows none of them), the other two one
/// kind each.
fn nat_mappings(
    backend: &mut dyn Backend,
    kind: NatMappingsKind,
) -> Result<render::mappings::MappingsAnswer, BackendError> {
    use NatMappingsKind as K;
    let ports = match kind {
        K::AddressPoolingPaired => Vec::new(),
        _ => backend.nat_mappings()?,
    };
    let addresses = match (kind, backend_optional(backend.nat_address_mappings())) {
        (K::EndpointIndependent, _) => Vec::new(),
        (K::AddressPoolingPaired, r) => r?.unwrap_or_default(),
        (_, r) => r?.unwrap_or_default(),
    };
    let detail = !matches!(kind, K::Brief);
    Ok(render::mappings::MappingsAnswer {
        ports,
        addresses,
        detail,
        root: rpc::reply_of(rpc::mappings_command(kind)),
    })
}

/// `Ok(None)` for a query the backend does not support.
fn backend_optional<T>(r: Result<T, BackendError>) -> Result<Option<T>, BackendError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(BackendError::Unsupported) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Runs a parsed command against `backend` and returns the data to print.
pub fn run(
    command: &Command,
    backend: &mut dyn Backend,
    options: &ExecuteOptions,
) -> Result<Answer, CommandError> {
    Ok(match command {
        Command::ShowSessions {
            detail,
            count,
            filter,
        } => {
            if *count {
                let rows = backend.session_counts(filter);
                Answer::SessionCount(count_rows(&rows, |c| c.sessions))
            } else {
                let layout = SessionsLayout {
                    detail: *detail,
                    header: options.header_style,
                    interface_label: if filter.application_protocol.is_some() {
                        InterfaceLabel::Named
                    } else {
                        InterfaceLabel::Bare
                    },
                };
                Answer::Sessions {
                    sessions: select_sessions(backend.sessions(filter), filter),
                    layout,
                }
            }
        }
        Command::ShowFlows {
            detail,
            count,
            filter,
        } => {
            if *count {
                let rows = backend.session_counts(filter);
                Answer::FlowCount(count_rows(&rows, |c| c.flows))
            } else {
                let unlimited = mspic_flow::SessionFilter {
                    limit: None,
                    ..filter.clone()
                };
                let mut sessions = backend.sessions(filter);
                sessions.retain(|s| unlimited.matches(s));
                render::flows::sort_for_flows(&mut sessions);
                render::flows::limit_flows(&mut sessions, filter.limit);
                Answer::Flows {
                    sessions,
                    detail: *detail,
                }
            }
        }
        Command::ShowSfwStatistics { detail, interface } => {
            let mut stats = backend.sfw_statistics();
            if let Some(i) = interface {
                stats.retain(|(name, _)| name == i);
            }
            Answer::SfwStatistics {
                stats: merge_stats(&stats),
                extensive: detail.is_extensive(),
            }
        }
        Command::ClearSessions { filter } => {
            Answer::Cleared(render::counts::merge(backend.clear_sessions(filter)))
        }
        Command::ShowNatPool { name, detail } => {
            let mut pools = backend
                .nat_pools(name.as_deref())
                .map_err(|e| backend_error(command, e))?;
            if let Some(n) = name {
                pools.retain(|p| p.pool == *n);
            }
            Answer::NatPools {
                pools,
                detail: *detail,
            }
        }
        Command::ShowDetNatPortBlock { internal } => Answer::DetNat(
            backend
                .detnat(DetNatQuery::Host(*internal))
                .map_err(|e| backend_error(command, e))?,
        ),
        Command::ShowDetNatInternalHost { address, port } => Answer::DetNat(
            backend
                .detnat(DetNatQuery::NatPort(*address, *port))
                .map_err(|e| backend_error(command, e))?,
        ),
        Command::ClearSfwStatistics { interface } => {
            backend
                .clear_sfw_statistics(interface.as_deref())
                .map_err(|e| backend_error(command, e))?;
            Answer::StatisticsCleared {
                reply: rpc::reply_of(command.name()),
            }
        }
        Command::ClearNatStatistics { interface } => {
            backend
                .clear_nat_statistics(interface.as_deref())
                .map_err(|e| backend_error(command, e))?;
            Answer::StatisticsCleared {
                reply: rpc::reply_of(command.name()),
            }
        }
        Command::ClearSoftwireStatistics { interface } => {
            backend
                .clear_softwire_statistics(interface.as_deref())
                .map_err(|e| backend_error(command, e))?;
            Answer::StatisticsCleared {
                reply: rpc::reply_of(command.name()),
            }
        }
        Command::ShowNatMappings {
            kind: NatMappingsKind::Summary,
            ..
        } => Answer::NatMappingsSummary(
            backend
                .nat_mappings_summary()
                .map_err(|e| backend_error(command, e))?,
        ),
        Command::ShowNatMappings { kind, pool } => {
            let mut a = nat_mappings(backend, *kind).map_err(|e| backend_error(command, e))?;
            if let Some(p) = pool {
                a.only_pool(p);
            }
            Answer::NatMappings(a)
        }
        Command::ShowSoftwireStatistics { interface } => {
            let mut rows: Vec<render::softwire::SoftwireStatistics> = Vec::new();
            for (name, s) in backend.sfw_statistics() {
                if interface.as_ref().is_some_and(|i| *i != name) {
                    continue;
                }
                match rows.iter_mut().find(|r| r.interface == name) {
                    Some(r) => r.stats.merge(&s.softwire),
                    None => rows.push(render::softwire::SoftwireStatistics {
                        interface: name,
                        stats: s.softwire,
                    }),
                }
            }
            rows.sort_by(|a, b| render::sessions::compare_interfaces(&a.interface, &b.interface));
            Answer::SoftwireStatistics(rows)
        }
        Command::ShowNatStatistics { interface } => {
            let mut stats = backend
                .nat_statistics()
                .map_err(|e| backend_error(command, e))?;
            if let Some(i) = interface {
                stats.retain(|s| s.interface == *i);
            }
            Answer::NatStatistics(stats)
        }
        Command::ShowServiceSetsSummary { interface } => {
            let mut rows = backend
                .service_sets_summary()
                .map_err(|e| backend_error(command, e))?;
            if let Some(i) = interface {
                rows.retain(|r| r.interface == *i);
            }
            Answer::ServiceSetsSummary(rows)
        }
        Command::ShowServiceSetsCpuUsage {
            interface,
            service_set,
        } => {
            let mut rows = backend
                .service_sets_cpu_usage()
                .map_err(|e| backend_error(command, e))?;
            rows.retain(|r| {
                interface.as_ref().is_none_or(|i| r.interface == *i)
                    && service_set.as_ref().is_none_or(|s| r.service_set == *s)
            });
            Answer::ServiceSetsCpuUsage(rows)
        }
        Command::ShowServiceSetsMemoryUsage {
            interface,
            service_set,
        } => {
            let mut rows = backend
                .service_sets_memory_usage()
                .map_err(|e| backend_error(command, e))?;
            rows.retain(|r| {
                interface.as_ref().is_none_or(|i| r.interface == *i)
                    && service_set.as_ref().is_none_or(|s| r.service_set == *s)
            });
            Answer::ServiceSetsMemoryUsage(rows)
        }
        Command::ShowServiceSetsSyslog { interface } => {
            let mut rows = backend
                .syslog_statistics()
                .map_err(|e| backend_error(command, e))?;
            if let Some(i) = interface {
                rows.retain(|r| r.interface == *i);
            }
            Answer::SyslogStatistics(rows)
        }
        Command::ShowServiceSetsTcpMss { interface } => {
            let mut rows = backend
                .tcp_mss_statistics()
                .map_err(|e| backend_error(command, e))?;
            if let Some(i) = interface {
                rows.retain(|r| r.interface == *i);
            }
            Answer::TcpMssStatistics(rows)
        }
        Command::ShowInterfaces {
            name,
            level,
            routing_instance,
        } => {
            // The services interfaces belong to the default instance.
            let rows = match routing_instance.as_deref() {
                Some(r) if r != "default" => Vec::new(),
                _ => render::interfaces::select(&options.services_interfaces, name.as_deref())
                    .map_err(CommandError::Backend)?,
            };
            match *level {
                Some("terse") => Answer::InterfacesTerse(rows),
                _ => Answer::Interfaces(render::interface_detail::InterfacesAnswer {
                    rows,
                    traffic: backend
                        .sfw_statistics()
                        .into_iter()
                        .map(|(name, s)| (name, s.traffic))
                        .collect(),
                    extensive: matches!(*level, Some("detail" | "extensive")),
                }),
            }
        }
        Command::ShowAlgConversations {
            detail,
            application_protocol,
            interface,
        } => {
            let filter = mspic_flow::SessionFilter {
                application_protocol: *application_protocol,
                interface: interface.clone(),
                ..Default::default()
            };
            let mut sessions = backend.sessions(&filter);
            sessions.retain(|s| filter.matches(s));
            Answer::AlgConversations {
                groups: render::alg::build_conversations(&sessions),
                detail: *detail,
            }
        }
    })
}
