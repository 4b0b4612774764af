//! Resource policies: source-IP allow and deny lists per API and per route. An explicit deny wins; with an
//! allow list, an address must match it. The address is the one the front door saw
//! (`requestContext.http.sourceIp`).

use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::ResourcePolicyFile;

/// A CIDR range, or one address (as a /32 or /128).
pub fn parse_range(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not an IPv4 or IPv6 address or CIDR range"))
}

#[derive(Debug, Clone, Default)]
pub struct ResourcePolicy {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
}

/// What a policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Matched a deny rule.
    ExplicitDeny,
    /// An allow list exists and the address is not on it (or is not an address at all).
    ImplicitDeny,
}

impl ResourcePolicy {
    pub fn new(file: &ResourcePolicyFile) -> Result<Self, String> {
        Ok(Self {
            allow: file.allow.iter().map(|c| parse_range(c)).collect::<Result<_, _>>()?,
            deny: file.deny.iter().map(|c| parse_range(c)).collect::<Result<_, _>>()?,
        })
    }

    pub fn decide(&self, source_ip: &str) -> Decision {
        let Ok(ip) = source_ip.parse::<IpAddr>() else {
            return if self.allow.is_empty() && self.deny.is_empty() {
                Decision::Allow
            } else {
                Decision::ImplicitDeny
            };
        };
        // An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) is still that IPv4 client.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if self.deny.iter().any(|n| n.contains(&ip)) {
            Decision::ExplicitDeny
        } else if self.allow.is_empty() || self.allow.iter().any(|n| n.contains(&ip)) {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str]) -> ResourcePolicy {
        let file = ResourcePolicyFile {
            allow: allow.iter().map(|s| (*s).to_owned()).collect(),
            deny: deny.iter().map(|s| (*s).to_owned()).collect(),
        };
        ResourcePolicy::new(&file).expect("valid")
    }

    #[test]
    fn deny_wins_allow_lists_restrict_both_families() {
        let p = policy(&["192.0.2.0/24", "2001:db8::/32"], &["192.0.2.66"]);
        assert_eq!(p.decide("192.0.2.1"), Decision::Allow);
        assert_eq!(p.decide("192.0.2.66"), Decision::ExplicitDeny);
        assert_eq!(p.decide("198.51.100.1"), Decision::ImplicitDeny);
        assert_eq!(p.decide("2001:db8::1"), Decision::Allow);
        assert_eq!(p.decide("2001:db9::1"), Decision::ImplicitDeny);
        assert_eq!(p.decide("::ffff:192.0.2.66"), Decision::ExplicitDeny);
        assert_eq!(p.decide("not-an-ip"), Decision::ImplicitDeny);
        assert_eq!(policy(&[], &["10.0.0.0/8"]).decide("192.0.2.1"), Decision::Allow);
        assert!(parse_range("300.1.1.1/8").is_err());
        assert!(parse_range("10.0.0.0/33").is_err());
    }
}
