//! Envelope encryption of stored objects: each object is sealed with its own AES-256-GCM
//! data key, and only the data key, encrypted under a registry key, is kept beside it. So
//! rotating or disabling the registry key never rewrites objects, and a disabled key makes
//! every object it protects unreadable at once.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::error::KmsError;
use crate::master;
use crate::registry::Registry;

/// What is kept beside an encrypted object to open it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// ARN of the registry key that encrypted the data key.
    pub key_arn: String,
    /// The data key encrypted under that key (base64 ciphertext blob).
    pub data_key: String,
    /// AES-GCM nonce of the object (base64).
    pub nonce: String,
}

/// Seals `body` under a new data key from the registry key `key_id` (id, ARN or alias, in
/// `region`).
pub fn seal_object(
    registry: &Registry,
    region: &str,
    key_id: &str,
    body: &[u8],
) -> Result<(Vec<u8>, Envelope), KmsError> {
    let (data_key, blob, key_arn) = registry.generate_data_key(region, key_id)?;
    let (nonce, sealed) = master::seal(&data_key, body, key_arn.as_bytes())?;
    Ok((
        sealed,
        Envelope {
            key_arn,
            data_key: B64.encode(blob),
            nonce: B64.encode(nonce),
        },
    ))
}

/// Opens an object sealed by [`seal_object`]; refused while its key is disabled.
pub fn open_object(
    registry: &Registry,
    envelope: &Envelope,
    sealed: &[u8],
) -> Result<Vec<u8>, KmsError> {
    let damaged =
        || KmsError::InvalidCiphertext("the object's encryption envelope is damaged".into());
    let blob = B64.decode(&envelope.data_key).map_err(|_| damaged())?;
    let (data_key, _) = registry.decrypt(&blob)?;
    let data_key: [u8; 32] = data_key.try_into().map_err(|_| damaged())?;
    let nonce: [u8; 12] = B64
        .decode(&envelope.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(damaged)?;
    master::open(&data_key, nonce, sealed, envelope.key_arn.as_bytes()).ok_or_else(|| {
        KmsError::InvalidCiphertext("the object does not match its encryption envelope".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_open_only_with_their_envelope_and_an_enabled_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = Registry::open(dir.path(), None, "123456789012").expect("registry");
        let k = r.create_key("us-east-1", "").expect("key");
        let body = b"{\"Records\":[]}".repeat(100);
        let (sealed, env) = seal_object(&r, "us-east-1", &k.arn, &body).expect("seal");
        assert!(
            !sealed.windows(10).any(|w| w == &body[..10]),
            "no plaintext"
        );
        assert_eq!(open_object(&r, &env, &sealed).expect("open"), body);
        r.rotate("us-east-1", &k.key_id).expect("rotate");
        assert_eq!(
            open_object(&r, &env, &sealed).expect("after rotation"),
            body
        );
        let mut bad = sealed.clone();
        bad[0] ^= 1;
        assert!(open_object(&r, &env, &bad).is_err());
        r.set_enabled("us-east-1", &k.key_id, false)
            .expect("disable");
        assert!(matches!(
            open_object(&r, &env, &sealed),
            Err(KmsError::Disabled(_))
        ));
    }
}
