//! Renderers: each answer as Junos text and as an element tree (for XML and JSON).

pub mod alg;
pub mod counts;
pub mod flows;
pub mod interface_detail;
pub mod interfaces;
pub mod mappings;
pub mod nat;
pub mod sessions;
pub mod softwire;
pub mod stats;
pub mod syslog;
pub mod tcp_mss;
pub mod usage;

use mspic_flow::SessionSnapshot;

use crate::backend::{
    ClearedSessions, NatMappingsSummary, NatPoolInfo, NatStatistics, ServiceSetsSummary,
    SyslogStatistics,
};
use crate::command::{Detail, OutputFormat};
use crate::tree::{self, Element};

use counts::CountRow;
use sessions::SessionsLayout;
use stats::InterfaceStats;

/// The data of one answer, ready to print (merged, sorted, limited).
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Sessions {
        sessions: Vec<SessionSnapshot>,
        layout: SessionsLayout,
    },
    SessionCount(Vec<CountRow>),
    Flows {
        sessions: Vec<SessionSnapshot>,
        detail: Detail,
    },
    FlowCount(Vec<CountRow>),
    SfwStatistics {
        stats: Vec<InterfaceStats>,
        extensive: bool,
    },
    Cleared(Vec<ClearedSessions>),
    NatPools {
        pools: Vec<NatPoolInfo>,
        detail: bool,
    },
    NatMappingsSummary(Vec<NatMappingsSummary>),
    NatMappings(mappings::MappingsAnswer),
    /// `clear services … statistics`: no text; the RPC's reply element, empty (`""`: the
    /// RPC has none).
    StatisticsCleared {
        reply: &'static str,
    },
    NatStatistics(Vec<NatStatistics>),
    DetNat(Vec<crate::backend::DetNatBlock>),
    ServiceSetsSummary(Vec<ServiceSetsSummary>),
    SyslogStatistics(Vec<SyslogStatistics>),
    TcpMssStatistics(Vec<crate::backend::TcpMssStatistics>),
    SoftwireStatistics(Vec<softwire::SoftwireStatistics>),
    ServiceSetsCpuUsage(Vec<crate::backend::ServiceSetCpuUsage>),
    ServiceSetsMemoryUsage(Vec<crate::backend::ServiceSetMemoryUsage>),
    AlgConversations {
        groups: Vec<alg::AlgConversations>,
        detail: Detail,
    },
    InterfacesTerse(Vec<interfaces::TerseRow>),
    Interfaces(interface_detail::InterfacesAnswer),
}

impl Answer {
    /// The Junos text output.
    pub fn text(&self) -> String {
        match self {
            Answer::Sessions { sessions, layout } => {
                sessions::render_sessions_with(sessions, layout)
            }
            Answer::SessionCount(rows) => counts::SESSIONS.text(rows),
            Answer::Flows { sessions, detail } => flows::render_flows(sessions, *detail),
            Answer::FlowCount(rows) => counts::FLOWS.text(rows),
            Answer::SfwStatistics { stats, extensive } => {
                stats::render_sfw_statistics(stats, *extensive)
            }
            Answer::Cleared(rows) => counts::CLEARED.text(rows),
            Answer::NatPools { pools, detail } => nat::render_nat_pools(pools, *detail),
            Answer::NatMappingsSummary(rows) => nat::render_nat_mappings_summary(rows),
            Answer::NatMappings(a) => mappings::render_mappings(a),
            Answer::StatisticsCleared { .. } => String::new(),
            Answer::NatStatistics(rows) => nat::render_nat_statistics(rows),
            Answer::DetNat(rows) => nat::render_detnat(rows),
            Answer::ServiceSetsSummary(rows) => nat::render_service_sets_summary(rows),
            Answer::SyslogStatistics(rows) => syslog::render_syslog_statistics(rows),
            Answer::TcpMssStatistics(rows) => tcp_mss::render_tcp_mss_statistics(rows),
            Answer::SoftwireStatistics(rows) => softwire::render_softwire_statistics(rows),
            Answer::ServiceSetsCpuUsage(rows) => usage::render_cpu_usage(rows),
            Answer::ServiceSetsMemoryUsage(rows) => usage::render_memory_usage(rows),
            Answer::AlgConversations { groups, detail } => {
                alg::render_alg_conversations(groups, *detail)
            }
            Answer::InterfacesTerse(rows) => interfaces::render_terse(rows),
            Answer::Interfaces(a) => interface_detail::render(a),
        }
    }

    /// The reply element (the child of `<rpc-reply>`).
    pub fn tree(&self) -> Element {
        match self {
            Answer::Sessions { sessions, layout } => {
                sessions::sessions_tree(sessions, layout.detail)
            }
            Answer::SessionCount(rows) => counts::SESSIONS.tree(rows),
            Answer::Flows { sessions, detail } => flows::flows_tree(sessions, *detail),
            Answer::FlowCount(rows) => counts::FLOWS.tree(rows),
            Answer::SfwStatistics { stats, extensive } => {
                stats::sfw_statistics_tree(stats, *extensive)
            }
            Answer::Cleared(rows) => counts::CLEARED.tree(rows),
            Answer::NatPools { pools, detail } => nat::nat_pools_tree(pools, *detail),
            Answer::NatMappingsSummary(rows) => nat::nat_mappings_summary_tree(rows),
            Answer::NatMappings(a) => mappings::mappings_tree(a),
            Answer::StatisticsCleared { reply } => Element::new(*reply),
            Answer::NatStatistics(rows) => nat::nat_statistics_tree(rows),
            Answer::DetNat(rows) => nat::detnat_tree(rows),
            Answer::ServiceSetsSummary(rows) => nat::service_sets_summary_tree(rows),
            Answer::SyslogStatistics(rows) => syslog::syslog_statistics_tree(rows),
            Answer::TcpMssStatistics(rows) => tcp_mss::tcp_mss_statistics_tree(rows),
            Answer::SoftwireStatistics(rows) => softwire::softwire_statistics_tree(rows),
            Answer::ServiceSetsCpuUsage(rows) => usage::cpu_usage_tree(rows),
            Answer::ServiceSetsMemoryUsage(rows) => usage::memory_usage_tree(rows),
            Answer::AlgConversations { groups, detail } => {
                alg::alg_conversations_tree(groups, *detail)
            }
            Answer::InterfacesTerse(rows) => interfaces::terse_tree(rows),
            Answer::Interfaces(a) => interface_detail::tree(a),
        }
    }

    /// Text, `| display xml` or `| display json`.
    pub fn render(&self, format: OutputFormat) -> String {
        // An RPC without a reply element: XML and JSON hold nothing either.
        if let Answer::StatisticsCleared { reply: "" } = self {
            return match format {
                OutputFormat::Text => String::new(),
                OutputFormat::Xml => tree::to_xml_without_reply(),
                OutputFormat::Json => "{\n}\n".to_string(),
            };
        }
        match format {
            OutputFormat::Text => self.text(),
            OutputFormat::Xml => tree::to_xml(&self.tree()),
            OutputFormat::Json => tree::to_json(&self.tree()),
        }
    }
}
