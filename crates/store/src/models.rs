use roomkeeper_domain::Username;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: Option<String>,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub disabled: bool,
    pub must_change_password: bool,
    pub language: Option<String>,
    pub created_at: i64,
}

impl User {
    pub fn display_name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.username)
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub must_change_password: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRecord {
    pub session_created_at: i64,
    pub session_last_seen_at: i64,
    #[sqlx(flatten)]
    pub user: User,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct ApiToken {
    pub id: i64,
    #[serde(skip)]
    pub user_id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// An API token row joined with its user, as one query returns it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct TokenWithUser {
    pub token_id: i64,
    pub token_name: String,
    pub token_created_at: i64,
    pub token_last_used_at: Option<i64>,
    #[sqlx(flatten)]
    pub user: User,
}

impl TokenWithUser {
    pub(crate) fn split(self) -> (ApiToken, User) {
        (
            ApiToken {
                id: self.token_id,
                user_id: self.user.id,
                name: self.token_name,
                created_at: self.token_created_at,
                last_used_at: self.token_last_used_at,
            },
            self.user,
        )
    }
}
