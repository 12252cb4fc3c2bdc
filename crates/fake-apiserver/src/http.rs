//! HTTP: routing of Kubernetes REST paths, authentication, authorisation, fault injection,
//! request counting, and the encoding of responses (JSON, Tables, watch streams, logs).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::admission::FieldValidation;
use crate::auth::{self, Attributes, User};
use crate::faults::Verdict;
use crate::read::{self, ListQuery};
use crate::registry::ResourceType;
use crate::server::{PatchType, Propagation, Server, WriteOptions};
use crate::status::ApiError;
use crate::{convert, table};

pub type Body = BoxBody<Bytes, Infallible>;

/// The largest request body accepted (the API server's limit is 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

fn json_response(code: u16, value: &Value, warnings: &[String]) -> Response<Body> {
    let mut resp = Response::new(full(value.to_string()));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for w in warnings {
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{}\"", w.replace('"', "\\\""))) {
            resp.headers_mut().append("Warning", v);
        }
    }
    resp
}

fn error_response(e: &ApiError) -> Response<Body> {
    let mut resp = json_response(e.code, &e.to_status(), &[]);
    if let Some(secs) = e.retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert("Retry-After", v);
    }
    resp
}

fn text_response(code: u16, text: String) -> Response<Body> {
    let mut resp = Response::new(full(text));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

fn query_map(uri: &hyper::Uri) -> HashMap<String, String> {
    uri.query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

/// A request against a resource path.
struct Target {
    rt: ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

/// Serves one HTTP request.
pub async fn handle(server: Arc<Server>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let path = if path.is_empty() { "/".to_string() } else { path };
    let method = req.method().clone();
    match path.as_str() {
        "/healthz" | "/livez" | "/readyz" => return Ok(text_response(200, "ok".into())),
        "/version" => {
            return Ok(json_response(
                200,
                &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-fake", "gitCommit": "fake", "gitTreeState": "clean",
                        "buildDate": "2026-11-25T00:00:00Z", "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"}),
                &[],
            ));
        }
        _ => {}
    }
    let authorization = req.headers().get("authorization").and_then(|h| h.to_str().ok()).map(str::to_string);
    let Some(user) = server.auth.authenticate(authorization.as_deref()) else {
        return Ok(error_response(&ApiError::unauthorized()));
    };
    if let Some(admin) = path.strip_prefix("/fake/") {
        return Ok(admin_endpoint(&server, &user, &method, admin, req).await);
    }
    let latency = server.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Verdict::Fail { code, retry_after } = server.faults.verdict() {
        let reason = match code {
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            _ => "InternalError",
        };
        let mut e = ApiError::new(code, reason, format!("injected fault: {reason}"));
        e.retry_after = retry_after;
        server.stats.record("fault", &path);
        return Ok(error_response(&e));
    }
    let aggregated = req
        .headers()
        .get("accept")
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("g=apidiscovery.k8s.io") && a.contains("as=APIGroupDiscoveryList"));
    if aggregated && (path == "/api" || path == "/apis") {
        server.stats.record("get", "discovery");
        let doc = server.store().registry.aggregated(path == "/api");
        let mut resp = json_response(200, &doc, &[]);
        resp.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"),
        );
        return Ok(resp);
    }
    match discovery(&server, &path) {
        Some(Ok(doc)) => {
            server.stats.record("get", "discovery");
            return Ok(json_response(200, &doc, &[]));
        }
        Some(Err(e)) => return Ok(error_response(&e)),
        None => {}
    }
    let target = match parse_target(&server, &path) {
        Ok(t) => t,
        Err(e) => return Ok(error_response(&e)),
    };
    Ok(match resource_request(&server, &user, target, req).await {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    })
}

/// Discovery documents; None when the path is not a discovery path.
fn discovery(server: &Server, path: &str) -> Option<Result<Value, ApiError>> {
    let st = server.store();
    let not_found = || ApiError::new(404, "NotFound", "the server could not find the requested resource");
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["api"] => Some(Ok(st.registry.core_versions())),
        ["api", v] => Some(st.registry.resource_list("", v).ok_or_else(not_found)),
        ["apis"] => Some(Ok(st.registry.group_list())),
        ["apis", g] => Some(st.registry.group(g).ok_or_else(not_found)),
        ["apis", g, v] => Some(st.registry.resource_list(g, v).ok_or_else(not_found)),
        ["openapi", "v3"] => Some(Ok(st.registry.openapi_index())),
        ["openapi", "v3", "api", v] => Some(st.registry.openapi_group_version("", v).ok_or_else(not_found)),
        ["openapi", "v3", "apis", g, v] => Some(st.registry.openapi_group_version(g, v).ok_or_else(not_found)),
        ["openapi", ..] | [] => Some(Err(not_found())),
        _ => None,
    }
}

