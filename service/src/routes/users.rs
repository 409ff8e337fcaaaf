//! `/api/users`: create, fetch and list users.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::domain::{FieldErrors, NewUser};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::startup::AppState;

/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 20;
/// Largest page size accepted.
pub const MAX_LIMIT: i64 = 100;

/// The columns of [`User`], as a literal so that every statement is a `&'static str`.
macro_rules! columns {
    () => {
        "id, name, email, created_at, updated_at"
    };
}

/// The users routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users", get(list_users).post(create_user))
        .route("/api/users/{id}", get(get_user))
}

/// A user as stored.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct User {
    /// Assigned by the database.
    #[schema(example = 42, minimum = 1)]
    pub id: i64,
    /// Display name, as given.
    #[schema(example = "Ada Lovelace", min_length = 2, max_length = 100)]
    pub name: String,
    /// Email address, lower-cased; unique.
    #[schema(example = "ada@example.com", max_length = 255)]
    pub email: String,
    /// When the user was created (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When the user was last changed (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// The body of `POST /api/users`: a JSON object. Members other than these two are ignored;
/// a member given twice (any member) makes the body ambiguous and is refused (422), as is a
/// body that is not an object.
// Both fields are optional in the type so that a missing field is reported per field (422)
// like any other invalid value, rather than as a shapeless deserialisation error.
#[derive(Debug, ToSchema)]
pub struct CreateUser {
    /// 2 to 100 characters, taken as given (not trimmed): no leading or trailing whitespace
    /// or zero-width joiner, and no control, invisible (zero-width space, word joiner, byte
    /// order mark, Hangul fillers, soft hyphen, ...) or bidirectional formatting characters
    /// anywhere. The pattern lists them.
    #[schema(value_type = String, required = true, min_length = 2, max_length = 100, example = "Ada Lovelace")]
    pub name: Option<String>,
    /// An address of at most 255 characters, taken as given (not trimmed): a dot-atom local
    /// part of at most 64 characters (no quoted strings), `@`, and a domain of at least two
    /// labels (letters, digits, inner hyphens; at most 63 each) whose last label starts with
    /// a letter (no IP literals). ASCII only. Stored lower-cased; unique regardless of case.
    #[schema(value_type = String, required = true, max_length = 255, example = "ada@example.com")]
    pub email: Option<String>,
}

// By hand rather than derived: a derived struct would also accept a JSON array, let a
// repeated member silently win, and not name the field of a wrong type.
impl<'de> Deserialize<'de> for CreateUser {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(CreateUserVisitor)
    }
}

struct CreateUserVisitor;

impl<'de> serde::de::Visitor<'de> for CreateUserVisitor {
    type Value = CreateUser;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object with \"name\" and \"email\"")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<CreateUser, A::Error> {
        use serde::de::Error;

        let mut seen = std::collections::BTreeSet::<String>::new();
        let (mut name, mut email) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(A::Error::custom(format!(
                    "member \"{key}\" is given more than once"
                )));
            }
            let slot = match key.as_str() {
                "name" => &mut name,
                "email" => &mut email,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    continue;
                }
            };
            *slot = match map.next_value::<serde_json::Value>()? {
                serde_json::Value::Null => None,
                serde_json::Value::String(value) => Some(value),
                _ => return Err(A::Error::custom(format!("\"{key}\" must be a string"))),
            };
        }
        Ok(CreateUser { name, email })
    }
}

/// Query parameters of `GET /api/users`. Kept as text so that a bad value gets our own
/// message naming the parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// Where to continue: the `next_cursor` of the previous page (users with a greater id
    /// follow). Any non-negative integer is accepted; a cursor past the last user gives an
    /// empty last page.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 9223372036854775807_i64)]
    pub cursor: Option<String>,
}

/// One page of users, in ascending id order.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    /// The users on this page.
    pub users: Vec<User>,
    /// Pass as `cursor` to get the next page; `null` on the last page. A non-negative
    /// integer, in decimal digits.
    #[schema(pattern = "^(0|[1-9][0-9]*)$")]
    pub next_cursor: Option<String>,
}

/// Lists users, oldest first, a page at a time. Pages are keyset-paginated on the id, so
/// they stay fast and stable however deep the client pages while users are being added.
#[utoipa::path(get, path = "/api/users", tag = "users", params(ListParams),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 400, description = "`limit` or `cursor` is not an integer in range, or a \
            parameter is given twice (code `bad_request`, `fields` names each parameter)",
            body = ErrorBody),
        (status = 429, response = crate::error::RateLimitedResponse),
        (status = 500, response = crate::error::InternalResponse),
        (status = 503, response = crate::error::UnavailableResponse),
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<UserPage>, ApiError> {
    let (limit, after) = page_bounds(&params)?;
    // One row more than asked tells whether there is a next page without a count query.
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM users WHERE id > $1 ORDER BY id LIMIT $2"
    );
    let mut users: Vec<User> = state
        .pool
        .run(async |conn| {
            sqlx::query_as(sql)
                .bind(after)
                .bind(limit + 1)
                .fetch_all(conn)
                .await
        })
        .await
        .map_err(database_error)?;
    let next_cursor = if users.len() as i64 > limit {
        users.truncate(limit as usize);
        users.last().map(|user| user.id.to_string())
    } else {
        None
    };
    Ok(Json(UserPage { users, next_cursor }))
}

