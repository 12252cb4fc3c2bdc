//! The agent's signature on its push notifications: a short-lived ES256 JWT in `Authorization`
//! (unless the client's config names credentials for that header), whose key the agent publishes
//! at `/.well-known/jwks.json`. A receiver checks the signature, that `aud` is its own URL, that
//! the token is fresh, and that `request_body_sha256` is the SHA-256 of the body it got.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// How long a notification's token is valid.
const LIFETIME_SECONDS: i64 = 300;

pub struct Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("--a2a-push-signing-key {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("cannot generate the push notification signing key: {0}")]
    Generate(String),
    #[error("cannot sign a push notification: {0}")]
    Sign(String),
}

impl Signer {
    /// A key of this process: notifications from other replicas carry other keys.
    pub fn generate() -> Result<Signer, SignerError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|e| SignerError::Generate(e.to_string()))?;
        Self::from_pkcs8(pkcs8.as_ref(), rng).map_err(SignerError::Generate)
    }

    /// A P-256 key in a PKCS#8 PEM file (`openssl genpkey -algorithm EC -pkeyopt
    /// ec_paramgen_curve:P-256`), shared by every replica so one JWKS verifies them all.
    pub fn from_pem_file(path: &str) -> Result<Signer, SignerError> {
        use rustls_pki_types::pem::PemObject;
        let error = |reason: String| SignerError::KeyFile { path: path.to_string(), reason };
        let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_file(path)
            .map_err(|e| error(format!("expected a PKCS#8 PEM private key (BEGIN PRIVATE KEY): {e}")))?;
        Self::from_pkcs8(der.secret_pkcs8_der(), SystemRandom::new())
            .map_err(|e| error(format!("not an ECDSA P-256 key: {e}")))
    }

    fn from_pkcs8(pkcs8: &[u8], rng: SystemRandom) -> Result<Signer, String> {
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng).map_err(|e| e.to_string())?;
        // The key id is derived from the public key: the same file gives every replica the same id.
        let digest = Sha256::digest(key.public_key().as_ref());
        let kid = URL_SAFE_NO_PAD.encode(&digest[..16]);
        Ok(Signer { key, rng, kid })
    }

    /// The public key as a JSON Web Key Set.
    pub fn jwks(&self) -> Value {
        // Uncompressed point: 0x04, then x and y, 32 bytes each.
        let point = self.key.public_key().as_ref();
        json!({"keys": [{
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            "alg": "ES256",
            "use": "sig",
            "kid": self.kid,
        }]})
    }

    /// A token for one delivery of `body` to `audience` (the webhook URL).
    pub fn token(&self, issuer: &str, audience: &str, task_id: &str, body: &[u8]) -> Result<String, SignerError> {
        let now = jiff::Timestamp::now().as_second();
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let claims = json!({
            "iss": issuer,
            "aud": audience,
            "iat": now,
            "exp": now + LIFETIME_SECONDS,
            "jti": uuid::Uuid::new_v4().to_string(),
            "taskId": task_id,
            "request_body_sha256": hex(&Sha256::digest(body)),
        });
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature =
            self.key.sign(&self.rng, signing_input.as_bytes()).map_err(|e| SignerError::Sign(e.to_string()))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref())))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    use super::*;

    #[test]
    fn a_token_verifies_with_the_published_key_and_binds_the_body() {
        let signer = Signer::generate().expect("key");
        let token =
            signer.token("https://agent.example", "https://hooks.example/a2a", "t-1", b"{\"a\":1}").expect("sign");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let jwk = &signer.jwks()["keys"][0];
        let mut point = vec![4u8];
        for c in ["x", "y"] {
            point.extend(URL_SAFE_NO_PAD.decode(jwk[c].as_str().expect("coordinate")).expect("base64url"));
        }
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("signature");
        let signed = format!("{}.{}", parts[0], parts[1]);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
            .verify(signed.as_bytes(), &signature)
            .expect("verifies");
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("header")).expect("json");
        assert_eq!(header["kid"], jwk["kid"]);
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("claims")).expect("json");
        assert_eq!(claims["aud"], "https://hooks.example/a2a");
        assert_eq!(claims["taskId"], "t-1");
        assert_eq!(claims["request_body_sha256"], hex(&Sha256::digest(b"{\"a\":1}")));
        assert_eq!(claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"), LIFETIME_SECONDS);
        let tampered = format!("{}.{}", parts[0], URL_SAFE_NO_PAD.encode(b"{\"aud\":\"x\"}"));
        assert!(
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point).verify(tampered.as_bytes(), &signature).is_err()
        );
    }

    #[test]
    fn a_key_file_gives_every_replica_the_same_key_id() {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).expect("key");
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
        );
        let dir = std::env::temp_dir().join(format!("push-key-{}", uuid::Uuid::new_v4()));
        std::fs::write(&dir, pem).expect("write");
        let path = dir.to_string_lossy().to_string();
        let (a, b) = (Signer::from_pem_file(&path).expect("a"), Signer::from_pem_file(&path).expect("b"));
        assert_eq!(a.jwks(), b.jwks());
        std::fs::write(&dir, "not a key").expect("write");
        let err = Signer::from_pem_file(&path).err().expect("refused").to_string();
        assert!(err.contains("--a2a-push-signing-key") && err.contains("PKCS#8"), "{err}");
        let _ = std::fs::remove_file(&dir);
    }
}
