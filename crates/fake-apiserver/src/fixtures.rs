//! Loading a fixture directory (CRDs, objects with their status, pod logs) and generating
//! Flux objects at scale for benchmarks.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::server::{Server, WriteOptions};
use crate::status::ApiError;

/// Why fixtures could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: not valid YAML: {source}")]
    Parse { path: String, source: Box<serde_saphyr::Error> },
    #[error("{path}: {kind} {name}: {message}")]
    Object { path: String, kind: String, name: String, message: String },
}

/// What a load put into the server.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Loaded {
    pub crds: usize,
    pub objects: usize,
    pub logs: usize,
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, FixtureError> {
    let read = |source| FixtureError::Read { path: dir.display().to_string(), source };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

fn documents(path: &Path) -> Result<Vec<Value>, FixtureError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| FixtureError::Read { path: path.display().to_string(), source })?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .map_err(|source| FixtureError::Parse { path: path.display().to_string(), source: Box::new(source) })?;
    Ok(docs.into_iter().filter(|d| d.is_object()).collect())
}

/// Creates (or replaces) `object` as the fixture loader, then writes its status through the
/// status subresource when the kind has one, as the object's controller would have.
pub fn put_object(server: &Server, object: &Value) -> Result<(), ApiError> {
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let rt = server.with_store(|st| st.registry.find_kind(group, version, kind).cloned()).ok_or_else(|| {
        ApiError::new(404, "NotFound", format!("no resource serves {api_version} {kind} (is its CRD loaded?)"))
    })?;
    let ns = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(if rt.namespaced {
        "default"
    } else {
        ""
    });
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let opts = WriteOptions { manager: "fixtures".into(), ..Default::default() };
    if server.get(&rt, ns, name).is_ok() {
        server.delete(&rt, ns, name, crate::server::Propagation::Orphan, (None, None), false)?;
    }
    server.create(&rt, ns, object.clone(), &opts)?;
    if rt.status
        && let Some(status) = object.get("status")
    {
        server.write_status(&rt, ns, name, status.clone(), "fixtures")?;
    }
    Ok(())
}

/// Loads `dir/crds/*.yaml`, then `dir/objects/*.yaml` in file order, then
/// `dir/logs/<namespace>/<pod>/<container>.log`.
pub fn load_dir(server: &Server, dir: &Path) -> Result<Loaded, FixtureError> {
    let mut loaded = Loaded::default();
    for (sub, is_crd) in [("crds", true), ("objects", false)] {
        let d = dir.join(sub);
        if !d.is_dir() {
            continue;
        }
        for file in yaml_files(&d)? {
            for doc in documents(&file)? {
                put_object(server, &doc).map_err(|e| FixtureError::Object {
                    path: file.display().to_string(),
                    kind: doc.get("kind").and_then(Value::as_str).unwrap_or_default().into(),
                    name: doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().into(),
                    message: e.message,
                })?;
                if is_crd { loaded.crds += 1 } else { loaded.objects += 1 }
            }
        }
    }
    let logs = dir.join("logs");
    if logs.is_dir() {
        let read = |p: &Path| {
            std::fs::read_dir(p).map_err(|source| FixtureError::Read { path: p.display().to_string(), source })
        };
        for ns in read(&logs)?.filter_map(Result::ok) {
            for pod in read(&ns.path())?.filter_map(Result::ok) {
                for file in read(&pod.path())?.filter_map(Result::ok) {
                    let path = file.path();
                    let Some(container) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else { continue };
                    let text = std::fs::read_to_string(&path)
                        .map_err(|source| FixtureError::Read { path: path.display().to_string(), source })?;
                    server.set_pod_log(
                        &ns.file_name().to_string_lossy(),
                        &pod.file_name().to_string_lossy(),
                        &container,
                        &text,
                    );
                    loaded.logs += 1;
                }
            }
        }
    }
    Ok(loaded)
}

/// Server-side applies every document of a manifest file as the field manager `demo`, creating
/// the namespaces they name when missing. Returns how many objects were applied.
pub fn apply_file(server: &Server, path: &Path) -> Result<usize, FixtureError> {
    let mut n = 0;
    for doc in documents(path)? {
        let fail = |message: String| FixtureError::Object {
            path: path.display().to_string(),
            kind: doc.get("kind").and_then(Value::as_str).unwrap_or_default().into(),
            name: doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().into(),
            message,
        };
        let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let rt = server
            .with_store(|st| st.registry.find_kind(group, version, kind).cloned())
            .ok_or_else(|| fail(format!("no resource serves {api_version} {kind}")))?;
        let ns = doc.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string();
        if rt.namespaced {
            let namespaces = server.with_store(|st| st.registry.find("", "v1", "namespaces").cloned());
            if let Some(nt) = namespaces
                && server.get(&nt, "", &ns).is_err()
            {
                let opts = WriteOptions { manager: "demo".into(), ..Default::default() };
                server
                    .create(&nt, "", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}), &opts)
                    .map_err(|e| fail(e.message))?;
            }
        }
        let name = doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        let opts = WriteOptions { manager: "demo".into(), force: true, ..Default::default() };
        let ns = if rt.namespaced { ns } else { String::new() };
        server
            .patch(&rt, &ns, &name, None, crate::server::PatchType::Apply, doc.clone(), &opts)
            .map_err(|e| fail(e.message))?;
        n += 1;
    }
    Ok(n)
}

