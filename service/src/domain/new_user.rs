use std::collections::BTreeMap;

use super::{UserEmail, UserName};

/// Per-field validation errors: field name to what is wrong with it.
pub type FieldErrors = BTreeMap<&'static str, String>;

/// A user that passed validation and may be inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The display name.
    pub name: UserName,
    /// The email address.
    pub email: UserEmail,
}

impl NewUser {
    /// Validates both fields and reports every problem at once, not just the first.
    pub fn parse(name: Option<&str>, email: Option<&str>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = match name {
            None => Err("is required".to_owned()),
            Some(raw) => UserName::parse(raw),
        }
        .map_err(|e| errors.insert("name", e))
        .ok();
        let email = match email {
            None => Err("is required".to_owned()),
            Some(raw) => UserEmail::parse(raw),
        }
        .map_err(|e| errors.insert("email", e))
        .ok();
        match (name, email) {
            (Some(name), Some(email)) => Ok(Self { name, email }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::NewUser;

    #[test]
    fn valid_input_parses() {
        let user = NewUser::parse(Some("Ada"), Some("ADA@example.com")).unwrap();
        assert_eq!(user.name.as_str(), "Ada");
        assert_eq!(user.email.as_str(), "ada@example.com");
    }

    #[test]
    fn reports_every_invalid_field() {
        let errors = NewUser::parse(Some("A"), Some("nope")).unwrap_err();
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["email", "name"]
        );
        let errors = NewUser::parse(None, None).unwrap_err();
        assert_eq!(errors["name"], "is required");
        assert_eq!(errors["email"], "is required");
        let errors = NewUser::parse(Some("Ada"), None).unwrap_err();
        assert_eq!(errors.len(), 1);
    }
}
