//! S3-compatible object storage (AWS S3, MinIO, Ceph, Garage, ...) through `object_store`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, ObjectStore, ObjectStoreExt, PutOptions, PutPayload,
};
use serde::{Deserialize, Serialize};

use crate::{BucketInfo, Metadata, Object, ObjectInfo, ObjectStorage, StoreError};

/// How to reach the S3-compatible service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// Endpoint URL, e.g. `http://127.0.0.1:9000`; AWS S3 when absent.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Region to sign for.
    #[serde(default = "default_region")]
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Path-style requests (`endpoint/bucket/key`), which most self-hosted services need.
    #[serde(default = "yes")]
    pub path_style: bool,
}

fn default_region() -> String {
    "us-east-1".into()
}

fn yes() -> bool {
    true
}

/// A bucket and the SSE-KMS key its writes ask for.
type ClientId = (String, Option<String>);

/// An S3-compatible store; one client per bucket (and SSE-KMS key, which object_store sets
/// per client), created on first use.
pub struct S3Store {
    settings: S3Settings,
    clients: Mutex<HashMap<ClientId, Arc<AmazonS3>>>,
}

fn remote(e: object_store::Error) -> StoreError {
    StoreError::Remote(e.to_string())
}

impl S3Store {
    /// A store for `settings` (nothing is contacted until first use).
    pub fn new(settings: S3Settings) -> S3Store {
        S3Store {
            settings,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn client(&self, bucket: &str) -> Result<Arc<AmazonS3>, StoreError> {
        self.client_with(bucket, None)
    }

    /// A client whose writes ask the service for SSE-KMS with `kms_key`.
    fn client_with(
        &self,
        bucket: &str,
        kms_key: Option<&str>,
    ) -> Result<Arc<AmazonS3>, StoreError> {
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| StoreError::Remote("client cache lock poisoned".into()))?;
        let id = (bucket.to_owned(), kms_key.map(str::to_owned));
        if let Some(c) = clients.get(&id) {
            return Ok(c.clone());
        }
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&self.settings.region)
            .with_access_key_id(&self.settings.access_key_id)
            .with_secret_access_key(&self.settings.secret_access_key)
            .with_virtual_hosted_style_request(!self.settings.path_style);
        if let Some(e) = &self.settings.endpoint {
            b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
        }
        if let Some(k) = kms_key {
            b = b.with_sse_kms_encryption(k);
        }
        let c = Arc::new(b.build().map_err(remote)?);
        clients.insert(id, c.clone());
        Ok(c)
    }
}

#[async_trait]
impl ObjectStorage for S3Store {
    async fn bucket(&self, bucket: &str) -> Result<Option<BucketInfo>, StoreError> {
        match self.client(bucket)?.list_with_delimiter(None).await {
            Ok(_) => Ok(Some(BucketInfo {
                region: self.settings.region.clone(),
                policy: None,
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) if e.to_string().contains("NoSuchBucket") => Ok(None),
            Err(e) => Err(remote(e)),
        }
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
        let mut attributes = Attributes::new();
        attributes.insert(
            Attribute::ContentType,
            AttributeValue::from(content_type.to_owned()),
        );
        for (k, v) in metadata {
            attributes.insert(
                Attribute::Metadata(k.to_ascii_lowercase().into()),
                AttributeValue::from(v.clone()),
            );
        }
        let opts = PutOptions {
            attributes,
            ..PutOptions::default()
        };
        self.client_with(bucket, kms_key)?
            .put_opts(&Path::from(key), PutPayload::from(body), opts)
            .await
            .map(|_| ())
            .map_err(remote)
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Object>, StoreError> {
        let got = match self.client(bucket)?.get(&Path::from(key)).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(remote(e)),
        };
        let mut metadata = Metadata::new();
        let mut content_type = None;
        for (k, v) in got.attributes.iter() {
            match k {
                Attribute::Metadata(name) => {
                    metadata.insert(name.to_ascii_lowercase(), v.as_ref().to_owned());
                }
                Attribute::ContentType => content_type = Some(v.as_ref().to_owned()),
                _ => {}
            }
        }
        let body = got.bytes().await.map_err(remote)?;
        Ok(Some(Object {
            body,
            metadata,
            content_type,
            // The service decrypts on read; whether it encrypted is its business.
            kms_key: None,
        }))
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        // object_store lists by directory; list the prefix's directory and filter by prefix.
        let dir = prefix.rsplit_once('/').map(|(d, _)| Path::from(d));
        let metas: Vec<_> = self
            .client(bucket)?
            .list(dir.as_ref())
            .try_collect()
            .await
            .map_err(remote)?;
        let mut out: Vec<ObjectInfo> = metas
            .into_iter()
            .map(|m| ObjectInfo {
                key: m.location.to_string(),
                size: m.size,
            })
            .filter(|o| o.key.starts_with(prefix))
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        match self.client(bucket)?.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(remote(e)),
        }
    }

    fn describe(&self) -> String {
        format!(
            "S3-compatible store at {}",
            self.settings.endpoint.as_deref().unwrap_or("AWS S3")
        )
    }
}
