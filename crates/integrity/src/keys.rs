//! Per-region RSA signing keys: created on first need, rotated on a schedule with overlapping
//! validity windows, kept forever so old digests stay verifiable, and served as
//! `ListPublicKeys` serves them (DER PKCS#1 public keys with an MD5 fingerprint).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, RSA_PKCS1_SHA256, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use md5::{Digest, Md5};
pub use opentrail_kms::MasterKey;
use opentrail_kms::master::StoredSecret;
use serde::{Deserialize, Serialize};

use crate::error::IntegrityError;

/// How long keys live and how often a new one is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Seconds a key is valid from its creation (AWS: 30 days).
    pub validity_secs: i64,
    /// Seconds after which a newer key is made (AWS: about 20 days), so windows overlap.
    pub rotate_after_secs: i64,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        RotationPolicy {
            validity_secs: 30 * 86_400,
            rotate_after_secs: 20 * 86_400,
        }
    }
}

/// A public key as `ListPublicKeys` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Hex MD5 of `der`.
    pub fingerprint: String,
    /// DER PKCS#1 `RSAPublicKey`.
    pub der: Vec<u8>,
    /// Start of validity (epoch seconds).
    pub valid_from: i64,
    /// End of validity (epoch seconds).
    pub valid_to: i64,
}

impl PublicKey {
    /// Whether `signature` is a SHA256withRSA signature of `message` by this key.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        verify(&self.der, message, signature)
    }
}

/// A private key that signs digests.
#[derive(Clone)]
pub struct SigningKey {
    /// Its public half.
    pub public: PublicKey,
    pair: Arc<KeyPair>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("fingerprint", &self.public.fingerprint)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// SHA256withRSA (PKCS#1 v1.5) signature of `message`. Deterministic: the same message
    /// gives the same bytes, which lets a digest be rewritten identically after a crash.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IntegrityError> {
        let mut sig = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
            .map_err(|e| IntegrityError::Crypto(format!("signing: {e}")))?;
        Ok(sig)
    }
}

/// Hex MD5 of a DER public key: the fingerprint digests name their key by.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Md5::digest(der))
}