fn parse_target(server: &Server, path: &str) -> Result<Target, ApiError> {
    let not_found = || ApiError::new(404, "NotFound", "the server could not find the requested resource");
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(not_found()),
    };
    let st = server.store();
    let find = |plural: &str| st.registry.find(group, version, plural).cloned();
    let (rt, namespace, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..] if find(plural).is_some_and(|t| t.namespaced) => {
            (find(plural).ok_or_else(not_found)?, Some(ns.to_string()), tail)
        }
        [plural, tail @ ..] => (find(plural).ok_or_else(not_found)?, None, tail),
        [] => return Err(not_found()),
    };
    let (name, subresource) = match rest {
        [] => (None, None),
        [name] => (Some(name.to_string()), None),
        [name, sub] => (Some(name.to_string()), Some(sub.to_string())),
        _ => return Err(not_found()),
    };
    if let Some(sub) = &subresource {
        let known = (sub == "status" && rt.status)
            || (sub == "scale" && rt.scale.is_some())
            || rt.extra_subresources.contains(&sub.as_str());
        if !known {
            return Err(not_found());
        }
    }
    if rt.namespaced && namespace.is_none() && name.is_some() {
        return Err(not_found());
    }
    Ok(Target { rt, namespace, name, subresource })
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    let collected = http_body_util::Limited::new(req.into_body(), MAX_BODY).collect().await.map_err(|e| {
        ApiError::new(413, "RequestEntityTooLarge", format!("the request body is too large or unreadable: {e}"))
    })?;
    Ok(collected.to_bytes())
}

fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.starts_with(crate::protobuf::MAGIC) {
        return crate::protobuf::decode(bytes).ok_or_else(|| {
            ApiError::unsupported_media(
                "this server decodes protobuf only for Namespace, ConfigMap, Secret, ServiceAccount, the access and token reviews and TokenRequest; send application/json",
            )
        });
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("the body of the request could not be decoded: {e}")))
}

fn parse_yaml(bytes: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))?;
    serde_saphyr::from_str::<Value>(text).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

fn write_options(q: &HashMap<String, String>, user_agent: &str) -> Result<WriteOptions, ApiError> {
    let manager = q
        .get("fieldManager")
        .cloned()
        .unwrap_or_else(|| user_agent.split('/').next().unwrap_or("unknown").chars().take(128).collect::<String>());
    Ok(WriteOptions {
        manager: if manager.is_empty() { "unknown".into() } else { manager },
        field_validation: FieldValidation::parse(q.get("fieldValidation").map(String::as_str))?,
        dry_run: q.get("dryRun").is_some_and(|d| d == "All"),
        force: q.get("force").is_some_and(|f| f == "true"),
    })
}

fn list_query(q: &HashMap<String, String>) -> ListQuery {
    let flag = |k: &str| q.get(k).is_some_and(|v| v == "true" || v == "1");
    ListQuery {
        label_selector: q.get("labelSelector").cloned(),
        field_selector: q.get("fieldSelector").cloned(),
        limit: q.get("limit").and_then(|l| l.parse().ok()),
        continue_token: q.get("continue").cloned(),
        resource_version: q.get("resourceVersion").cloned(),
        resource_version_match: q.get("resourceVersionMatch").cloned(),
        timeout_seconds: q.get("timeoutSeconds").and_then(|t| t.parse().ok()),
        allow_bookmarks: flag("allowWatchBookmarks"),
        send_initial_events: flag("sendInitialEvents"),
    }
}

fn wants_table(req: &Request<Incoming>) -> bool {
    req.headers().get("accept").and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("as=Table"))
}

