//! SigV4 checked against AWS's published Signature Version 4 test suite
//! (credentials `AKIDEXAMPLE`, scope `20150830/us-east-1/service`), plus refusal cases.

use super::*;
use chrono::TimeZone;

const KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct Vector {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    query: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    signed: &'static str,
    signature: &'static str,
}

const STS_TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

/// The cases of AWS's suite; header values that the suite sends as repeated or folded headers
/// are given as repeated entries, which exercises the joining rule.
const VECTORS: &[Vector] = &[
    Vector {
        name: "get-vanilla",
        method: "GET",
        path: "/",
        query: "",
        headers: &[],
        body: "",
        signed: "host;x-amz-date",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    Vector {
        name: "get-header-key-duplicate",
        method: "GET",
        path: "/",
        query: "",
        headers: &[
            ("my-header1", "value2"),
            ("my-header1", "value2"),
            ("my-header1", "value1"),
        ],
        body: "",
        signed: "host;my-header1;x-amz-date",
        signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    },
    Vector {
        name: "get-header-value-order",
        method: "GET",
        path: "/",
        query: "",
        headers: &[
            ("my-header1", "value4"),
            ("my-header1", "value1"),
            ("my-header1", "value3"),
            ("my-header1", "value2"),
        ],
        body: "",
        signed: "host;my-header1;x-amz-date",
        signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
    },
    Vector {
        name: "get-header-value-trim",
        method: "GET",
        path: "/",
        query: "",
        headers: &[("my-header1", " value1"), ("my-header2", "\"a   b   c\"")],
        body: "",
        signed: "host;my-header1;my-header2;x-amz-date",
        signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    },
    Vector {
        name: "get-unreserved",
        method: "GET",
        path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        query: "",
        headers: &[],
        body: "",
        signed: "host;x-amz-date",
        signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    },
    Vector {
        name: "get-utf8",
        method: "GET",
        path: "/ሴ",
        query: "",
        headers: &[],
        body: "",
        signed: "host;x-amz-date",
        signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    },
    Vector {
        name: "get-vanilla-query-order-key-case",
        method: "GET",
        path: "/",
        query: "Param2=value2&Param1=value1",
        headers: &[],
        body: "",
        signed: "host;x-amz-date",
        signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    },
    Vector {
        name: "get-vanilla-query-unreserved",
        method: "GET",
        path: "/",
        query: "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        headers: &[],
        body: "",
        signed: "host;x-amz-date",
        signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    },
    Vector {
        name: "get-vanilla-utf8-query",
        method: "GET",
        path: "/",
        query: "%E1%88%B4=bar",
        headers: &[],
        body: "",
        signed: "host;x-amz-date",
        signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    },
    Vector {
        name: "get-vanilla-empty-query-key",
        method: "GET",
        path: "/",
        query: "Param1=value1",
        headers: &[],
        body: "",
        signed: "host;x-amz-date",
        signature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
    },
    Vector {
        name: "post-vanilla",
        method: "POST",
        path: "/",
        query: "",
        headers: &[],
        body: "",
        signed: "host;x-amz-date",
        signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    Vector {
        name: "post-header-key-sort",
        method: "POST",
        path: "/",
        query: "",
        headers: &[("my-header1", "value1")],
        body: "",
        signed: "host;my-header1;x-amz-date",
        signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    },
    Vector {
        name: "post-header-value-case",
        method: "POST",
        path: "/",
        query: "",
        headers: &[("my-header1", "VALUE1")],
        body: "",
        signed: "host;my-header1;x-amz-date",
        signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    },
    Vector {
        name: "post-sts-header-before",
        method: "POST",
        path: "/",
        query: "",
        headers: &[("x-amz-security-token", STS_TOKEN)],
        body: "",
        signed: "host;x-amz-date;x-amz-security-token",
        signature: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
    },
    Vector {
        name: "post-sts-header-after",
        method: "POST",
        path: "/",
        query: "",
        headers: &[("x-amz-security-token", STS_TOKEN)],
        body: "",
        signed: "host;x-amz-date",
        signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    Vector {
        name: "post-vanilla-query",
        method: "POST",
        path: "/",
        query: "Param1=value1",
        headers: &[],
        body: "",
        signed: "host;x-amz-date",
        signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    },
    Vector {
        name: "post-vanilla-query-nonunreserved",
        method: "POST",
        path: "/",
        query: "%40%23%24%25%5E=&%2B=%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D",
        headers: &[],
        body: "",
        signed: "host;x-amz-date",
        signature: "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e",
    },
    Vector {
        name: "post-vanilla-query-space",
        method: "POST",
        path: "/",
        query: "p",
        headers: &[],
        body: "",
        signed: "host;x-amz-date",
        signature: "e71688addb58a26418614085fb730ba3faa623b461c17f48f2fbdb9361b94a9b",
    },
    Vector {
        name: "post-x-www-form-urlencoded",
        method: "POST",
        path: "/",
        query: "",
        headers: &[("content-type", "application/x-www-form-urlencoded")],
        body: "Param1=value1",
        signed: "content-type;host;x-amz-date",
        signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    },
    Vector {
        name: "post-x-www-form-urlencoded-parameters",
        method: "POST",
        path: "/",
        query: "",
        headers: &[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf8",
        )],
        body: "Param1=value1",
        signed: "content-type;host;x-amz-date",
        signature: "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
    },
];

fn suite_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0)
        .single()
        .expect("time")
}