/// Whether `signature` is a SHA256withRSA signature of `message` by the DER (PKCS#1 or
/// X.509 SubjectPublicKeyInfo) public key `der`.
pub fn verify(der: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, der)
        .verify(message, signature)
        .is_ok()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredKey {
    fingerprint: String,
    public_key: String,
    valid_from: i64,
    valid_to: i64,
    /// PKCS#8 DER, sealed by the master key when one is configured.
    private_key: StoredSecret,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RegionFile {
    keys: Vec<StoredKey>,
}

/// A region's keys, each with its private key once loaded.
type RegionKeys = Vec<(StoredKey, Option<Arc<KeyPair>>)>;

/// The signing keys of every region, under one directory (`<data-dir>/signing-keys`).
pub struct KeyStore {
    dir: PathBuf,
    master: Option<MasterKey>,
    policy: RotationPolicy,
    regions: Mutex<HashMap<String, RegionKeys>>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Regions name files: keep them to what region names look like.
fn check_region(region: &str) -> Result<(), IntegrityError> {
    let ok = !region.is_empty()
        && region.len() <= 40
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(IntegrityError::KeyFile {
            path: region.to_owned(),
            reason: "not a region name".into(),
        })
    }
}

impl KeyStore {
    /// Opens (creating) the key directory.
    pub fn open(
        dir: impl Into<PathBuf>,
        master: Option<MasterKey>,
        policy: RotationPolicy,
    ) -> Result<KeyStore, IntegrityError> {
        let dir = dir.into();
        opentrail_kms::master::private_dir(&dir).map_err(|e| IntegrityError::KeyFile {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let store = KeyStore {
            dir,
            master,
            policy,
            regions: Mutex::new(HashMap::new()),
        };
        store.check_master()?;
        Ok(store)
    }

    /// Refuses to start with a master key that cannot open the keys on disk (or none when
    /// they are wrapped), rather than failing at the first digest.
    fn check_master(&self) -> Result<(), IntegrityError> {
        for region in self.regions()? {
            let path = self.path(&region);
            let file = load(&path)?;
            if let Some(k) = file.keys.iter().max_by_key(|k| k.valid_from) {
                MasterKey::load(self.master.as_ref(), &k.private_key, &k.fingerprint)
                    .map_err(|e| IntegrityError::MasterKey(format!("{}: {e}", path.display())))?;
            }
        }
        Ok(())
    }

    /// The rotation policy in force.
    pub fn policy(&self) -> RotationPolicy {
        self.policy
    }

    fn path(&self, region: &str) -> PathBuf {
        self.dir.join(format!("{region}.json"))
    }

    fn with_region<T>(
        &self,
        region: &str,
        f: impl FnOnce(&mut RegionKeys) -> Result<T, IntegrityError>,
    ) -> Result<T, IntegrityError> {
        check_region(region)?;
        let mut regions = self
            .regions
            .lock()
            .map_err(|_| IntegrityError::Crypto("key store lock poisoned".into()))?;
        if !regions.contains_key(region) {
            let loaded = load(&self.path(region))?;
            regions.insert(
                region.to_owned(),
                loaded.keys.into_iter().map(|k| (k, None)).collect(),
            );
        }
        let keys = regions
            .get_mut(region)
            .ok_or_else(|| IntegrityError::Crypto("key store lost a region".into()))?;
        f(keys)
    }

    /// Makes a new key when the region has none yet or its newest is older than the
    /// rotation period. Returns the index of the newest key.
    fn ensure_current(
        &self,
        region: &str,
        keys: &mut RegionKeys,
        now: i64,
    ) -> Result<usize, IntegrityError> {
        let newest = keys
            .iter()
            .enumerate()
            .max_by_key(|(_, (k, _))| k.valid_from)
            .map(|(i, (k, _))| (i, k.valid_from, k.valid_to));
        if let Some((i, from, to)) = newest
            && now < from + self.policy.rotate_after_secs
            && now < to
        {
            return Ok(i);
        }
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|e| IntegrityError::Crypto(format!("generating an RSA key: {e}")))?;
        let der = pair.public_key().as_ref().to_vec();
        let fp = fingerprint(&der);
        let pkcs8 = pair
            .as_der()
            .map_err(|e| IntegrityError::Crypto(format!("encoding a private key: {e}")))?;
        let private_key = MasterKey::store(self.master.as_ref(), pkcs8.as_ref(), &fp)
            .map_err(|e| IntegrityError::MasterKey(e.to_string()))?;
        let stored = StoredKey {
            fingerprint: fp.clone(),
            public_key: B64.encode(&der),
            valid_from: now,
            valid_to: now + self.policy.validity_secs,
            private_key,
        };
        let mut file = RegionFile {
            keys: keys.iter().map(|(k, _)| k.clone()).collect(),
        };
        file.keys.push(stored.clone());
        // The key is on disk before anything is signed with it.
        save(&self.path(region), &file)?;
        tracing::info!(region, fingerprint = %fp, "created a digest signing key");
        keys.push((stored, Some(Arc::new(pair))));
        Ok(keys.len() - 1)
    }

    /// The key that signs digests of `region` at `now` (epoch seconds), made or rotated as
    /// needed.
    pub fn signing_key(&self, region: &str, now: i64) -> Result<SigningKey, IntegrityError> {
        self.with_region(region, |keys| {
            let i = self.ensure_current(region, keys, now)?;
            self.loaded(region, &mut keys[i])
        })
    }

    /// A key of `region` by its fingerprint: a digest interrupted by a crash is signed again
    /// with the key it was first signed with, so it comes out byte for byte the same.
    pub fn signing_key_by_fingerprint(
        &self,
        region: &str,
        fingerprint: &str,
    ) -> Result<SigningKey, IntegrityError> {
        self.with_region(region, |keys| {
            let entry = keys
                .iter_mut()
                .find(|(k, _)| k.fingerprint == fingerprint)
                .ok_or_else(|| IntegrityError::KeyFile {
                    path: self.path(region).display().to_string(),
                    reason: format!("no key with fingerprint {fingerprint}"),
                })?;
            self.loaded(region, entry)
        })
    }

    /// The key with its private half, unwrapped on first use.
    fn loaded(
        &self,
        region: &str,
        (stored, pair): &mut (StoredKey, Option<Arc<KeyPair>>),
    ) -> Result<SigningKey, IntegrityError> {
        let pair = match pair {
            Some(p) => p.clone(),
            None => {
                let pkcs8 = MasterKey::load(
                    self.master.as_ref(),
                    &stored.private_key,
                    &stored.fingerprint,
                )
                .map_err(|e| IntegrityError::MasterKey(e.to_string()))?;
                let p =
                    Arc::new(
                        KeyPair::from_pkcs8(&pkcs8).map_err(|e| IntegrityError::KeyFile {
                            path: self.path(region).display().to_string(),
                            reason: format!("private key {}: {e}", stored.fingerprint),
                        })?,
                    );
                *pair = Some(p.clone());
                p
            }
        };
        Ok(SigningKey {
            public: public_of(stored, region)?,
            pair,
        })
    }

    /// `ListPublicKeys`: every key of `region` whose validity overlaps `[start, end]`, oldest
    /// first. A region's first key is made on first need, and a range that no key overlaps
    /// gets the key nearest to it, so the answer is never empty.
    pub fn public_keys(
        &self,
        region: &str,
        start: i64,
        end: i64,
        now: i64,
    ) -> Result<Vec<PublicKey>, IntegrityError> {
        if start > end {
            return Err(IntegrityError::TimeRange { start, end });
        }
        self.with_region(region, |keys| {
            self.ensure_current(region, keys, now)?;
            let mut all: Vec<PublicKey> = keys
                .iter()
                .map(|(k, _)| public_of(k, region))
                .collect::<Result<_, _>>()?;
            all.sort_by_key(|k| k.valid_from);
            let overlapping: Vec<PublicKey> = all
                .iter()
                .filter(|k| k.valid_from <= end && k.valid_to >= start)
                .cloned()
                .collect();
            if !overlapping.is_empty() {
                return Ok(overlapping);
            }
            let nearest = if all.first().is_some_and(|k| end < k.valid_from) {
                all.first()
            } else {
                all.last()
            };
            Ok(nearest.into_iter().cloned().collect())
        })
    }

    /// Every public key of `region` ever made, oldest first (for export to auditors).
    pub fn all_public_keys(&self, region: &str) -> Result<Vec<PublicKey>, IntegrityError> {
        self.with_region(region, |keys| {
            let mut all: Vec<PublicKey> = keys
                .iter()
                .map(|(k, _)| public_of(k, region))
                .collect::<Result<_, _>>()?;
            all.sort_by_key(|k| k.valid_from);
            Ok(all)
        })
    }

    /// Regions that have keys on disk.
    pub fn regions(&self) -> Result<Vec<String>, IntegrityError> {
        let mut out = Vec::new();
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| IntegrityError::io(format!("listing {}", self.dir.display()), e))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(r) = name.strip_suffix(".json")
                && check_region(r).is_ok()
            {
                out.push(r.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }
}

fn bad_file(region: &str) -> IntegrityError {
    IntegrityError::KeyFile {
        path: region.to_owned(),
        reason: "a key is not valid base64".into(),
    }
}

fn public_of(k: &StoredKey, region: &str) -> Result<PublicKey, IntegrityError> {
    Ok(PublicKey {
        fingerprint: k.fingerprint.clone(),
        der: B64.decode(&k.public_key).map_err(|_| bad_file(region))?,
        valid_from: k.valid_from,
        valid_to: k.valid_to,
    })
}

fn load(path: &Path) -> Result<RegionFile, IntegrityError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| IntegrityError::KeyFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RegionFile::default()),
        Err(e) => Err(IntegrityError::io(format!("reading {}", path.display()), e)),
    }
}