/// Loads CRD files (e.g. `crds/` of this repository) only.
pub fn load_crds(server: &Server, dir: &Path) -> Result<usize, FixtureError> {
    let mut n = 0;
    for file in yaml_files(dir)? {
        for doc in documents(&file)? {
            put_object(server, &doc).map_err(|e| FixtureError::Object {
                path: file.display().to_string(),
                kind: "CustomResourceDefinition".into(),
                name: doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().into(),
                message: e.message,
            })?;
            n += 1;
        }
    }
    Ok(n)
}

/// A generated Flux estate: `namespaces` namespaces, each with one GitRepository and
/// `per_namespace` Kustomizations and HelmReleases. Every tenth Kustomization fails a build, every
/// twentieth is suspended; every fifteenth HelmRelease failed its install.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    pub namespaces: usize,
    pub kustomizations_per_namespace: usize,
    pub helmreleases_per_namespace: usize,
}

fn condition(ready: bool, reason: &str, message: &str) -> Value {
    json!([{"type": "Ready", "status": if ready { "True" } else { "False" }, "reason": reason, "message": message,
            "lastTransitionTime": "2026-11-24T10:00:00Z", "observedGeneration": 1}])
}

/// The generated objects, namespaces first.
pub fn scale_objects(scale: Scale) -> Vec<Value> {
    let mut out = Vec::new();
    let revision = "main@sha1:4f6c1a8e2b7d9c0f3e5a1b2c4d6e8f0a1b3c5d7e";
    for n in 0..scale.namespaces {
        let ns = format!("tenant-{n:03}");
        out.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
        out.push(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "tenant", "namespace": ns},
            "spec": {"interval": "5m", "url": format!("https://git.example.com/tenants/{ns}.git"), "ref": {"branch": "main"}},
            "status": {"observedGeneration": 1, "conditions": condition(true, "Succeeded", &format!("stored artifact for revision '{revision}'")),
                       "artifact": {"revision": revision, "digest": "sha256:0c3f", "lastUpdateTime": "2026-11-24T10:00:00Z", "path": "x", "url": "http://source-controller/x"}},
        }));
        for k in 0..scale.kustomizations_per_namespace {
            let i = n * scale.kustomizations_per_namespace + k;
            let (ready, reason, message) = if i % 10 == 9 {
                (
                    false,
                    "BuildFailed",
                    "kustomize build failed: accumulating resources from './overlays/prod': no such file or directory",
                )
            } else {
                (
                    true,
                    "ReconciliationSucceeded",
                    "Applied revision: main@sha1:4f6c1a8e2b7d9c0f3e5a1b2c4d6e8f0a1b3c5d7e",
                )
            };
            out.push(json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": format!("app-{k:04}"), "namespace": ns},
                "spec": {"interval": "10m", "path": format!("./apps/app-{k:04}"), "prune": true, "suspend": i % 20 == 19,
                         "sourceRef": {"kind": "GitRepository", "name": "tenant"}},
                "status": {"observedGeneration": 1, "conditions": condition(ready, reason, message),
                           "lastAppliedRevision": revision, "lastAttemptedRevision": revision},
            }));
            if !ready {
                // What kustomize-controller records about a failing reconciliation.
                out.push(json!({
                    "apiVersion": "v1", "kind": "Event",
                    "metadata": {"name": format!("app-{k:04}.1879c0a1f2e3d4b5"), "namespace": ns},
                    "involvedObject": {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                                       "name": format!("app-{k:04}"), "namespace": ns},
                    "type": "Warning", "reason": reason, "message": message, "count": 3,
                    "source": {"component": "kustomize-controller"},
                    "firstTimestamp": "2026-11-24T09:40:00Z", "lastTimestamp": "2026-11-24T10:00:00Z",
                }));
            }
        }
        for h in 0..scale.helmreleases_per_namespace {
            let i = n * scale.helmreleases_per_namespace + h;
            let (ready, reason, message) = if i % 15 == 14 {
                (false, "InstallFailed", "Helm install failed for release: context deadline exceeded")
            } else {
                (true, "InstallSucceeded", "Helm install succeeded for release")
            };
            out.push(json!({
                "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                "metadata": {"name": format!("release-{h:04}"), "namespace": ns},
                "spec": {"interval": "10m", "chart": {"spec": {"chart": "podinfo", "version": "6.7.1",
                         "sourceRef": {"kind": "HelmRepository", "name": "podinfo", "namespace": "flux-system"}}}},
                "status": {"observedGeneration": 1, "conditions": condition(ready, reason, message)},
            }));
        }
    }
    out
}

/// Loads a generated estate; the Flux CRDs must be loaded already.
pub fn load_scale(server: &Server, scale: Scale) -> Result<usize, ApiError> {
    let objects = scale_objects(scale);
    for o in &objects {
        put_object(server, o)?;
    }
    Ok(objects.len())
}
