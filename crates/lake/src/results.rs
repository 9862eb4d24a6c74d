//! Query results delivered to S3 (StartQuery's `DeliveryS3Uri`): the rows as gzip CSV files
//! `result_N.csv.gz` and, beside them, the signed `result_sign.json` of spec 5.6, under
//! `[{prefix}/]AWSLogs/{account}/CloudTrail-Lake/Query/{yyyy}/{mm}/{dd}/{queryId}/`.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use opentrail_integrity::KeyStore;
use opentrail_integrity::digest::sha256_hex;
use opentrail_store::policy::bucket_policy_allows_lake_results;
use opentrail_store::{Metadata, ObjectStorage, bucket_name_problem};
use serde_json::json;

use crate::LakeError;

/// CSV bytes (before compression) per result file. AWS cuts files at 1 TB; a smaller cut
/// keeps each file one object any S3 client can download and gunzip in memory.
const MAX_FILE_BYTES: usize = 512 * 1024 * 1024;

/// Longest prefix accepted (as for trails' S3KeyPrefix).
const MAX_PREFIX: usize = 200;

/// `DeliveryStatus` values (DescribeQuery).
pub mod status {
    /// Results and signing file written.
    pub const SUCCESS: &str = "SUCCESS";
    /// The query has not finished yet.
    pub const PENDING: &str = "PENDING";
    /// The results could not be written.
    pub const FAILED: &str = "FAILED";
    /// The results were written, the signing file was not.
    pub const FAILED_SIGNING_FILE: &str = "FAILED_SIGNING_FILE";
    /// The bucket was gone when the results were ready.
    pub const RESOURCE_NOT_FOUND: &str = "RESOURCE_NOT_FOUND";
    /// The bucket policy no longer lets CloudTrail write the results.
    pub const ACCESS_DENIED: &str = "ACCESS_DENIED";
    /// The query was cancelled: nothing is delivered.
    pub const CANCELLED: &str = "CANCELLED";
}

/// Where a query's results go: a bucket and an optional key prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The bucket.
    pub bucket: String,
    /// Key prefix, without surrounding slashes; `None` when the URI names only the bucket.
    pub prefix: Option<String>,
}

impl Target {
    /// Reads `s3://bucket[/prefix]`.
    pub fn parse(uri: &str) -> Result<Target, LakeError> {
        let Some(rest) = uri.strip_prefix("s3://") else {
            return Err(LakeError::InvalidS3BucketName(format!(
                "DeliveryS3Uri must be an S3 URI such as s3://my-bucket/query-results; {uri:?} was given."
            )));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if let Some(problem) = bucket_name_problem(bucket) {
            return Err(LakeError::InvalidS3BucketName(format!(
                "The bucket name {bucket:?} in DeliveryS3Uri is not valid: it {problem}."
            )));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.len() > MAX_PREFIX || prefix.contains("//") {
            return Err(LakeError::InvalidS3Prefix(format!(
                "The prefix {prefix:?} in DeliveryS3Uri is not valid: use at most {MAX_PREFIX} characters and no empty path segments."
            )));
        }
        Ok(Target {
            bucket: bucket.to_owned(),
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
        })
    }

    /// The folder (key prefix, no trailing slash) a query's files go to.
    pub fn folder(&self, account: &str, query_id: &str, created: DateTime<Utc>) -> String {
        let base = match &self.prefix {
            Some(p) => format!("{p}/AWSLogs"),
            None => "AWSLogs".to_owned(),
        };
        format!(
            "{base}/{account}/CloudTrail-Lake/Query/{}/{query_id}",
            created.format("%Y/%m/%d")
        )
    }
}

/// One delivery: what the query was and what it returned.
pub struct Delivery<'a> {
    /// Owning account.
    pub account: &'a str,
    /// Region whose signing key signs the results.
    pub region: &'a str,
    /// The query id.
    pub query_id: &'a str,
    /// When the query was started (names the date folders).
    pub created: DateTime<Utc>,
    /// When it finished.
    pub completed: DateTime<Utc>,
    /// Result columns.
    pub columns: &'a [String],
    /// Result rows as text.
    pub rows: &'a [Vec<String>],
}

/// Writes query results to object storage and signs them.
pub struct ResultDelivery {
    storage: Arc<dyn ObjectStorage>,
    keys: Arc<KeyStore>,
}

impl ResultDelivery {
    /// Delivery through `storage` (where trails deliver too), signed with `keys`.
    pub fn new(storage: Arc<dyn ObjectStorage>, keys: Arc<KeyStore>) -> ResultDelivery {
        ResultDelivery { storage, keys }
    }