/// Writes the region's keys atomically to a file only the server's user can read.
fn save(path: &Path, file: &RegionFile) -> Result<(), IntegrityError> {
    let body = serde_json::to_vec_pretty(file)
        .map_err(|e| IntegrityError::Crypto(format!("encoding keys: {e}")))?;
    opentrail_kms::master::write_private(path, &body).map_err(|e| IntegrityError::KeyFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The public keys of `region` straight from a key directory (`<data-dir>/signing-keys`),
/// without its private halves or master key: what an auditor with a copy of the data
/// directory validates against.
pub fn read_public_keys(dir: &Path, region: &str) -> Result<Vec<PublicKey>, IntegrityError> {
    check_region(region)?;
    let file = load(&dir.join(format!("{region}.json")))?;
    let mut keys: Vec<PublicKey> = file
        .keys
        .iter()
        .map(|k| public_of(k, region))
        .collect::<Result<_, _>>()?;
    keys.sort_by_key(|k| k.valid_from);
    Ok(keys)
}

/// Reads a public key list in the shape `ListPublicKeys` answers and
/// `aws cloudtrail list-public-keys` prints (`{"PublicKeyList":[...]}`): `Value` base64 DER,
/// validity times as epoch numbers or ISO 8601 text. Fingerprints are recomputed and must match.
pub fn parse_public_key_list(json: &[u8]) -> Result<Vec<PublicKey>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))?;
    let list = v
        .get("PublicKeyList")
        .and_then(|l| l.as_array())
        .ok_or("no PublicKeyList array")?;
    let time = |v: Option<&serde_json::Value>, what: &str| -> Result<i64, String> {
        match v {
            Some(serde_json::Value::Number(n)) => n
                .as_f64()
                .map(|f| f as i64)
                .ok_or_else(|| format!("{what} is not a time")),
            Some(serde_json::Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.timestamp())
                .map_err(|e| format!("{what} {s:?}: {e}")),
            _ => Err(format!("{what} is missing")),
        }
    };
    list.iter()
        .map(|k| {
            let der = k
                .get("Value")
                .and_then(|v| v.as_str())
                .and_then(|s| B64.decode(s).ok())
                .ok_or("a key has no base64 Value")?;
            let fp = fingerprint(&der);
            if let Some(given) = k.get("Fingerprint").and_then(|f| f.as_str())
                && given != fp
            {
                return Err(format!(
                    "key {given}: its Value has fingerprint {fp}; the list was altered"
                ));
            }
            Ok(PublicKey {
                fingerprint: fp,
                der,
                valid_from: time(k.get("ValidityStartTime"), "ValidityStartTime")?,
                valid_to: time(k.get("ValidityEndTime"), "ValidityEndTime")?,
            })
        })
        .collect()
}