fn headers_of(v: &Vector) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "host",
        http::HeaderValue::from_static("example.amazonaws.com"),
    );
    h.insert(
        "x-amz-date",
        http::HeaderValue::from_static("20150830T123600Z"),
    );
    for (k, val) in v.headers {
        h.append(*k, http::HeaderValue::from_str(val).expect("header"));
    }
    h
}

fn authorization_of(v: &Vector) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={KEY}/20150830/us-east-1/service/aws4_request, SignedHeaders={}, Signature={}",
        v.signed, v.signature
    )
}

#[test]
fn every_aws_test_suite_vector_verifies() {
    for v in VECTORS {
        let mut headers = headers_of(v);
        headers.insert(
            http::header::AUTHORIZATION,
            authorization_of(v).parse().expect("auth"),
        );
        let auth = parse_authorization(&headers).unwrap_or_else(|e| panic!("{}: {e:?}", v.name));
        let payload = sha256_hex(v.body.as_bytes());
        let req = RequestParts {
            method: v.method,
            path: v.path,
            query: (!v.query.is_empty()).then_some(v.query),
            headers: &headers,
            payload_sha256: &payload,
        };
        verify(
            &req,
            &auth,
            SECRET,
            suite_time(),
            DEFAULT_MAX_SKEW,
            UriEncoding::Double,
        )
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e:?}\n{}",
                v.name,
                canonical_request(&req, &auth.signed_headers, UriEncoding::Double)
            )
        });
    }
}

#[test]
fn the_suite_canonical_request_and_string_to_sign_match_get_vanilla() {
    let v = &VECTORS[0];
    let headers = headers_of(v);
    let req = RequestParts {
        method: "GET",
        path: "/",
        query: None,
        headers: &headers,
        payload_sha256: EMPTY_SHA,
    };
    let signed = vec!["host".to_owned(), "x-amz-date".to_owned()];
    let creq = canonical_request(&req, &signed, UriEncoding::Double);
    assert_eq!(
        creq,
        format!(
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY_SHA}"
        )
    );
    assert_eq!(
        string_to_sign(
            "20150830T123600Z",
            "20150830/us-east-1/service/aws4_request",
            &creq
        ),
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
         bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    );
}

#[test]
fn the_signer_reproduces_the_suite_and_verifies_its_own_output() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "host",
        http::HeaderValue::from_static("example.amazonaws.com"),
    );
    sign(
        "GET",
        "/",
        None,
        &mut headers,
        b"",
        KEY,
        SECRET,
        "us-east-1",
        "service",
        suite_time(),
    );
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .expect("signed");
    assert_eq!(auth, authorization_of(&VECTORS[0]));

    let mut headers = HeaderMap::new();
    headers.insert("host", http::HeaderValue::from_static("127.0.0.1:4599"));
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    let body = br#"{"MaxResults":5}"#;
    let now = Utc::now();
    sign(
        "POST",
        "/",
        None,
        &mut headers,
        body,
        "AKIA1",
        "secret1",
        "eu-west-1",
        "cloudtrail",
        now,
    );
    let parsed = parse_authorization(&headers).expect("parse");
    assert_eq!(
        (parsed.region.as_str(), parsed.service.as_str()),
        ("eu-west-1", "cloudtrail")
    );
    let payload = sha256_hex(body);
    let req = RequestParts {
        method: "POST",
        path: "/",
        query: None,
        headers: &headers,
        payload_sha256: &payload,
    };
    verify(
        &req,
        &parsed,
        "secret1",
        now,
        DEFAULT_MAX_SKEW,
        UriEncoding::Double,
    )
    .expect("own signature verifies");
}

fn signed_request(body: &[u8], at: DateTime<Utc>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("host", http::HeaderValue::from_static("localhost"));
    sign(
        "POST",
        "/",
        None,
        &mut headers,
        body,
        KEY,
        SECRET,
        "us-east-1",
        "cloudtrail",
        at,
    );
    headers
}

