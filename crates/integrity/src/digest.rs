//! Digest files (spec 5.1-5.3): where they go, what they hold, and how they are signed and
//! chained, byte for byte as `aws cloudtrail validate-logs` reads them.

use std::io::Write;

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::error::IntegrityError;
use crate::keys::SigningKey;

/// `digestSignatureAlgorithm` and the `signature-algorithm` metadata.
pub const SIGNATURE_ALGORITHM: &str = "SHA256withRSA";
/// `hashAlgorithm` of log files and previous digests.
pub const HASH_ALGORITHM: &str = "SHA-256";

/// Second-precision UTC time as digests write it (`2015-08-17T14:01:31Z`).
pub fn digest_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Where a digest goes: what identifies its chain and its end time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestPlace<'a> {
    /// The trail's S3 key prefix.
    pub prefix: Option<&'a str>,
    /// The organization id, for organization trails.
    pub org_id: Option<&'a str>,
    /// The account whose logs the digest covers.
    pub account: &'a str,
    /// The region whose logs the digest covers.
    pub region: &'a str,
    /// The trail's name.
    pub trail_name: &'a str,
    /// The trail's home region.
    pub home_region: &'a str,
}

impl DigestPlace<'_> {
    /// The object key of the digest ending at `end` (spec 5.1).
    pub fn key(&self, end: DateTime<Utc>, backfill: bool) -> String {
        let mut k = String::new();
        if let Some(p) = self.prefix.filter(|p| !p.is_empty()) {
            k.push_str(p.trim_end_matches('/'));
            k.push('/');
        }
        k.push_str("AWSLogs/");
        if let Some(o) = self.org_id {
            k.push_str(o);
            k.push('/');
        }
        let (acct, src) = (self.account, self.region);
        k.push_str(&format!(
            "{acct}/CloudTrail-Digest/{src}/{}/{acct}_CloudTrail-Digest_{src}_{}_{}_{}{}.json.gz",
            end.format("%Y/%m/%d"),
            self.trail_name,
            self.home_region,
            end.format("%Y%m%dT%H%M%SZ"),
            if backfill { "_backfill" } else { "" }
        ));
        k
    }
}

/// One log file a digest lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestLogFile {
    /// Bucket.
    #[serde(rename = "s3Bucket")]
    pub s3_bucket: String,
    /// Key.
    #[serde(rename = "s3Object")]
    pub s3_object: String,
    /// Hex SHA-256 of the uncompressed log file.
    #[serde(rename = "hashValue")]
    pub hash_value: String,
    /// Always `SHA-256`.
    #[serde(rename = "hashAlgorithm")]
    pub hash_algorithm: String,
    /// Time of the newest event in the file.
    #[serde(rename = "newestEventTime")]
    pub newest_event_time: String,
    /// Time of the oldest event in the file.
    #[serde(rename = "oldestEventTime")]
    pub oldest_event_time: String,
}

/// What the next digest of a chain needs of the one before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    /// Bucket of the previous digest.
    pub bucket: String,
    /// Key of the previous digest.
    pub key: String,
    /// Hex SHA-256 of its uncompressed bytes.
    pub hash: String,
    /// Hex signature, exactly as stored in its `signature` metadata.
    pub signature: String,
}

/// The JSON document of a digest file, in AWS's member order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestDocument {
    /// `awsAccountId`.
    #[serde(rename = "awsAccountId")]
    pub aws_account_id: String,
    /// `digestStartTime`.
    #[serde(rename = "digestStartTime")]
    pub digest_start_time: String,
    /// `digestEndTime`.
    #[serde(rename = "digestEndTime")]
    pub digest_end_time: String,
    /// `digestS3Bucket`.
    #[serde(rename = "digestS3Bucket")]
    pub digest_s3_bucket: String,
    /// `digestS3Object`.
    #[serde(rename = "digestS3Object")]
    pub digest_s3_object: String,
    /// `digestPublicKeyFingerprint`.
    #[serde(rename = "digestPublicKeyFingerprint")]
    pub digest_public_key_fingerprint: String,
    /// `digestSignatureAlgorithm`.
    #[serde(rename = "digestSignatureAlgorithm")]
    pub digest_signature_algorithm: String,
    /// `newestEventTime` over the listed logs (null when none).
    #[serde(rename = "newestEventTime")]
    pub newest_event_time: Option<String>,
    /// `oldestEventTime` over the listed logs (null when none).
    #[serde(rename = "oldestEventTime")]
    pub oldest_event_time: Option<String>,
    /// `previousDigestS3Bucket`.
    #[serde(rename = "previousDigestS3Bucket")]
    pub previous_digest_s3_bucket: Option<String>,
    /// `previousDigestS3Object`.
    #[serde(rename = "previousDigestS3Object")]
    pub previous_digest_s3_object: Option<String>,
    /// `previousDigestHashValue`.
    #[serde(rename = "previousDigestHashValue")]
    pub previous_digest_hash_value: Option<String>,
    /// `previousDigestHashAlgorithm`.
    #[serde(rename = "previousDigestHashAlgorithm")]
    pub previous_digest_hash_algorithm: Option<String>,
    /// `previousDigestSignature`.
    #[serde(rename = "previousDigestSignature")]
    pub previous_digest_signature: Option<String>,
    /// `logFiles`.
    #[serde(rename = "logFiles")]
    pub log_files: Vec<DigestLogFile>,
}

