//! What a request to the Kubernetes API does, read from its method and path as the API server's
//! request info reads it: verb, group, resource, subresource, namespace and name. Metrics label
//! API calls with it; caller checks turn it into a SubjectAccessReview.

use http::Method;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest<'a> {
    pub verb: &'static str,
    pub group: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

/// The request's attributes; `None` for discovery and other non-resource paths.
pub fn parse<'a>(method: &Method, uri: &'a http::Uri) -> Option<ApiRequest<'a>> {
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, more @ ..] if !more.is_empty() => (*ns, more),
        _ => ("", rest),
    };
    let (resource, name, subresource) = match rest {
        [] => return None,
        [r] => (*r, "", ""),
        [r, n] => (*r, *n, ""),
        [r, n, s, ..] => (*r, *n, *s),
    };
    let watch = uri
        .query()
        .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "watch" && (v == "true" || v == "1")));
    let verb = match (method, name.is_empty()) {
        (&Method::GET, _) if watch => "watch",
        (&Method::GET, false) => "get",
        (&Method::GET, true) => "list",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, false) => "delete",
        (&Method::DELETE, true) => "deletecollection",
        _ => "other",
    };
    Some(ApiRequest { verb, group, resource, subresource, namespace, name })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(method: Method, uri: &str) -> Option<(&'static str, String, String, String, String, String)> {
        let uri: http::Uri = uri.parse().expect("uri");
        parse(&method, &uri).map(|r| {
            (r.verb, r.group.into(), r.resource.into(), r.subresource.into(), r.namespace.into(), r.name.into())
        })
    }

    fn t(
        v: &'static str,
        g: &str,
        r: &str,
        s: &str,
        ns: &str,
        n: &str,
    ) -> Option<(&'static str, String, String, String, String, String)> {
        Some((v, g.into(), r.into(), s.into(), ns.into(), n.into()))
    }

    #[test]
    fn requests_read_as_the_api_server_reads_them() {
        assert_eq!(
            p(Method::GET, "/api/v1/namespaces/team-a/pods/web-1/log?tailLines=10"),
            t("get", "", "pods", "log", "team-a", "web-1")
        );
        assert_eq!(
            p(Method::GET, "/api/v1/namespaces/team-a/events?limit=500"),
            t("list", "", "events", "", "team-a", "")
        );
        assert_eq!(p(Method::GET, "/api/v1/pods?watch=true"), t("watch", "", "pods", "", "", ""));
        assert_eq!(p(Method::GET, "/api/v1/namespaces/team-a"), t("get", "", "namespaces", "", "", "team-a"));
        assert_eq!(
            p(Method::PATCH, "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/team-a/kustomizations/apps"),
            t("patch", "kustomize.toolkit.fluxcd.io", "kustomizations", "", "team-a", "apps")
        );
        assert_eq!(p(Method::GET, "/apis/apps/v1/deployments"), t("list", "apps", "deployments", "", "", ""));
        assert_eq!(
            p(Method::DELETE, "/apis/apps/v1/namespaces/x/deployments"),
            t("deletecollection", "apps", "deployments", "", "x", "")
        );
        assert_eq!(
            p(Method::POST, "/apis/authorization.k8s.io/v1/subjectaccessreviews"),
            t("create", "authorization.k8s.io", "subjectaccessreviews", "", "", "")
        );
    }

    #[test]
    fn discovery_is_not_a_resource_request() {
        for uri in ["/api", "/apis", "/api/v1", "/apis/apps/v1", "/version", "/openapi/v3"] {
            assert_eq!(p(Method::GET, uri), None, "{uri}");
        }
    }
}
