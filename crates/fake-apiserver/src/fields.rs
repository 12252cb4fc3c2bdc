//! Field ownership for server-side apply: field sets in the `FieldsV1` format, how lists merge
//! (atomic, set, or map keyed by some fields), and the managedFields bookkeeping for apply and
//! update operations.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

/// How a list merges: replaced whole, as a set of scalars, or as a map keyed by some fields.
#[derive(Clone, Debug, PartialEq)]
pub enum ListKind {
    Atomic,
    Set,
    Map(Vec<String>),
}

/// Where list types come from: a CRD's schema (`x-kubernetes-list-type`), or the built-in kinds'
/// merge keys.
#[derive(Clone, Copy)]
pub enum Schema<'a> {
    Crd(&'a Value),
    Builtin,
}

/// The list item marker in a schema path.
pub const ITEM: &str = "[]";

/// The node of a CRD schema at a schema path (field names, and `ITEM` for a list's items).
fn crd_node<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(root, |node, part| {
        if part == ITEM {
            node.get("items")
        } else {
            node.get("properties").and_then(|p| p.get(part)).or_else(|| node.get("additionalProperties"))
        }
    })
}

impl Schema<'_> {
    pub fn list_kind(&self, path: &[String]) -> ListKind {
        match self {
            Schema::Crd(root) => {
                let Some(node) = crd_node(root, path) else { return builtin_list_kind(path) };
                match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
                    Some("set") => ListKind::Set,
                    Some("map") => ListKind::Map(
                        node.get("x-kubernetes-list-map-keys")
                            .and_then(Value::as_array)
                            .map(|keys| keys.iter().filter_map(Value::as_str).map(str::to_string).collect())
                            .unwrap_or_default(),
                    ),
                    // metadata is not described by CRD schemas; it merges like everywhere else.
                    _ if path.first().is_some_and(|p| p == "metadata") => builtin_list_kind(path),
                    _ => ListKind::Atomic,
                }
            }
            Schema::Builtin => builtin_list_kind(path),
        }
    }

    /// Whether `field` is a declared field of the object at `parent` (a struct's field, not a
    /// map's key). Every object's `metadata` is an ObjectMeta, whatever a CRD's schema says of it.
    /// The built-in kinds are Go structs down to their maps, whose values are scalars, but for the
    /// CustomResourceDefinition's JSON schemas, maps of schemas by name.
    fn declares(&self, parent: &[String], field: &str) -> bool {
        if parent.first().is_some_and(|p| p == "metadata") {
            return true;
        }
        match self {
            Schema::Crd(root) => {
                crd_node(root, parent).and_then(|n| n.get("properties")).is_some_and(|p| p.get(field).is_some())
            }
            Schema::Builtin => !matches!(
                parent.last().map(String::as_str),
                Some("properties" | "patternProperties" | "definitions" | "dependencies")
            ),
        }
    }
}

/// Merge keys of the built-in kinds (the `patchMergeKey`/`listMapKeys` of their Go types).
fn builtin_list_kind(path: &[String]) -> ListKind {
    let names: Vec<&str> = path.iter().map(String::as_str).filter(|p| *p != ITEM).collect();
    let key = |k: &[&str]| ListKind::Map(k.iter().map(|s| s.to_string()).collect());
    match names.as_slice() {
        [.., "containers" | "initContainers" | "ephemeralContainers", "ports"] => key(&["containerPort", "protocol"]),
        ["spec", "ports"] => key(&["port", "protocol"]),
        [.., "containers" | "initContainers" | "ephemeralContainers" | "volumes" | "env" | "imagePullSecrets"] => {
            key(&["name"])
        }
        [.., "volumeMounts"] => key(&["mountPath"]),
        [.., "volumeDevices"] => key(&["devicePath"]),
        [.., "conditions"] => key(&["type"]),
        ["metadata", "ownerReferences"] => key(&["uid"]),
        ["metadata", "finalizers"] => ListKind::Set,
        [.., "topologySpreadConstraints"] => key(&["topologyKey", "whenUnsatisfiable"]),
        [.., "hostAliases"] => key(&["ip"]),
        _ => ListKind::Atomic,
    }
}