/// A digest ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDigest {
    /// Its object key.
    pub key: String,
    /// The uncompressed JSON.
    pub json: Vec<u8>,
    /// The gzip bytes to store.
    pub gzip: Vec<u8>,
    /// Hex signature (the `signature` metadata).
    pub signature: String,
    /// The link the next digest of the chain names.
    pub link: ChainLink,
}

impl SignedDigest {
    /// The object metadata validate-logs reads (`x-amz-meta-signature`,
    /// `x-amz-meta-signature-algorithm`).
    pub fn metadata(&self) -> opentrail_store::Metadata {
        let mut m = opentrail_store::Metadata::new();
        m.insert("signature".into(), self.signature.clone());
        m.insert("signature-algorithm".into(), SIGNATURE_ALGORITHM.into());
        m
    }
}

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes))
}

/// The string a digest's signature covers (spec 5.3).
pub fn string_to_sign(doc: &DigestDocument, json_sha256: &str) -> String {
    format!(
        "{}\n{}/{}\n{}\n{}",
        doc.digest_end_time,
        doc.digest_s3_bucket,
        doc.digest_s3_object,
        json_sha256,
        doc.previous_digest_signature.as_deref().unwrap_or("null")
    )
}

/// What one digest covers.
#[derive(Debug, Clone)]
pub struct DigestInput<'a> {
    /// Where it goes.
    pub place: DigestPlace<'a>,
    /// The bucket it goes to.
    pub bucket: &'a str,
    /// Start of the delivery window it covers.
    pub start: DateTime<Utc>,
    /// End of the window (names the file).
    pub end: DateTime<Utc>,
    /// Log files delivered in the window.
    pub files: &'a [DigestLogFile],
    /// The digest before it in the chain; `None` starts a chain.
    pub previous: Option<&'a ChainLink>,
}

