//! Public exposure: the Gateway API HTTPRoute, its cert-manager Certificate, and optionally the
//! ClusterIssuer that signs it.

use gitops_agent_api::spec::{IssuerKind, ParentRef};

use super::meta::Context;
use crate::external::{
    AcmeGatewayRoute, AcmeHttp01, AcmeIssuer, AcmeSolver, CertIssuerRef, CertPrivateKey, Certificate, CertificateSpec,
    ClusterIssuer, ClusterIssuerSpec, GatewayParentRef, HTTPRoute, HttpBackendRef, HttpPathMatch, HttpRouteMatch,
    HttpRouteRule, HttpRouteSpec, SecretKeyRef, SelfSignedIssuer,
};

fn gateway_ref(p: &ParentRef) -> GatewayParentRef {
    GatewayParentRef {
        group: "gateway.networking.k8s.io".into(),
        kind: "Gateway".into(),
        name: p.name.clone(),
        namespace: p.namespace.clone(),
        section_name: p.section_name.clone(),
        port: p.port,
    }
}

pub fn http_route(ctx: &Context) -> Option<HTTPRoute> {
    let route = &ctx.spec.http_route;
    if !route.enabled {
        return None;
    }
    let mut metadata = ctx.meta(ctx.name.clone());
    if !route.annotations.is_empty() {
        metadata.annotations = Some(route.annotations.clone());
    }
    Some(HTTPRoute {
        metadata,
        spec: HttpRouteSpec {
            parent_refs: route.parent_refs.iter().map(gateway_ref).collect(),
            hostnames: route.hostnames.clone(),
            rules: vec![HttpRouteRule {
                matches: vec![HttpRouteMatch { path: HttpPathMatch { type_: "PathPrefix".into(), value: "/".into() } }],
                backend_refs: vec![HttpBackendRef { name: ctx.name.clone(), port: ctx.spec.service.port }],
            }],
        },
    })
}

/// The Secret the Gateway serves the agent's certificate from.
pub fn tls_secret_name(ctx: &Context) -> String {
    ctx.spec.tls.secret_name.clone().unwrap_or_else(|| format!("{}-tls", ctx.name))
}

pub fn certificate(ctx: &Context) -> Option<Certificate> {
    let tls = &ctx.spec.tls;
    let issuer = tls.issuer_ref.as_ref().filter(|_| tls.enabled && ctx.spec.http_route.enabled)?;
    Some(Certificate {
        metadata: ctx.meta(format!("{}-tls", ctx.name)),
        spec: CertificateSpec {
            secret_name: tls_secret_name(ctx),
            dns_names: ctx.spec.http_route.hostnames.clone(),
            issuer_ref: CertIssuerRef {
                name: issuer.name.clone(),
                kind: issuer.kind.as_str().into(),
                group: "cert-manager.io".into(),
            },
            private_key: CertPrivateKey { algorithm: "ECDSA".into(), size: 256, rotation_policy: "Always".into() },
        },
    })
}

pub fn cluster_issuer(ctx: &Context) -> Option<ClusterIssuer> {
    let tls = &ctx.spec.tls;
    let create = &tls.create_cluster_issuer;
    let issuer = tls.issuer_ref.as_ref().filter(|i| create.enabled && i.kind == IssuerKind::ClusterIssuer)?;
    let spec = if create.self_signed {
        ClusterIssuerSpec { self_signed: Some(SelfSignedIssuer {}), acme: None }
    } else {
        ClusterIssuerSpec {
            self_signed: None,
            acme: Some(AcmeIssuer {
                server: create.acme_server.clone(),
                email: create.acme_email.clone().unwrap_or_default(),
                private_key_secret_ref: SecretKeyRef { name: format!("{}-account-key", issuer.name) },
                solvers: vec![AcmeSolver {
                    http01: AcmeHttp01 {
                        gateway_http_route: AcmeGatewayRoute {
                            parent_refs: ctx.spec.http_route.parent_refs.iter().map(gateway_ref).collect(),
                        },
                    },
                }],
            }),
        }
    };
    Some(ClusterIssuer { metadata: ctx.unowned_meta(issuer.name.clone(), None), spec })
}