/// A set of field paths, as the nested `FieldsV1` map: `f:<field>`, `k:<key json>`, `v:<value json>`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSet {
    /// This path itself is in the set (a leaf, or a list item's membership `"."`).
    pub member: bool,
    pub children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    pub fn from_fields_v1(v: &Value) -> Self {
        let mut set = FieldSet::default();
        if let Some(map) = v.as_object() {
            for (k, child) in map {
                if k == "." {
                    set.member = true;
                } else {
                    let mut c = Self::from_fields_v1(child);
                    if c.children.is_empty() {
                        c.member = true;
                    }
                    set.children.insert(k.clone(), c);
                }
            }
        }
        set
    }

    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".into(), json!({}));
        }
        for (k, c) in &self.children {
            if !c.is_empty() {
                map.insert(k.clone(), c.to_fields_v1());
            }
        }
        Value::Object(map)
    }

    /// Every member path, depth first.
    pub fn paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        fn walk(set: &FieldSet, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
            if set.member && !prefix.is_empty() {
                out.push(prefix.clone());
            }
            for (k, c) in &set.children {
                prefix.push(k.clone());
                walk(c, prefix, out);
                prefix.pop();
            }
        }
        walk(self, &mut Vec::new(), &mut out);
        out
    }

    pub fn contains(&self, path: &[String]) -> bool {
        let mut node = self;
        for p in path {
            match node.children.get(p) {
                Some(n) => node = n,
                None => return false,
            }
        }
        node.member
    }

    /// Whether the set holds `path` or anything below it.
    pub fn touches(&self, path: &[String]) -> bool {
        let mut node = self;
        for p in path {
            match node.children.get(p) {
                Some(n) => node = n,
                None => return false,
            }
        }
        !node.is_empty()
    }

    pub fn insert(&mut self, path: &[String]) {
        let mut node = self;
        for p in path {
            node = node.children.entry(p.clone()).or_default();
        }
        node.member = true;
    }

    pub fn remove(&mut self, path: &[String]) {
        fn rm(node: &mut FieldSet, path: &[String]) {
            match path.split_first() {
                None => node.member = false,
                Some((head, rest)) => {
                    if let Some(child) = node.children.get_mut(head) {
                        rm(child, rest);
                        if child.is_empty() {
                            node.children.remove(head);
                        }
                    }
                }
            }
        }
        rm(self, path);
    }

    pub fn union(&mut self, other: &FieldSet) {
        for p in other.paths() {
            self.insert(&p);
        }
    }

    /// The fields of `object` (apply configuration or stored object), below `root` fields only
    /// when given (e.g. only `status` for the status subresource).
    pub fn of_object(object: &Value, schema: Schema, section: Section) -> Self {
        let mut set = FieldSet::default();
        let Some(map) = object.as_object() else { return set };
        for (k, v) in map {
            let tracked = match k.as_str() {
                "apiVersion" | "kind" => false,
                "status" => section != Section::Main,
                _ => section != Section::Status,
            };
            if !tracked {
                continue;
            }
            if k == "metadata" {
                let Some(meta) = v.as_object() else { continue };
                for mk in ["labels", "annotations", "ownerReferences", "finalizers"] {
                    if let Some(mv) = meta.get(mk) {
                        let path = vec!["metadata".to_string(), mk.to_string()];
                        let mut elems = vec!["f:metadata".to_string(), format!("f:{mk}")];
                        collect(mv, schema, &path, &mut elems, &mut set);
                    }
                }
                continue;
            }
            collect(v, schema, std::slice::from_ref(k), &mut vec![format!("f:{k}")], &mut set);
        }
        set
    }
}

/// Which part of an object a write may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// Everything but status (a resource with a status subresource, main endpoint).
    Main,
    /// Only status (the status subresource).
    Status,
    /// Everything (a resource without a status subresource).
    All,
}

