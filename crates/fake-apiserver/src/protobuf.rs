//! Just enough of the Kubernetes protobuf encoding to accept what kubectl's typed clients send
//! for the simple kinds (`kubectl create namespace|configmap|secret|serviceaccount`) and the
//! reviews and requests client-go posts in protobuf (SelfSubjectAccessReview, SubjectAccessReview,
//! TokenReview, and `kubectl create token`'s TokenRequest). Everything
//! else is answered in JSON, which those clients also accept.

use base64::Engine;
use serde_json::{Map, Value, json};

/// Bodies in Kubernetes protobuf start with this magic.
pub const MAGIC: &[u8] = b"k8s\x00";

struct Reader<'a> {
    buf: &'a [u8],
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.buf.split_first()?;
            self.buf = rest;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn next(&mut self) -> Option<Option<(u64, Field<'a>)>> {
        if self.buf.is_empty() {
            return Some(None);
        }
        let key = self.varint()?;
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                if len > self.buf.len() {
                    return None;
                }
                let (bytes, rest) = self.buf.split_at(len);
                self.buf = rest;
                Field::Bytes(bytes)
            }
            1 => {
                self.buf = self.buf.get(8..)?;
                Field::Varint(0)
            }
            5 => {
                self.buf = self.buf.get(4..)?;
                Field::Varint(0)
            }
            _ => return None,
        };
        Some(Some((key >> 3, field)))
    }
}

fn fields(buf: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut r = Reader { buf };
    let mut out = Vec::new();
    while let Some(f) = r.next()? {
        out.push(f);
    }
    Some(out)
}

fn text(b: &[u8]) -> Option<String> {
    String::from_utf8(b.to_vec()).ok()
}

/// A map entry (key = 1, value = 2).
fn entry(b: &[u8], binary: bool) -> Option<(String, Value)> {
    let (mut k, mut v) = (String::new(), Value::String(String::new()));
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => k = text(x)?,
            (2, Field::Bytes(x)) if binary => v = json!(base64::engine::general_purpose::STANDARD.encode(x)),
            (2, Field::Bytes(x)) => v = json!(text(x)?),
            _ => {}
        }
    }
    Some((k, v))
}

fn object_meta(b: &[u8]) -> Option<Value> {
    let mut m = Map::new();
    let mut labels = Map::new();
    let mut annotations = Map::new();
    let mut finalizers = Vec::new();
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => _ = m.insert("name".into(), json!(text(x)?)),
            (2, Field::Bytes(x)) => _ = m.insert("generateName".into(), json!(text(x)?)),
            (3, Field::Bytes(x)) => _ = m.insert("namespace".into(), json!(text(x)?)),
            (6, Field::Bytes(x)) => _ = m.insert("resourceVersion".into(), json!(text(x)?)),
            (11, Field::Bytes(x)) => {
                let (k, v) = entry(x, false)?;
                labels.insert(k, v);
            }
            (12, Field::Bytes(x)) => {
                let (k, v) = entry(x, false)?;
                annotations.insert(k, v);
            }
            (14, Field::Bytes(x)) => finalizers.push(json!(text(x)?)),
            _ => {}
        }
    }
    if !labels.is_empty() {
        m.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        m.insert("annotations".into(), Value::Object(annotations));
    }
    if !finalizers.is_empty() {
        m.insert("finalizers".into(), Value::Array(finalizers));
    }
    Some(Value::Object(m))
}

/// `ResourceAttributes` / `NonResourceAttributes`: string fields by number.
fn attributes(b: &[u8], names: &[(u64, &str)]) -> Option<Value> {
    let mut out = Map::new();
    for (n, f) in fields(b)? {
        if let (Some((_, name)), Field::Bytes(x)) = (names.iter().find(|(k, _)| *k == n), f) {
            out.insert((*name).to_string(), json!(text(x)?));
        }
    }
    Some(Value::Object(out))
}

/// The spec of a (Self)SubjectAccessReview, as `kubectl auth can-i` and client-go send it.
fn review_spec(b: &[u8]) -> Option<Value> {
    const RESOURCE: &[(u64, &str)] = &[
        (1, "namespace"),
        (2, "verb"),
        (3, "group"),
        (4, "version"),
        (5, "resource"),
        (6, "subresource"),
        (7, "name"),
    ];
    const NON_RESOURCE: &[(u64, &str)] = &[(1, "path"), (2, "verb")];
    let mut spec = Map::new();
    let mut groups = Vec::new();
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => {
                spec.insert("resourceAttributes".into(), attributes(x, RESOURCE)?);
            }
            (2, Field::Bytes(x)) => {
                spec.insert("nonResourceAttributes".into(), attributes(x, NON_RESOURCE)?);
            }
            (3, Field::Bytes(x)) => {
                spec.insert("user".into(), json!(text(x)?));
            }
            (4, Field::Bytes(x)) => groups.push(json!(text(x)?)),
            (6, Field::Bytes(x)) => {
                spec.insert("uid".into(), json!(text(x)?));
            }
            _ => {}
        }
    }
    if !groups.is_empty() {
        spec.insert("groups".into(), Value::Array(groups));
    }
    Some(Value::Object(spec))
}

fn token_review_spec(b: &[u8]) -> Option<Value> {
    let mut spec = Map::new();
    let mut audiences = Vec::new();
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => {
                spec.insert("token".into(), json!(text(x)?));
            }
            (2, Field::Bytes(x)) => audiences.push(json!(text(x)?)),
            _ => {}
        }
    }
    if !audiences.is_empty() {
        spec.insert("audiences".into(), Value::Array(audiences));
    }
    Some(Value::Object(spec))
}

