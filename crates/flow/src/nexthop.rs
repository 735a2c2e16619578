//! Next-hop style service sets: a static route whose next hop is the inside or outside
//! unit of a `next-hop-service` sends traffic through that service set.
//!
//! Junos ("Configuring Service Sets to be Applied to Services Interfaces", next-hop
//! service sets; "How to Configure Next-Hop Style Service Sets"): the services interface
//! is a module with two legs; traffic routed to the inside unit (`service-domain
//! inside`) is seen in the `input` direction, traffic routed to the outside unit
//! (`service-domain outside`) in the `output` direction, and the serviced packet leaves by
//! the other leg to be routed on. Replies of a session follow the session whatever
//! interface they arrive on.

use mspic_config as cfg;
use mspic_config::{MatchDirection, ServiceSetStyle};

/// Where a route to a services unit leads: a service set, seen in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceHop {
    /// The service set (index in `Policy::service_sets`).
    pub set: u16,
    /// `Input` for the inside unit, `Output` for the outside unit.
    pub dir: MatchDirection,
}

/// Why the services units of the next-hop service sets are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NextHopError {
    /// One unit is a leg of two service sets: a route to it could not name one set.
    /// [`mspic_config::parse`] refuses this with its position; this guards a
    /// configuration built in code.
    #[error(transparent)]
    SharedUnit(#[from] cfg::SharedServiceUnit),
}

/// The services units of the next-hop service sets, by name (`ms-1/1/0.1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceUnits {
    units: Vec<(String, ServiceHop)>,
}

impl ServiceUnits {
    /// The inside and outside units of every next-hop service set of `c`; set indices are
    /// positions in `c.service_sets`.
    pub fn of(c: &cfg::Config) -> Result<Self, NextHopError> {
        if let Some(shared) = c.shared_service_unit() {
            return Err(shared.into());
        }
        let mut units: Vec<(String, ServiceHop)> = Vec::new();
        for (i, s) in c.service_sets.iter().enumerate() {
            let ServiceSetStyle::NextHop { inside, outside } = &s.style else {
                continue;
            };
            let set = u16::try_from(i).unwrap_or(u16::MAX);
            units.push((
                inside.clone(),
                ServiceHop {
                    set,
                    dir: MatchDirection::Input,
                },
            ));
            units.push((
                outside.clone(),
                ServiceHop {
                    set,
                    dir: MatchDirection::Output,
                },
            ));
        }
        Ok(ServiceUnits { units })
    }

    /// The service hop of the unit named `name` (`ms-1/1/0.1`).
    pub fn get(&self, name: &str) -> Option<ServiceHop> {
        self.units
            .iter()
            .find(|(u, _)| u == name)
            .map(|&(_, hop)| hop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> cfg::Config {
        mspic_config::parse(text, "t.conf").expect("valid configuration")
    }

    const UNITS: &str = "set interfaces ms-1/1/0 unit 1 family inet
set interfaces ms-1/1/0 unit 1 service-domain inside
set interfaces ms-1/1/0 unit 2 family inet
set interfaces ms-1/1/0 unit 2 service-domain outside
";

    #[test]
    fn inside_is_input_and_outside_is_output() {
        let c = parse(&format!(
            "{UNITS}set services service-set a interface-service service-interface ms-1/1/0
set services service-set nh next-hop-service inside-service-interface ms-1/1/0.1
set services service-set nh next-hop-service outside-service-interface ms-1/1/0.2
"
        ));
        let u = ServiceUnits::of(&c).unwrap();
        let nh = c.service_sets.iter().position(|s| s.name == "nh").unwrap() as u16;
        assert_eq!(
            u.get("ms-1/1/0.1"),
            Some(ServiceHop {
                set: nh,
                dir: MatchDirection::Input
            })
        );
        assert_eq!(
            u.get("ms-1/1/0.2"),
            Some(ServiceHop {
                set: nh,
                dir: MatchDirection::Output
            })
        );
        assert_eq!(u.get("ms-1/1/0.3"), None);
        assert_eq!(u.get("ms-1/1/0"), None);
    }

    #[test]
    fn a_unit_in_two_sets_is_refused() {
        // `parse` refuses this (config crate tests); built in code, compile refuses it.
        let mut c = parse(&format!(
            "{UNITS}set interfaces ms-1/1/0 unit 3 family inet
set interfaces ms-1/1/0 unit 3 service-domain outside
set interfaces ms-1/1/0 unit 4 family inet
set interfaces ms-1/1/0 unit 4 service-domain inside
set services service-set a next-hop-service inside-service-interface ms-1/1/0.1
set services service-set a next-hop-service outside-service-interface ms-1/1/0.2
set services service-set b next-hop-service inside-service-interface ms-1/1/0.4
set services service-set b next-hop-service outside-service-interface ms-1/1/0.3
"
        ));
        let b = c.service_sets.iter_mut().find(|s| s.name == "b").unwrap();
        b.style = ServiceSetStyle::NextHop {
            inside: "ms-1/1/0.1".into(),
            outside: "ms-1/1/0.3".into(),
        };
        let err = ServiceUnits::of(&c).unwrap_err();
        assert_eq!(
            err.to_string(),
            "services unit ms-1/1/0.1 is used by next-hop service sets 'a' and 'b'"
        );
    }
}