fn collect(v: &Value, schema: Schema, path: &[String], elems: &mut Vec<String>, set: &mut FieldSet) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, child) in map {
                let mut p = path.to_vec();
                p.push(k.clone());
                elems.push(format!("f:{k}"));
                collect(child, schema, &p, elems, set);
                elems.pop();
            }
        }
        Value::Array(items) => match schema.list_kind(path) {
            ListKind::Atomic => set.insert(elems),
            ListKind::Set => {
                for item in items {
                    elems.push(format!("v:{item}"));
                    set.insert(elems);
                    elems.pop();
                }
                if items.is_empty() {
                    set.insert(elems);
                }
            }
            ListKind::Map(keys) => {
                for item in items {
                    elems.push(item_key(item, &keys));
                    set.insert(elems);
                    let mut p = path.to_vec();
                    p.push(ITEM.into());
                    if let Some(fields) = item.as_object() {
                        for (k, child) in fields {
                            let mut fp = p.clone();
                            fp.push(k.clone());
                            elems.push(format!("f:{k}"));
                            collect(child, schema, &fp, elems, set);
                            elems.pop();
                        }
                    }
                    elems.pop();
                }
                if items.is_empty() {
                    set.insert(elems);
                }
            }
        },
        _ => set.insert(elems),
    }
}

/// `k:{"name":"agent"}`: the key fields of a list-map item, sorted, compact JSON.
pub fn item_key(item: &Value, keys: &[String]) -> String {
    let mut m = BTreeMap::new();
    for k in keys {
        if let Some(v) = item.get(k) {
            m.insert(k.clone(), v.clone());
        }
    }
    format!("k:{}", serde_json::to_string(&m).unwrap_or_default())
}

/// Whether two values are the same, numbers compared by value (`1` equals `1.0`, as YAML and
/// JSON clients produce either for the same field).
pub fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x == y || x.as_f64() == y.as_f64(),
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(Some(x), Some(y)))
        }
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            x.len() == y.len() && x.iter().all(|(k, v)| same(Some(v), y.get(k)))
        }
        (a, b) => a == b,
    }
}

/// The value at a field-set path in an object.
pub fn value_at<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut node = object;
    for elem in path {
        node = step(node, elem)?;
    }
    Some(node)
}

fn step<'a>(node: &'a Value, elem: &str) -> Option<&'a Value> {
    if let Some(field) = elem.strip_prefix("f:") {
        node.get(field)
    } else if let Some(key) = elem.strip_prefix("k:") {
        let key: Map<String, Value> = serde_json::from_str(key).ok()?;
        node.as_array()?.iter().find(|item| key.iter().all(|(k, v)| item.get(k) == Some(v)))
    } else if let Some(v) = elem.strip_prefix("v:") {
        let v: Value = serde_json::from_str(v).ok()?;
        node.as_array()?.iter().find(|item| **item == v)
    } else {
        None
    }
}

/// Removes the value at a field-set path (a field, a list-map item, or a set member).
pub fn remove_at(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut node = object;
    for elem in parents {
        let next = if let Some(field) = elem.strip_prefix("f:") {
            node.get_mut(field)
        } else if let Some(key) = elem.strip_prefix("k:") {
            let Ok(key) = serde_json::from_str::<Map<String, Value>>(key) else { return };
            node.as_array_mut().and_then(|a| a.iter_mut().find(|item| key.iter().all(|(k, v)| item.get(k) == Some(v))))
        } else {
            None
        };
        match next {
            Some(n) => node = n,
            None => return,
        }
    }
    if let Some(field) = last.strip_prefix("f:") {
        if let Some(m) = node.as_object_mut() {
            m.remove(field);
        }
    } else if let Some(key) = last.strip_prefix("k:") {
        if let (Ok(key), Some(a)) = (serde_json::from_str::<Map<String, Value>>(key), node.as_array_mut()) {
            a.retain(|item| !key.iter().all(|(k, v)| item.get(k) == Some(v)));
        }
    } else if let Some(v) = last.strip_prefix("v:")
        && let (Ok(v), Some(a)) = (serde_json::from_str::<Value>(v), node.as_array_mut())
    {
        a.retain(|item| *item != v);
    }
}

