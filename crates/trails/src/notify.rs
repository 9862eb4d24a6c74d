//! SNS-style notifications: after each delivery, every subscriber of the trail's topic gets
//! the AWS notification message (`{"s3Bucket":...,"s3ObjectKey":[...]}`) in an SNS envelope.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::config::SnsTopic;
use crate::error::TrailError;

/// Publishes to the configured topics.
#[derive(Clone)]
pub struct Notifier {
    /// One client per topic: each topic may trust its own certificate authorities.
    clients: HashMap<String, reqwest::Client>,
    topics: HashMap<String, SnsTopic>,
}

impl Notifier {
    /// A notifier for these topics; fails when a topic's `ca_file` cannot be read.
    pub fn new(topics: &[SnsTopic]) -> Result<Notifier, TrailError> {
        let mut clients = HashMap::new();
        for t in topics {
            let fail = |reason: String| TrailError::Topic {
                topic: t.name.clone(),
                reason,
            };
            let mut builder = reqwest::Client::builder()
                .use_rustls_tls()
                .timeout(Duration::from_secs(10))
                .pool_idle_timeout(Duration::from_secs(30));
            if let Some(path) = &t.ca_file {
                let pem = std::fs::read(path)
                    .map_err(|e| fail(format!("cannot read ca_file {}: {e}", path.display())))?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    fail(format!(
                        "ca_file {} is not PEM certificates: {e}",
                        path.display()
                    ))
                })?;
                if certs.is_empty() {
                    return Err(fail(format!(
                        "ca_file {} holds no certificate",
                        path.display()
                    )));
                }
                for c in certs {
                    builder = builder.add_root_certificate(c);
                }
            }
            let client = builder
                .build()
                .map_err(|e| fail(format!("cannot set up its HTTP client: {e}")))?;
            clients.insert(t.name.clone(), client);
        }
        Ok(Notifier {
            clients,
            topics: topics.iter().map(|t| (t.name.clone(), t.clone())).collect(),
        })
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
                match self.post(topic, url, topic_arn, &envelope).await {
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

    async fn post(
        &self,
        topic: &str,
        url: &str,
        topic_arn: &str,
        body: &str,
    ) -> Result<(), String> {
        let client = self
            .clients
            .get(topic)
            .ok_or_else(|| format!("SNS topic {topic} is not declared in the configuration"))?;
        let resp = client
            .post(url)
            .header("content-type", "text/plain; charset=UTF-8")
            .header("x-amz-sns-message-type", "Notification")
            .header("x-amz-sns-topic-arn", topic_arn)
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("answered {}", resp.status()))
        }
    }
}

/// An error with its causes: reqwest's own message alone ("error sending request") does not
/// say whether the connection was refused or the certificate was not trusted.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
