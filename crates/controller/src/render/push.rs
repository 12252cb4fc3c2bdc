//! A2A push notifications in the agent's pod: the server flags, and the signing key from its
//! Secret as a read-only file (one key for every replica, so one JWKS verifies them all).

use k8s_openapi::api::core::v1::{KeyToPath, SecretVolumeSource, Volume, VolumeMount};

use super::meta::Context;

pub const VOLUME_NAME: &str = "push-signing-key";
const KEY_DIR: &str = "/etc/gitops-agent/push";
const KEY_FILE: &str = "signing-key.pem";
/// Owner and group may read (the pod's fsGroup is the agent's own group).
const KEY_MODE: i32 = 0o440;

pub fn args(ctx: &Context) -> Vec<String> {
    let push = &ctx.spec.a2a.push_notifications;
    if !push.enabled {
        return vec!["--a2a-push=false".to_string()];
    }
    let mut args = Vec::new();
    if !push.allow_hosts.is_empty() {
        args.push(format!("--a2a-push-allow-hosts={}", push.allow_hosts.join(",")));
    }
    if push.signing_key_secret_ref.is_some() {
        args.push(format!("--a2a-push-signing-key={KEY_DIR}/{KEY_FILE}"));
    }
    args
}

pub fn volume(ctx: &Context) -> Option<Volume> {
    let push = &ctx.spec.a2a.push_notifications;
    let secret = push.signing_key_secret_ref.as_ref().filter(|_| push.enabled)?;
    Some(Volume {
        name: VOLUME_NAME.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.name.clone()),
            items: Some(vec![KeyToPath { key: secret.key.clone(), path: KEY_FILE.into(), mode: Some(KEY_MODE) }]),
            optional: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    })
}

pub fn volume_mount(ctx: &Context) -> Option<VolumeMount> {
    volume(ctx).map(|_| VolumeMount {
        name: VOLUME_NAME.into(),
        mount_path: KEY_DIR.into(),
        read_only: Some(true),
        ..Default::default()
    })
}
