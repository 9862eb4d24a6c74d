//! Who may call the server: the root access key and the configured IAM users.
//!
//! Root credentials come from `OPENTRAIL_ACCESS_KEY_ID` / `OPENTRAIL_SECRET_ACCESS_KEY` when
//! both are set; otherwise from `<data-dir>/credentials`, which is created on first start with
//! a fresh random key (AWS shared-credentials format, profile `opentrail`, mode 0600), so the
//! aws CLI and boto3 can use it directly with `AWS_SHARED_CREDENTIALS_FILE`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use opentrail_model::UserIdentity;

use crate::ServerError;
use crate::config::Config;

/// The profile name written to the credentials file.
pub const PROFILE: &str = "opentrail";

/// A principal that can sign requests.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `None` for the account root user.
    pub user_name: Option<String>,
    /// Owning account.
    pub account_id: String,
    /// Its access key id.
    pub access_key_id: String,
    secret_access_key: String,
}

impl Principal {
    /// The secret used to verify this principal's signatures.
    pub fn secret(&self) -> &str {
        &self.secret_access_key
    }

    /// The `userIdentity` recorded for calls this principal makes.
    pub fn identity(&self) -> UserIdentity {
        match &self.user_name {
            None => UserIdentity::root(&self.account_id, &self.access_key_id),
            Some(name) => UserIdentity::iam_user(&self.account_id, name, &self.access_key_id),
        }
    }
}

/// Where the root credentials came from (shown in the start-up banner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSource {
    /// `OPENTRAIL_ACCESS_KEY_ID` / `OPENTRAIL_SECRET_ACCESS_KEY`.
    Environment,
    /// An existing credentials file.
    File(PathBuf),
    /// Generated now and written to this file.
    Generated(PathBuf),
}

/// Every principal, by access key id.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    by_key: HashMap<String, Arc<Principal>>,
    root: Arc<Principal>,
    root_source: RootSource,
}

impl CredentialStore {
    /// Loads or creates the root credentials and adds the configured principals.
    pub fn load(config: &Config) -> Result<CredentialStore, ServerError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let (key, secret, source) = match (
            env("OPENTRAIL_ACCESS_KEY_ID"),
            env("OPENTRAIL_SECRET_ACCESS_KEY"),
        ) {
            (Some(k), Some(s)) => (k, s, RootSource::Environment),
            (Some(_), None) | (None, Some(_)) => {
                return Err(ServerError::Config {
                    message: "set both OPENTRAIL_ACCESS_KEY_ID and OPENTRAIL_SECRET_ACCESS_KEY, or neither".into(),
                });
            }
            (None, None) => {
                let path = config.data_dir.join("credentials");
                match read_credentials_file(&path)? {
                    Some((k, s)) => (k, s, RootSource::File(path)),
                    None => {
                        let (k, s) = generate_key_pair()?;
                        write_credentials_file(&path, &k, &s)?;
                        (k, s, RootSource::Generated(path))
                    }
                }
            }
        };
        let root = Arc::new(Principal {
            user_name: None,
            account_id: config.account_id.clone(),
            access_key_id: key,
            secret_access_key: secret,
        });
        let mut by_key = HashMap::new();
        by_key.insert(root.access_key_id.clone(), root.clone());
        for p in &config.principals {
            let principal = Arc::new(Principal {
                user_name: Some(p.user_name.clone()),
                account_id: p
                    .account_id
                    .clone()
                    .unwrap_or_else(|| config.account_id.clone()),
                access_key_id: p.access_key_id.clone(),
                secret_access_key: p.secret_access_key.clone(),
            });
            if by_key.insert(p.access_key_id.clone(), principal).is_some() {
                return Err(ServerError::Config {
                    message: format!("access key {} is used twice", p.access_key_id),
                });
            }
        }
        Ok(CredentialStore {
            by_key,
            root,
            root_source: source,
        })
    }

    /// The principal owning `access_key_id`.
    pub fn get(&self, access_key_id: &str) -> Option<&Arc<Principal>> {
        self.by_key.get(access_key_id)
    }

    /// The root principal.
    pub fn root(&self) -> &Arc<Principal> {
        &self.root
    }

    /// Where the root credentials came from.
    pub fn root_source(&self) -> &RootSource {
        &self.root_source
    }
}

/// A new access key id (`AKIA` + 16 base-32 characters) and 40-character secret.
fn generate_key_pair() -> Result<(String, String), ServerError> {
    const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let rng = SystemRandom::new();
    let mut raw = [0u8; 46];
    rng.fill(&mut raw).map_err(|_| ServerError::Config {
        message: "the system random number generator failed".into(),
    })?;
    let mut key = String::from("AKIA");
    key.extend(
        raw[..16]
            .iter()
            .map(|b| KEY_ALPHABET[(*b & 31) as usize] as char),
    );
    use base64::Engine;
    let secret = base64::engine::general_purpose::STANDARD.encode(&raw[16..46]);
    Ok((key, secret))
}

/// The keys of `profile` in the text of an AWS shared credentials file, when it has both.
pub fn profile_keys(text: &str, profile: &str) -> Option<(String, String)> {
    let header = format!("[{profile}]");
    let mut in_profile = false;
    let (mut key, mut secret) = (None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_profile = line == header;
        } else if in_profile && let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "aws_access_key_id" => key = Some(v.trim().to_owned()),
                "aws_secret_access_key" => secret = Some(v.trim().to_owned()),
                _ => {}
            }
        }
    }
    key.zip(secret)
}

fn read_credentials_file(path: &Path) -> Result<Option<(String, String)>, ServerError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ServerError::io(format!("reading {}", path.display()), e)),
    };
    match profile_keys(&text, PROFILE) {
        Some(keys) => Ok(Some(keys)),
        None => Err(ServerError::Config {
            message: format!(
                "{} has no complete [{PROFILE}] profile; delete it to have new credentials generated",
                path.display()
            ),
        }),
    }
}

fn write_credentials_file(path: &Path, key: &str, secret: &str) -> Result<(), ServerError> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| ServerError::io(format!("creating {}", dir.display()), e))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| ServerError::io(format!("creating {}", path.display()), e))?;
    let text = format!(
        "# Root credentials of this opentrail server, generated on first start.\n\
         # Use with: AWS_SHARED_CREDENTIALS_FILE={} AWS_PROFILE={PROFILE}\n\
         [{PROFILE}]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n",
        path.display()
    );
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| ServerError::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_are_written_once_and_read_back() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("credentials");
        assert_eq!(read_credentials_file(&path).expect("read"), None);
        let (k, s) = generate_key_pair().expect("gen");
        assert!(k.starts_with("AKIA") && k.len() == 20, "{k}");
        assert_eq!(s.len(), 40);
        write_credentials_file(&path, &k, &s).expect("write");
        assert_eq!(
            read_credentials_file(&path).expect("read"),
            Some((k.clone(), s))
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(
            write_credentials_file(&path, &k, "x").is_err(),
            "never overwritten"
        );
        let (k2, _) = generate_key_pair().expect("gen");
        assert_ne!(k, k2);
    }

    #[test]
    fn a_damaged_credentials_file_is_an_error_not_a_new_key() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("credentials");
        std::fs::write(&path, "[other]\naws_access_key_id = A\n").expect("write");
        assert!(read_credentials_file(&path).is_err());
    }
}
