//! A notifier that records what it was given, and can fail or hang as a dead webhook does.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::aws::{Notifier, NotifyTarget};

/// How the fake fails, when it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failing {
    /// Answers every delivery with an error (an HTTP 500).
    Errors,
    /// Never answers (a webhook whose host swallows the connection).
    Hangs,
}

/// Records every delivery, in order, as (target, the parsed document).
#[derive(Clone, Default)]
pub struct FakeNotifier {
    pub sent: Arc<Mutex<Vec<(NotifyTarget, serde_json::Value)>>>,
    pub attempts: Arc<Mutex<usize>>,
    pub failing: Arc<Mutex<Option<Failing>>>,
}

impl FakeNotifier {
    pub fn failing(how: Failing) -> Self {
        let fake = FakeNotifier::default();
        *fake.failing.lock().unwrap() = Some(how);
        fake
    }

    /// The `event` of each notice delivered, in order (`start`, `step`, …).
    pub fn kinds(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|(_, doc)| doc["event"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

#[async_trait]
impl Notifier for FakeNotifier {
    async fn deliver(
        &self,
        to: &NotifyTarget,
        _subject: &str,
        document: &str,
    ) -> Result<(), String> {
        *self.attempts.lock().unwrap() += 1;
        let failing = *self.failing.lock().unwrap();
        match failing {
            Some(Failing::Errors) => Err("answered HTTP 500 Internal Server Error".into()),
            Some(Failing::Hangs) => std::future::pending().await,
            None => {
                let doc = serde_json::from_str(document).map_err(|e| e.to_string())?;
                self.sent.lock().unwrap().push((to.clone(), doc));
                Ok(())
            }
        }
    }
}
