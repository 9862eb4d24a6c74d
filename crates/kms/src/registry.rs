//! A KMS-style registry of symmetric keys per account and region: create, describe, list,
//! aliases, enable and disable, automatic and on-demand rotation, and the data keys and
//! ciphertexts that envelope encryption is built from.
//!
//! Rotation adds key material; older material stays, so everything sealed before a rotation
//! still opens without re-encryption. A ciphertext names the key and the material version that
//! sealed it. The registry lives in one private JSON file, its key material sealed by the
//! master key when one is configured.

use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::KmsError;
use crate::master::{self, MasterKey, StoredSecret};

/// Days between automatic rotations unless a key says otherwise (AWS: 365).
pub const DEFAULT_ROTATION_DAYS: u32 = 365;
/// Key material versions one key may hold.
const MAX_VERSIONS: usize = 100;
const BLOB_MAGIC: &[u8; 4] = b"OTK1";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Version {
    id: u32,
    created: i64,
    material: StoredSecret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredKey {
    key_id: String,
    region: String,
    description: String,
    enabled: bool,
    created: i64,
    rotation_enabled: bool,
    rotation_period_days: u32,
    last_rotated: i64,
    versions: Vec<Version>,
}

/// An alias of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// `alias/...`.
    pub name: String,
    /// The key it names.
    pub target_key_id: String,
    /// Its region.
    pub region: String,
    /// Creation time (epoch seconds).
    pub created: i64,
    /// Last change (epoch seconds).
    pub updated: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    keys: Vec<StoredKey>,
    aliases: Vec<Alias>,
}

/// What DescribeKey tells about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMetadata {
    /// The key id (a UUID).
    pub key_id: String,
    /// `arn:aws:kms:<region>:<account>:key/<id>`.
    pub arn: String,
    /// Owning account.
    pub account: String,
    /// What it is for.
    pub description: String,
    /// Whether it can be used.
    pub enabled: bool,
    /// Creation time (epoch seconds).
    pub created: i64,
    /// Whether it rotates automatically.
    pub rotation_enabled: bool,
    /// Days between automatic rotations.
    pub rotation_period_days: u32,
    /// Last rotation (creation when never rotated), epoch seconds.
    pub last_rotated: i64,
    /// Key material versions held.
    pub versions: usize,
}

impl KeyMetadata {
    /// The `KeyMetadata` shape of the KMS API.
    pub fn to_json(&self) -> Value {
        json!({
            "AWSAccountId": self.account,
            "KeyId": self.key_id,
            "Arn": self.arn,
            "CreationDate": self.created,
            "Enabled": self.enabled,
            "Description": self.description,
            "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": if self.enabled { "Enabled" } else { "Disabled" },
            "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER",
            "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
            "KeySpec": "SYMMETRIC_DEFAULT",
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "MultiRegion": false,
        })
    }
}

/// The key registry of one account.
pub struct Registry {
    path: PathBuf,
    master: Option<MasterKey>,
    account: String,
    state: Mutex<State>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok() && s.len() == 36
}

/// Alias names: `alias/` then 1-250 of letters, digits, `/_-`; `alias/aws/` is AWS's.
fn check_alias_name(name: &str) -> Result<(), KmsError> {
    let rest = name.strip_prefix("alias/").ok_or_else(|| {
        KmsError::Validation(format!(
            "Alias must start with the prefix \"alias/\"; {name:?} does not."
        ))
    })?;
    if rest.starts_with("aws/") {
        return Err(KmsError::Validation(
            "Alias names that begin with alias/aws/ are reserved for AWS managed keys.".into(),
        ));
    }
    let ok = !rest.is_empty()
        && rest.len() <= 250
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(KmsError::Validation(format!(
            "Alias {name:?} must be alias/ followed by 1 to 250 letters, digits, '/', '_' or '-'."
        )))
    }
}

