//! Where push notifications may go. A webhook URL comes from a client, and the agent runs inside
//! a cluster next to things no client should reach through it (the API server, cloud metadata,
//! other pods): only `https` to public addresses, unless an operator allows a host by name
//! (`--a2a-push-allow-hosts`). Names are resolved and checked again at every connection, so a
//! name that changes its answer after registration (DNS rebinding) gains nothing.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;

/// Hosts an operator allows: plain `http`, and any address (an orchestrator in the cluster).
#[derive(Debug, Clone, Default)]
pub struct Allowed {
    hosts: Vec<String>,
}

impl Allowed {
    pub fn new(hosts: &[String]) -> Allowed {
        let hosts = hosts.iter().map(|h| normal_host(h)).filter(|h| !h.is_empty()).collect();
        Allowed { hosts }
    }

    pub fn contains(&self, host: &str) -> bool {
        let host = normal_host(host);
        self.hosts.contains(&host)
    }
}

/// Lower case, without IPv6 brackets or a trailing dot.
fn normal_host(host: &str) -> String {
    host.trim().trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase()
}

/// A webhook URL that passed the static checks: what to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: url::Url,
    /// The host is one an operator allowed: no address checks.
    pub allowed: bool,
}

/// The checks that need no DNS: scheme, credentials in the URL, names and literal addresses.
pub fn check_url(raw: &str, allowed: &Allowed) -> Result<Target, String> {
    if raw.len() > 2048 {
        return Err(format!("is {} characters long; at most 2048", raw.len()));
    }
    let url = url::Url::parse(raw).map_err(|e| format!("is not an absolute URL: {e}"))?;
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err("has no host".into()),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err("carries credentials; put them in `authentication` instead".into());
    }
    let allowed = allowed.contains(&host);
    match url.scheme() {
        "https" => {}
        "http" if allowed => {}
        "http" => {
            return Err(format!(
                "uses plain http to {host}; webhooks must use https unless an operator allows the host (--a2a-push-allow-hosts)"
            ));
        }
        other => return Err(format!("has scheme `{other}`; expected https")),
    }
    if !allowed {
        if let Some(why) = refused_name(&host) {
            return Err(format!("points at {host}, {why}"));
        }
        if let Ok(ip) = host.parse::<IpAddr>()
            && let Some(why) = refused_ip(ip)
        {
            return Err(format!("points at {ip}, {why}"));
        }
    }
    Ok(Target { url, allowed })
}

/// Names that stand for the node or the cluster whatever they resolve to.
fn refused_name(host: &str) -> Option<&'static str> {
    let host = normal_host(host);
    let under = |suffix: &str| host == suffix || host.ends_with(&format!(".{suffix}"));
    if under("localhost") {
        return Some("the agent's own host");
    }
    if under("svc") || under("cluster.local") || under("svc.cluster.local") {
        return Some("a cluster-internal name");
    }
    if host == "metadata.google.internal" || host == "metadata" {
        return Some("a cloud metadata service");
    }
    None
}

/// Why the agent must not connect to `ip` for a client, if it must not.
pub fn refused_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => {
            // An IPv4 address in IPv6 clothing (mapped, or NAT64) is judged as IPv4.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return refused_v4(v4);
            }
            let s = v6.segments();
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                return refused_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
            }
            refused_v6(v6)
        }
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_link_local() {
        // 169.254.169.254 is the metadata service of most clouds.
        Some("a link-local address (cloud metadata lives there)")
    } else if ip.is_private() || (o[0] == 100 && (64..128).contains(&o[1])) {
        Some("a private address (pods, Services and nodes live there)")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("an unspecified address")
    } else if ip.is_multicast() || ip.is_broadcast() || o[0] >= 240 {
        Some("a multicast, broadcast or reserved address")
    } else if (o[0] == 192 && o[1] == 0 && o[2] == 0) || (o[0] == 198 && (18..20).contains(&o[1])) {
        Some("a special-purpose address")
    } else {
        None
    }
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private (unique local) address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else {
        None
    }
}

