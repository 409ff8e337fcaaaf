//! Database credentials from AWS Secrets Manager.
//!
//! The secret is the JSON that RDS and Secrets Manager use for database secrets:
//! `{"username": "...", "password": "...", "host": "...", "port": 5432, "dbname": "..."}`,
//! where only `username` and `password` are required. ECS can inject it as `DB_CREDENTIALS`;
//! otherwise it is fetched by ARN (`DB_SECRET_ARN`) with the default AWS configuration, so
//! `AWS_ENDPOINT_URL` and the usual credential chain apply.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

use crate::config::ConfigError;

/// How long startup waits for Secrets Manager, retries included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// A database secret. The password is wrapped so it never prints (`Debug` shows
/// `[REDACTED]`).
#[derive(Debug, Clone, Deserialize)]
pub struct DbSecret {
    /// Database user.
    pub username: String,
    /// Database password.
    pub password: SecretString,
    /// Database host, used when `DB_HOST` is not set.
    #[serde(default)]
    pub host: Option<String>,
    /// Database port, used when `DB_PORT` is not set.
    #[serde(default, deserialize_with = "port")]
    pub port: Option<u16>,
    /// Database name, used when `DB_NAME` is not set.
    #[serde(default)]
    pub dbname: Option<String>,
}

/// Parses a secret's JSON. `source` names where it came from, for the error.
///
/// Errors never quote the input: serde's messages can echo values, and this one holds a
/// password.
pub fn parse(source: &'static str, json: &str) -> Result<DbSecret, ConfigError> {
    serde_json::from_str(json).map_err(|err| {
        let problem = if err.is_syntax() || err.is_eof() {
            format!(
                "is not valid JSON (line {}, column {})",
                err.line(),
                err.column()
            )
        } else {
            "must be a JSON object with string fields \"username\" and \"password\" (and \
             optionally \"host\", \"port\", \"dbname\")"
                .to_owned()
        };
        ConfigError::new(source, problem)
    })
}

/// Fetches and parses the secret `arn` from Secrets Manager.
pub async fn fetch(arn: &str) -> Result<DbSecret, ConfigError> {
    let var = "DB_SECRET_ARN";
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let request = client.get_secret_value().secret_id(arn).send();
    let output = match tokio::time::timeout(FETCH_TIMEOUT, request).await {
        Err(_) => {
            return Err(ConfigError::new(
                var,
                format!(
                    "Secrets Manager did not answer within {}s; check the task's network path to \
                     Secrets Manager (VPC endpoint or NAT)",
                    FETCH_TIMEOUT.as_secs()
                ),
            ));
        }
        Ok(Err(err)) => {
            let hint = match err.as_service_error() {
                Some(e) if e.is_resource_not_found_exception() => {
                    "the secret does not exist; check the ARN and the region (AWS_REGION)"
                }
                Some(e) if e.is_decryption_failure() => {
                    "the secret cannot be decrypted; grant the task role kms:Decrypt on its key"
                }
                _ => {
                    "check the ARN, AWS_REGION, and that the task role may call secretsmanager:GetSecretValue"
                }
            };
            return Err(ConfigError::new(
                var,
                format!(
                    "cannot read secret {arn}: {}; {hint}",
                    DisplayErrorContext(&err)
                ),
            ));
        }
        Ok(Ok(output)) => output,
    };
    let json = output.secret_string().ok_or_else(|| {
        ConfigError::new(
            var,
            format!("secret {arn} has no string value; store the credentials as JSON text"),
        )
    })?;
    parse(var, json)
}

/// RDS writes the port as a number; people writing secrets by hand often quote it.
fn port<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u16>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Port {
        Number(u16),
        Text(String),
    }
    match Option::<Port>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Port::Number(port)) => Ok(Some(port)),
        Some(Port::Text(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("port is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn parses_an_rds_style_secret() {
        let secret = parse(
            "DB_CREDENTIALS",
            r#"{"engine":"postgres","username":"app","password":"p@ss","host":"db","port":5432,"dbname":"users","dbInstanceIdentifier":"x"}"#,
        )
        .unwrap();
        assert_eq!(secret.username, "app");
        assert_eq!(secret.password.expose_secret(), "p@ss");
        assert_eq!(secret.host.as_deref(), Some("db"));
        assert_eq!(secret.port, Some(5432));
        assert_eq!(secret.dbname.as_deref(), Some("users"));
    }

    #[test]
    fn accepts_a_quoted_port_and_only_username_and_password() {
        let secret = parse(
            "DB_CREDENTIALS",
            r#"{"username":"app","password":"pw","port":"6543"}"#,
        )
        .unwrap();
        assert_eq!(secret.port, Some(6543));
        let secret = parse("DB_CREDENTIALS", r#"{"username":"app","password":"pw"}"#).unwrap();
        assert_eq!(
            (secret.host, secret.port, secret.dbname),
            (None, None, None)
        );
    }

    #[test]
    fn errors_never_echo_the_secret() {
        for bad in [
            r#"{"username":"app","password":12345678}"#,
            r#"{"username":"app"}"#,
            r#"{"username":"app","password":"12345678""#,
            r#"not json 12345678"#,
        ] {
            let err = parse("DB_CREDENTIALS", bad).unwrap_err();
            assert_eq!(err.var, "DB_CREDENTIALS");
            assert!(!err.to_string().contains("12345678"), "{err}");
        }
    }

    #[test]
    fn debug_redacts_the_password() {
        let secret = parse(
            "DB_CREDENTIALS",
            r#"{"username":"app","password":"hunter2"}"#,
        )
        .unwrap();
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