async fn resource_request(
    server: &Arc<Server>,
    user: &User,
    t: Target,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let q = query_map(req.uri());
    let method = req.method().clone();
    let watch = q.get("watch").is_some_and(|w| w == "true" || w == "1");
    let verb = match (&method, t.name.is_some()) {
        (&Method::GET, true) => "get",
        (&Method::GET, false) if watch => "watch",
        (&Method::GET, false) => "list",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => return Err(ApiError::method_not_allowed(format!("method {method} is not supported"))),
    };
    if t.rt.create_only && verb != "create" {
        return Err(ApiError::method_not_allowed(format!("{} only supports create", t.rt.group_resource())));
    }
    let attrs = Attributes {
        verb: verb.into(),
        group: t.rt.group.clone(),
        resource: t.rt.plural.clone(),
        subresource: t.subresource.clone(),
        namespace: t.namespace.clone(),
        name: t.name.clone(),
    };
    {
        let st = server.store();
        server.auth.authorize(&st, user, &attrs).map_err(ApiError::forbidden)?;
    }
    let counted = match &t.subresource {
        Some(s) => format!("{}/{}", t.rt.group_resource(), s),
        None => t.rt.group_resource(),
    };
    server.stats.record(verb, &counted);

    let ns = t.namespace.clone().unwrap_or_default();
    let user_agent = req.headers().get("user-agent").and_then(|u| u.to_str().ok()).unwrap_or("unknown").to_string();
    let table = wants_table(&req);
    let include_object = q.get("includeObject").cloned();
    match verb {
        "get" => {
            let name = t.name.clone().unwrap_or_default();
            match t.subresource.as_deref() {
                Some("log") => pod_log(server, &t.rt, &ns, &name, &q),
                Some("scale") => Ok(json_response(200, &scale_of(&t.rt, &server.get(&t.rt, &ns, &name)?), &[])),
                _ => {
                    let object = server.get(&t.rt, &ns, &name)?;
                    if table {
                        Ok(json_response(200, &table::table(&t.rt, &[object], include_object.as_deref(), None), &[]))
                    } else {
                        Ok(json_response(200, &object, &[]))
                    }
                }
            }
        }
        "list" => {
            let list = read::list(server, &t.rt, t.namespace.as_deref(), &list_query(&q))?;
            if table {
                let items = list["items"].as_array().cloned().unwrap_or_default();
                let items: Vec<Value> = items.into_iter().map(|i| convert::from_storage(&t.rt, &i)).collect();
                Ok(json_response(
                    200,
                    &table::table(&t.rt, &items, include_object.as_deref(), Some(&list["metadata"])),
                    &[],
                ))
            } else {
                Ok(json_response(200, &list, &[]))
            }
        }
        "watch" => {
            let rx = read::watch(server, &t.rt, t.namespace.as_deref(), &list_query(&q))?;
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|line| (Ok::<_, Infallible>(Frame::data(line)), rx))
            });
            let mut resp = Response::new(BodyExt::boxed(StreamBody::new(stream)));
            resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Ok(resp)
        }
        "create" => {
            let body = read_body(req).await?;
            let object = parse_json(&body)?;
            match (t.rt.group.as_str(), t.rt.plural.as_str(), t.subresource.as_deref()) {
                ("authentication.k8s.io", "tokenreviews", _) => {
                    Ok(json_response(201, &auth::token_review(&server.auth, &object), &[]))
                }
                ("authorization.k8s.io", "subjectaccessreviews", _) => {
                    let st = server.store();
                    Ok(json_response(201, &auth::access_review(&server.auth, &st, &object, user, false), &[]))
                }
                ("authorization.k8s.io", "selfsubjectaccessreviews", _) => {
                    let st = server.store();
                    Ok(json_response(201, &auth::access_review(&server.auth, &st, &object, user, true), &[]))
                }
                ("", "serviceaccounts", Some("token")) => {
                    let name = t.name.clone().unwrap_or_default();
                    server.get(&t.rt, &ns, &name)?;
                    let token = server.auth.issue_token(User::service_account(&ns, &name));
                    let mut out = object;
                    out["status"] = json!({"token": token, "expirationTimestamp": "2099-01-01T00:00:00Z"});
                    Ok(json_response(201, &out, &[]))
                }
                (_, _, Some(_)) => Err(ApiError::method_not_allowed("POST is not supported on this subresource")),
                _ => {
                    let opts = write_options(&q, &user_agent)?;
                    let w = server.create(&t.rt, &ns, object, &opts)?;
                    Ok(json_response(201, &w.object, &w.warnings))
                }
            }
        }
        "update" => {
            let name = t.name.clone().unwrap_or_default();
            let body = parse_json(&read_body(req).await?)?;
            let opts = write_options(&q, &user_agent)?;
            if t.subresource.as_deref() == Some("scale") {
                let replicas = body.pointer("/spec/replicas").cloned().unwrap_or(Value::Null);
                return update_scale(server, &t.rt, &ns, &name, replicas, &opts);
            }
            let w = server.update(&t.rt, &ns, &name, t.subresource.as_deref(), body, &opts)?;
            Ok(json_response(200, &w.object, &w.warnings))
        }
        "patch" => {
            let name = t.name.clone().unwrap_or_default();
            let content_type =
                req.headers().get(CONTENT_TYPE).and_then(|c| c.to_str().ok()).unwrap_or_default().to_string();
            let patch_type = match content_type.split(';').next().unwrap_or_default().trim() {
                "application/json-patch+json" => PatchType::Json,
                "application/merge-patch+json" => PatchType::Merge,
                "application/strategic-merge-patch+json" => PatchType::Strategic,
                "application/apply-patch+yaml" => PatchType::Apply,
                other => {
                    return Err(ApiError::unsupported_media(format!(
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {other:?})"
                    )));
                }
            };
            let bytes = read_body(req).await?;
            let body = if patch_type == PatchType::Apply { parse_yaml(&bytes)? } else { parse_json(&bytes)? };
            let opts = write_options(&q, &user_agent)?;
            if t.subresource.as_deref() == Some("scale") {
                let current = scale_of(&t.rt, &server.get(&t.rt, &ns, &name)?);
                let patched = match patch_type {
                    PatchType::Json => crate::patch::json_patch(&current, &body).map_err(ApiError::bad_request)?,
                    _ => crate::patch::merge_patch(&current, &body),
                };
                let replicas = patched.pointer("/spec/replicas").cloned().unwrap_or(Value::Null);
                return update_scale(server, &t.rt, &ns, &name, replicas, &opts);
            }
            let w = server.patch(&t.rt, &ns, &name, t.subresource.as_deref(), patch_type, body, &opts)?;
            Ok(json_response(if w.created { 201 } else { 200 }, &w.object, &w.warnings))
        }
        "delete" => {
            let name = t.name.clone().unwrap_or_default();
            let body = read_body(req).await?;
            let options: Value = if body.is_empty() { json!({}) } else { parse_json(&body)? };
            let (propagation, preconditions, dry_run) = delete_options(&q, &options)?;
            let out = server.delete(&t.rt, &ns, &name, propagation, preconditions, dry_run)?;
            Ok(json_response(200, &out, &[]))
        }
        "deletecollection" => {
            let list = read::list(server, &t.rt, t.namespace.as_deref(), &list_query(&q))?;
            let body = read_body(req).await?;
            let options: Value = if body.is_empty() { json!({}) } else { parse_json(&body)? };
            let (propagation, _, dry_run) = delete_options(&q, &options)?;
            let mut deleted = Vec::new();
            for item in list["items"].as_array().into_iter().flatten() {
                let name = item.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                let item_ns = item.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
                if let Ok(d) = server.delete(&t.rt, item_ns, name, propagation, (None, None), dry_run) {
                    deleted.push(d);
                }
            }
            let mut out = list;
            out["items"] = json!(deleted);
            Ok(json_response(200, &out, &[]))
        }
        _ => Err(ApiError::method_not_allowed(format!("verb {verb} is not supported"))),
    }
}

