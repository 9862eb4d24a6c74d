//! SNS-style notifications: after each delivery, every subscriber of the trail's topic gets
//! the AWS notification message (`{"s3Bucket":...,"s3ObjectKey":[...]}`) in an SNS envelope.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use crate::config::SnsTopic;

/// Publishes to the configured topics.
#[derive(Clone)]
pub struct Notifier {
    client: Client<HttpConnector, Full<Bytes>>,
    topics: HashMap<String, SnsTopic>,
}

impl Notifier {
    /// A notifier for these topics.
    pub fn new(topics: &[SnsTopic]) -> Notifier {
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(HttpConnector::new());
        Notifier {
            client,
            topics: topics.iter().map(|t| (t.name.clone(), t.clone())).collect(),
        }
    }

    /// Whether the topic is declared.
    pub fn has_topic(&self, name: &str) -> bool {
        self.topics.contains_key(name)
    }

    /// The message CloudTrail publishes for a delivery.
    pub fn message(bucket: &str, keys: &[String]) -> String {
        json!({"s3Bucket": bucket, "s3ObjectKey": keys}).to_string()
    }

    /// Sends `message` to every subscriber of `topic` (three attempts each); the error names
    /// the subscribers that could not be reached.
    pub async fn publish(&self, topic: &str, topic_arn: &str, message: &str) -> Result<(), String> {
        let Some(t) = self.topics.get(topic) else {
            return Err(format!(
                "SNS topic {topic} is not declared in the configuration"
            ));
        };
        let envelope = json!({
            "Type": "Notification",
            "MessageId": uuid::Uuid::new_v4().to_string(),
            "TopicArn": topic_arn,
            "Message": message,
            "Timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "SignatureVersion": "1",
            "Signature": "",
            "SigningCertURL": "",
            "UnsubscribeURL": "",
        })
        .to_string();
        let mut failures = Vec::new();
        for url in &t.subscribers {
            let mut last = String::new();
            let mut ok = false;
            for attempt in 0..3u32 {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
                match self.post(url, topic_arn, &envelope).await {
                    Ok(()) => {
                        ok = true;
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            if !ok {
                failures.push(format!("{url}: {last}"));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; "))
        }
    }

    async fn post(&self, url: &str, topic_arn: &str, body: &str) -> Result<(), String> {
        if url.starts_with("https://") {
            return Err("https subscribers are not supported yet; use an http endpoint".into());
        }
        let req = http::Request::builder()
            .method("POST")
            .uri(url)
            .header("content-type", "text/plain; charset=UTF-8")
            .header("x-amz-sns-message-type", "Notification")
            .header("x-amz-sns-topic-arn", topic_arn)
            .body(Full::new(Bytes::from(body.to_owned())))
            .map_err(|e| e.to_string())?;
        let resp = tokio::time::timeout(Duration::from_secs(10), self.client.request(req))
            .await
            .map_err(|_| "timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("answered {}", resp.status()))
        }
    }
}
