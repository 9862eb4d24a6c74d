//! A small SigV4-signing HTTP client for opentrail's native endpoints and AWS JSON APIs (used
//! by `generate --endpoint`, `history export`, `validate-logs` and the benchmarks).

use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentrail_protocol::sigv4;

/// Where and as whom to send.
#[derive(Clone)]
pub struct Target {
    /// `http://host:port`.
    pub endpoint: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Region to sign for.
    pub region: String,
}

/// A keep-alive HTTP client that signs each request.
#[derive(Clone)]
pub struct SignedClient {
    http: Client<HttpConnector, Full<Bytes>>,
    target: Target,
    authority: String,
}

/// The parts of an ingest answer the tools look at.
pub struct IngestOutcome {
    pub accepted: usize,
    pub refused: usize,
    pub first_error: Option<String>,
}

impl SignedClient {
    pub fn new(target: Target) -> anyhow::Result<Self> {
        let uri: http::Uri = target
            .endpoint
            .parse()
            .context("parsing the endpoint URL")?;
        if uri.scheme_str() != Some("http") {
            bail!(
                "only http:// endpoints are supported by this client, got {}",
                target.endpoint
            );
        }
        let authority = uri
            .authority()
            .map(|a| a.to_string())
            .context("the endpoint URL needs a host")?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(SignedClient {
            http,
            target,
            authority,
        })
    }

    /// A signed GET of `path?query`, returning the response with its body still streaming.
    pub async fn get(
        &self,
        path: &str,
        query: &str,
    ) -> anyhow::Result<http::Response<hyper::body::Incoming>> {
        let mut headers = http::HeaderMap::new();
        headers.insert("host", self.authority.parse()?);
        let q = (!query.is_empty()).then_some(query);
        sigv4::sign(
            "GET",
            path,
            q,
            &mut headers,
            b"",
            &self.target.access_key_id,
            &self.target.secret_access_key,
            &self.target.region,
            "opentrail",
            chrono::Utc::now(),
        );
        let uri = match q {
            Some(q) => format!("{}{path}?{q}", self.target.endpoint.trim_end_matches('/')),
            None => format!("{}{path}", self.target.endpoint.trim_end_matches('/')),
        };
        let mut req = http::Request::builder()
            .method("GET")
            .uri(uri)
            .body(Full::new(Bytes::new()))?;
        *req.headers_mut() = headers;
        self.http
            .request(req)
            .await
            .context("sending to the server")
    }

    /// An AWS JSON 1.1 call (`X-Amz-Target: {target}`) signed for `service`. The outer error
    /// is a transport failure; the inner one the service's `(__type, message)`.
    pub async fn json_call(
        &self,
        service: &str,
        target: &str,
        input: &serde_json::Value,
    ) -> anyhow::Result<Result<serde_json::Value, (String, String)>> {
        let body = serde_json::to_vec(input)?;
        let mut headers = http::HeaderMap::new();
        headers.insert("host", self.authority.parse()?);
        headers.insert(
            "content-type",
            http::HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        headers.insert("x-amz-target", target.parse()?);
        sigv4::sign(
            "POST",
            "/",
            None,
            &mut headers,
            &body,
            &self.target.access_key_id,
            &self.target.secret_access_key,
            &self.target.region,
            service,
            chrono::Utc::now(),
        );
        let mut req = http::Request::builder()
            .method("POST")
            .uri(format!("{}/", self.target.endpoint.trim_end_matches('/')))
            .body(Full::new(Bytes::from(body)))?;
        *req.headers_mut() = headers;
        let resp = self
            .http
            .request(req)
            .await
            .with_context(|| format!("calling {target} at {}", self.target.endpoint))?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{target} answered {status} with a body that is not JSON"))?;
        if status.is_success() {
            return Ok(Ok(v));
        }
        let code = v["__type"]
            .as_str()
            .unwrap_or("Unknown")
            .rsplit('#')
            .next()
            .unwrap_or_default()
            .to_owned();
        let message = v["message"]
            .as_str()
            .or(v["Message"].as_str())
            .unwrap_or_default()
            .to_owned();
        Ok(Err((code, message)))
    }

    /// Sends one NDJSON batch to `/_opentrail/ingest`.
    pub async fn ingest_ndjson(&self, body: Vec<u8>) -> anyhow::Result<IngestOutcome> {
        let mut headers = http::HeaderMap::new();
        headers.insert("host", self.authority.parse()?);
        headers.insert(
            "content-type",
            http::HeaderValue::from_static("application/x-ndjson"),
        );
        sigv4::sign(
            "POST",
            "/_opentrail/ingest",
            None,
            &mut headers,
            &body,
            &self.target.access_key_id,
            &self.target.secret_access_key,
            &self.target.region,
            "opentrail",
            chrono::Utc::now(),
        );
        let mut req = http::Request::builder()
            .method("POST")
            .uri(format!(
                "{}/_opentrail/ingest",
                self.target.endpoint.trim_end_matches('/')
            ))
            .body(Full::new(Bytes::from(body)))?;
        *req.headers_mut() = headers;
        let resp = self
            .http
            .request(req)
            .await
            .context("sending to the server")?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!(
                "the server answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).context("parsing the ingest answer")?;
        let failed = v["failed"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        Ok(IngestOutcome {
            accepted: v["successful"].as_array().map(Vec::len).unwrap_or(0),
            refused: failed.len(),
            first_error: failed
                .first()
                .map(|f| format!("{}: {}", f["errorCode"], f["errorMessage"])),
        })
    }
}