fn page_bounds(params: &ListParams) -> Result<(i64, i64), ApiError> {
    let mut fields = FieldErrors::new();
    // Not trimmed: the document says integer, and " 5" is not one.
    let limit = match params.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<i64>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
            _ => {
                fields.insert(
                    "limit",
                    format!("must be an integer between 1 and {MAX_LIMIT}"),
                );
                DEFAULT_LIMIT
            }
        },
    };
    let after = match params.cursor.as_deref() {
        None => 0,
        Some(raw) => match raw.parse::<i64>() {
            Ok(after) if after >= 0 => after,
            _ => {
                fields.insert(
                    "cursor",
                    "must be a non-negative integer, such as the next_cursor of the previous page"
                        .to_owned(),
                );
                0
            }
        },
    };
    if fields.is_empty() {
        Ok((limit, after))
    } else {
        Err(ApiError::BadRequest {
            message: "invalid query parameters".to_owned(),
            fields,
        })
    }
}

/// Creates a user. The email must not belong to another user (compared case-insensitively).
#[utoipa::path(post, path = "/api/users", tag = "users", request_body = CreateUser,
    responses(
        (status = 201, description = "Created", body = User,
            headers(("location" = String, description = "The new user's URL, `/api/users/{id}`"))),
        (status = 400, description = "The body is not JSON text (a syntax error, trailing \
            data, invalid UTF-8, an unpaired surrogate escape) (code `bad_request`)",
            body = ErrorBody),
        (status = 408, response = crate::error::RequestTimeoutResponse),
        (status = 409, description = "Another user has this email, in any case (code `conflict`)",
            body = ErrorBody),
        (status = 413, description = "The body is larger than 16 KiB (code `payload_too_large`)",
            body = ErrorBody),
        (status = 415, description = "The body is not declared `application/json` \
            (code `unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "The JSON is not an object, gives a member twice, or a \
            field is missing, of the wrong type or invalid (code `validation_failed`; `fields` \
            names each invalid field)", body = ErrorBody),
        (status = 429, response = crate::error::RateLimitedResponse),
        (status = 500, response = crate::error::InternalResponse),
        (status = 503, response = crate::error::UnavailableResponse),
    ))]
pub async fn create_user(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<impl IntoResponse, ApiError> {
    let new_user =
        NewUser::parse(body.name.as_deref(), body.email.as_deref()).map_err(|fields| {
            ApiError::Unprocessable {
                message: "invalid user".to_owned(),
                fields,
            }
        })?;
    // No "does this email exist" pre-check: two requests could both pass it. The unique
    // constraint decides, atomically, and its violation is the 409.
    let sql = concat!(
        "INSERT INTO users (name, email) VALUES ($1, $2) RETURNING ",
        columns!()
    );
    let user: User = state
        .pool
        .run(async |conn| {
            sqlx::query_as(sql)
                .bind(new_user.name.as_str())
                .bind(new_user.email.as_str())
                .fetch_one(conn)
                .await
        })
        .await
        .map_err(|err| match &err {
            sqlx::Error::Database(db)
                if db.is_unique_violation() && db.constraint() == Some("users_email_key") =>
            {
                ApiError::Conflict("a user with this email already exists".to_owned())
            }
            _ => database_error(err),
        })?;
    state.metrics.user_created();
    tracing::info!(user_id = user.id, "user created");
    let location = format!("/api/users/{}", user.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(user),
    ))
}

/// Fetches one user by id.
#[utoipa::path(get, path = "/api/users/{id}", tag = "users",
    params(("id" = i64, Path, description = "The user's id", minimum = 1,
        maximum = 9223372036854775807_i64)),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 400, description = "The id is not an integer from 1 to 2^63 - 1 \
            (code `bad_request`)", body = ErrorBody),
        (status = 404, description = "No user has this id (code `not_found`)", body = ErrorBody),
        (status = 429, response = crate::error::RateLimitedResponse),
        (status = 500, response = crate::error::InternalResponse),
        (status = 503, response = crate::error::UnavailableResponse),
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<User>, ApiError> {
    if id < 1 {
        return Err(ApiError::bad_request(format!(
            "invalid path parameter: the id must be a positive integer (got {id})"
        )));
    }
    let sql = concat!("SELECT ", columns!(), " FROM users WHERE id = $1");
    state
        .pool
        .run(async |conn| sqlx::query_as(sql).bind(id).fetch_optional(conn).await)
        .await
        .map_err(database_error)?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no user with id {id}")))
}

/// An unavailable database is a 503 (retry elsewhere or later); anything else is a bug: 500.
fn database_error(err: sqlx::Error) -> ApiError {
    if crate::db::is_unavailable(&err) {
        tracing::warn!(error = %err, "database unavailable");
        ApiError::Unavailable("database unavailable".to_owned())
    } else {
        ApiError::Internal(anyhow::Error::new(err).context("database query"))
    }
}