/// Builds and signs a digest. The same input and key give the same bytes.
pub fn build_digest(
    input: &DigestInput<'_>,
    key: &SigningKey,
) -> Result<SignedDigest, IntegrityError> {
    let object = input.place.key(input.end, false);
    let newest = input
        .files
        .iter()
        .map(|f| f.newest_event_time.as_str())
        .max();
    let oldest = input
        .files
        .iter()
        .map(|f| f.oldest_event_time.as_str())
        .min();
    let prev = input.previous;
    let doc = DigestDocument {
        aws_account_id: input.place.account.to_owned(),
        digest_start_time: digest_time(input.start),
        digest_end_time: digest_time(input.end),
        digest_s3_bucket: input.bucket.to_owned(),
        digest_s3_object: object.clone(),
        digest_public_key_fingerprint: key.public.fingerprint.clone(),
        digest_signature_algorithm: SIGNATURE_ALGORITHM.into(),
        newest_event_time: newest.map(str::to_owned),
        oldest_event_time: oldest.map(str::to_owned),
        previous_digest_s3_bucket: prev.map(|p| p.bucket.clone()),
        previous_digest_s3_object: prev.map(|p| p.key.clone()),
        previous_digest_hash_value: prev.map(|p| p.hash.clone()),
        previous_digest_hash_algorithm: prev.map(|_| HASH_ALGORITHM.to_owned()),
        previous_digest_signature: prev.map(|p| p.signature.clone()),
        log_files: input.files.to_vec(),
    };
    let json = serde_json::to_vec(&doc)
        .map_err(|e| IntegrityError::Crypto(format!("encoding a digest: {e}")))?;
    let hash = sha256_hex(&json);
    let signature = hex::encode(key.sign(string_to_sign(&doc, &hash).as_bytes())?);
    let mut enc = GzEncoder::new(Vec::with_capacity(json.len() / 3), Compression::new(6));
    enc.write_all(&json)
        .map_err(|e| IntegrityError::io("compressing a digest", e))?;
    let gzip = enc
        .finish()
        .map_err(|e| IntegrityError::io("compressing a digest", e))?;
    Ok(SignedDigest {
        link: ChainLink {
            bucket: input.bucket.to_owned(),
            key: object.clone(),
            hash,
            signature: signature.clone(),
        },
        key: object,
        json,
        gzip,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyStore, RotationPolicy};
    use chrono::TimeZone;

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2015, 8, 17, h, m, s)
            .single()
            .expect("time")
    }

    fn place<'a>(org: Option<&'a str>) -> DigestPlace<'a> {
        DigestPlace {
            prefix: Some("team/"),
            org_id: org,
            account: "111122223333",
            region: "eu-west-1",
            trail_name: "audit",
            home_region: "us-east-1",
        }
    }

    #[test]
    fn keys_have_the_aws_layout() {
        assert_eq!(
            place(None).key(t(15, 1, 31), false),
            "team/AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2015/08/17/111122223333_CloudTrail-Digest_eu-west-1_audit_us-east-1_20150817T150131Z.json.gz"
        );
        let org = place(Some("o-exampleorgid")).key(t(15, 1, 31), true);
        assert_eq!(
            org,
            "team/AWSLogs/o-exampleorgid/111122223333/CloudTrail-Digest/eu-west-1/2015/08/17/111122223333_CloudTrail-Digest_eu-west-1_audit_us-east-1_20150817T150131Z_backfill.json.gz"
        );
        // validate-logs reads the date back from fixed offsets of the key.
        let k = place(None).key(t(15, 1, 31), false);
        assert_eq!(&k[k.len() - 24..k.len() - 8], "20150817T150131Z");
        assert_eq!(&org[org.len() - 33..org.len() - 17], "20150817T150131Z");
    }

    #[test]
    fn digests_are_signed_over_the_aws_string_and_chain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ks = KeyStore::open(dir.path(), None, RotationPolicy::default()).expect("keys");
        let key = ks.signing_key("eu-west-1", 1).expect("key");
        let files = vec![DigestLogFile {
            s3_bucket: "logs".into(),
            s3_object: "k1".into(),
            hash_value: "ab".repeat(32),
            hash_algorithm: HASH_ALGORITHM.into(),
            newest_event_time: "2015-08-17T14:59:00Z".into(),
            oldest_event_time: "2015-08-17T13:58:00Z".into(),
        }];
        let first = build_digest(
            &DigestInput {
                place: place(None),
                bucket: "logs",
                start: t(14, 1, 31),
                end: t(15, 1, 31),
                files: &files,
                previous: None,
            },
            &key,
        )
        .expect("digest");
        let doc: serde_json::Value = serde_json::from_slice(&first.json).expect("json");
        let names: Vec<&str> = doc
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(names.len(), 15);
        assert_eq!(doc["digestEndTime"], "2015-08-17T15:01:31Z");
        assert_eq!(doc["digestS3Object"], first.key.as_str());
        assert_eq!(doc["oldestEventTime"], "2015-08-17T13:58:00Z");
        assert!(
            doc["previousDigestSignature"].is_null() && doc["previousDigestHashValue"].is_null()
        );
        let signed = format!(
            "2015-08-17T15:01:31Z\nlogs/{}\n{}\nnull",
            first.key,
            sha256_hex(&first.json)
        );
        let sig = hex::decode(&first.signature).expect("hex");
        assert_eq!(first.signature.len(), 512);
        assert!(key.public.verifies(signed.as_bytes(), &sig));
        assert_eq!(first.metadata()["signature-algorithm"], "SHA256withRSA");
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&first.gzip[..]), &mut raw)
            .expect("gunzip");
        assert_eq!(raw, first.json);

        let second = build_digest(
            &DigestInput {
                place: place(None),
                bucket: "logs",
                start: t(15, 1, 31),
                end: t(16, 1, 31),
                files: &[],
                previous: Some(&first.link),
            },
            &key,
        )
        .expect("digest");
        let doc2: serde_json::Value = serde_json::from_slice(&second.json).expect("json");
        assert_eq!(doc2["previousDigestSignature"], first.signature.as_str());
        assert_eq!(
            doc2["previousDigestHashValue"],
            sha256_hex(&first.json).as_str()
        );
        assert_eq!(doc2["previousDigestS3Object"], first.key.as_str());
        assert!(doc2["newestEventTime"].is_null() && doc2["logFiles"] == serde_json::json!([]));
        let signed2 = format!(
            "2015-08-17T16:01:31Z\nlogs/{}\n{}\n{}",
            second.key,
            sha256_hex(&second.json),
            first.signature
        );
        assert!(key.public.verifies(
            signed2.as_bytes(),
            &hex::decode(&second.signature).expect("hex")
        ));
    }
}
