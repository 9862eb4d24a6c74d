//! The S3 API of the embedded store on the server's listener: requests whose SigV4 credential
//! scope names the service `s3` are handed to `s3s`, which verifies them with the same access
//! keys as the CloudTrail API.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use s3s::auth::{S3Auth, SecretKey};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3Result, s3_error};

use crate::credentials::CredentialStore;

struct Keys(Arc<CredentialStore>);

#[async_trait::async_trait]
impl S3Auth for Keys {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.0.get(access_key) {
            Some(p) => Ok(SecretKey::from(p.secret().to_owned())),
            None => Err(s3_error!(InvalidAccessKeyId)),
        }
    }
}

/// The S3 service over the embedded store.
pub fn service(
    store: Arc<opentrail_store::LocalStore>,
    credentials: Arc<CredentialStore>,
) -> S3Service {
    let mut b = S3ServiceBuilder::new(opentrail_store::s3api::EmbeddedS3::new(store));
    b.set_auth(Keys(credentials));
    b.build()
}

/// The service named in a request's SigV4 credential scope (header or presigned query).
pub fn scope_service(parts: &http::request::Parts) -> Option<String> {
    let from_header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .map(|c| c.split([',', ' ']).next().unwrap_or_default().to_owned());
    let from_query = || {
        parts.uri.query().and_then(|q| {
            q.split('&').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k == "X-Amz-Credential").then(|| {
                    String::from_utf8_lossy(
                        &percent_encoding::percent_decode_str(v).collect::<Vec<u8>>(),
                    )
                    .into_owned()
                })
            })
        })
    };
    let credential = from_header.or_else(from_query)?;
    credential.split('/').nth(3).map(str::to_owned)
}

/// Serves one S3 request.
pub async fn handle(service: &S3Service, req: http::Request<Body>) -> Response {
    let req = req.map(s3s::Body::http_body_unsync);
    match service.call(req).await {
        Ok(resp) => resp.map(Body::new),
        Err(e) => {
            tracing::error!(error = ?e, "S3 request failed");
            let mut r = Response::new(Body::from("internal error"));
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_service_is_read_from_header_or_query() {
        let req = http::Request::builder()
            .uri("/bucket/key")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=AKIA/20261125/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")
            .body(())
            .expect("req");
        assert_eq!(scope_service(&req.into_parts().0).as_deref(), Some("s3"));
        let req = http::Request::builder()
            .uri("/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261125%2Fus-east-1%2Fs3%2Faws4_request")
            .body(())
            .expect("req");
        assert_eq!(scope_service(&req.into_parts().0).as_deref(), Some("s3"));
        let req = http::Request::builder().uri("/").body(()).expect("req");
        assert_eq!(scope_service(&req.into_parts().0), None);
    }
}