/// Resolves `host` and checks every address it has: one refused address refuses the name (a
/// name with a public and a private answer is a rebinding trick, not a webhook).
pub async fn resolve(host: &str, port: u16, allowed: &Allowed) -> Result<Vec<SocketAddr>, String> {
    let host = normal_host(host);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return match refused_ip(ip) {
            Some(why) if !allowed.contains(&host) => Err(format!("{ip} is {why}")),
            _ => Ok(vec![SocketAddr::new(ip, port)]),
        };
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    if !allowed.contains(&host)
        && let Some((addr, why)) = addrs.iter().find_map(|a| refused_ip(a.ip()).map(|why| (a, why)))
    {
        return Err(format!("{host} resolves to {}, {why}", addr.ip()));
    }
    Ok(addrs)
}

/// The resolver of the webhook client: names are checked by `resolve` when each connection is
/// made, not only when the URL was registered.
#[derive(Clone)]
pub struct CheckedResolver {
    pub allowed: Arc<Allowed>,
}

#[derive(Debug, thiserror::Error)]
#[error("webhook address refused: {0}")]
pub struct Refused(pub String);

impl tower::Service<Name> for CheckedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = Refused;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Refused>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Refused>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allowed = self.allowed.clone();
        Box::pin(async move {
            // The connector sets the port on what this returns.
            resolve(name.as_str(), 0, &allowed).await.map(Vec::into_iter).map_err(Refused)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_passes_unless_the_host_is_allowed() {
        let none = Allowed::default();
        assert!(check_url("https://hooks.example.com/a2a", &none).is_ok());
        for (url, why) in [
            ("http://hooks.example.com/", "plain http"),
            ("ftp://hooks.example.com/", "scheme `ftp`"),
            ("https://user:pw@hooks.example.com/", "credentials"),
            ("https://127.0.0.1/", "loopback"),
            ("https://[::1]:8443/", "loopback"),
            ("https://169.254.169.254/latest/meta-data/", "link-local"),
            ("https://[::ffff:169.254.169.254]/", "link-local"),
            ("https://[64:ff9b::a00:1]/", "private"),
            ("https://10.0.0.7/", "private"),
            ("https://100.100.100.200/", "private"),
            ("https://[fd00:ec2::254]/", "unique local"),
            ("https://0.0.0.0/", "unspecified"),
            ("https://localhost:9000/", "own host"),
            ("https://api.localhost/", "own host"),
            ("https://kubernetes.default.svc/", "cluster-internal"),
            ("https://web.team.svc.cluster.local./", "cluster-internal"),
            ("https://metadata.google.internal/", "metadata"),
            ("not a url", "absolute URL"),
        ] {
            let err = check_url(url, &none).expect_err(url);
            assert!(err.contains(why), "{url}: {err}");
        }
        let allowed = Allowed::new(&["127.0.0.1".into(), "Orchestrator.Team.SVC".into()]);
        assert!(check_url("http://127.0.0.1:8080/hook", &allowed).is_ok_and(|t| t.allowed));
        assert!(check_url("http://orchestrator.team.svc/hook", &allowed).is_ok());
        assert!(check_url("https://localhost/", &allowed).is_err(), "allowing an address allows no name for it");
    }

    #[tokio::test]
    async fn names_are_judged_by_every_address_they_resolve_to() {
        let none = Allowed::default();
        let err = resolve("localhost", 443, &none).await.expect_err("loopback");
        assert!(err.contains("loopback"), "{err}");
        assert!(resolve("127.0.0.1", 443, &none).await.is_err());
        let allowed = Allowed::new(&["localhost".into()]);
        assert!(resolve("localhost", 443, &allowed).await.is_ok());
        assert_eq!(resolve("8.8.8.8", 443, &none).await, Ok(vec!["8.8.8.8:443".parse().expect("addr")]));
    }
}
