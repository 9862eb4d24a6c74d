//! What the server learns about every request before handling it: its id, the caller's
//! address (through trusted proxies), user agent and host; and the response helpers.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::response::Response;
use chrono::{DateTime, Utc};
use http::{HeaderValue, StatusCode};
use ipnet::IpNet;
use opentrail_protocol::AwsError;
use opentrail_protocol::awsjson::CONTENT_TYPE_JSON_1_1;

/// AWS truncates `userAgent` in records at 1 KB.
const MAX_USER_AGENT: usize = 1024;

/// Facts about one request, gathered before authentication.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// The id returned in `x-amzn-RequestId` and recorded as `requestID`.
    pub request_id: String,
    /// When the request arrived.
    pub received: DateTime<Utc>,
    /// The caller's address as recorded in `sourceIPAddress`.
    pub source_ip: String,
    /// The `User-Agent` header, truncated to 1 KB.
    pub user_agent: Option<String>,
    /// The `Host` header.
    pub host: Option<String>,
}

impl RequestMeta {
    /// Reads the request's metadata; `X-Forwarded-For` is honoured only from trusted peers.
    pub fn new(parts: &http::request::Parts, peer: SocketAddr, trusted: &[IpNet]) -> Self {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        RequestMeta {
            request_id: opentrail_model::ids::new_guid(),
            received: Utc::now(),
            source_ip: source_ip(peer.ip(), header("x-forwarded-for").as_deref(), trusted),
            user_agent: header("user-agent").map(|ua| truncate(ua, MAX_USER_AGENT)),
            host: header("host"),
        }
    }
}

/// The client address: walking `X-Forwarded-For` from the right while the hop is a trusted
/// proxy, the first untrusted address is the client (a client cannot forge past a proxy).
pub fn source_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> String {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer.to_string();
    }
    let Some(chain) = forwarded_for else {
        return peer.to_string();
    };
    let mut client = peer;
    for hop in chain.rsplit(',').map(str::trim) {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client.to_string()
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// A JSON 1.1 success response.
pub fn json_response(request_id: &str, body: Vec<u8>) -> Response {
    response(
        StatusCode::OK,
        request_id,
        CONTENT_TYPE_JSON_1_1,
        body,
        None,
    )
}

/// A JSON 1.1 error response: status, `X-Amzn-ErrorType` and `{"__type","Message"}`.
pub fn aws_error_response(request_id: &str, err: &AwsError) -> Response {
    response(
        StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST),
        request_id,
        CONTENT_TYPE_JSON_1_1,
        err.json_body(),
        Some(&err.code),
    )
}

/// A plain `application/json` response (native endpoints).
pub fn plain_json_response(
    status: StatusCode,
    request_id: &str,
    body: Vec<u8>,
    error_type: Option<&str>,
) -> Response {
    response(status, request_id, "application/json", body, error_type)
}

fn response(
    status: StatusCode,
    request_id: &str,
    content_type: &'static str,
    body: Vec<u8>,
    error_type: Option<&str>,
) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if let Some(code) = error_type.and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert("x-amzn-errortype", code);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_through_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let proxy: IpAddr = "10.1.2.3".parse().expect("ip");
        let outsider: IpAddr = "198.51.100.9".parse().expect("ip");
        assert_eq!(
            source_ip(outsider, Some("1.2.3.4"), &trusted),
            "198.51.100.9"
        );
        assert_eq!(
            source_ip(proxy, Some("203.0.113.5"), &trusted),
            "203.0.113.5"
        );
        // A client-supplied spoof on the left is ignored: the first untrusted hop from the right wins.
        assert_eq!(
            source_ip(proxy, Some("6.6.6.6, 203.0.113.5, 10.9.9.9"), &trusted),
            "203.0.113.5"
        );
        assert_eq!(source_ip(proxy, Some("garbage"), &trusted), "10.1.2.3");
        assert_eq!(source_ip(proxy, None, &trusted), "10.1.2.3");
        assert_eq!(source_ip(proxy, Some("203.0.113.5"), &[]), "10.1.2.3");
    }

    #[test]
    fn user_agents_are_truncated_on_a_character_boundary() {
        let s = "é".repeat(600);
        let t = truncate(s, MAX_USER_AGENT);
        assert!(t.len() <= MAX_USER_AGENT);
        assert!(t.chars().all(|c| c == 'é'));
    }
}
