//! Where `http` and `tcp` checks may connect. Whoever writes a ClinicalSystem chooses its
//! checks' targets, and the operator connects from inside the cluster, so without a limit
//! a check is a port scanner and a read oracle for its author. A check reaches:
//! - an address in a network the operator allows: the cluster's Service networks, read
//!   from its ServiceCIDR objects at start, and each `lifeline run --check-network CIDR`
//!   (the pod networks, and any other the operator's administrator chooses),
//!   whether the check names it by address or by name, a Service's cluster name (`*.svc`,
//!   `*.svc.cluster.local`) included;
//! - a host the operator maps itself (`lifeline run --resolve HOST=IP`).
//!
//! A cluster name is no exception: whoever may write Services in a namespace points
//! `x.ns.svc` anywhere, with an ExternalName Service (a CNAME to any host) or a headless
//! Service with an EndpointSlice written by hand (any address). So a cluster name is
//! reached only where it resolves into the allowed networks, and an operator told no
//! networks reaches no cluster name, saying why in the check's status.
//!
//! Never a link-local address (169.254.0.0/16, fe80::/10, where cloud metadata services
//! answer), the AWS IPv6 metadata address, an unspecified, broadcast or multicast address,
//! whatever the name or the networks allowed. Names are resolved here, and the HTTP
//! client connects only to the addresses allowed, so a name that resolves elsewhere later
//! (DNS rebinding) is refused as well.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use ipnet::IpNet;

use crate::engine::names::is_cluster_name;

/// The AWS instance metadata service's IPv6 address.
const AWS_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// Where checks may connect (see the module documentation).
#[derive(Clone, Debug, Default)]
pub struct Reach {
    networks: Vec<IpNet>,
    overrides: Vec<(String, IpAddr)>,
}

impl Reach {
    /// Checks may reach cluster names, `networks`, and the hosts of `overrides` at the
    /// addresses given.
    pub fn new(networks: Vec<IpNet>, overrides: Vec<(String, IpAddr)>) -> Self {
        Self {
            networks,
            overrides,
        }
    }

    /// Whether a check of host `host` may connect to `ip`; if not, why.
    pub fn allows(&self, host: &str, ip: IpAddr) -> Result<(), String> {
        let ip = canonical(ip);
        if let Some(why) = never(ip) {
            return Err(format!("{ip} is {why}, which checks never reach"));
        }
        if self
            .overrides
            .iter()
            .any(|(h, a)| h == host && canonical(*a) == ip)
            || self.networks.iter().any(|n| n.contains(&ip))
        {
            return Ok(());
        }
        if is_cluster_name(host) && self.networks.is_empty() {
            return Err(format!(
                "{host} is a cluster name, but the operator is not told the cluster's Service \
                 and pod networks, and a Service name can point anywhere (an ExternalName \
                 Service, a hand-written EndpointSlice): run it with --check-network CIDR for \
                 each, or map the host with --resolve"
            ));
        }
        if is_cluster_name(host) {
            return Err(format!(
                "{host} resolves to {ip}, outside the cluster's Service and pod networks the \
                 operator allows (--check-network): an ExternalName Service or a hand-written \
                 EndpointSlice points it elsewhere, which checks never reach"
            ));
        }
        Err(format!(
            "{ip} is outside the networks checks may reach (the cluster's Service and pod \
             networks and any other the operator allows with --check-network)"
        ))
    }

    /// The addresses a check of `host:port` may connect to, resolved here; an error
    /// saying why when there are none.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        if let Some((_, ip)) = self.overrides.iter().find(|(h, _)| h == host) {
            return Ok(vec![SocketAddr::new(*ip, port)]);
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let found: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|e| format!("resolve {host}: {e}"))?
                .collect(),
        };
        let mut refused = None;
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|a| match self.allows(bare, a.ip()) {
                Ok(()) => true,
                Err(why) => {
                    refused.get_or_insert(why);
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), refused) {
            (false, _) => Ok(allowed),
            (true, Some(why)) => Err(why),
            (true, None) => Err(format!("{host} has no address")),
        }
    }
}