/// `kubectl create token`'s TokenRequestSpec: audiences (1) and expirationSeconds (4).
fn token_request_spec(b: &[u8]) -> Option<Value> {
    let mut spec = Map::new();
    let mut audiences = Vec::new();
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => audiences.push(json!(text(x)?)),
            (4, Field::Varint(v)) => _ = spec.insert("expirationSeconds".into(), json!(v)),
            _ => {}
        }
    }
    spec.insert("audiences".into(), Value::Array(audiences));
    Some(Value::Object(spec))
}

/// Decodes a protobuf request body into the JSON object it stands for; None when the kind (or
/// the body) is not one this server understands.
pub fn decode(body: &[u8]) -> Option<Value> {
    let envelope = body.strip_prefix(MAGIC)?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, f) in fields(envelope)? {
        match (n, f) {
            (1, Field::Bytes(tm)) => {
                for (n, f) in fields(tm)? {
                    match (n, f) {
                        (1, Field::Bytes(x)) => api_version = text(x)?,
                        (2, Field::Bytes(x)) => kind = text(x)?,
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(x)) => raw = x,
            _ => {}
        }
    }
    let mut object = json!({"apiVersion": api_version, "kind": kind});
    let mut data = Map::new();
    let mut string_data = Map::new();
    for (n, f) in fields(raw)? {
        match (kind.as_str(), n, f) {
            (_, 1, Field::Bytes(x)) => object["metadata"] = object_meta(x)?,
            ("Namespace", 2, Field::Bytes(x)) => {
                let finalizers: Option<Vec<Value>> = fields(x)?
                    .into_iter()
                    .filter_map(|(n, f)| match (n, f) {
                        (1, Field::Bytes(s)) => Some(text(s).map(Value::String)),
                        _ => None,
                    })
                    .collect();
                object["spec"] = json!({"finalizers": finalizers?});
            }
            ("ConfigMap", 2, Field::Bytes(x)) => {
                let (k, v) = entry(x, false)?;
                data.insert(k, v);
            }
            ("Secret", 2, Field::Bytes(x)) => {
                let (k, v) = entry(x, true)?;
                data.insert(k, v);
            }
            ("Secret", 3, Field::Bytes(x)) => object["type"] = json!(text(x)?),
            ("Secret", 4, Field::Bytes(x)) => {
                let (k, v) = entry(x, false)?;
                string_data.insert(k, v);
            }
            ("ConfigMap" | "Secret", 4 | 5, Field::Varint(v)) => object["immutable"] = json!(v != 0),
            ("ServiceAccount", 4, Field::Varint(v)) => object["automountServiceAccountToken"] = json!(v != 0),
            ("SelfSubjectAccessReview" | "SubjectAccessReview", 2, Field::Bytes(x)) => object["spec"] = review_spec(x)?,
            ("TokenReview", 2, Field::Bytes(x)) => object["spec"] = token_review_spec(x)?,
            ("TokenRequest", 2, Field::Bytes(x)) => object["spec"] = token_request_spec(x)?,
            ("Namespace" | "ConfigMap" | "Secret" | "ServiceAccount", _, _) => {}
            ("SelfSubjectAccessReview" | "SubjectAccessReview" | "TokenReview" | "TokenRequest", _, _) => {}
            _ => return None,
        }
    }
    if !data.is_empty() {
        object["data"] = Value::Object(data);
    }
    if !string_data.is_empty() {
        object["stringData"] = Value::Object(string_data);
    }
    Some(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![((n << 3) | 2) as u8, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn decodes_a_token_request_as_kubectl_create_token_sends_it() {
        let type_meta = [field(1, b"authentication.k8s.io/v1"), field(2, b"TokenRequest")].concat();
        let spec = [field(1, b"https://kubernetes.default.svc"), vec![4 << 3, 0xd8, 0x04]].concat();
        let raw = [field(1, &field(1, b"e2e-viewer")), field(2, &spec)].concat();
        let body = [MAGIC, &field(1, &type_meta), &field(2, &raw)].concat();
        assert_eq!(
            decode(&body),
            Some(
                json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {"name": "e2e-viewer"},
                "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 600}})
            )
        );
    }

    #[test]
    fn decodes_an_access_review_as_client_go_sends_it() {
        let type_meta = [field(1, b"authorization.k8s.io/v1"), field(2, b"SelfSubjectAccessReview")].concat();
        let attrs = [field(2, b"list"), field(3, b"kustomize.toolkit.fluxcd.io"), field(5, b"kustomizations")].concat();
        let raw = field(2, &field(1, &attrs));
        let body = [MAGIC, &field(1, &type_meta), &field(2, &raw)].concat();
        assert_eq!(
            decode(&body),
            Some(json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"verb": "list", "group": "kustomize.toolkit.fluxcd.io", "resource": "kustomizations"}}}))
        );
    }

    #[test]
    fn decodes_a_namespace_as_kubectl_sends_it() {
        let meta = [field(1, b"gitops-agent"), field(11, &[field(1, b"team"), field(2, b"a")].concat())].concat();
        let raw = field(1, &meta);
        let type_meta = [field(1, b"v1"), field(2, b"Namespace")].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &raw)].concat();
        assert_eq!(
            decode(&body),
            Some(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gitops-agent", "labels": {"team": "a"}}})
            )
        );
        assert_eq!(decode(b"not protobuf"), None);
    }
}