/// Merges an apply configuration into the live object: maps field by field, list-maps item by
/// key, sets by value; atomic lists and scalars are replaced.
pub fn merge(live: &Value, config: &Value, schema: Schema, path: &[String]) -> Value {
    match (live, config) {
        (Value::Object(l), Value::Object(c)) => {
            let mut out = l.clone();
            for (k, cv) in c {
                let mut p = path.to_vec();
                p.push(k.clone());
                let merged = match l.get(k) {
                    Some(lv) => merge(lv, cv, schema, &p),
                    None => cv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(c)) => match schema.list_kind(path) {
            ListKind::Atomic => config.clone(),
            ListKind::Set => {
                let mut out = l.clone();
                for item in c {
                    if !out.contains(item) {
                        out.push(item.clone());
                    }
                }
                Value::Array(out)
            }
            ListKind::Map(keys) => {
                let mut out = l.clone();
                let mut item_path = path.to_vec();
                item_path.push(ITEM.into());
                for item in c {
                    let k = item_key(item, &keys);
                    match out.iter_mut().find(|o| item_key(o, &keys) == k) {
                        Some(existing) => *existing = merge(existing, item, schema, &item_path),
                        None => out.push(item.clone()),
                    }
                }
                Value::Array(out)
            }
        },
        _ => config.clone(),
    }
}

/// One managedFields entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Manager {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

impl Manager {
    pub fn read_all(object: &Value) -> Vec<Manager> {
        object
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| Manager {
                        manager: e.get("manager").and_then(Value::as_str).unwrap_or_default().into(),
                        operation: e.get("operation").and_then(Value::as_str).unwrap_or("Update").into(),
                        api_version: e.get("apiVersion").and_then(Value::as_str).unwrap_or_default().into(),
                        time: e.get("time").and_then(Value::as_str).unwrap_or_default().into(),
                        subresource: e.get("subresource").and_then(Value::as_str).map(str::to_string),
                        fields: e.get("fieldsV1").map(FieldSet::from_fields_v1).unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn write_all(object: &mut Value, managers: &[Manager]) {
        let entries: Vec<Value> = managers
            .iter()
            .filter(|m| !m.fields.is_empty())
            .map(|m| {
                let mut e = json!({
                    "manager": m.manager, "operation": m.operation, "apiVersion": m.api_version,
                    "time": m.time, "fieldsType": "FieldsV1", "fieldsV1": m.fields.to_fields_v1(),
                });
                if let Some(s) = &m.subresource {
                    e["subresource"] = json!(s);
                }
                e
            })
            .collect();
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            if entries.is_empty() {
                meta.remove("managedFields");
            } else {
                meta.insert("managedFields".into(), Value::Array(entries));
            }
        }
    }

    fn same_slot(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager && self.operation == operation && self.subresource.as_deref() == subresource
    }
}

/// A field two managers want with different values.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    pub manager: String,
    pub api_version: String,
    /// `.spec.replicas`-style path.
    pub field: String,
}

/// Why an apply was refused.
#[derive(Debug, PartialEq)]
pub enum ApplyError {
    /// Fields other managers own with other values.
    Conflicts(Vec<Conflict>),
    /// The configuration is not an object of its type (kube: "failed to create typed patch
    /// object"), e.g. a list-map item without one of its keys.
    Invalid(String),
}

/// Every item of every list-map in `v` is an object that has each key (or a key with a default)
/// once: an item without its key could not be found again, so applying it twice would add it
/// twice. `path` is the schema path of `v`.
fn check_list_keys(v: &Value, schema: Schema, path: &mut Vec<String>) -> Result<(), String> {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                path.push(k.clone());
                check_list_keys(child, schema, path)?;
                path.pop();
            }
        }
        Value::Array(items) => {
            let ListKind::Map(keys) = schema.list_kind(path) else { return Ok(()) };
            let at = dotted_schema_path(path);
            let mut seen = Vec::new();
            path.push(ITEM.into());
            for (i, item) in items.iter().enumerate() {
                let Some(fields) = item.as_object() else {
                    return Err(format!(
                        "{at}: element {i}: associative list with keys has an element that is not a map"
                    ));
                };
                if let Some(key) = keys.iter().find(|k| !fields.contains_key(*k) && !key_has_default(k)) {
                    return Err(format!(
                        "{at}: element {i}: associative list with keys has an element that omits key field \"{key}\" (and doesn't have default value)"
                    ));
                }
                let key = item_key(item, &keys);
                if seen.contains(&key) {
                    return Err(format!("{at}: duplicate entries for key {}", dotted(&[key])));
                }
                seen.push(key);
                check_list_keys(item, schema, path)?;
            }
            path.pop();
        }
        _ => {}
    }
    Ok(())
}

/// The list-map keys kube defaults when an item leaves them out (a port's protocol is TCP).
fn key_has_default(key: &str) -> bool {
    key == "protocol"
}

