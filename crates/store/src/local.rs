//! The embedded object store: buckets as directories, objects written atomically, metadata
//! beside them.
//!
//! ```text
//! <root>/<bucket>/<key>             object bytes
//! <root>/.meta/<bucket>/<key>       object metadata (JSON: user metadata, content type, ETag)
//! <root>/.buckets/<bucket>.json     bucket settings (creation time, region, policy)
//! <root>/.tmp/                      objects being written (renamed into place when complete)
//! ```
//! Bucket names cannot start with a dot, so the three dot-directories never clash with one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use md5::{Digest, Md5};
use opentrail_kms::{Envelope, Registry, open_object, seal_object};
use serde::{Deserialize, Serialize};

use crate::{
    BucketInfo, Metadata, Object, ObjectInfo, ObjectStorage, StoreError, bucket_name_problem,
};

/// A bucket's stored settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketConfig {
    /// Creation time, RFC 3339.
    pub created: String,
    /// `LocationConstraint` given at creation (`""` for us-east-1).
    #[serde(default)]
    pub region: String,
    /// Bucket policy JSON.
    #[serde(default)]
    pub policy: Option<String>,
}

/// An object's stored metadata.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectMeta {
    /// User metadata.
    #[serde(default)]
    pub metadata: Metadata,
    /// Content type.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Hex MD5 of the bytes (the S3 ETag of a single-part upload).
    pub etag: String,
    /// Size.
    pub size: u64,
    /// Last modification, RFC 3339.
    pub last_modified: String,
    /// How the bytes on disk are encrypted (SSE-KMS), if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Envelope>,
}

impl ObjectMeta {
    /// Bytes on disk: AES-GCM adds its 16-byte tag to an encrypted object.
    fn stored_size(&self) -> u64 {
        self.size + if self.encryption.is_some() { 16 } else { 0 }
    }
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Key.
    pub key: String,
    /// Its metadata.
    pub meta: ObjectMeta,
}

/// The embedded store.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    counter: AtomicU64,
    /// Keys for SSE-KMS objects; without it such writes are refused.
    kms: Option<Arc<Registry>>,
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(format!("syncing {}", dir.display()), e))
}

