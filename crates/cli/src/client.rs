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

    /// Signs a request for `service` (SigV4 with the target's keys) and sends it, returning
    /// the response with its body still streaming.
    async fn send(
        &self,
        method: &str,
        path: &str,
        query: &str,
        service: &str,
        headers: &[(&'static str, &str)],
        body: Vec<u8>,
    ) -> anyhow::Result<http::Response<hyper::body::Incoming>> {
        let mut map = http::HeaderMap::new();
        map.insert("host", self.authority.parse()?);
        for (name, value) in headers {
            map.insert(*name, value.parse()?);
        }
        let q = (!query.is_empty()).then_some(query);
        sigv4::sign(
            method,
            path,
            q,
            &mut map,
            &body,
            &self.target.access_key_id,
            &self.target.secret_access_key,
            &self.target.region,
            service,
            chrono::Utc::now(),
        );
        let base = self.target.endpoint.trim_end_matches('/');
        let uri = match q {
            Some(q) => format!("{base}{path}?{q}"),
            None => format!("{base}{path}"),
        };
        let mut req = http::Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(Bytes::from(body)))?;
        *req.headers_mut() = map;
        self.http
            .request(req)
            .await
            .with_context(|| format!("sending {method} {path} to {}", self.target.endpoint))
    }

    /// A signed GET of `path?query`, returning the response with its body still streaming.
    pub async fn get(
        &self,
        path: &str,
        query: &str,
    ) -> anyhow::Result<http::Response<hyper::body::Incoming>> {
        self.send("GET", path, query, "opentrail", &[], Vec::new())
            .await
    }

    /// An AWS JSON 1.1 call (`X-Amz-Target: {target}`) signed for `service`. The outer error
    /// is a transport failure; the inner one the service's `(__type, message)`.
    pub async fn json_call(
        &self,
        service: &str,
        target: &str,
        input: &serde_json::Value,
    ) -> anyhow::Result<Result<serde_json::Value, (String, String)>> {
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target),
        ];
        let resp = self
            .send(
                "POST",
                "/",
                "",
                service,
                &headers,
                serde_json::to_vec(input)?,
            )
            .await?;
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
        let headers = [("content-type", "application/x-ndjson")];
        let resp = self
            .send(
                "POST",
                "/_opentrail/ingest",
                "",
                "opentrail",
                &headers,
                body,
            )
            .await?;
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