/// `.spec.template.spec.containers` for a schema path (list items left out).
fn dotted_schema_path(path: &[String]) -> String {
    path.iter().filter(|p| *p != ITEM).map(|p| format!(".{p}")).collect()
}

/// What an apply needs to know besides the objects.
pub struct ApplyRequest<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub subresource: Option<&'a str>,
    pub section: Section,
    pub force: bool,
    pub now: &'a str,
}

/// Server-side apply of `config` onto `live`: the merged object (with managedFields), or the
/// conflicts that refused it.
pub fn apply(live: &Value, config: &Value, schema: Schema, req: &ApplyRequest) -> Result<Value, ApplyError> {
    check_list_keys(config, schema, &mut Vec::new()).map_err(ApplyError::Invalid)?;
    let mut managers = Manager::read_all(live);
    let new_set = FieldSet::of_object(config, schema, req.section);

    let mut conflicts = Vec::new();
    for path in new_set.paths() {
        let wanted = value_at(config, &path);
        let current = value_at(live, &path);
        if current.is_none()
            || wanted == current
            || path.last().is_some_and(|p| p.starts_with("k:") || p.starts_with("v:"))
        {
            continue;
        }
        for m in managers.iter_mut() {
            if m.same_slot(req.manager, "Apply", req.subresource) || !m.fields.contains(&path) {
                continue;
            }
            if req.force {
                m.fields.remove(&path);
            } else {
                conflicts.push(Conflict {
                    manager: m.manager.clone(),
                    api_version: m.api_version.clone(),
                    field: dotted(&path),
                });
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(ApplyError::Conflicts(conflicts));
    }

    let mut merged = merge(live, config, schema, &[]);
    // Fields this manager applied before and no longer does: removed unless someone else owns them.
    let previous = managers
        .iter()
        .find(|m| m.same_slot(req.manager, "Apply", req.subresource))
        .map(|m| m.fields.clone())
        .unwrap_or_default();
    let mut others = FieldSet::default();
    for m in managers.iter().filter(|m| !m.same_slot(req.manager, "Apply", req.subresource)) {
        others.union(&m.fields);
    }
    // A path still below something applied now (an empty map that now has fields) stays.
    let unowned = |p: &Vec<String>| !new_set.touches(p) && !others.touches(p);
    let mut dropped: Vec<Vec<String>> = previous.paths().into_iter().filter(unowned).collect();
    // Structured-merge-diff counts the struct fields above an applier's leaves as the applier's
    // too (EnsureNamedFieldsAreMembers), so a struct nothing below which is applied or owned any
    // more goes whole, rather than stay behind as `{}` missing its required fields.
    let structs: BTreeSet<Vec<String>> =
        dropped.iter().flat_map(|p| struct_ancestors(p, schema)).filter(unowned).collect();
    dropped.extend(structs);
    // Outermost first, and nothing below a path already removed: removing a list-map item takes
    // its fields (including the key fields that find it) with it.
    dropped.sort_by_key(Vec::len);
    let mut removed: Vec<&Vec<String>> = Vec::new();
    for path in &dropped {
        if removed.iter().any(|r| path.starts_with(r)) {
            continue;
        }
        remove_at(&mut merged, path);
        removed.push(path);
    }

    match managers.iter_mut().find(|m| m.same_slot(req.manager, "Apply", req.subresource)) {
        Some(m) => {
            if m.fields != new_set {
                m.time = req.now.into();
            }
            m.fields = new_set;
            m.api_version = req.api_version.into();
        }
        None => managers.push(Manager {
            manager: req.manager.into(),
            operation: "Apply".into(),
            api_version: req.api_version.into(),
            time: req.now.into(),
            subresource: req.subresource.map(str::to_string),
            fields: new_set,
        }),
    }
    Manager::write_all(&mut merged, &managers);
    Ok(merged)
}

/// The struct fields a field-set path runs through: each `f:` step its parent declares, but
/// `metadata`, which the API server keeps whatever an applier owns.
fn struct_ancestors(path: &[String], schema: Schema) -> Vec<Vec<String>> {
    let mut schema_path = Vec::new();
    let mut out = Vec::new();
    for (i, elem) in path.iter().enumerate().take(path.len().saturating_sub(1)) {
        match elem.strip_prefix("f:") {
            Some(field) => {
                if !(i == 0 && field == "metadata") && schema.declares(&schema_path, field) {
                    out.push(path[..=i].to_vec());
                }
                schema_path.push(field.to_string());
            }
            None => schema_path.push(ITEM.into()),
        }
    }
    out
}

/// Records a non-apply write (create, update, patch): the writer owns what it changed, and
/// nobody owns what it removed.
#[allow(clippy::too_many_arguments)]
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    schema: Schema,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
    section: Section,
    now: &str,
) {
    let mut managers = old.map(Manager::read_all).unwrap_or_default();
    let new_set = FieldSet::of_object(new, schema, section);
    let old_set = old.map(|o| FieldSet::of_object(o, schema, section)).unwrap_or_default();
    let changed: Vec<Vec<String>> =
        new_set.paths().into_iter().filter(|p| old.is_none_or(|o| value_at(o, p) != value_at(new, p))).collect();
    let removed: Vec<Vec<String>> = old_set.paths().into_iter().filter(|p| !new_set.contains(p)).collect();
    if changed.is_empty() && removed.is_empty() {
        Manager::write_all(new, &managers);
        return;
    }
    for m in managers.iter_mut() {
        for p in changed.iter().chain(removed.iter()) {
            m.fields.remove(p);
        }
    }
    let slot = match managers.iter().position(|m| m.same_slot(manager, "Update", subresource)) {
        Some(i) => i,
        None => {
            managers.push(Manager {
                manager: manager.into(),
                operation: "Update".into(),
                api_version: api_version.into(),
                time: now.into(),
                subresource: subresource.map(str::to_string),
                fields: FieldSet::default(),
            });
            managers.len() - 1
        }
    };
    let entry = &mut managers[slot];
    entry.time = now.into();
    entry.api_version = api_version.into();
    for p in &changed {
        entry.fields.insert(p);
    }
    Manager::write_all(new, &managers);
}

/// `.spec.template.spec.containers[name="agent"].image`-style rendering of a field path.
pub fn dotted(path: &[String]) -> String {
    let mut out = String::new();
    for elem in path {
        if let Some(f) = elem.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = elem.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = elem.strip_prefix("v:") {
            out.push_str(&format!("[{v}]"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(manager: &'a str, force: bool) -> ApplyRequest<'a> {
        ApplyRequest {
            manager,
            api_version: "apps/v1",
            subresource: None,
            section: Section::Main,
            force,
            now: "2026-11-25T00:00:00Z",
        }
    }

    #[test]
    fn fields_v1_round_trips() {
        let v = json!({"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:image": {}}}}});
        assert_eq!(FieldSet::from_fields_v1(&v).to_fields_v1(), v);
    }

    #[test]
    fn apply_owns_leaves_and_list_items_by_key() {
        let config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "labels": {"a": "1"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let set = FieldSet::of_object(&config, Schema::Builtin, Section::Main);
        let paths: Vec<String> = set.paths().iter().map(|p| dotted(p)).collect();
        assert!(paths.contains(&".spec.replicas".to_string()));
        assert!(paths.contains(&".spec.template.spec.containers[name=\"c\"]".to_string()));
        assert!(paths.contains(&".spec.template.spec.containers[name=\"c\"].image".to_string()));
        assert!(paths.contains(&".metadata.labels.a".to_string()));
    }

    #[test]
    fn conflicting_values_refuse_unless_forced() {
        let live = json!({"metadata": {"name": "x"}, "spec": {"replicas": 1}});
        let a = apply(
            &live,
            &json!({"metadata": {"name": "x"}, "spec": {"replicas": 1}}),
            Schema::Builtin,
            &req("a", false),
        )
        .expect("first apply");
        let err =
            apply(&a, &json!({"metadata": {"name": "x"}, "spec": {"replicas": 3}}), Schema::Builtin, &req("b", false))
                .unwrap_err();
        assert_eq!(
            err,
            ApplyError::Conflicts(vec![Conflict {
                manager: "a".into(),
                api_version: "apps/v1".into(),
                field: ".spec.replicas".into()
            }])
        );
        let b =
            apply(&a, &json!({"metadata": {"name": "x"}, "spec": {"replicas": 3}}), Schema::Builtin, &req("b", true))
                .expect("forced");
        assert_eq!(b["spec"]["replicas"], 3);
        let owners = Manager::read_all(&b);
        assert!(owners.iter().all(|m| m.manager != "a" || !m.fields.contains(&["f:spec".into(), "f:replicas".into()])));
    }

    #[test]
    fn list_map_items_without_their_key_or_twice_are_refused() {
        let containers =
            |items: Value| json!({"metadata": {"name": "x"}, "spec": {"template": {"spec": {"containers": items}}}});
        let live = json!({"metadata": {"name": "x"}});
        let refused = |items: Value| match apply(&live, &containers(items), Schema::Builtin, &req("m", false)) {
            Err(ApplyError::Invalid(message)) => message,
            other => panic!("accepted: {other:?}"),
        };
        assert_eq!(
            refused(json!([{"name": "a"}, {"image": "b"}])),
            ".spec.template.spec.containers: element 1: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)"
        );
        assert_eq!(
            refused(json!([{"name": "a"}, {"name": "a", "image": "b"}])),
            ".spec.template.spec.containers: duplicate entries for key [name=\"a\"]"
        );
        assert!(refused(json!(["a"])).contains("element 0"));
        // A port's protocol defaults to TCP: a port without it is fine.
        let ports = json!([{"name": "a", "ports": [{"containerPort": 80}]}]);
        assert!(apply(&live, &containers(ports), Schema::Builtin, &req("m", false)).is_ok());
    }

    #[test]
    fn fields_dropped_from_the_config_are_removed_unless_shared() {
        let live = json!({"metadata": {"name": "x"}});
        let one = apply(
            &live,
            &json!({"metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}}),
            Schema::Builtin,
            &req("m", false),
        )
        .expect("apply");
        let two =
            apply(&one, &json!({"metadata": {"name": "x", "labels": {"a": "1"}}}), Schema::Builtin, &req("m", false))
                .expect("apply");
        assert_eq!(two["metadata"]["labels"], json!({"a": "1"}));
        // Another manager sharing a field keeps it alive.
        let shared = apply(
            &one,
            &json!({"metadata": {"name": "x", "labels": {"b": "2"}}}),
            Schema::Builtin,
            &req("other", false),
        )
        .expect("apply");
        let three = apply(
            &shared,
            &json!({"metadata": {"name": "x", "labels": {"a": "1"}}}),
            Schema::Builtin,
            &req("m", false),
        )
        .expect("apply");
        assert_eq!(three["metadata"]["labels"], json!({"a": "1", "b": "2"}));
    }

    #[test]
    fn a_list_map_item_no_longer_applied_is_removed_whole() {
        let cfg = |types: &[&str]| json!({"metadata": {"name": "x"}, "status": {"conditions": types.iter().map(|t| json!({"type": t, "status": "True"})).collect::<Vec<_>>()}});
        let req = ApplyRequest {
            manager: "m",
            api_version: "v1",
            subresource: Some("status"),
            section: Section::Status,
            force: true,
            now: "t",
        };
        let one = apply(&json!({"metadata": {"name": "x"}}), &cfg(&["Ready", "Extra"]), Schema::Builtin, &req)
            .expect("apply");
        let two = apply(&one, &cfg(&["Ready"]), Schema::Builtin, &req).expect("apply");
        assert_eq!(two["status"]["conditions"], json!([{"type": "Ready", "status": "True"}]));
    }

    #[test]
    fn an_empty_map_that_gains_fields_is_not_removed() {
        let one = apply(
            &json!({"metadata": {"name": "x"}}),
            &json!({"metadata": {"name": "x"}, "spec": {}}),
            Schema::Builtin,
            &req("m", false),
        )
        .expect("apply");
        let two = apply(
            &one,
            &json!({"metadata": {"name": "x"}, "spec": {"replicas": 4}}),
            Schema::Builtin,
            &req("m", false),
        )
        .expect("apply");
        assert_eq!(two["spec"], json!({"replicas": 4}));
    }

    #[test]
    fn a_field_no_longer_applied_goes_whole_but_a_map_key_stays() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "ref": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "key": {"type": "string"}}},
            "things": {"type": "object", "additionalProperties": {"type": "object", "properties": {"x": {"type": "string"}}}},
            "replicas": {"type": "integer"}}}}});
        let schema = Schema::Crd(&schema);
        let cfg = |spec: Value| json!({"metadata": {"name": "x"}, "spec": spec});
        let things = json!({"foo": {"x": "1"}, "bar": {"x": "2"}});
        let one = apply(
            &json!({"metadata": {"name": "x"}}),
            &cfg(json!({"replicas": 1, "ref": {"name": "s", "key": "k"}, "things": things})),
            schema,
            &req("m", false),
        )
        .expect("apply");
        let two = apply(&one, &cfg(json!({"replicas": 1, "things": {"bar": {"x": "2"}}})), schema, &req("m", false))
            .expect("apply");
        assert_eq!(
            two["spec"],
            json!({"replicas": 1, "things": {"foo": {}, "bar": {"x": "2"}}}),
            "a declared field goes whole; a map's key is not a field, so its emptied value stays"
        );
        // What another manager owns below a struct keeps the struct, with that field only.
        let mut shared = one.clone();
        shared["spec"]["ref"]["key"] = json!("other");
        record_update(Some(&one), &mut shared, schema, "editor", "v1", None, Section::Main, "t");
        let three = apply(&shared, &cfg(json!({"replicas": 1})), schema, &req("m", false)).expect("apply");
        assert_eq!(three["spec"]["ref"], json!({"key": "other"}));
        // Nothing of the applier's left under spec: spec goes too; metadata always stays.
        let four = apply(&one, &json!({"metadata": {"name": "x"}}), schema, &req("m", false)).expect("apply");
        // A custom resource's metadata is an ObjectMeta, as a built-in's: emptied labels go.
        let labelled = apply(&one, &json!({"metadata": {"name": "x", "labels": {"a": "1"}}}), schema, &req("m", false))
            .expect("apply");
        let unlabelled =
            apply(&labelled, &json!({"metadata": {"name": "x"}}), schema, &req("m", false)).expect("apply");
        assert_eq!(unlabelled["metadata"].get("labels"), None, "{unlabelled}");
        assert_eq!(four.get("spec"), None, "{four}");
        assert_eq!(four["metadata"]["name"], "x");
    }

    #[test]
    fn a_built_in_struct_no_longer_applied_goes_whole() {
        let deployment = |metadata: Value, container: Value| json!({"metadata": metadata, "spec": {"template": {"spec": {"containers": [container]}}}});
        let one = apply(
            &json!({"metadata": {"name": "x"}}),
            &deployment(
                json!({"name": "x", "labels": {"a": "1"}}),
                json!({"name": "c", "image": "i", "securityContext": {"runAsNonRoot": true}}),
            ),
            Schema::Builtin,
            &req("m", false),
        )
        .expect("apply");
        let cfg = deployment(json!({"name": "x"}), json!({"name": "c", "image": "i"}));
        let two = apply(&one, &cfg, Schema::Builtin, &req("m", false)).expect("apply");
        let c = &two["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c.get("securityContext"), None, "{c}");
        assert_eq!(two["metadata"].get("labels"), None, "{two}");
    }

    #[test]
    fn list_maps_merge_by_key() {
        let live = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}});
        let cfg = json!({"spec": {"containers": [{"name": "b", "image": "3"}]}});
        let merged = merge(&live, &cfg, Schema::Builtin, &[]);
        assert_eq!(merged["spec"]["containers"], json!([{"name": "a", "image": "1"}, {"name": "b", "image": "3"}]));
    }

    #[test]
    fn updates_take_ownership_of_what_they_change() {
        let old = apply(
            &json!({"metadata": {"name": "x"}}),
            &json!({"metadata": {"name": "x"}, "spec": {"replicas": 1}}),
            Schema::Builtin,
            &req("a", false),
        )
        .expect("apply");
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(5);
        record_update(Some(&old), &mut new, Schema::Builtin, "kubectl-edit", "apps/v1", None, Section::Main, "t");
        let managers = Manager::read_all(&new);
        let edit = managers.iter().find(|m| m.manager == "kubectl-edit").expect("editor recorded");
        assert!(edit.fields.contains(&["f:spec".into(), "f:replicas".into()]));
        assert!(!managers.iter().any(|m| m.manager == "a"), "a lost its only field");
    }
}
