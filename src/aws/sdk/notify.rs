//! The notifier: webhooks over HTTPS (the TLS stack the SDK already uses), topics over SNS.

use super::*;
use crate::aws::{Notifier, NotifyTarget};

/// Posts to webhooks and publishes to SNS topics.
pub struct SdkNotifier {
    sns: sns::SdkSns,
    http: Option<reqwest::Client>,
}

impl SdkNotifier {
    pub fn new(sns: sns::SdkSns) -> Self {
        // The SDK's crypto provider, for reqwest too; a second install is a no-op error.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("opsctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .ok();
        SdkNotifier { sns, http }
    }
}

#[async_trait]
impl Notifier for SdkNotifier {
    async fn deliver(
        &self,
        to: &NotifyTarget,
        subject: &str,
        document: &str,
    ) -> Result<(), String> {
        match to {
            NotifyTarget::Sns(topic) => self
                .sns
                .publish(topic, subject, document)
                .await
                .map_err(|e| format!("{e:#}")),
            NotifyTarget::Webhook(url) => {
                let http = self
                    .http
                    .as_ref()
                    .ok_or("no HTTPS client could be built (no TLS roots?)")?;
                let request = http
                    .post(url)
                    .header("content-type", "application/json")
                    .body(document.to_owned())
                    .build()
                    .map_err(|e| format!("{}", e.without_url()))?;
                let answer = http
                    .execute(request)
                    .await
                    // reqwest's errors carry the URL, and with it the webhook's secret.
                    .map_err(|e| {
                        let e = e.without_url();
                        if e.is_timeout() {
                            "no answer in time".to_owned()
                        } else if e.is_connect() {
                            "could not connect".to_owned()
                        } else {
                            format!("{e}")
                        }
                    })?;
                let status = answer.status();
                if status.is_success() {
                    Ok(())
                } else {
                    Err(format!("answered HTTP {status}"))
                }
            }
        }
    }
}