    /// StartQuery's checks of the target: the bucket exists and its policy (if any) lets
    /// CloudTrail write the results.
    pub async fn check(&self, target: &Target, account: &str) -> Result<(), LakeError> {
        let info =
            self.storage.bucket(&target.bucket).await.map_err(|e| {
                LakeError::Internal(format!("checking bucket {}: {e}", target.bucket))
            })?;
        let Some(info) = info else {
            return Err(LakeError::S3BucketDoesNotExist(format!(
                "The S3 bucket {} does not exist in {}: create it first (aws s3 mb s3://{}).",
                target.bucket,
                self.storage.describe(),
                target.bucket
            )));
        };
        if let Some(policy) = &info.policy
            && !bucket_policy_allows_lake_results(
                policy,
                &target.bucket,
                target.prefix.as_deref(),
                account,
            )
        {
            return Err(LakeError::InsufficientS3BucketPolicy(format!(
                "The policy of bucket {} does not let cloudtrail.amazonaws.com write query results: allow s3:GetBucketAcl on the bucket and s3:PutObject on {}/AWSLogs/{account}/*.",
                target.bucket,
                match &target.prefix {
                    Some(p) => format!("arn:aws:s3:::{}/{p}", target.bucket),
                    None => format!("arn:aws:s3:::{}", target.bucket),
                }
            )));
        }
        Ok(())
    }

    /// Writes the result files and the signing file; returns the `DeliveryStatus`.
    pub async fn deliver(&self, target: &Target, d: &Delivery<'_>) -> &'static str {
        match self.check(target, d.account).await {
            Ok(()) => {}
            Err(LakeError::S3BucketDoesNotExist(_)) => return status::RESOURCE_NOT_FOUND,
            Err(LakeError::InsufficientS3BucketPolicy(_)) => return status::ACCESS_DENIED,
            Err(e) => {
                tracing::warn!(query = %d.query_id, error = %e, "query results not delivered");
                return status::FAILED;
            }
        }
        let folder = target.folder(d.account, d.query_id, d.created);
        let files = match csv_files(d.columns, d.rows) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(query = %d.query_id, error = %e, "query results not delivered");
                return status::FAILED;
            }
        };
        let mut listed = Vec::with_capacity(files.len());
        for (i, body) in files.into_iter().enumerate() {
            let name = format!("result_{}.csv.gz", i + 1);
            let hash = sha256_hex(&body);
            if let Err(e) = self
                .storage
                .put(
                    &target.bucket,
                    &format!("{folder}/{name}"),
                    Bytes::from(body),
                    "application/x-gzip",
                    &Metadata::new(),
                    None,
                )
                .await
            {
                tracing::warn!(query = %d.query_id, error = %e, "query results not delivered");
                return status::FAILED;
            }
            listed.push((name, hash));
        }
        match self.sign(d, &listed) {
            Ok(sign) => match self
                .storage
                .put(
                    &target.bucket,
                    &format!("{folder}/result_sign.json"),
                    Bytes::from(sign),
                    "application/json",
                    &Metadata::new(),
                    None,
                )
                .await
            {
                Ok(()) => status::SUCCESS,
                Err(e) => {
                    tracing::warn!(query = %d.query_id, error = %e, "query signing file not delivered");
                    status::FAILED_SIGNING_FILE
                }
            },
            Err(e) => {
                tracing::warn!(query = %d.query_id, error = %e, "query results not signed");
                status::FAILED_SIGNING_FILE
            }
        }
    }