type Preconditions = (Option<String>, Option<String>);

fn delete_options(
    q: &HashMap<String, String>,
    options: &Value,
) -> Result<(Propagation, Preconditions, bool), ApiError> {
    let policy = q
        .get("propagationPolicy")
        .map(String::as_str)
        .or_else(|| options.get("propagationPolicy").and_then(Value::as_str));
    let propagation = match policy {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy {other:?} is not one of Orphan, Foreground, Background"
            )));
        }
    };
    let orphan = options.get("orphanDependents").and_then(Value::as_bool) == Some(true);
    let propagation = if orphan { Propagation::Orphan } else { propagation };
    let pre = |k: &str| options.pointer(&format!("/preconditions/{k}")).and_then(Value::as_str).map(str::to_string);
    let dry_run = q.get("dryRun").is_some_and(|d| d == "All")
        || options.get("dryRun").and_then(Value::as_array).is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok((propagation, (pre("uid"), pre("resourceVersion")), dry_run))
}

fn path_get<'a>(object: &'a Value, json_path: &str) -> Option<&'a Value> {
    json_path.trim_start_matches('.').split('.').try_fold(object, |v, k| v.get(k))
}

/// `matchLabels` as the `k=v,k=v` string a Scale reports.
fn selector_string(match_labels: Option<&Value>) -> Value {
    let labels = match_labels.and_then(Value::as_object).cloned().unwrap_or_default();
    json!(labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(","))
}

