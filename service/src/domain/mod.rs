//! Validated domain values. Input is parsed into these at the edge, so invalid data cannot
//! reach the database.

mod new_user;
mod user_email;
mod user_name;

pub use new_user::{FieldErrors, NewUser};
pub use user_email::UserEmail;
pub use user_name::UserName;