impl Registry {
    /// Opens (creating) the registry in `dir` for `account`. Fails when the master key cannot
    /// open the stored key material (or is missing for sealed material).
    pub fn open(
        dir: impl Into<PathBuf>,
        master: Option<MasterKey>,
        account: &str,
    ) -> Result<Registry, KmsError> {
        let dir = dir.into();
        master::private_dir(&dir)?;
        let path = dir.join("keys.json");
        let state: State = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| KmsError::Internal(format!("{} is damaged: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(KmsError::io(format!("reading {}", path.display()), e)),
        };
        for k in &state.keys {
            if let Some(v) = k.versions.last() {
                MasterKey::load(master.as_ref(), &v.material, &material_context(k, v.id))?;
            }
        }
        Ok(Registry {
            path,
            master,
            account: account.to_owned(),
            state: Mutex::new(state),
        })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, KmsError> {
        self.state
            .lock()
            .map_err(|_| KmsError::Internal("key registry lock poisoned".into()))
    }

    fn save(&self, state: &State) -> Result<(), KmsError> {
        let body = serde_json::to_vec_pretty(state)
            .map_err(|e| KmsError::Internal(format!("encoding keys: {e}")))?;
        master::write_private(&self.path, &body)
    }

    /// A key's ARN.
    pub fn key_arn(&self, region: &str, key_id: &str) -> String {
        format!("arn:aws:kms:{region}:{}:key/{key_id}", self.account)
    }

    fn metadata(&self, k: &StoredKey) -> KeyMetadata {
        KeyMetadata {
            key_id: k.key_id.clone(),
            arn: self.key_arn(&k.region, &k.key_id),
            account: self.account.clone(),
            description: k.description.clone(),
            enabled: k.enabled,
            created: k.created,
            rotation_enabled: k.rotation_enabled,
            rotation_period_days: k.rotation_period_days,
            last_rotated: k.last_rotated,
            versions: k.versions.len(),
        }
    }

    /// The index of the key `id` names in `region`: a key id, key ARN, alias name or alias ARN.
    fn find(&self, state: &State, region: &str, id: &str) -> Result<usize, KmsError> {
        let not_found = || KmsError::NotFound(format!("Key '{id}' does not exist"));
        let (region, name) = match id.strip_prefix("arn:") {
            Some(_) => {
                let parts: Vec<&str> = id.splitn(6, ':').collect();
                if parts.len() != 6 || parts[2] != "kms" || parts[4].len() != 12 {
                    return Err(KmsError::InvalidArn(format!(
                        "{id} is not a valid KMS key or alias ARN"
                    )));
                }
                if parts[4] != self.account {
                    return Err(not_found());
                }
                (parts[3], parts[5])
            }
            None => (region, id),
        };
        let key_id = if let Some(k) = name.strip_prefix("key/") {
            k.to_owned()
        } else if name.starts_with("alias/") {
            state
                .aliases
                .iter()
                .find(|a| a.name == name && a.region == region)
                .map(|a| a.target_key_id.clone())
                .ok_or_else(|| KmsError::NotFound(format!("Alias '{name}' does not exist")))?
        } else {
            name.to_owned()
        };
        if !is_uuid(&key_id) {
            return Err(not_found());
        }
        state
            .keys
            .iter()
            .position(|k| k.key_id == key_id && k.region == region)
            .ok_or_else(not_found)
    }

    /// CreateKey: a new enabled symmetric key with its first key material.
    pub fn create_key(&self, region: &str, description: &str) -> Result<KeyMetadata, KmsError> {
        let mut st = self.lock()?;
        let mut k = StoredKey {
            key_id: uuid::Uuid::new_v4().to_string(),
            region: region.to_owned(),
            description: description.to_owned(),
            enabled: true,
            created: now(),
            rotation_enabled: false,
            rotation_period_days: DEFAULT_ROTATION_DAYS,
            last_rotated: now(),
            versions: Vec::new(),
        };
        self.add_version(&mut k)?;
        let meta = self.metadata(&k);
        st.keys.push(k);
        self.save(&st)?;
        tracing::info!(key = %meta.arn, "created a KMS key");
        Ok(meta)
    }

    fn add_version(&self, k: &mut StoredKey) -> Result<(), KmsError> {
        if k.versions.len() >= MAX_VERSIONS {
            return Err(KmsError::Validation(format!(
                "Key {} already holds {MAX_VERSIONS} versions of key material.",
                k.key_id
            )));
        }
        let id = k.versions.last().map_or(1, |v| v.id + 1);
        let material = MasterKey::store(
            self.master.as_ref(),
            &master::random_key()?,
            &material_context(k, id),
        )?;
        k.versions.push(Version {
            id,
            created: now(),
            material,
        });
        k.last_rotated = now();
        Ok(())
    }

    /// DescribeKey.
    pub fn describe(&self, region: &str, id: &str) -> Result<KeyMetadata, KmsError> {
        let st = self.lock()?;
        let i = self.find(&st, region, id)?;
        Ok(self.metadata(&st.keys[i]))
    }

    /// ListKeys: the keys of `region` in creation order.
    pub fn list_keys(&self, region: &str) -> Result<Vec<KeyMetadata>, KmsError> {
        let st = self.lock()?;
        Ok(st
            .keys
            .iter()
            .filter(|k| k.region == region)
            .map(|k| self.metadata(k))
            .collect())
    }

    fn update(
        &self,
        region: &str,
        id: &str,
        f: impl FnOnce(&mut StoredKey) -> Result<(), KmsError>,
    ) -> Result<KeyMetadata, KmsError> {
        let mut st = self.lock()?;
        let i = self.find(&st, region, id)?;
        f(&mut st.keys[i])?;
        let meta = self.metadata(&st.keys[i]);
        self.save(&st)?;
        Ok(meta)
    }

    /// EnableKey / DisableKey.
    pub fn set_enabled(&self, region: &str, id: &str, enabled: bool) -> Result<(), KmsError> {
        self.update(region, id, |k| {
            k.enabled = enabled;
            Ok(())
        })
        .map(|_| ())
    }

    /// EnableKeyRotation / DisableKeyRotation.
    pub fn set_rotation(
        &self,
        region: &str,
        id: &str,
        enabled: bool,
        period_days: Option<u32>,
    ) -> Result<KeyMetadata, KmsError> {
        if let Some(p) = period_days
            && !(90..=2560).contains(&p)
        {
            return Err(KmsError::Validation(format!(
                "RotationPeriodInDays must be 90 to 2560; {p} was given."
            )));
        }
        self.update(region, id, |k| {
            if !k.enabled {
                return Err(disabled(k));
            }
            k.rotation_enabled = enabled;
            if let Some(p) = period_days {
                k.rotation_period_days = p;
            }
            Ok(())
        })
    }

    /// RotateKeyOnDemand: new key material now.
    pub fn rotate(&self, region: &str, id: &str) -> Result<KeyMetadata, KmsError> {
        self.update(region, id, |k| {
            if !k.enabled {
                return Err(disabled(k));
            }
            self.add_version(k)
        })
    }

    /// CreateAlias.
    pub fn create_alias(&self, region: &str, name: &str, target: &str) -> Result<(), KmsError> {
        check_alias_name(name)?;
        let mut st = self.lock()?;
        if st
            .aliases
            .iter()
            .any(|a| a.name == name && a.region == region)
        {
            return Err(KmsError::AlreadyExists(format!(
                "An alias with the name {} already exists",
                self.alias_arn(region, name)
            )));
        }
        if target.starts_with("alias/") || target.contains(":alias/") {
            return Err(KmsError::Validation(
                "TargetKeyId must name a key (its id or ARN), not an alias.".into(),
            ));
        }
        let i = self.find(&st, region, target)?;
        let key_id = st.keys[i].key_id.clone();
        st.aliases.push(Alias {
            name: name.to_owned(),
            target_key_id: key_id,
            region: region.to_owned(),
            created: now(),
            updated: now(),
        });
        self.save(&st)
    }

    /// UpdateAlias: points an alias at another key.
    pub fn update_alias(&self, region: &str, name: &str, target: &str) -> Result<(), KmsError> {
        let mut st = self.lock()?;
        let i = self.find(&st, region, target)?;
        let key_id = st.keys[i].key_id.clone();
        let a = st
            .aliases
            .iter_mut()
            .find(|a| a.name == name && a.region == region)
            .ok_or_else(|| KmsError::NotFound(format!("Alias '{name}' does not exist")))?;
        a.target_key_id = key_id;
        a.updated = now();
        self.save(&st)
    }

    /// DeleteAlias.
    pub fn delete_alias(&self, region: &str, name: &str) -> Result<(), KmsError> {
        let mut st = self.lock()?;
        let before = st.aliases.len();
        st.aliases
            .retain(|a| !(a.name == name && a.region == region));
        if st.aliases.len() == before {
            return Err(KmsError::NotFound(format!("Alias '{name}' does not exist")));
        }
        self.save(&st)
    }

    /// ListAliases of `region`, or of one key.
    pub fn list_aliases(&self, region: &str, key: Option<&str>) -> Result<Vec<Alias>, KmsError> {
        let st = self.lock()?;
        let key_id = match key {
            Some(k) => Some(st.keys[self.find(&st, region, k)?].key_id.clone()),
            None => None,
        };
        Ok(st
            .aliases
            .iter()
            .filter(|a| a.region == region && key_id.as_ref().is_none_or(|k| &a.target_key_id == k))
            .cloned()
            .collect())
    }

    /// An alias's ARN.
    pub fn alias_arn(&self, region: &str, name: &str) -> String {
        format!("arn:aws:kms:{region}:{}:{name}", self.account)
    }

    /// The current material of an enabled key (rotating it first when automatic rotation
    /// is due).
    fn current(&self, region: &str, id: &str) -> Result<(String, String, u32, [u8; 32]), KmsError> {
        let mut st = self.lock()?;
        let i = self.find(&st, region, id)?;
        let k = &st.keys[i];
        if !k.enabled {
            return Err(disabled(k));
        }
        if k.rotation_enabled
            && now() >= k.last_rotated + i64::from(k.rotation_period_days) * 86_400
        {
            self.add_version(&mut st.keys[i])?;
            self.save(&st)?;
            tracing::info!(key = %st.keys[i].key_id, "rotated a KMS key on schedule");
        }
        let k = &st.keys[i];
        let v = k
            .versions
            .last()
            .ok_or_else(|| KmsError::Internal(format!("key {} has no material", k.key_id)))?;
        let material = self.material(k, v)?;
        Ok((k.key_id.clone(), k.region.clone(), v.id, material))
    }

    fn material(&self, k: &StoredKey, v: &Version) -> Result<[u8; 32], KmsError> {
        let bytes = MasterKey::load(
            self.master.as_ref(),
            &v.material,
            &material_context(k, v.id),
        )?;
        bytes
            .try_into()
            .map_err(|_| KmsError::Internal(format!("key {} material is damaged", k.key_id)))
    }

    /// Encrypt: a ciphertext blob that only this registry opens, naming key and version.
    pub fn encrypt(
        &self,
        region: &str,
        id: &str,
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, String), KmsError> {
        if plaintext.is_empty() || plaintext.len() > 4096 {
            return Err(KmsError::Validation(format!(
                "Plaintext must be 1 to 4096 bytes; {} were given.",
                plaintext.len()
            )));
        }
        let (key_id, key_region, version, material) = self.current(region, id)?;
        let mut blob = Vec::with_capacity(4 + 36 + 4 + 12 + plaintext.len() + 16);
        blob.extend_from_slice(BLOB_MAGIC);
        blob.extend_from_slice(key_id.as_bytes());
        blob.extend_from_slice(&version.to_be_bytes());
        let (nonce, sealed) = master::seal(&material, plaintext, &blob)?;
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        Ok((blob, self.key_arn(&key_region, &key_id)))
    }

    /// GenerateDataKey: a fresh 256-bit data key, in the clear and encrypted under the key.
    pub fn generate_data_key(
        &self,
        region: &str,
        id: &str,
    ) -> Result<([u8; 32], Vec<u8>, String), KmsError> {
        let data_key = master::random_key()?;
        let (blob, arn) = self.encrypt(region, id, &data_key)?;
        Ok((data_key, blob, arn))
    }

    /// Decrypt: opens a blob from [`Registry::encrypt`] with the key and material version it
    /// names, whatever rotations came since. Refused while the key is disabled.
    pub fn decrypt(&self, blob: &[u8]) -> Result<(Vec<u8>, String), KmsError> {
        let invalid = || {
            KmsError::InvalidCiphertext(
                "The ciphertext is damaged or was not produced by this key registry.".into(),
            )
        };
        if blob.len() < 4 + 36 + 4 + 12 + 16 || &blob[..4] != BLOB_MAGIC {
            return Err(invalid());
        }
        let key_id = std::str::from_utf8(&blob[4..40]).map_err(|_| invalid())?;
        let version = u32::from_be_bytes(blob[40..44].try_into().map_err(|_| invalid())?);
        let nonce: [u8; 12] = blob[44..56].try_into().map_err(|_| invalid())?;
        let st = self.lock()?;
        let k = st
            .keys
            .iter()
            .find(|k| k.key_id == key_id)
            .ok_or_else(invalid)?;
        if !k.enabled {
            return Err(disabled(k));
        }
        let v = k
            .versions
            .iter()
            .find(|v| v.id == version)
            .ok_or_else(invalid)?;
        let material = self.material(k, v)?;
        let plain = master::open(&material, nonce, &blob[56..], &blob[..44]).ok_or_else(invalid)?;
        Ok((plain, self.key_arn(&k.region, &k.key_id)))
    }
}

fn disabled(k: &StoredKey) -> KmsError {
    KmsError::Disabled(format!("Key {} is disabled.", k.key_id))
}

/// Binds sealed material to its key and version, so material cannot be swapped between keys.
fn material_context(k: &StoredKey, version: u32) -> String {
    format!("kms-key/{}/{version}", k.key_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(dir: &std::path::Path) -> Registry {
        Registry::open(dir, None, "123456789012").expect("opens")
    }

    #[test]
    fn keys_are_found_by_id_arn_alias_and_alias_arn_in_their_region() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = registry(dir.path());
        let k = r.create_key("us-east-1", "trail logs").expect("key");
        assert!(k.arn.starts_with("arn:aws:kms:us-east-1:123456789012:key/"));
        r.create_alias("us-east-1", "alias/logs", &k.key_id)
            .expect("alias");
        for id in [
            k.key_id.clone(),
            k.arn.clone(),
            "alias/logs".into(),
            "arn:aws:kms:us-east-1:123456789012:alias/logs".into(),
        ] {
            assert_eq!(
                r.describe("us-east-1", &id).expect("found").key_id,
                k.key_id
            );
        }
        assert!(matches!(
            r.describe("eu-west-1", &k.key_id),
            Err(KmsError::NotFound(_))
        ));
        assert!(matches!(
            r.describe("us-east-1", "alias/none"),
            Err(KmsError::NotFound(_))
        ));
        assert!(matches!(
            r.describe("us-east-1", "arn:aws:kms:x"),
            Err(KmsError::InvalidArn(_))
        ));
        assert!(matches!(
            r.create_alias("us-east-1", "alias/logs", &k.key_id),
            Err(KmsError::AlreadyExists(_))
        ));
        assert!(matches!(
            r.create_alias("us-east-1", "logs", &k.key_id),
            Err(KmsError::Validation(_))
        ));
        assert!(matches!(
            r.create_alias("us-east-1", "alias/aws/s3", &k.key_id),
            Err(KmsError::Validation(_))
        ));
        let reopened = registry(dir.path());
        assert_eq!(reopened.list_keys("us-east-1").expect("list").len(), 1);
        assert_eq!(
            reopened
                .list_aliases("us-east-1", Some(&k.arn))
                .expect("aliases")[0]
                .name,
            "alias/logs"
        );
        reopened
            .delete_alias("us-east-1", "alias/logs")
            .expect("deleted");
        assert!(
            reopened
                .list_aliases("us-east-1", None)
                .expect("aliases")
                .is_empty()
        );
    }

    #[test]
    fn ciphertexts_open_after_rotation_and_not_while_disabled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = registry(dir.path());
        let k = r.create_key("us-east-1", "").expect("key");
        let (data_key, blob, arn) = r.generate_data_key("us-east-1", &k.key_id).expect("dk");
        assert_eq!(arn, k.arn);
        let rotated = r.rotate("us-east-1", &k.arn).expect("rotate");
        assert_eq!(rotated.versions, 2);
        let (blob2, _) = r.encrypt("us-east-1", &k.key_id, b"after").expect("enc");
        assert_ne!(blob[40..44], blob2[40..44], "new material seals new data");
        let reopened = registry(dir.path());
        assert_eq!(reopened.decrypt(&blob).expect("old").0, data_key);
        assert_eq!(reopened.decrypt(&blob2).expect("new").0, b"after");
        reopened
            .set_enabled("us-east-1", &k.key_id, false)
            .expect("disable");
        assert!(matches!(
            reopened.decrypt(&blob),
            Err(KmsError::Disabled(_))
        ));
        assert!(matches!(
            reopened.generate_data_key("us-east-1", &k.key_id),
            Err(KmsError::Disabled(_))
        ));
        reopened
            .set_enabled("us-east-1", &k.key_id, true)
            .expect("enable");
        let mut tampered = blob.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(matches!(
            reopened.decrypt(&tampered),
            Err(KmsError::InvalidCiphertext(_))
        ));
        assert!(matches!(
            reopened.decrypt(b"junk"),
            Err(KmsError::InvalidCiphertext(_))
        ));
    }

    #[test]
    fn material_is_sealed_by_the_master_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = MasterKey::parse(&"ab".repeat(32)).expect("hex");
        let r = Registry::open(dir.path(), Some(m.clone()), "123456789012").expect("opens");
        let k = r.create_key("us-east-1", "").expect("key");
        let (blob, _) = r.encrypt("us-east-1", &k.key_id, b"x").expect("enc");
        let text = std::fs::read_to_string(dir.path().join("keys.json")).expect("file");
        assert!(text.contains("\"wrapped\"") && !text.contains("\"plain\""));
        assert!(matches!(
            Registry::open(dir.path(), None, "123456789012"),
            Err(KmsError::MasterKey(_))
        ));
        let again = Registry::open(dir.path(), Some(m), "123456789012").expect("opens");
        assert_eq!(again.decrypt(&blob).expect("dec").0, b"x");
    }

    #[test]
    fn rotation_settings_are_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = registry(dir.path());
        let k = r.create_key("us-east-1", "").expect("key");
        assert!(matches!(
            r.set_rotation("us-east-1", &k.key_id, true, Some(10)),
            Err(KmsError::Validation(_))
        ));
        let m = r
            .set_rotation("us-east-1", &k.key_id, true, Some(90))
            .expect("on");
        assert!(m.rotation_enabled && m.rotation_period_days == 90);
    }
}
