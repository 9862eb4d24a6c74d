//! AWS Signature Version 4: verifying signed requests (and signing, for opentrail's own
//! clients such as `opentrail generate --endpoint`).
//!
//! Written here because no maintained crate verifies SigV4 on the server side with the
//! toolchain this project builds on: `aws-sigv4` only signs, `s3s` keeps its verifier private,
//! and `s3s-sigv4` needs a newer Rust. The canonicalisation follows the AWS specification and
//! is checked against AWS's published SigV4 test suite (see the tests) and, end to end, against
//! botocore and the aws CLI.

use std::fmt::Write as _;

use aws_lc_rs::{digest, hmac};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use http::HeaderMap;

use crate::awsjson::{AwsError, codes};

/// The only algorithm AWS SigV4 header authentication uses.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// How far a request's `X-Amz-Date` may be from the server clock (AWS: 15 minutes).
pub const DEFAULT_MAX_SKEW: TimeDelta = TimeDelta::minutes(15);

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id from the credential scope.
    pub access_key_id: String,
    /// `YYYYMMDD` from the credential scope.
    pub date: String,
    /// Region from the credential scope: the region the client believes it is calling.
    pub region: String,
    /// Service from the credential scope (`cloudtrail`, `cloudtrail-data`, `s3`, ...).
    pub service: String,
    /// Lower-case names of the signed headers, in the order given.
    pub signed_headers: Vec<String>,
    /// Hex signature.
    pub signature: String,
}

/// Why a request's signature was refused. Each maps to the error AWS JSON services return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigV4Error {
    /// No `Authorization` header.
    Missing,
    /// The header is malformed or lacks a part (`IncompleteSignatureException`).
    Incomplete(String),
    /// Expired, from the future, wrong scope, or not matching (`InvalidSignatureException`).
    Invalid(String),
}

impl SigV4Error {
    /// The AWS error to send for this refusal.
    pub fn to_aws(&self) -> AwsError {
        match self {
            SigV4Error::Missing => AwsError::new(
                codes::MISSING_AUTHENTICATION_TOKEN,
                "Missing Authentication Token",
            )
            .with_status(403),
            SigV4Error::Incomplete(m) => AwsError::new(codes::INCOMPLETE_SIGNATURE, m.clone()),
            SigV4Error::Invalid(m) => AwsError::new(codes::INVALID_SIGNATURE, m.clone()),
        }
    }

    fn mismatch() -> Self {
        SigV4Error::Invalid(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details."
                .into(),
        )
    }
}

/// How the canonical URI is formed from the path as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriEncoding {
    /// Every service but S3: the received path is URI-encoded once more.
    Double,
    /// S3: the received path is used as it is.
    Single,
}

/// The request as the signer saw it.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path exactly as received (still percent-encoded).
    pub path: &'a str,
    /// The raw query string without `?`.
    pub query: Option<&'a str>,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// Hex SHA-256 of the body as received.
    pub payload_sha256: &'a str,
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

/// Parses the `Authorization` header, if any.
pub fn parse_authorization(headers: &HeaderMap) -> Result<Authorization, SigV4Error> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Err(SigV4Error::Missing);
    };
    let value = value
        .to_str()
        .map_err(|_| SigV4Error::Incomplete("Authorization header is not valid ASCII.".into()))?;
    parse_authorization_value(value)
}

fn parse_authorization_value(value: &str) -> Result<Authorization, SigV4Error> {
    let (algorithm, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::Incomplete(format!(
            "Unsupported authorization algorithm '{algorithm}': requests must be signed with {ALGORITHM} (Signature Version 4)."
        )));
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let mut problems = String::new();
    for (present, name) in [
        (credential.is_some(), "Credential"),
        (signature.is_some(), "Signature"),
        (signed.is_some(), "SignedHeaders"),
    ] {
        if !present {
            let _ = write!(
                problems,
                "Authorization header requires '{name}' parameter. "
            );
        }
    }
    if !problems.is_empty() {
        return Err(SigV4Error::Incomplete(format!(
            "{problems}Authorization={value}"
        )));
    }
    let credential = credential.unwrap_or_default();
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() != 5 || parts.iter().any(|p| p.is_empty()) {
        return Err(SigV4Error::Incomplete(format!(
            "Credential must have the form <access key>/<YYYYMMDD>/<region>/<service>/aws4_request, got '{credential}'."
        )));
    }
    if parts[4] != "aws4_request" {
        return Err(SigV4Error::Invalid(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            parts[4]
        )));
    }
    let signature = signature.unwrap_or_default();
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SigV4Error::Incomplete(
            "Signature must be 64 hexadecimal characters.".into(),
        ));
    }
    let signed_headers: Vec<String> = signed
        .unwrap_or_default()
        .split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    if !signed_headers
        .iter()
        .any(|h| h == "host" || h == ":authority")
    {
        return Err(SigV4Error::Invalid(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    Ok(Authorization {
        access_key_id: parts[0].to_owned(),
        date: parts[1].to_owned(),
        region: parts[2].to_owned(),
        service: parts[3].to_owned(),
        signed_headers,
        signature: signature.to_ascii_lowercase(),
    })
}

/// Parses `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`).
pub fn parse_amz_date(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|n| n.and_utc())
}

/// Checks the request date against the clock and the scope, then the signature itself.
pub fn verify(
    req: &RequestParts<'_>,
    auth: &Authorization,
    secret_access_key: &str,
    now: DateTime<Utc>,
    max_skew: TimeDelta,
    uri: UriEncoding,
) -> Result<(), SigV4Error> {
    let amz_date = check_request_time(req, auth, now, max_skew)?;
    let expected = compute_signature(req, auth, secret_access_key, amz_date, uri);
    if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(())
    } else {
        Err(SigV4Error::mismatch())
    }
}