fn scale_of(rt: &ResourceType, object: &Value) -> Value {
    let Some(scale) = &rt.scale else { return Value::Null };
    // Scale wants the string form of a selector; built-in kinds keep a LabelSelector object in
    // spec.selector (their scale has no status.selector).
    let selector = match scale.label_selector_path.as_deref().and_then(|p| path_get(object, p)) {
        Some(Value::Object(sel)) => Some(selector_string(sel.get("matchLabels"))),
        Some(other) => Some(other.clone()),
        None => (!rt.custom).then(|| selector_string(object.pointer("/spec/selector/matchLabels"))),
    };
    let meta = &object["metadata"];
    let mut status = json!({"replicas": path_get(object, &scale.status_replicas_path).cloned().unwrap_or(json!(0))});
    if let Some(s) = selector {
        status["selector"] = s;
    }
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                     "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
        "spec": {"replicas": path_get(object, &scale.spec_replicas_path).cloned().unwrap_or(json!(0))},
        "status": status,
    })
}

fn update_scale(
    server: &Server,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    replicas: Value,
    opts: &WriteOptions,
) -> Result<Response<Body>, ApiError> {
    let Some(scale) = &rt.scale else { return Err(ApiError::not_found(rt, name)) };
    if !replicas.is_i64() || replicas.as_i64().is_some_and(|r| r < 0) {
        return Err(ApiError::invalid(
            rt,
            name,
            vec![(
                "FieldValueInvalid".into(),
                "spec.replicas".into(),
                format!("Invalid value: {replicas}: must be greater than or equal to 0"),
            )],
        ));
    }
    let mut patch = json!({});
    let parts: Vec<&str> = scale.spec_replicas_path.trim_start_matches('.').split('.').collect();
    let mut node = &mut patch;
    for (i, part) in parts.iter().enumerate() {
        node[*part] = if i + 1 == parts.len() { replicas.clone() } else { json!({}) };
        node = &mut node[*part];
    }
    let w = server.patch(rt, ns, name, None, PatchType::Merge, patch, opts)?;
    Ok(json_response(200, &scale_of(rt, &w.object), &w.warnings))
}

fn pod_log(
    server: &Server,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    q: &HashMap<String, String>,
) -> Result<Response<Body>, ApiError> {
    let pod = server.get(rt, ns, name)?;
    let containers: Vec<String> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(|c| c.get("name").and_then(Value::as_str)).map(str::to_string).collect())
        .unwrap_or_default();
    let container = match q.get("container") {
        Some(c) if containers.contains(c) => c.clone(),
        Some(c) => return Err(ApiError::bad_request(format!("container {c} is not valid for pod {name}"))),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
    };
    let text = server.store().logs.get(&(ns.to_string(), name.to_string(), container)).cloned().unwrap_or_default();
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(tail) = q.get("tailLines").and_then(|t| t.parse::<usize>().ok()) {
        let skip = lines.len().saturating_sub(tail);
        lines = lines.split_off(skip);
    }
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    if let Some(limit) = q.get("limitBytes").and_then(|l| l.parse::<usize>().ok())
        && out.len() > limit
    {
        let mut cut = limit;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    Ok(text_response(200, out))
}

/// `/fake/...`: the test harness's control endpoints (admin only).
async fn admin_endpoint(
    server: &Server,
    user: &User,
    method: &Method,
    path: &str,
    req: Request<Incoming>,
) -> Response<Body> {
    if !user.is_admin() {
        return error_response(&ApiError::forbidden("the /fake endpoints are for the cluster admin"));
    }
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    match (method, path.split('/').collect::<Vec<_>>().as_slice()) {
        (&Method::GET, ["stats"]) => {
            json_response(200, &serde_json::to_value(server.stats.snapshot()).unwrap_or_default(), &[])
        }
        (&Method::DELETE, ["stats"]) => {
            server.stats.reset();
            json_response(200, &json!({}), &[])
        }
        (&Method::GET, ["faults"]) => {
            json_response(200, &serde_json::to_value(server.faults.get()).unwrap_or_default(), &[])
        }
        (&Method::PUT, ["faults"]) => match serde_json::from_slice(&body) {
            Ok(f) => {
                server.set_faults(f);
                json_response(200, &serde_json::to_value(server.faults.get()).unwrap_or_default(), &[])
            }
            Err(e) => error_response(&ApiError::bad_request(format!("invalid fault config: {e}"))),
        },
        (&Method::PUT, ["logs", ns, pod, container]) => {
            server.set_pod_log(ns, pod, container, &String::from_utf8_lossy(&body));
            json_response(200, &json!({}), &[])
        }
        (&Method::PUT, ["rbac"]) => {
            let on = String::from_utf8_lossy(&body).trim() == "true";
            server.auth.set_rbac(on);
            json_response(200, &json!({"rbac": on}), &[])
        }
        _ => error_response(&ApiError::new(404, "NotFound", "unknown /fake endpoint")),
    }
}