/// The cluster's Service networks, as its ServiceCIDR objects give them
/// (`networking.k8s.io/v1`, Kubernetes 1.33 and later): a check that names a Service by its
/// cluster name reaches its ClusterIP without the operator being told the range. Pod
/// networks are not published by the API server (a CNI may keep them to itself): a check
/// of a headless Service or a pod's address needs `--check-network`. Empty, with a warning,
/// when they cannot be read.
pub async fn service_networks(client: &kube::Client) -> Vec<IpNet> {
    use k8s_openapi::api::networking::v1::ServiceCIDR;
    let api: kube::Api<ServiceCIDR> = kube::Api::all(client.clone());
    match api.list(&Default::default()).await {
        Ok(list) => list
            .items
            .iter()
            .flat_map(|c| c.spec.iter().flat_map(|s| s.cidrs.iter().flatten()))
            .filter_map(|c| match c.parse::<IpNet>() {
                Ok(n) => Some(n),
                Err(_) => {
                    tracing::warn!(cidr = %c, "a ServiceCIDR that is not a network; checks do not reach it");
                    None
                }
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the cluster's ServiceCIDRs: checks reach Service names only within --check-network");
            Vec::new()
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) judged as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Why `ip` is never reached, if it is not.
fn never(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) if v4.is_link_local() => Some("a link-local address (cloud metadata)"),
        IpAddr::V4(v4) if v4.is_unspecified() || v4 == Ipv4Addr::BROADCAST => {
            Some("not a host address")
        }
        IpAddr::V4(v4) if v4.is_multicast() => Some("a multicast address"),
        IpAddr::V6(v6) if v6 == AWS_METADATA_V6 => Some("a cloud metadata address"),
        IpAddr::V6(v6) if v6.is_unicast_link_local() => {
            Some("a link-local address (cloud metadata)")
        }
        IpAddr::V6(v6) if v6.is_unspecified() => Some("not a host address"),
        IpAddr::V6(v6) if v6.is_multicast() => Some("a multicast address"),
        _ => None,
    }
}

/// A check refused by the operator itself, for where it would connect: its text is the
/// operator's own, so a check's status says it in full (errors of the network and of the
/// target are told by class only, see `verify::describe_reqwest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The HTTP client's resolver: names resolve only to addresses checks may reach.
#[derive(Clone, Debug)]
pub struct Resolver(pub Arc<Reach>);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let reach = self.0.clone();
        Box::pin(async move {
            let addrs = reach.resolve(name.as_str(), 0).await.map_err(
                |why| -> Box<dyn std::error::Error + Send + Sync> { Box::new(Refused(why)) },
            )?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reach() -> Reach {
        Reach::new(
            vec![
                "10.96.0.0/12".parse().expect("cidr"),
                "10.244.0.0/16".parse().expect("cidr"),
            ],
            vec![("lims.example".into(), "192.168.7.7".parse().expect("ip"))],
        )
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn metadata_and_link_local_are_never_reached_whatever_the_name_or_networks() {
        let open = Reach::new(
            vec![
                "0.0.0.0/0".parse().expect("cidr"),
                "::/0".parse().expect("cidr"),
            ],
            vec![],
        );
        for a in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
        ] {
            let why = open.allows("lims.pathology.svc", ip(a)).expect_err(a);
            assert!(why.contains("which checks never reach"), "{a}: {why}");
        }
    }

    #[test]
    fn cluster_names_allowed_networks_and_the_operators_own_mappings_are_reached() {
        let r = reach();
        assert_eq!(r.allows("lims.pathology.svc", ip("10.244.3.9")), Ok(()));
        assert_eq!(
            r.allows("lims.pathology.svc.cluster.local.", ip("10.96.0.10")),
            Ok(())
        );
        assert_eq!(
            r.allows("10.100.0.1", ip("10.100.0.1")),
            Ok(()),
            "in --check-network"
        );
        assert_eq!(
            r.allows("lims.example", ip("192.168.7.7")),
            Ok(()),
            "--resolve"
        );
        let why = r
            .allows("lims.example", ip("192.168.7.8"))
            .expect_err("another address");
        assert!(
            why.contains("outside the networks checks may reach"),
            "{why}"
        );
        assert!(
            r.allows("10.0.0.1", ip("10.0.0.1")).is_err(),
            "a private address not allowed"
        );
        assert!(r.allows("db.internal.example", ip("172.16.0.5")).is_err());
    }

    #[test]
    fn a_cluster_name_is_reached_only_where_it_resolves_into_the_allowed_networks() {
        let r = reach();
        assert_eq!(
            r.allows("lims.pathology.svc", ip("10.96.4.1")),
            Ok(()),
            "a ClusterIP"
        );
        assert_eq!(
            r.allows("lims.pathology.svc", ip("10.244.3.9")),
            Ok(()),
            "a pod"
        );
        // An ExternalName Service (a CNAME to any host) or a headless Service with a
        // hand-written EndpointSlice points a cluster name at a node, a private host, the
        // loopback: none of them in the Service or pod networks.
        for a in [
            "192.168.1.10",
            "10.0.0.1",
            "172.18.0.2",
            "127.0.0.1",
            "::1",
            "fd12::5",
        ] {
            for host in ["lims.pathology.svc", "LIMS.pathology.svc.cluster.local."] {
                let why = r.allows(host, ip(a)).expect_err(a);
                assert!(
                    why.contains("outside the cluster's Service and pod networks")
                        && why.contains("ExternalName"),
                    "{host} -> {a}: {why}"
                );
            }
        }
    }

    #[test]
    fn an_operator_told_no_networks_reaches_no_cluster_name_and_says_how_to_tell_it() {
        let none = Reach::new(
            vec![],
            vec![(
                "lims.pathology.svc".into(),
                "127.0.0.1".parse().expect("ip"),
            )],
        );
        for a in ["10.96.0.10", "10.244.1.2", "192.168.1.10"] {
            let why = none.allows("pacs.imaging.svc", ip(a)).expect_err(a);
            assert!(
                why.contains("not told the cluster's Service and pod networks")
                    && why.contains("--check-network"),
                "{a}: {why}"
            );
        }
        assert_eq!(
            none.allows("lims.pathology.svc", ip("127.0.0.1")),
            Ok(()),
            "a host the operator maps itself is reached at the address it maps"
        );
    }

    #[tokio::test]
    async fn resolving_keeps_only_the_addresses_checks_may_reach() {
        let r = reach();
        assert_eq!(
            r.resolve("lims.example", 8080).await,
            Ok(vec!["192.168.7.7:8080".parse().expect("addr")])
        );
        assert_eq!(
            r.resolve("10.100.0.1", 80).await,
            Ok(vec!["10.100.0.1:80".parse().expect("addr")])
        );
        assert!(
            r.resolve("127.0.0.1", 80).await.is_err(),
            "loopback is not allowed unless the operator says so"
        );
        let local = Reach::new(vec!["127.0.0.0/8".parse().expect("cidr")], vec![]);
        assert_eq!(
            local
                .resolve("localhost", 80)
                .await
                .map(|a| a.iter().all(|a| a.ip().is_loopback())),
            Ok(true)
        );
        assert!(
            local.resolve("[::1]", 80).await.is_err(),
            "::1 is not in 127.0.0.0/8"
        );
    }
}