/// The `ListPublicKeys` JSON of `keys` (epoch-second times), for export files.
pub fn public_key_list_json(keys: &[PublicKey]) -> serde_json::Value {
    serde_json::json!({"PublicKeyList": keys.iter().map(|k| serde_json::json!({
        "Value": B64.encode(&k.der),
        "ValidityStartTime": k.valid_from,
        "ValidityEndTime": k.valid_to,
        "Fingerprint": k.fingerprint,
    })).collect::<Vec<_>>()})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path, master: Option<MasterKey>) -> KeyStore {
        KeyStore::open(
            dir,
            master,
            RotationPolicy {
                validity_secs: 30,
                rotate_after_secs: 20,
            },
        )
        .expect("opens")
    }

    #[test]
    fn keys_are_made_on_first_need_and_rotate_with_overlap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ks = store(dir.path(), None);
        let k1 = ks.signing_key("us-east-1", 1000).expect("key");
        assert_eq!((k1.public.valid_from, k1.public.valid_to), (1000, 1030));
        assert_eq!(k1.public.fingerprint, fingerprint(&k1.public.der));
        assert_eq!(k1.public.fingerprint.len(), 32);
        let same = ks.signing_key("us-east-1", 1019).expect("key");
        assert_eq!(same.public.fingerprint, k1.public.fingerprint);
        let k2 = ks.signing_key("us-east-1", 1020).expect("key");
        assert_ne!(k2.public.fingerprint, k1.public.fingerprint, "rotated");
        let listed = ks.public_keys("us-east-1", 1025, 1025, 1025).expect("list");
        assert_eq!(listed.len(), 2, "windows overlap");
        assert_eq!(
            ks.public_keys("us-east-1", 0, 10, 1025).expect("list")[0].fingerprint,
            k1.public.fingerprint,
            "a range before every key gets the oldest"
        );
        assert!(matches!(
            ks.public_keys("us-east-1", 10, 0, 1025),
            Err(IntegrityError::TimeRange { .. })
        ));
        let other = ks.public_keys("eu-west-1", 1025, 1025, 1025).expect("list");
        assert_eq!(other.len(), 1, "keys are per region");
        assert_ne!(other[0].fingerprint, k1.public.fingerprint);
        assert!(ks.signing_key("../etc", 1).is_err());
    }

    #[test]
    fn signatures_verify_with_the_public_key_only_and_are_deterministic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ks = store(dir.path(), None);
        let k = ks.signing_key("us-east-1", 5).expect("key");
        let sig = k.sign(b"message").expect("signs");
        assert_eq!(sig.len(), 256, "RSA 2048");
        assert_eq!(sig, k.sign(b"message").expect("signs"));
        assert!(k.public.verifies(b"message", &sig));
        assert!(!k.public.verifies(b"messagE", &sig));
        // The public key survives a reopen and still verifies.
        let reopened = store(dir.path(), None);
        let listed = reopened.all_public_keys("us-east-1").expect("list");
        assert_eq!(listed, vec![k.public.clone()]);
        assert!(listed[0].verifies(b"message", &sig));
        assert_eq!(
            read_public_keys(dir.path(), "us-east-1").expect("read"),
            listed
        );
        assert!(
            read_public_keys(dir.path(), "eu-west-1")
                .expect("none")
                .is_empty()
        );
        let by_fp = reopened
            .signing_key_by_fingerprint("us-east-1", &k.public.fingerprint)
            .expect("key");
        assert_eq!(by_fp.sign(b"message").expect("signs"), sig);
        assert!(
            reopened
                .signing_key_by_fingerprint("us-east-1", "00")
                .is_err()
        );
        let k_again = reopened.signing_key("us-east-1", 6).expect("key");
        assert_eq!(k_again.sign(b"message").expect("signs"), sig);
        assert_eq!(
            reopened.regions().expect("regions"),
            vec!["us-east-1".to_owned()]
        );
    }

    #[test]
    fn private_keys_are_wrapped_by_the_master_key_and_files_are_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let master = MasterKey::parse(&"ab".repeat(32)).expect("hex");
        let ks = store(dir.path(), Some(master));
        let k = ks.signing_key("us-east-1", 5).expect("key");
        let text = std::fs::read_to_string(dir.path().join("us-east-1.json")).expect("file");
        assert!(text.contains("\"wrapped\"") && !text.contains("\"plain\""));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("us-east-1.json"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let open = |m: Option<MasterKey>| {
            KeyStore::open(dir.path(), m, RotationPolicy::default()).map(|_| ())
        };
        assert!(matches!(
            open(Some(MasterKey::parse(&"cd".repeat(32)).expect("hex"))),
            Err(IntegrityError::MasterKey(_))
        ));
        assert!(matches!(open(None), Err(IntegrityError::MasterKey(_))));
        let right = store(
            dir.path(),
            Some(MasterKey::parse(&"ab".repeat(32)).expect("hex")),
        );
        let sig = right
            .signing_key("us-east-1", 6)
            .expect("key")
            .sign(b"m")
            .expect("signs");
        assert!(k.public.verifies(b"m", &sig));
        assert!(MasterKey::parse("short").is_err());
    }

    #[test]
    fn public_key_lists_round_trip_and_catch_altered_fingerprints() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ks = store(dir.path(), None);
        ks.signing_key("us-east-1", 5).expect("key");
        let keys = ks.all_public_keys("us-east-1").expect("keys");
        let json = public_key_list_json(&keys).to_string();
        assert_eq!(
            parse_public_key_list(json.as_bytes()).expect("parses"),
            keys
        );
        let iso = json.replace(
            &format!("\"ValidityStartTime\":{}", keys[0].valid_from),
            "\"ValidityStartTime\":\"1970-01-01T00:00:05+00:00\"",
        );
        assert_eq!(parse_public_key_list(iso.as_bytes()).expect("parses"), keys);
        let altered = json.replace(&keys[0].fingerprint, &"0".repeat(32));
        assert!(parse_public_key_list(altered.as_bytes()).is_err());
    }
}
