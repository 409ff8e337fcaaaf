//! `notify = [{ webhook = "https://…" }, { sns = "arn:aws:sns:…" }]`: where an env's
//! notices go, checked when the file is read.

use serde::Serialize;

/// One place an env's notices go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyTarget {
    /// An `http(s)://` URL that receives the JSON document in a POST.
    Webhook(String),
    /// An SNS topic's ARN the document is published to.
    Sns(String),
}

impl NotifyTarget {
    /// The target as it may be printed: a webhook's path and query often carry its secret
    /// (Slack's `/services/T…/B…/TOKEN`), so only its scheme and host are shown.
    pub fn shown(&self) -> String {
        match self {
            NotifyTarget::Webhook(url) => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
                let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
                // user:password@ is a secret too.
                let host = host.rsplit('@').next().unwrap_or(host);
                let more = rest.len() > host.len() && !matches!(&rest[host.len()..], "" | "/");
                format!("webhook {scheme}://{host}{}", if more { "/…" } else { "" })
            }
            NotifyTarget::Sns(arn) => format!("sns {arn}"),
        }
    }

    /// The SNS topic, if this target is one.
    pub fn topic(&self) -> Option<&str> {
        match self {
            NotifyTarget::Sns(arn) => Some(arn),
            NotifyTarget::Webhook(_) => None,
        }
    }
}

/// The env's `notify` entries as targets, or (index, what is wrong, the fix).
pub(super) fn targets(
    env: &str,
    raw: Vec<toml::Table>,
) -> Result<Vec<NotifyTarget>, (usize, String, String)> {
    let fix = format!(
        "write each entry as {{ webhook = \"https://hooks.example.com/…\" }} or \
         {{ sns = \"arn:aws:sns:REGION:ACCOUNT_ID:TOPIC\" }} in [env.{env}]"
    );
    raw.into_iter()
        .enumerate()
        .map(|(i, table)| {
            let bad = |problem: String| (i, problem, fix.clone());
            let mut keys = table.iter();
            let (Some((key, value)), None) = (keys.next(), keys.next()) else {
                let names: Vec<&str> = table.keys().map(String::as_str).collect();
                return Err(bad(format!(
                    "must have exactly one of `webhook` or `sns`, not [{}]",
                    names.join(", ")
                )));
            };
            let Some(value) = value.as_str() else {
                return Err(bad(format!("`{key}` must be a string")));
            };
            match key.as_str() {
                "webhook" if is_webhook(value) => Ok(NotifyTarget::Webhook(value.to_owned())),
                "webhook" => Err((
                    i,
                    "webhook is not an absolute http:// or https:// URL".into(),
                    "give the URL the receiving service gave you, such as \
                     https://hooks.slack.com/services/…"
                        .into(),
                )),
                "sns" if is_topic_arn(value) => Ok(NotifyTarget::Sns(value.to_owned())),
                "sns" => Err((
                    i,
                    format!(
                        "sns `{}` is not an SNS topic ARN",
                        crate::input::escape(value)
                    ),
                    "write it as arn:aws:sns:REGION:ACCOUNT_ID:TOPIC (aws sns list-topics shows them)"
                        .into(),
                )),
                other => Err(bad(format!(
                    "has the unknown key `{}`",
                    crate::input::escape(other)
                ))),
            }
        })
        .collect()
}

/// `http(s)://host[:port][/…]` with no spaces or control characters.
fn is_webhook(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or(host);
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.parse::<u16>().is_ok())
        .map_or(host, |(name, _)| name);
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.[]:".contains(c))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `arn:PARTITION:sns:REGION:ACCOUNT:TOPIC`, as SNS writes a topic's ARN.
fn is_topic_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    let [arn_word, partition, service, region, account, topic] = parts.as_slice() else {
        return false;
    };
    *arn_word == "arn"
        && partition.starts_with("aws")
        && *service == "sns"
        && !region.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && (1..=256).contains(&topic.len())
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}
