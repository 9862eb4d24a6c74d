//! The S3 API over the embedded store, served with the `s3s` crate (which parses requests,
//! verifies their signatures and writes the XML); this module only maps each operation onto
//! [`LocalStore`].
//!
//! Supported: ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation,
//! Get/Put/DeleteBucketPolicy, ListObjects (v1, with `Marker` and `encoding-type=url`),
//! ListObjectsV2, GetObject (with ranges), HeadObject, PutObject, DeleteObject, DeleteObjects.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use crate::local::{Listed, LocalStore};
use crate::{Metadata, StoreError};

/// The `s3s` implementation of the embedded store.
#[derive(Debug, Clone)]
pub struct EmbeddedS3 {
    store: Arc<LocalStore>,
}

impl EmbeddedS3 {
    /// Serves `store`.
    pub fn new(store: Arc<LocalStore>) -> Self {
        EmbeddedS3 { store }
    }
}

fn map_err(e: StoreError) -> S3Error {
    match e {
        StoreError::NoSuchBucket(b) => S3Error::with_message(
            S3ErrorCode::NoSuchBucket,
            format!("The specified bucket does not exist: {b}"),
        ),
        StoreError::InvalidKey { key, reason } => {
            S3Error::with_message(S3ErrorCode::InvalidArgument, format!("{key}: {reason}"))
        }
        // As S3 reports a KMS refusal on an SSE-KMS object: `KMS.<exception>`.
        StoreError::Encryption { code, message } => {
            let mut e =
                S3Error::with_message(S3ErrorCode::Custom(format!("KMS.{code}").into()), message);
            e.set_status_code(if code == "KMSInternalException" {
                http::StatusCode::INTERNAL_SERVER_ERROR
            } else {
                http::StatusCode::BAD_REQUEST
            });
            e
        }
        other => {
            tracing::error!(error = %other, "embedded S3 store failed");
            S3Error::with_message(S3ErrorCode::InternalError, other.to_string())
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> S3Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?
        .map_err(map_err)
}

/// The SSE headers of an object encrypted at rest.
fn sse_headers(meta: &crate::local::ObjectMeta) -> (Option<ServerSideEncryption>, Option<String>) {
    match &meta.encryption {
        Some(e) => (
            Some(ServerSideEncryption::from_static(
                ServerSideEncryption::AWS_KMS,
            )),
            Some(e.key_arn.clone()),
        ),
        None => (None, None),
    }
}

fn timestamp(rfc3339: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| Timestamp::from(std::time::SystemTime::from(t)))
}

fn object_of(l: &Listed, url_encode: bool) -> Object {
    Object {
        key: Some(if url_encode {
            encode_key(&l.key)
        } else {
            l.key.clone()
        }),
        size: Some(l.meta.size as i64),
        e_tag: Some(ETag::Strong(l.meta.etag.clone())),
        last_modified: timestamp(&l.meta.last_modified),
        storage_class: Some(ObjectStorageClass::from_static(
            ObjectStorageClass::STANDARD,
        )),
        ..Default::default()
    }
}

/// S3's `encoding-type=url`: keys percent-encoded except unreserved characters and `/`.
fn encode_key(key: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(key, SET).to_string()
}

/// Keys and common prefixes of a listing (prefix, delimiter, start-after), with truncation.
fn page(
    all: Vec<Listed>,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
) -> (Vec<Listed>, Vec<String>, bool, Option<String>) {
    let mut objects = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut count = 0;
    let mut last = None;
    for l in all {
        if after.is_some_and(|a| l.key.as_str() <= a) {
            continue;
        }
        let grouped = delimiter.and_then(|d| {
            l.key[prefix.len()..]
                .find(d)
                .map(|i| l.key[..prefix.len() + i + d.len()].to_owned())
        });
        if let Some(p) = grouped {
            if prefixes.last() == Some(&p) {
                continue;
            }
            if count == max {
                return (objects, prefixes, true, last);
            }
            last = Some(p.clone());
            prefixes.push(p);
        } else {
            if count == max {
                return (objects, prefixes, true, last);
            }
            last = Some(l.key.clone());
            objects.push(l);
        }
        count += 1;
    }
    (objects, prefixes, false, last)
}

#[async_trait]
impl S3 for EmbeddedS3 {
    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let s = self.store.clone();
        let buckets = blocking(move || s.list_buckets()).await?;
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(
                buckets
                    .into_iter()
                    .map(|(name, cfg)| Bucket {
                        name: Some(name),
                        creation_date: timestamp(&cfg.created),
                        ..Default::default()
                    })
                    .collect(),
            ),
            owner: Some(Owner {
                display_name: Some("opentrail".into()),
                id: Some("opentrail".into()),
            }),
            ..Default::default()
        }))
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let bucket = req.input.bucket.clone();
        let region = req
            .input
            .create_bucket_configuration
            .and_then(|c| c.location_constraint)
            .map(|l| l.as_str().to_owned())
            .unwrap_or_default();
        let s = self.store.clone();
        let b = bucket.clone();
        if !blocking(move || s.create_bucket(&b, &region)).await? {
            return Err(s3_error!(BucketAlreadyOwnedByYou));
        }
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{bucket}")),
        }))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let (s, b) = (self.store.clone(), req.input.bucket);
        if !blocking(move || s.delete_bucket(&b)).await? {
            return Err(s3_error!(BucketNotEmpty));
        }
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let (s, b) = (self.store.clone(), req.input.bucket);
        match blocking(move || s.bucket_config(&b)).await? {
            Some(_) => Ok(S3Response::new(HeadBucketOutput::default())),
            None => Err(s3_error!(NoSuchBucket)),
        }
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let (s, b) = (self.store.clone(), req.input.bucket);
        let cfg = blocking(move || s.bucket_config(&b))
            .await?
            .ok_or_else(|| s3_error!(NoSuchBucket))?;
        let location_constraint =
            (!cfg.region.is_empty()).then(|| BucketLocationConstraint::from(cfg.region));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let (s, b) = (self.store.clone(), req.input.bucket);
        let cfg = blocking(move || s.bucket_config(&b))
            .await?
            .ok_or_else(|| s3_error!(NoSuchBucket))?;
        match cfg.policy {
            Some(p) => Ok(S3Response::new(GetBucketPolicyOutput { policy: Some(p) })),
            None => Err(s3_error!(NoSuchBucketPolicy)),
        }
    }

    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        if serde_json::from_str::<serde_json::Value>(&req.input.policy).is_err() {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedPolicy,
                "The bucket policy is not valid JSON",
            ));
        }
        let (s, b, p) = (self.store.clone(), req.input.bucket, req.input.policy);
        blocking(move || s.set_policy(&b, Some(p))).await?;
        Ok(S3Response::new(PutBucketPolicyOutput {}))
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        let (s, b) = (self.store.clone(), req.input.bucket);
        blocking(move || s.set_policy(&b, None)).await?;
        Ok(S3Response::new(DeleteBucketPolicyOutput {}))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let i = req.input;
        let prefix = i.prefix.clone().unwrap_or_default();
        let max = i.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        let url = i
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == EncodingType::URL);
        let (s, b, p) = (self.store.clone(), i.bucket.clone(), prefix.clone());
        let all = blocking(move || s.list_objects(&b, &p)).await?;
        let (objects, prefixes, truncated, last) = page(
            all,
            &prefix,
            i.delimiter.as_deref(),
            i.marker.as_deref(),
            max,
        );
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(i.bucket),
            prefix: Some(if url { encode_key(&prefix) } else { prefix }),
            marker: i.marker,
            max_keys: Some(max as i32),
            is_truncated: Some(truncated),
            next_marker: if truncated && i.delimiter.is_some() {
                last
            } else {
                None
            },
            contents: Some(objects.iter().map(|l| object_of(l, url)).collect()),
            common_prefixes: Some(
                prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(p) })
                    .collect(),
            ),
            delimiter: i.delimiter,
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let i = req.input;
        let prefix = i.prefix.clone().unwrap_or_default();
        let max = i.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        let url = i
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == EncodingType::URL);
        let after = match (i.continuation_token.as_deref(), i.start_after.as_deref()) {
            (Some(c), Some(s)) => Some(c.max(s).to_owned()),
            (c, s) => c.or(s).map(str::to_owned),
        };
        let (s, b, p) = (self.store.clone(), i.bucket.clone(), prefix.clone());
        let all = blocking(move || s.list_objects(&b, &p)).await?;
        let (objects, prefixes, truncated, last) =
            page(all, &prefix, i.delimiter.as_deref(), after.as_deref(), max);
        let key_count = (objects.len() + prefixes.len()) as i32;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(i.bucket),
            prefix: Some(prefix),
            max_keys: Some(max as i32),
            key_count: Some(key_count),
            is_truncated: Some(truncated),
            continuation_token: i.continuation_token,
            next_continuation_token: if truncated { last } else { None },
            start_after: i.start_after,
            contents: Some(objects.iter().map(|l| object_of(l, url)).collect()),
            common_prefixes: Some(
                prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(p) })
                    .collect(),
            ),
            delimiter: i.delimiter,
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let i = req.input;
        let (s, b, k) = (self.store.clone(), i.bucket, i.key);
        let (bytes, meta) = blocking(move || s.get_object(&b, &k))
            .await?
            .ok_or_else(|| s3_error!(NoSuchKey))?;
        let total = bytes.len() as u64;
        let (body, range) = match i.range {
            None => (bytes, None),
            Some(r) => {
                let r = r.check(total)?;
                let part = bytes[r.start as usize..r.end as usize].to_vec();
                (
                    part,
                    Some(format!(
                        "bytes {}-{}/{total}",
                        r.start,
                        r.end.saturating_sub(1)
                    )),
                )
            }
        };
        let len = body.len() as i64;
        let (sse, sse_key) = sse_headers(&meta);
        Ok(S3Response::new(GetObjectOutput {
            server_side_encryption: sse,
            ssekms_key_id: sse_key,
            body: Some(StreamingBlob::from(s3s::Body::from(body))),
            content_length: Some(len),
            content_range: range,
            content_type: meta.content_type.clone(),
            e_tag: Some(ETag::Strong(meta.etag.clone())),
            last_modified: timestamp(&meta.last_modified),
            metadata: Some(meta.metadata.into_iter().collect()),
            accept_ranges: Some("bytes".into()),
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let i = req.input;
        let (s, b, k) = (self.store.clone(), i.bucket, i.key);
        let meta = blocking(move || s.head_object(&b, &k))
            .await?
            .ok_or_else(|| s3_error!(NoSuchKey))?;
        let (sse, sse_key) = sse_headers(&meta);
        Ok(S3Response::new(HeadObjectOutput {
            server_side_encryption: sse,
            ssekms_key_id: sse_key,
            content_length: Some(meta.size as i64),
            content_type: meta.content_type.clone(),
            e_tag: Some(ETag::Strong(meta.etag.clone())),
            last_modified: timestamp(&meta.last_modified),
            metadata: Some(meta.metadata.into_iter().collect()),
            accept_ranges: Some("bytes".into()),
            ..Default::default()
        }))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let i = req.input;
        let Some(mut body) = i.body else {
            return Err(s3_error!(IncompleteBody));
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk
                .map_err(|e| S3Error::with_message(S3ErrorCode::IncompleteBody, e.to_string()))?;
            bytes.extend_from_slice(&chunk);
        }
        let metadata: Metadata = i.metadata.unwrap_or_default().into_iter().collect();
        let content_type = i.content_type.map(|c| c.to_string());
        let kms_key = match i.server_side_encryption.as_ref().map(|s| s.as_str()) {
            None | Some(ServerSideEncryption::AES256) => None,
            Some(ServerSideEncryption::AWS_KMS) => Some(i.ssekms_key_id.clone().ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "SSE-KMS on opentrail's store needs x-amz-server-side-encryption-aws-kms-key-id (a key of its KMS API)",
                )
            })?),
            Some(other) => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    format!("Server-side encryption {other} is not supported; use aws:kms"),
                ));
            }
        };
        let region = req
            .region
            .as_ref()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.as_str().to_owned());
        let (s, b, k) = (self.store.clone(), i.bucket, i.key);
        let key_arn = kms_key.clone();
        let etag = blocking(move || {
            let kms = kms_key.as_deref().map(|id| (region.as_str(), id));
            s.put_object(&b, &k, &bytes, content_type.as_deref(), &metadata, kms)
        })
        .await?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(etag)),
            server_side_encryption: key_arn
                .as_ref()
                .map(|_| ServerSideEncryption::from_static(ServerSideEncryption::AWS_KMS)),
            ssekms_key_id: key_arn,
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let (s, b, k) = (self.store.clone(), req.input.bucket, req.input.key);
        blocking(move || s.delete_object(&b, &k)).await?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let bucket = req.input.bucket;
        let mut deleted = Vec::new();
        for o in req.input.delete.objects {
            let (s, b, k) = (self.store.clone(), bucket.clone(), o.key.clone());
            blocking(move || s.delete_object(&b, &k)).await?;
            deleted.push(DeletedObject {
                key: Some(o.key),
                ..Default::default()
            });
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            ..Default::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(keys: &[&str]) -> Vec<Listed> {
        keys.iter()
            .map(|k| Listed {
                key: (*k).to_owned(),
                meta: Default::default(),
            })
            .collect()
    }

    #[test]
    fn listings_page_by_marker_and_group_by_delimiter() {
        let all = listed(&["a/1", "a/2", "b/1", "c"]);
        let (objs, prefixes, truncated, last) = page(all.clone(), "", Some("/"), None, 1000);
        assert_eq!(
            objs.iter().map(|l| l.key.as_str()).collect::<Vec<_>>(),
            ["c"]
        );
        assert_eq!(prefixes, ["a/", "b/"]);
        assert!(!truncated);
        assert_eq!(last.as_deref(), Some("c"));
        let (objs, _, truncated, last) = page(all.clone(), "", None, Some("a/1"), 2);
        assert_eq!(
            objs.iter().map(|l| l.key.as_str()).collect::<Vec<_>>(),
            ["a/2", "b/1"]
        );
        assert!(truncated);
        assert_eq!(last.as_deref(), Some("b/1"));
        assert_eq!(
            encode_key("AWSLogs/1/a b+c.json.gz"),
            "AWSLogs/1/a%20b%2Bc.json.gz"
        );
    }
}
