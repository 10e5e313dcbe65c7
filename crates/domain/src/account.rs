//! Accounts and their API tokens, as read from the store.

use crate::Username;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub username: Username,
    pub display_name: Option<String>,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub disabled: bool,
    pub must_change_password: bool,
    pub language: Option<String>,
    pub email: Option<String>,
    pub created_at: i64,
}

impl User {
    pub fn display_name(&self) -> &str {
        self.display_name
            .as_deref()
            .unwrap_or(self.username.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiToken {
    pub id: i64,
    #[serde(skip)]
    pub user_id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// Unix seconds after which the token no longer works, as it was made (`None`:
    /// no expiry of its own). The operator's limit may end it sooner (the sessions'
    /// settings), which the use cases apply to what they answer.
    pub expires_at: Option<i64>,
}

/// A login on its way through an OpenID provider, kept until the browser comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcLogin {
    /// Only a hash of `state` is stored, like session tokens.
    pub state_hash: String,
    pub provider: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
    pub created_at: i64,
}