    /// `result_sign.json`: the files' SHA-256 (of the compressed bytes), joined by spaces,
    /// signed SHA256withRSA with the region's current signing key (spec 5.6).
    fn sign(&self, d: &Delivery<'_>, files: &[(String, String)]) -> Result<Vec<u8>, LakeError> {
        let key = self
            .keys
            .signing_key(d.region, d.completed.timestamp())
            .map_err(|e| LakeError::Internal(format!("signing key: {e}")))?;
        let signed = files
            .iter()
            .map(|(_, h)| h.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let signature = key
            .sign(signed.as_bytes())
            .map_err(|e| LakeError::Internal(format!("signing: {e}")))?;
        let doc = json!({
            "version": "1.0",
            "region": d.region,
            "files": files
                .iter()
                .map(|(name, hash)| json!({"fileHashValue": hash, "fileName": name}))
                .collect::<Vec<_>>(),
            "hashAlgorithm": "SHA-256",
            "signatureAlgorithm": "SHA256withRSA",
            "queryCompleteTime": d.completed.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "hashSignature": hex::encode(signature),
            "publicKeyFingerprint": key.public.fingerprint,
        });
        serde_json::to_vec(&doc).map_err(|e| LakeError::Internal(e.to_string()))
    }
}

/// The rows as gzip CSV files, each starting with the header row, cut at [`MAX_FILE_BYTES`]
/// of CSV. Always at least one file (an empty result is a header only).
fn csv_files(columns: &[String], rows: &[Vec<String>]) -> Result<Vec<Vec<u8>>, LakeError> {
    let io = |e: std::io::Error| LakeError::Internal(format!("writing result CSV: {e}"));
    let csv_err = |e: csv::Error| LakeError::Internal(format!("writing result CSV: {e}"));
    let mut files = Vec::new();
    let mut rows = rows.iter().peekable();
    loop {
        let mut csv = csv::Writer::from_writer(Vec::new());
        csv.write_record(columns).map_err(csv_err)?;
        let mut size = 0;
        while size < MAX_FILE_BYTES
            && let Some(row) = rows.next()
        {
            size += row.iter().map(|v| v.len() + 1).sum::<usize>();
            csv.write_record(row).map_err(csv_err)?;
        }
        let text = csv
            .into_inner()
            .map_err(|e| LakeError::Internal(format!("writing result CSV: {e}")))?;
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&text).map_err(io)?;
        files.push(gz.finish().map_err(io)?);
        if rows.peek().is_none() {
            return Ok(files);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn uris_name_a_bucket_and_an_optional_prefix() {
        let t = Target::parse("s3://my-results/team/q/").expect("valid");
        assert_eq!(t.bucket, "my-results");
        assert_eq!(t.prefix.as_deref(), Some("team/q"));
        let created = DateTime::parse_from_rfc3339("2026-03-04T05:06:07Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(
            t.folder("123456789012", "q-1", created),
            "team/q/AWSLogs/123456789012/CloudTrail-Lake/Query/2026/03/04/q-1"
        );
        assert_eq!(
            Target::parse("s3://my-results").expect("valid").prefix,
            None
        );
        for (bad, code) in [
            ("https://my-results/x", "InvalidS3BucketNameException"),
            ("s3://My_Bucket/x", "InvalidS3BucketNameException"),
            ("s3://ab", "InvalidS3BucketNameException"),
            ("s3://my-results/a//b", "InvalidS3PrefixException"),
        ] {
            assert_eq!(Target::parse(bad).expect_err(bad).code(), code, "{bad}");
        }
        let long = format!("s3://my-results/{}", "p".repeat(201));
        assert_eq!(
            Target::parse(&long).expect_err("long").code(),
            "InvalidS3PrefixException"
        );
    }

    #[test]
    fn csv_files_quote_values_and_keep_the_header() {
        let columns = vec!["eventname".to_owned(), "n".to_owned()];
        let rows = vec![
            vec!["Get,Object".to_owned(), "1".to_owned()],
            vec!["say \"hi\"".to_owned(), String::new()],
        ];
        let files = csv_files(&columns, &rows).expect("csv");
        assert_eq!(files.len(), 1);
        let mut text = String::new();
        flate2::read::GzDecoder::new(&files[0][..])
            .read_to_string(&mut text)
            .expect("gzip");
        assert_eq!(text, "eventname,n\n\"Get,Object\",1\n\"say \"\"hi\"\"\",\n");
        let empty = csv_files(&columns, &[]).expect("csv");
        assert_eq!(empty.len(), 1);
    }
}
