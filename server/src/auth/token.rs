//! JWT access tokens (HS256, issuer, audience and expiry pinned) and opaque
//! refresh tokens (stored as SHA-256 only).

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use landpatrol_sync::Role;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// What an access token says about its bearer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// The username, for the ledger.
    pub name: String,
    pub role: Role,
    /// A town officer's town.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<Uuid>,
    /// An inspector's patrol towns; empty means the whole district.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub towns: Vec<Uuid>,
    /// The device the session is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<Uuid>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
}

/// Seconds a token is still taken after its `exp` unless configured
/// (`auth.clock_leeway_secs`).
pub const DEFAULT_LEEWAY_SECS: u64 = 5;

/// Signing and checking keys with the pinned validation rules.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: i64,
    /// Signs tip receipt tokens; derived from the JWT secret.
    receipt_key: [u8; 32],
}

impl Keys {
    pub fn new(secret: &[u8], issuer: &str, audience: &str, access_ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = DEFAULT_LEEWAY_SECS;
        validation.validate_exp = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            access_ttl_secs: i64::try_from(access_ttl_secs).unwrap_or(900),
            receipt_key: derive_key(secret, b"landpatrol tip receipt tokens v1"),
        }
    }

    /// Takes tokens up to `secs` after their `exp`.
    pub fn with_leeway(mut self, secs: u64) -> Self {
        self.validation.leeway = secs;
        self
    }

    /// The receipt token of a tip: an HMAC of its id, so the same tip always
    /// has the same token (an idempotent replay returns it again) and no
    /// token needs storing.
    pub fn receipt_token(&self, tip: Uuid) -> String {
        use hmac::Mac;
        let digest =
            receipt_mac(&self.receipt_key, tip).map(|m| m.finalize().into_bytes().to_vec()).unwrap_or_default();
        format!("lptr_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest))
    }

    /// Whether `token` is the receipt token of `tip` (compared in constant time).
    pub fn verify_receipt(&self, tip: Uuid, token: &str) -> bool {
        let Some(raw) = token.strip_prefix("lptr_") else { return false };
        let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw) else { return false };
        use hmac::Mac;
        receipt_mac(&self.receipt_key, tip).is_some_and(|m| m.verify_slice(&bytes).is_ok())
    }

    /// Signs an access token.
    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// Checks signature, algorithm, issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|d| d.claims)
    }
}

fn derive_key(secret: &[u8], purpose: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    match hmac::Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(purpose);
            mac.finalize().into_bytes().into()
        }
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => Sha256::digest([secret, purpose].concat()).into(),
    }
}

/// HMAC takes keys of any length, so this is always `Some`.
fn receipt_mac(key: &[u8; 32], tip: Uuid) -> Option<hmac::Hmac<Sha256>> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(tip.as_bytes());
    Some(mac)
}

/// A new opaque refresh token: `lprt_` and 256 random bits.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("lprt_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a refresh token.
pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 32 random bytes, hex, for a generated JWT secret.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(keys: &Keys, exp_in: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            sub: Uuid::now_v7(),
            name: "inspector".into(),
            role: Role::Inspector,
            town: None,
            towns: vec![],
            dev: None,
            iss: keys.issuer.clone(),
            aud: keys.audience.clone(),
            iat: now,
            exp: now + exp_in,
            jti: Uuid::now_v7(),
        }
    }

    #[test]
    fn verifies_its_own_tokens_and_nothing_else() {
        let keys = Keys::new(b"0123456789abcdef0123456789abcdef", "landpatrol", "landpatrol-api", 900);
        let token = keys.sign(&claims(&keys, 900)).unwrap();
        assert_eq!(keys.verify(&token).unwrap().name, "inspector");

        let expired = keys.sign(&claims(&keys, -3600)).unwrap();
        assert!(keys.verify(&expired).is_err());

        let other = Keys::new(b"0123456789abcdef0123456789abcdef", "landpatrol", "someone-else", 900);
        assert!(keys.verify(&other.sign(&claims(&other, 900)).unwrap()).is_err(), "wrong audience");

        let wrong_key = Keys::new(b"ffffffffffffffffffffffffffffffff", "landpatrol", "landpatrol-api", 900);
        assert!(keys.verify(&wrong_key.sign(&claims(&wrong_key, 900)).unwrap()).is_err());

        // alg=none is refused.
        let none = format!(
            "{}.{}.",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(&keys, 900)).unwrap())
        );
        assert!(keys.verify(&none).is_err());
    }

    #[test]
    fn receipt_tokens_are_stable_and_bound_to_the_tip_and_key() {
        let keys = Keys::new(b"0123456789abcdef0123456789abcdef", "landpatrol", "landpatrol-api", 900);
        let tip = Uuid::now_v7();
        let token = keys.receipt_token(tip);
        assert_eq!(token, keys.receipt_token(tip));
        assert!(keys.verify_receipt(tip, &token));
        assert!(!keys.verify_receipt(Uuid::now_v7(), &token));
        assert!(!keys.verify_receipt(tip, &token[..token.len() - 1]));
        assert!(!keys.verify_receipt(tip, "lptr_!!"));
        let other = Keys::new(b"ffffffffffffffffffffffffffffffff", "landpatrol", "landpatrol-api", 900);
        assert!(!other.verify_receipt(tip, &token));
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = new_refresh_token();
        assert_ne!(a, new_refresh_token());
        assert_eq!(hash_refresh_token(&a).len(), 64);
        assert_ne!(hash_refresh_token(&a), a);
    }
}