fn check(
    headers: &HeaderMap,
    body: &[u8],
    secret: &str,
    now: DateTime<Utc>,
) -> Result<(), SigV4Error> {
    let auth = parse_authorization(headers)?;
    let payload = sha256_hex(body);
    let req = RequestParts {
        method: "POST",
        path: "/",
        query: None,
        headers,
        payload_sha256: &payload,
    };
    verify(
        &req,
        &auth,
        secret,
        now,
        DEFAULT_MAX_SKEW,
        UriEncoding::Double,
    )
}

#[test]
fn tampering_wrong_secrets_and_stale_dates_are_refused() {
    let now = Utc::now();
    let h = signed_request(b"{}", now);
    check(&h, b"{}", SECRET, now).expect("valid");

    let invalid = |r: Result<(), SigV4Error>, needle: &str| match r {
        Err(SigV4Error::Invalid(m)) => assert!(m.contains(needle), "{m}"),
        other => panic!("expected Invalid({needle}), got {other:?}"),
    };
    invalid(check(&h, b"{\"x\":1}", SECRET, now), "does not match");
    invalid(check(&h, b"{}", "wrong-secret", now), "does not match");
    let mut retargeted = h.clone();
    retargeted.insert("host", http::HeaderValue::from_static("elsewhere"));
    invalid(check(&retargeted, b"{}", SECRET, now), "does not match");

    let old = signed_request(b"{}", now - TimeDelta::minutes(16));
    invalid(check(&old, b"{}", SECRET, now), "Signature expired");
    let future = signed_request(b"{}", now + TimeDelta::minutes(16));
    invalid(check(&future, b"{}", SECRET, now), "not yet current");
    check(
        &signed_request(b"{}", now - TimeDelta::minutes(14)),
        b"{}",
        SECRET,
        now,
    )
    .expect("within skew");

    let mut bad_hash = h.clone();
    bad_hash.insert("x-amz-content-sha256", http::HeaderValue::from_static("00"));
    invalid(check(&bad_hash, b"{}", SECRET, now), "x-amz-content-sha256");
}

#[test]
fn malformed_authorization_headers_are_incomplete_or_missing() {
    let now = Utc::now();
    assert_eq!(
        check(&HeaderMap::new(), b"", SECRET, now),
        Err(SigV4Error::Missing)
    );
    let with = |v: &str| {
        let mut h = signed_request(b"", now);
        h.insert(http::header::AUTHORIZATION, v.parse().expect("value"));
        check(&h, b"", SECRET, now)
    };
    let incomplete = |r: Result<(), SigV4Error>, needle: &str| match r {
        Err(SigV4Error::Incomplete(m)) => assert!(m.contains(needle), "{m}"),
        other => panic!("expected Incomplete({needle}), got {other:?}"),
    };
    incomplete(
        with("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00"),
        "requires 'Credential'",
    );
    incomplete(
        with("AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/cloudtrail/aws4_request"),
        "requires 'Signature'",
    );
    incomplete(
        with("AWS4-HMAC-SHA256 Credential=A/2015/us-east-1, SignedHeaders=host, Signature=00"),
        "Credential must have",
    );
    incomplete(
        with("Basic dXNlcjpwYXNz"),
        "Unsupported authorization algorithm",
    );
    incomplete(
        with(&format!(
            "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/cloudtrail/aws4_request, SignedHeaders=host, Signature={}",
            "z".repeat(64)
        )),
        "64 hexadecimal",
    );
    match with(&format!(
        "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/cloudtrail/aws4_request, SignedHeaders=x-amz-date, Signature={}",
        "0".repeat(64)
    )) {
        Err(SigV4Error::Invalid(m)) => assert!(m.contains("'Host'"), "{m}"),
        other => panic!("unsigned host accepted: {other:?}"),
    }
    let mut no_date = signed_request(b"", now);
    no_date.remove("x-amz-date");
    incomplete(check(&no_date, b"", SECRET, now), "X-Amz-Date");
}

#[test]
fn errors_map_to_aws_exception_names() {
    assert_eq!(
        SigV4Error::Missing.to_aws().code,
        codes::MISSING_AUTHENTICATION_TOKEN
    );
    assert_eq!(SigV4Error::Missing.to_aws().status, 403);
    assert_eq!(
        SigV4Error::Incomplete(String::new()).to_aws().code,
        codes::INCOMPLETE_SIGNATURE
    );
    assert_eq!(
        SigV4Error::mismatch().to_aws().code,
        codes::INVALID_SIGNATURE
    );
}
