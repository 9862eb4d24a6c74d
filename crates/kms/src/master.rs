//! The master key that seals key material at rest (AES-256-GCM), and private files: written
//! atomically, readable by the server's user only.

use std::io::Write;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::error::KmsError;

/// A 256-bit key that seals other keys at rest.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// Key material as stored: in the clear (in a private file) or sealed by the master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoredSecret {
    /// Base64 of the bytes.
    Plain(String),
    /// Sealed with the master key.
    Wrapped(Sealed),
}

/// AES-256-GCM output: nonce and ciphertext with tag, base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// 12-byte nonce.
    pub nonce: String,
    /// Ciphertext followed by the 16-byte tag.
    pub ciphertext: String,
}

/// AES-256-GCM with a fresh random nonce; `aad` binds the ciphertext to its context.
pub fn seal(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Result<([u8; 12], Vec<u8>), KmsError> {
    let mut nonce = [0u8; 12];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|e| KmsError::Internal(format!("random nonce: {e}")))?;
    let mut buf = plaintext.to_vec();
    aead(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buf,
        )
        .map_err(|e| KmsError::Internal(format!("sealing: {e}")))?;
    Ok((nonce, buf))
}

/// Opens what [`seal`] made; `None` when the key, nonce, data or context do not match.
pub fn open(key: &[u8; 32], nonce: [u8; 12], sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    let mut buf = sealed.to_vec();
    let plain = aead(key)
        .ok()?
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buf,
        )
        .ok()?;
    Some(plain.to_vec())
}

fn aead(key: &[u8; 32]) -> Result<LessSafeKey, KmsError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|e| KmsError::Internal(format!("AES key: {e}")))
}

/// 32 random bytes.
pub fn random_key() -> Result<[u8; 32], KmsError> {
    let mut k = [0u8; 32];
    SystemRandom::new()
        .fill(&mut k)
        .map_err(|e| KmsError::Internal(format!("random key: {e}")))?;
    Ok(k)
}

impl MasterKey {
    /// A master key from its 32 bytes.
    pub fn new(key: [u8; 32]) -> MasterKey {
        MasterKey { key }
    }

    /// Parses 64 hex digits or base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<MasterKey, KmsError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            B64.decode(text).ok()
        };
        match bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()) {
            Some(k) => Ok(MasterKey::new(k)),
            None => Err(KmsError::MasterKey(
                "a master key is 32 bytes written as 64 hex digits or base64 (e.g. `openssl rand -hex 32`)".into(),
            )),
        }
    }

    /// Stores `secret`: sealed when a master key is given, otherwise in the clear.
    pub fn store(
        master: Option<&MasterKey>,
        secret: &[u8],
        context: &str,
    ) -> Result<StoredSecret, KmsError> {
        match master {
            Some(m) => {
                let (nonce, ciphertext) = seal(&m.key, secret, context.as_bytes())?;
                Ok(StoredSecret::Wrapped(Sealed {
                    nonce: B64.encode(nonce),
                    ciphertext: B64.encode(ciphertext),
                }))
            }
            None => Ok(StoredSecret::Plain(B64.encode(secret))),
        }
    }

    /// Reads back what [`MasterKey::store`] stored under the same `context`.
    pub fn load(
        master: Option<&MasterKey>,
        stored: &StoredSecret,
        context: &str,
    ) -> Result<Vec<u8>, KmsError> {
        let damaged = || KmsError::Internal(format!("stored key material of {context} is damaged"));
        match (stored, master) {
            (StoredSecret::Plain(b), _) => B64.decode(b).map_err(|_| damaged()),
            (StoredSecret::Wrapped(_), None) => Err(KmsError::MasterKey(format!(
                "the key material of {context} is sealed by a master key; configure it (integrity.master_key_file or OPENTRAIL_MASTER_KEY)"
            ))),
            (StoredSecret::Wrapped(w), Some(m)) => {
                let nonce: [u8; 12] = B64
                    .decode(&w.nonce)
                    .ok()
                    .and_then(|n| n.try_into().ok())
                    .ok_or_else(damaged)?;
                let sealed = B64.decode(&w.ciphertext).map_err(|_| damaged())?;
                open(&m.key, nonce, &sealed, context.as_bytes()).ok_or_else(|| {
                    KmsError::MasterKey(format!(
                        "the configured master key does not open the key material of {context}; configure the master key it was stored with"
                    ))
                })
            }
        }
    }
}

/// Writes `bytes` to `path` atomically (temporary file with mode 0600, fsync, rename, fsync
/// of the directory), so a crash leaves the old file or the new one, never a mix.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KmsError> {
    let err = |e| KmsError::io(format!("writing {}", path.display()), e);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(err)?;
        f.write_all(bytes).and_then(|_| f.sync_all()).map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(err)?;
    }
    Ok(())
}

/// Creates `dir` readable by the server's user only.
pub fn private_dir(dir: &Path) -> Result<(), KmsError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| KmsError::io(format!("creating {}", dir.display()), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| KmsError::io(format!("securing {}", dir.display()), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_sealed_by_the_master_key_and_bound_to_their_context() {
        let m = MasterKey::parse(&"ab".repeat(32)).expect("hex");
        let stored = MasterKey::store(Some(&m), b"secret", "key-1").expect("store");
        assert!(matches!(stored, StoredSecret::Wrapped(_)));
        assert_eq!(
            MasterKey::load(Some(&m), &stored, "key-1").expect("load"),
            b"secret"
        );
        assert!(
            MasterKey::load(Some(&m), &stored, "key-2").is_err(),
            "context"
        );
        let other = MasterKey::parse(&B64.encode([7u8; 32])).expect("base64");
        assert!(matches!(
            MasterKey::load(Some(&other), &stored, "key-1"),
            Err(KmsError::MasterKey(_))
        ));
        assert!(matches!(
            MasterKey::load(None, &stored, "key-1"),
            Err(KmsError::MasterKey(_))
        ));
        let plain = MasterKey::store(None, b"secret", "k").expect("store");
        assert_eq!(MasterKey::load(None, &plain, "k").expect("load"), b"secret");
        assert!(MasterKey::parse("short").is_err());
    }

    #[test]
    fn private_files_are_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("k.json");
        write_private(&p, b"one").expect("write");
        write_private(&p, b"two").expect("write");
        assert_eq!(std::fs::read(&p).expect("read"), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