/// Everything [`verify`] checks except the signature itself (for callers that hold no secret
/// for the key): `X-Amz-Date` present, well-formed, within `max_skew` of `now` and matching the
/// scope date, and `x-amz-content-sha256` (when sent) matching the body. Returns the date.
pub fn check_request_time<'a>(
    req: &RequestParts<'a>,
    auth: &Authorization,
    now: DateTime<Utc>,
    max_skew: TimeDelta,
) -> Result<&'a str, SigV4Error> {
    let amz_date = header_str(req.headers, "x-amz-date").ok_or_else(|| {
        SigV4Error::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into(),
        )
    })?;
    let when = parse_amz_date(amz_date).ok_or_else(|| {
        SigV4Error::Incomplete(format!(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\", got '{amz_date}'."
        ))
    })?;
    let fmt = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let minutes = max_skew.num_minutes();
    if when < now - max_skew {
        return Err(SigV4Error::Invalid(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - {minutes} min.)",
            fmt(now - max_skew),
            fmt(now)
        )));
    }
    if when > now + max_skew {
        return Err(SigV4Error::Invalid(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + {minutes} min.)",
            fmt(now + max_skew),
            fmt(now)
        )));
    }
    if auth.date != amz_date[..8] {
        return Err(SigV4Error::Invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
            auth.date,
            &amz_date[..8]
        )));
    }
    if let Some(claimed) = header_str(req.headers, "x-amz-content-sha256")
        && claimed != req.payload_sha256
    {
        return Err(SigV4Error::Invalid(
            "The provided 'x-amz-content-sha256' header does not match what was computed.".into(),
        ));
    }
    Ok(amz_date)
}

fn compute_signature(
    req: &RequestParts<'_>,
    auth: &Authorization,
    secret: &str,
    amz_date: &str,
    uri: UriEncoding,
) -> String {
    let creq = canonical_request(req, &auth.signed_headers, uri);
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let sts = string_to_sign(amz_date, &scope, &creq);
    let key = signing_key(secret, &auth.date, &auth.region, &auth.service);
    hex::encode(hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &key),
        sts.as_bytes(),
    ))
}

/// The canonical request of SigV4 task 1.
pub fn canonical_request(
    req: &RequestParts<'_>,
    signed_headers: &[String],
    uri: UriEncoding,
) -> String {
    let path = if req.path.is_empty() { "/" } else { req.path };
    let canonical_uri = match uri {
        UriEncoding::Double => uri_encode(path, false),
        UriEncoding::Single => path.to_owned(),
    };
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_uri);
    out.push('\n');
    out.push_str(&canonical_query(req.query.unwrap_or("")));
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        let values: Vec<String> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| collapse_spaces(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(req.payload_sha256);
    out
}

/// The string to sign of SigV4 task 2.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The derived signing key of SigV4 task 3.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let step = |key: &[u8], data: &str| -> Vec<u8> {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
            .as_ref()
            .to_vec()
    };
    let k = step(format!("AWS4{secret}").as_bytes(), date);
    let k = step(&k, region);
    let k = step(&k, service);
    step(&k, "aws4_request")
}

/// Signs a request in place: sets `x-amz-date` and `authorization`, signing `host`, every
/// `x-amz-*` header and `content-type`/`content-encoding` when present.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &mut HeaderMap,
    body: &[u8],
    access_key_id: &str,
    secret_access_key: &str,
    region: &str,
    service: &str,
    now: DateTime<Utc>,
) {
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    if let Ok(v) = http::HeaderValue::from_str(&amz_date) {
        headers.insert("x-amz-date", v);
    }
    let mut signed: Vec<String> = headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| {
            k == "host" || k.starts_with("x-amz-") || k == "content-type" || k == "content-encoding"
        })
        .collect();
    signed.sort();
    signed.dedup();
    let payload = sha256_hex(body);
    let auth = Authorization {
        access_key_id: access_key_id.to_owned(),
        date: amz_date[..8].to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers: signed,
        signature: String::new(),
    };
    let req = RequestParts {
        method,
        path,
        query,
        headers,
        payload_sha256: &payload,
    };
    let signature = compute_signature(
        &req,
        &auth,
        secret_access_key,
        &amz_date,
        UriEncoding::Double,
    );
    let value = format!(
        "{ALGORITHM} Credential={access_key_id}/{}/{region}/{service}/aws4_request, SignedHeaders={}, Signature={signature}",
        auth.date,
        auth.signed_headers.join(";")
    );
    if let Ok(v) = http::HeaderValue::from_str(&value) {
        headers.insert(http::header::AUTHORIZATION, v);
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn collapse_spaces(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for word in v.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// SigV4 URI encoding: unreserved characters kept, everything else `%XX` (upper case);
/// `/` kept unless `encode_slash`.
pub fn uri_encode(s: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

fn canonical_query(raw: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
            let enc = |b: Vec<u8>| uri_encode(&String::from_utf8_lossy(&b), true);
            (enc(dec(k)), enc(dec(v)))
        })
        .collect();
    pairs.sort();
    pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
