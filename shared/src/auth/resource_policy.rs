//! Resource policies: source-IP allow and deny lists per API and per route ([`IpRules`], parsed at load). An
//! explicit deny wins; with an allow list, an address must match it. The address is the one the front door saw
//! (`requestContext.http.sourceIp`).

use std::net::IpAddr;

use crate::config::IpRules;

/// What a policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Matched a deny rule.
    ExplicitDeny,
    /// An allow list exists and the address is not on it (or is not an address at all).
    ImplicitDeny,
}

/// Judges a source address by `rules`.
pub fn decide(rules: &IpRules, source_ip: &str) -> Decision {
    let Ok(ip) = source_ip.parse::<IpAddr>() else {
        return if rules.allow.is_empty() && rules.deny.is_empty() { Decision::Allow } else { Decision::ImplicitDeny };
    };
    // An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) is still that IPv4 client.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    if rules.deny.iter().any(|n| n.contains(&ip)) {
        Decision::ExplicitDeny
    } else if rules.allow.is_empty() || rules.allow.iter().any(|n| n.contains(&ip)) {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::parse_range;

    fn policy(allow: &[&str], deny: &[&str]) -> IpRules {
        let list = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        IpRules::parse(&list(allow), &list(deny)).expect("valid")
    }

    #[test]
    fn deny_wins_allow_lists_restrict_both_families() {
        let p = policy(&["192.0.2.0/24", "2001:db8::/32"], &["192.0.2.66"]);
        assert_eq!(decide(&p, "192.0.2.1"), Decision::Allow);
        assert_eq!(decide(&p, "192.0.2.66"), Decision::ExplicitDeny);
        assert_eq!(decide(&p, "198.51.100.1"), Decision::ImplicitDeny);
        assert_eq!(decide(&p, "2001:db8::1"), Decision::Allow);
        assert_eq!(decide(&p, "2001:db9::1"), Decision::ImplicitDeny);
        assert_eq!(decide(&p, "::ffff:192.0.2.66"), Decision::ExplicitDeny);
        assert_eq!(decide(&p, "not-an-ip"), Decision::ImplicitDeny);
        assert_eq!(decide(&policy(&[], &["10.0.0.0/8"]), "192.0.2.1"), Decision::Allow);
        assert!(parse_range("300.1.1.1/8").is_err());
        assert!(parse_range("10.0.0.0/33").is_err());
    }
}