fn check_key(key: &str) -> Result<(), StoreError> {
    let bad = |reason| {
        Err(StoreError::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() || key.len() > 1024 {
        return bad("keys must be 1 to 1024 bytes");
    }
    if key.ends_with('/') {
        return bad("the embedded store does not hold keys ending in '/'");
    }
    if key.starts_with('/')
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return bad("the embedded store does not hold keys with empty, '.' or '..' path segments");
    }
    if key.contains('\0') {
        return bad("keys must not contain NUL");
    }
    Ok(())
}

impl LocalStore {
    /// Opens (creating) the store under `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<LocalStore, StoreError> {
        let root = root.into();
        for d in [
            root.clone(),
            root.join(".meta"),
            root.join(".buckets"),
            root.join(".tmp"),
        ] {
            fs::create_dir_all(&d)
                .map_err(|e| StoreError::io(format!("creating {}", d.display()), e))?;
        }
        // Leftovers of writes a crash interrupted were never visible; remove them.
        if let Ok(rd) = fs::read_dir(root.join(".tmp")) {
            for e in rd.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(LocalStore {
            root,
            counter: AtomicU64::new(0),
            kms: None,
        })
    }

    /// The store encrypting SSE-KMS objects with keys of `kms`.
    pub fn with_kms(mut self, kms: Arc<Registry>) -> LocalStore {
        self.kms = Some(kms);
        self
    }

    fn registry(&self) -> Result<&Registry, StoreError> {
        self.kms.as_deref().ok_or_else(|| StoreError::Encryption {
            code: "KMSInternalException",
            message: "this store has no KMS key registry for encrypted objects".into(),
        })
    }

    /// The directory holding the buckets.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn bucket_file(&self, bucket: &str) -> PathBuf {
        self.root.join(".buckets").join(format!("{bucket}.json"))
    }

    /// The settings of `bucket`, if it exists.
    pub fn bucket_config(&self, bucket: &str) -> Result<Option<BucketConfig>, StoreError> {
        if bucket_name_problem(bucket).is_some() {
            return Ok(None);
        }
        match fs::read(self.bucket_file(bucket)) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
                StoreError::io(
                    format!("reading settings of bucket {bucket}"),
                    std::io::Error::other(e),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(
                format!("reading settings of bucket {bucket}"),
                e,
            )),
        }
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .root
            .join(".tmp")
            .join(format!("{}-{n}", std::process::id()));
        let ctx = |what: &str| format!("{what} {}", path.display());
        let mut f = fs::File::create(&tmp).map_err(|e| StoreError::io(ctx("writing"), e))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .map_err(|e| StoreError::io(ctx("writing"), e))?;
        let parent = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent).map_err(|e| StoreError::io(ctx("creating the folder of"), e))?;
        fs::rename(&tmp, path).map_err(|e| StoreError::io(ctx("renaming into place"), e))?;
        sync_dir(parent)
    }

    /// Creates a bucket; `false` when it already exists.
    pub fn create_bucket(&self, bucket: &str, region: &str) -> Result<bool, StoreError> {
        if let Some(problem) = bucket_name_problem(bucket) {
            return Err(StoreError::InvalidKey {
                key: bucket.to_owned(),
                reason: problem,
            });
        }
        if self.bucket_config(bucket)?.is_some() {
            return Ok(false);
        }
        let dir = self.root.join(bucket);
        fs::create_dir_all(&dir)
            .map_err(|e| StoreError::io(format!("creating bucket {bucket}"), e))?;
        let cfg = BucketConfig {
            created: now(),
            region: region.to_owned(),
            policy: None,
        };
        self.write_atomic(
            &self.bucket_file(bucket),
            &serde_json::to_vec(&cfg).unwrap_or_default(),
        )?;
        Ok(true)
    }

    /// Sets or clears the bucket policy.
    pub fn set_policy(&self, bucket: &str, policy: Option<String>) -> Result<(), StoreError> {
        let mut cfg = self
            .bucket_config(bucket)?
            .ok_or_else(|| StoreError::NoSuchBucket(bucket.to_owned()))?;
        cfg.policy = policy;
        self.write_atomic(
            &self.bucket_file(bucket),
            &serde_json::to_vec(&cfg).unwrap_or_default(),
        )
    }

    /// Deletes an empty bucket; `Ok(false)` when it still holds objects.
    pub fn delete_bucket(&self, bucket: &str) -> Result<bool, StoreError> {
        if self.bucket_config(bucket)?.is_none() {
            return Err(StoreError::NoSuchBucket(bucket.to_owned()));
        }
        if !self.list_objects(bucket, "")?.is_empty() {
            return Ok(false);
        }
        let _ = fs::remove_dir_all(self.root.join(bucket));
        let _ = fs::remove_dir_all(self.root.join(".meta").join(bucket));
        fs::remove_file(self.bucket_file(bucket))
            .map_err(|e| StoreError::io(format!("deleting bucket {bucket}"), e))?;
        sync_dir(&self.root.join(".buckets"))?;
        Ok(true)
    }

    /// Every bucket with its settings, by name.
    pub fn list_buckets(&self) -> Result<Vec<(String, BucketConfig)>, StoreError> {
        let mut out = Vec::new();
        let dir = self.root.join(".buckets");
        for e in fs::read_dir(&dir)
            .map_err(|e| StoreError::io("listing buckets", e))?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(b) = name.strip_suffix(".json")
                && let Some(cfg) = self.bucket_config(b)?
            {
                out.push((b.to_owned(), cfg));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn paths(&self, bucket: &str, key: &str) -> Result<(PathBuf, PathBuf), StoreError> {
        check_key(key)?;
        if self.bucket_config(bucket)?.is_none() {
            return Err(StoreError::NoSuchBucket(bucket.to_owned()));
        }
        Ok((
            self.root.join(bucket).join(key),
            self.root.join(".meta").join(bucket).join(key),
        ))
    }

    /// Writes an object (metadata first, then the bytes, each atomically); returns its ETag.
    /// With `kms_key` = (region, key id, ARN or alias) the bytes are sealed under a fresh data
    /// key from that KMS key and only the sealed bytes reach the disk.
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        content_type: Option<&str>,
        metadata: &Metadata,
        kms_key: Option<(&str, &str)>,
    ) -> Result<String, StoreError> {
        let (obj, meta) = self.paths(bucket, key)?;
        let etag = hex::encode(Md5::digest(body));
        let (stored, encryption) = match kms_key {
            Some((region, id)) => {
                let (sealed, env) = seal_object(self.registry()?, region, id, body)?;
                (std::borrow::Cow::Owned(sealed), Some(env))
            }
            None => (std::borrow::Cow::Borrowed(body), None),
        };
        let m = ObjectMeta {
            metadata: metadata
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
            content_type: content_type.map(str::to_owned),
            etag: etag.clone(),
            size: body.len() as u64,
            last_modified: now(),
            encryption,
        };
        self.write_atomic(&meta, &serde_json::to_vec(&m).unwrap_or_default())?;
        self.write_atomic(&obj, &stored)?;
        Ok(etag)
    }

    /// An object's metadata, if the object exists.
    pub fn head_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        let (obj, meta) = self.paths(bucket, key)?;
        let Ok(md) = fs::metadata(&obj) else {
            return Ok(None);
        };
        if !md.is_file() {
            return Ok(None);
        }
        let mut m: ObjectMeta = fs::read(&meta)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if m.stored_size() != md.len() || m.etag.is_empty() {
            // Written by something else than this store: describe what is there.
            let bytes = fs::read(&obj)
                .map_err(|e| StoreError::io(format!("reading {}", obj.display()), e))?;
            m = ObjectMeta {
                etag: hex::encode(Md5::digest(&bytes)),
                size: md.len(),
                encryption: None,
                ..m
            };
        }
        Ok(Some(m))
    }

    /// An object and its metadata.
    pub fn get_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<(Vec<u8>, ObjectMeta)>, StoreError> {
        let Some(meta) = self.head_object(bucket, key)? else {
            return Ok(None);
        };
        let (obj, _) = self.paths(bucket, key)?;
        match fs::read(&obj) {
            Ok(b) => match &meta.encryption {
                // Server-side encryption: authorized reads get the plaintext.
                Some(env) => Ok(Some((open_object(self.registry()?, env, &b)?, meta))),
                None => Ok(Some((b, meta))),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(format!("reading {}", obj.display()), e)),
        }
    }

    /// Deletes an object; whether it existed.
    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<bool, StoreError> {
        let (obj, meta) = self.paths(bucket, key)?;
        let existed = fs::remove_file(&obj).is_ok();
        let _ = fs::remove_file(&meta);
        if let Some(parent) = obj.parent() {
            let _ = sync_dir(parent);
        }
        Ok(existed)
    }

    /// Every object whose key starts with `prefix`, in key order.
    pub fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>, StoreError> {
        if self.bucket_config(bucket)?.is_none() {
            return Err(StoreError::NoSuchBucket(bucket.to_owned()));
        }
        let base = self.root.join(bucket);
        // Only walk the directory the prefix points into.
        let start = match prefix.rfind('/') {
            Some(i) => base.join(&prefix[..i]),
            None => base.clone(),
        };
        let mut out = Vec::new();
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = fs::read_dir(&dir) else { continue };
            for e in rd.flatten() {
                let path = e.path();
                let Ok(ft) = e.file_type() else { continue };
                let rel = path
                    .strip_prefix(&base)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                if ft.is_dir() {
                    if prefix.starts_with(&format!("{rel}/"))
                        || format!("{rel}/").starts_with(prefix)
                        || rel.starts_with(prefix)
                    {
                        stack.push(path);
                    }
                } else if ft.is_file()
                    && rel.starts_with(prefix)
                    && let Some(meta) = self.head_object(bucket, &rel)?
                {
                    out.push(Listed { key: rel, meta });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::io("store task", std::io::Error::other(e.to_string())))?
}

/// A cheap handle on the same store for async callers.
#[async_trait]
impl ObjectStorage for std::sync::Arc<LocalStore> {
    async fn bucket(&self, bucket: &str) -> Result<Option<BucketInfo>, StoreError> {
        Ok(self.bucket_config(bucket)?.map(|c| BucketInfo {
            region: c.region,
            policy: c.policy,
        }))
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
        metadata: &Metadata,
        kms_key: Option<&str>,
    ) -> Result<(), StoreError> {
        let (s, b, k, ct, m, kms) = (
            self.clone(),
            bucket.to_owned(),
            key.to_owned(),
            content_type.to_owned(),
            metadata.clone(),
            kms_key.map(str::to_owned),
        );
        blocking(move || {
            // A key ARN names its own region.
            let kms = kms.as_deref().map(|arn| ("", arn));
            s.put_object(&b, &k, &body, Some(&ct), &m, kms).map(|_| ())
        })
        .await
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Object>, StoreError> {
        let (s, b, k) = (self.clone(), bucket.to_owned(), key.to_owned());
        let got = blocking(move || s.get_object(&b, &k)).await?;
        Ok(got.map(|(body, meta)| Object {
            body: Bytes::from(body),
            metadata: meta.metadata,
            content_type: meta.content_type,
            kms_key: meta.encryption.map(|e| e.key_arn),
        }))
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let (s, b, p) = (self.clone(), bucket.to_owned(), prefix.to_owned());
        let listed = blocking(move || s.list_objects(&b, &p)).await?;
        Ok(listed
            .into_iter()
            .map(|l| ObjectInfo {
                key: l.key,
                size: l.meta.size,
            })
            .collect())
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let (s, b, k) = (self.clone(), bucket.to_owned(), key.to_owned());
        blocking(move || s.delete_object(&b, &k).map(|_| ())).await
    }

    fn describe(&self) -> String {
        format!("embedded store at {}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_kms_objects_are_sealed_on_disk_and_read_back_in_the_clear() {
        let tmp = tempfile::tempdir().expect("tmp");
        let kms =
            Arc::new(Registry::open(tmp.path().join("kms"), None, "123456789012").expect("kms"));
        let key = kms.create_key("us-east-1", "").expect("key");
        let plain_store = LocalStore::open(tmp.path().join("plain")).expect("open");
        plain_store.create_bucket("logs", "").expect("bucket");
        assert!(
            matches!(
                plain_store.put_object(
                    "logs",
                    "k",
                    b"x",
                    None,
                    &Metadata::new(),
                    Some(("", &key.arn))
                ),
                Err(StoreError::Encryption { .. })
            ),
            "no registry, no encryption"
        );
        let s = LocalStore::open(tmp.path().join("s"))
            .expect("open")
            .with_kms(kms.clone());
        s.create_bucket("logs", "").expect("bucket");
        let body = b"{\"Records\":[{\"eventName\":\"ConsoleLogin\"}]}";
        s.put_object(
            "logs",
            "a/k.json",
            body,
            None,
            &Metadata::new(),
            Some(("", &key.arn)),
        )
        .expect("put");
        let on_disk = std::fs::read(tmp.path().join("s/logs/a/k.json")).expect("disk");
        assert!(
            !on_disk.windows(12).any(|w| w == b"ConsoleLogin"),
            "no plaintext at rest"
        );
        let (got, meta) = s
            .get_object("logs", "a/k.json")
            .expect("get")
            .expect("exists");
        assert_eq!(got, body);
        assert_eq!(meta.size, body.len() as u64);
        assert_eq!(
            meta.encryption.as_ref().map(|e| e.key_arn.as_str()),
            Some(key.arn.as_str())
        );
        assert_eq!(
            s.list_objects("logs", "").expect("list")[0].meta.size,
            body.len() as u64
        );
        kms.set_enabled("us-east-1", &key.key_id, false)
            .expect("disable");
        assert!(matches!(
            s.get_object("logs", "a/k.json"),
            Err(StoreError::Encryption {
                code: "DisabledException",
                ..
            })
        ));
    }

    #[test]
    fn objects_round_trip_with_metadata_and_listing() {
        let tmp = tempfile::tempdir().expect("tmp");
        let s = LocalStore::open(tmp.path()).expect("open");
        assert!(matches!(
            s.put_object("nope", "k", b"x", None, &Metadata::new(), None),
            Err(StoreError::NoSuchBucket(_))
        ));
        assert!(s.create_bucket("logs", "").expect("create"));
        assert!(!s.create_bucket("logs", "").expect("again"));
        let mut meta = Metadata::new();
        meta.insert("Signature".into(), "abc".into());
        let etag = s
            .put_object(
                "logs",
                "AWSLogs/1/CloudTrail/a.json.gz",
                b"hello",
                Some("application/json"),
                &meta,
                None,
            )
            .expect("put");
        assert_eq!(etag, "5d41402abc4b2a76b9719d911017c592");
        s.put_object(
            "logs",
            "AWSLogs/1/CloudTrail/b.json.gz",
            b"world!",
            None,
            &Metadata::new(),
            None,
        )
        .expect("put");
        s.put_object("logs", "other/c", b"c", None, &Metadata::new(), None)
            .expect("put");
        let (body, m) = s
            .get_object("logs", "AWSLogs/1/CloudTrail/a.json.gz")
            .expect("get")
            .expect("exists");
        assert_eq!(body, b"hello");
        assert_eq!(
            m.metadata.get("signature").map(String::as_str),
            Some("abc"),
            "metadata keys are lower-cased"
        );
        assert_eq!(m.content_type.as_deref(), Some("application/json"));
        let keys: Vec<String> = s
            .list_objects("logs", "AWSLogs/1/")
            .expect("list")
            .into_iter()
            .map(|l| l.key)
            .collect();
        assert_eq!(
            keys,
            [
                "AWSLogs/1/CloudTrail/a.json.gz",
                "AWSLogs/1/CloudTrail/b.json.gz"
            ]
        );
        assert_eq!(s.list_objects("logs", "").expect("list").len(), 3);
        assert_eq!(
            s.list_objects("logs", "AWSLogs/1/CloudTrail/b")
                .expect("list")
                .len(),
            1
        );
        assert!(!s.delete_bucket("logs").expect("not empty"));
        for bad in ["", "/abs", "a/../b", "dir/", "a//b"] {
            assert!(
                matches!(
                    s.put_object("logs", bad, b"x", None, &Metadata::new(), None),
                    Err(StoreError::InvalidKey { .. })
                ),
                "{bad}"
            );
        }
        assert!(s.delete_object("logs", "other/c").expect("delete"));
        assert!(s.get_object("logs", "other/c").expect("get").is_none());
        s.set_policy("logs", Some("{}".into())).expect("policy");
        assert_eq!(
            s.bucket_config("logs")
                .expect("cfg")
                .expect("exists")
                .policy
                .as_deref(),
            Some("{}")
        );
        assert_eq!(s.list_buckets().expect("list").len(), 1);
        // No temporary files are left behind.
        assert_eq!(
            fs::read_dir(tmp.path().join(".tmp")).expect("tmp").count(),
            0
        );
    }
}
