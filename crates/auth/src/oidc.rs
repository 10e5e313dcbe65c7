//! Logging in through an OpenID provider: the authorization code flow with PKCE (S256),
//! `state` and `nonce`, discovery from the issuer, and RP-initiated logout where the
//! provider offers it. Verifying the ID token (signature, issuer, audience, expiry,
//! nonce) is the `openidconnect` crate's; which claims mean what is configured here.
//!
//! A login is two requests apart: [`OidcProvider::start`] makes the secrets the browser
//! must come back with, the caller keeps them (server side, used once), and
//! [`OidcProvider::finish`] exchanges the code and checks everything.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreResponseType,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationFlow, AuthorizationCode, Client, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope, StandardErrorResponse,
    StandardTokenResponse, TokenResponse, reqwest,
};
use roomkeeper_domain::Username;
use serde::{Deserialize, Serialize};

/// One `[[oidc]]` entry: a provider people can log in with.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcProviderConfig {
    /// Short name in URLs: the callback is `{public_url}/login/oidc/{name}/callback`.
    pub name: String,
    /// The login button says "Log in with {label}".
    pub label: String,
    /// Exactly as the provider names itself in its discovery document.
    pub issuer: String,
    pub client_id: String,
    pub client_secret_file: Option<PathBuf>,
    #[serde(skip)]
    pub client_secret: Option<String>,
    /// `openid` is always asked for.
    pub scopes: Vec<String>,
    /// The claim that is the Roomkeeper username (`preferred_username`, `uid`, `email`).
    pub username_claim: String,
    pub display_name_claim: String,
    pub email_claim: String,
    /// When set with `admin_value`: administrators are exactly those whose `admin_claim`
    /// is, or contains, `admin_value`, decided again at each login.
    pub admin_claim: Option<String>,
    pub admin_value: Option<String>,
    /// The claim listing the groups someone is in (a list of strings, or one string):
    /// rooms name them as co-owners as `{name}:{group}`. Read at each login.
    pub groups_claim: String,
    /// Whether this provider's usernames are the same people as the accounts already
    /// here (made locally, by LDAP or by another provider): only then is a first login
    /// linked to an existing, not yet linked account of that name. Default false: an
    /// account is never handed to whoever a provider calls by its name.
    pub authoritative_usernames: bool,
}

impl Default for OidcProviderConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            label: String::new(),
            issuer: String::new(),
            client_id: String::new(),
            client_secret_file: None,
            client_secret: None,
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            username_claim: "preferred_username".into(),
            display_name_claim: "name".into(),
            email_claim: "email".into(),
            admin_claim: None,
            admin_value: None,
            groups_claim: "groups".into(),
            authoritative_usernames: false,
        }
    }
}

impl OidcProviderConfig {
    /// What start-up refuses, with the key to fix.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            return Err((
                "oidc.name",
                format!("{:?}: use lowercase letters, digits and '-'", self.name),
            ));
        }
        if self.label.trim().is_empty() {
            return Err(("oidc.label", format!("{} needs a button label", self.name)));
        }
        let issuer = openidconnect::url::Url::parse(&self.issuer)
            .map_err(|e| ("oidc.issuer", format!("{:?}: {e}", self.issuer)))?;
        let loopback = issuer
            .host_str()
            .is_some_and(|h| crate::is_loopback_host(h.trim_matches(['[', ']'])));
        if issuer.scheme() != "https" && !(issuer.scheme() == "http" && loopback) {
            return Err((
                "oidc.issuer",
                format!(
                    "{:?} must be https:// (plain http only to this machine)",
                    self.issuer
                ),
            ));
        }
        if self.client_id.trim().is_empty() {
            return Err(("oidc.client_id", format!("{} needs a client id", self.name)));
        }
        if self.admin_claim.is_some() != self.admin_value.is_some() {
            return Err((
                "oidc.admin_claim",
                "admin_claim and admin_value go together".into(),
            ));
        }
        Ok(())
    }
}

/// Every claim the provider sent, so any of them can be the username or the group.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct OtherClaims(HashMap<String, serde_json::Value>);
impl AdditionalClaims for OtherClaims {}

type IdTokenResponse = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;
type IdToken = openidconnect::IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type OidcClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    IdTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a login through a provider failed. The person sees a sentence per kind; the
/// log gets the detail.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the provider cannot be reached: {0}")]
    Unreachable(String),
    #[error("the provider refused: {0}")]
    Refused(String),
    #[error("the ID token was refused: {0}")]
    BadToken(String),
    #[error("the provider did not send the claim {0:?}")]
    MissingClaim(String),
    #[error("the claim {claim:?} is not a usable username: {reason}")]
    BadUsername { claim: String, reason: String },
    #[error(
        "the username is the email address, and the provider did not say it verified it (email_verified)"
    )]
    UnverifiedEmail,
}

/// What [`OidcProvider::start`] makes: where to send the browser, and the secrets to keep
/// until it comes back.
pub struct LoginStart {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Who the provider vouched for.
#[derive(Debug, Clone)]
pub struct OidcIdentity {
    /// The identity is the pair (issuer, subject); the username may change.
    pub issuer: String,
    pub subject: String,
    pub username: Username,
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// `None` when this provider does not decide who is administrator.
    pub is_admin: Option<bool>,
    /// What the groups claim lists (nothing when the provider sent none).
    pub groups: Vec<String>,
    /// Kept with the session for RP-initiated logout (`id_token_hint`).
    pub id_token: String,
}

/// Discovery is fetched on first use and kept this long; a signature that no known key
/// verifies fetches it again at once (the provider may have rotated its keys).
const METADATA_TTL: Duration = Duration::from_secs(600);

pub struct OidcProvider {
    config: OidcProviderConfig,
    redirect_url: RedirectUrl,
    http: reqwest::Client,
    metadata: tokio::sync::Mutex<Option<(Instant, Arc<ProviderMetadataWithLogout>)>>,
}

impl OidcProvider {
    /// `base_url` is where people reach Roomkeeper (`http.public_url`).
    pub fn new(config: OidcProviderConfig, base_url: &str) -> Result<Self, String> {
        let redirect_url = RedirectUrl::new(format!(
            "{}/login/oidc/{}/callback",
            base_url.trim_end_matches('/'),
            config.name
        ))
        .map_err(|e| e.to_string())?;
        let http = reqwest::Client::builder()
            // The OpenID spec forbids following redirects on these calls (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            config,
            redirect_url,
            http,
            metadata: tokio::sync::Mutex::new(None),
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn label(&self) -> &str {
        &self.config.label
    }

    pub fn redirect_url(&self) -> &str {
        self.redirect_url.as_str()
    }

    async fn metadata(&self, refresh: bool) -> Result<Arc<ProviderMetadataWithLogout>, OidcError> {
        let mut cached = self.metadata.lock().await;
        if let Some((fetched, metadata)) = cached.as_ref() {
            if !refresh && fetched.elapsed() < METADATA_TTL {
                return Ok(metadata.clone());
            }
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| OidcError::Unreachable(e.to_string()))?;
        // Discovery checks that the document's issuer is exactly ours.
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Unreachable(error_chain(&e)))?;
        let metadata = Arc::new(metadata);
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(&self, metadata: &ProviderMetadataWithLogout) -> OidcClient {
        OidcClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect_url.clone())
    }

    /// The provider's login URL with fresh `state`, `nonce` and PKCE challenge.
    pub async fn start(&self) -> Result<LoginStart, OidcError> {
        let metadata = self.metadata(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client(&metadata);
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self.config.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(LoginStart {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code and verifies the ID token against the `nonce` and PKCE verifier
    /// kept from [`start`](Self::start). The caller has already matched `state`.
    pub async fn finish(
        &self,
        code: String,
        nonce: &str,
        pkce_verifier: String,
    ) -> Result<OidcIdentity, OidcError> {
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata);
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcError::Refused(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| match &e {
                openidconnect::RequestTokenError::ServerResponse(r) => {
                    OidcError::Refused(r.to_string())
                }
                openidconnect::RequestTokenError::Request(_) => {
                    OidcError::Unreachable(error_chain(&e))
                }
                _ => OidcError::Refused(error_chain(&e)),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::Refused("no ID token in the token response".into()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let mut claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
                let metadata = self.metadata(true).await?;
                let client = self.client(&metadata);
                id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map(|c| serde_json::to_value(c).unwrap_or_default())
            }
            other => other.map(|c| serde_json::to_value(c).unwrap_or_default()),
        }
        .map_err(|e| OidcError::BadToken(e.to_string()))?;
        let subject = claims["sub"].as_str().unwrap_or_default().to_owned();
        if self.wanted_claims().any(|c| claims.get(c).is_none()) {
            self.add_user_info(&client, &response, &subject, &mut claims)
                .await?;
        }
        self.identity(&claims, id_token.to_string())
    }

    fn wanted_claims(&self) -> impl Iterator<Item = &str> {
        [
            Some(self.config.username_claim.as_str()),
            self.username_is_email().then_some("email_verified"),
            Some(self.config.display_name_claim.as_str()),
            Some(self.config.email_claim.as_str()),
            self.config.admin_claim.as_deref(),
            Some(self.config.groups_claim.as_str()),
        ]
        .into_iter()
        .flatten()
    }

    /// Many providers put only `sub` in the ID token and the rest behind the userinfo
    /// endpoint; its answer must be about the same subject (checked by the crate).
    async fn add_user_info(
        &self,
        client: &OidcClient,
        response: &IdTokenResponse,
        subject: &str,
        claims: &mut serde_json::Value,
    ) -> Result<(), OidcError> {
        let Ok(request) = client.user_info(
            response.access_token().clone(),
            Some(openidconnect::SubjectIdentifier::new(subject.to_owned())),
        ) else {
            return Ok(());
        };
        let info: openidconnect::UserInfoClaims<OtherClaims, CoreGenderClaim> = request
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Refused(format!("userinfo: {}", error_chain(&e))))?;
        if let (Some(into), Ok(serde_json::Value::Object(more))) =
            (claims.as_object_mut(), serde_json::to_value(info))
        {
            for (key, value) in more {
                into.entry(key).or_insert(value);
            }
        }
        Ok(())
    }

    /// An email address is a username only once the provider checked it belongs to the
    /// person: anyone can type someone else's address into a self-service account.
    fn username_is_email(&self) -> bool {
        self.config.username_claim == "email"
    }

    /// Whether a first login may take over an existing account of the same username.
    pub fn authoritative_usernames(&self) -> bool {
        self.config.authoritative_usernames
    }

    fn identity(
        &self,
        claims: &serde_json::Value,
        id_token: String,
    ) -> Result<OidcIdentity, OidcError> {
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let claim = &self.config.username_claim;
        let raw = text(claim).ok_or_else(|| OidcError::MissingClaim(claim.clone()))?;
        if self.username_is_email() {
            // Some providers send the flag as the string "true".
            let verified = match claims.get("email_verified") {
                Some(serde_json::Value::Bool(v)) => *v,
                Some(serde_json::Value::String(v)) => v == "true",
                _ => false,
            };
            if !verified {
                return Err(OidcError::UnverifiedEmail);
            }
        }
        let username = Username::parse(&raw).map_err(|e| OidcError::BadUsername {
            claim: claim.clone(),
            reason: e.to_string(),
        })?;
        let is_admin = match (&self.config.admin_claim, &self.config.admin_value) {
            (Some(name), Some(wanted)) => Some(match claims.get(name) {
                Some(serde_json::Value::String(v)) => v == wanted,
                Some(serde_json::Value::Array(values)) => {
                    values.iter().any(|v| v.as_str() == Some(wanted))
                }
                _ => false,
            }),
            _ => None,
        };
        // At most this many: a provider that lists hundreds of groups per person (some
        // university IdPs do) does not make every login hundreds of writes.
        const MAX_GROUPS: usize = 200;
        let groups = match claims.get(&self.config.groups_claim) {
            Some(serde_json::Value::Array(values)) => values
                .iter()
                .filter_map(|v| v.as_str())
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .take(MAX_GROUPS)
                .map(str::to_owned)
                .collect(),
            Some(serde_json::Value::String(one)) if !one.trim().is_empty() => {
                vec![one.trim().to_owned()]
            }
            _ => Vec::new(),
        };
        Ok(OidcIdentity {
            issuer: text("iss").unwrap_or_default(),
            subject: text("sub").unwrap_or_default(),
            username,
            display_name: text(&self.config.display_name_claim),
            email: text(&self.config.email_claim),
            is_admin,
            groups,
            id_token,
        })
    }

    /// Where to send the browser to end the provider's session too, when the provider
    /// supports RP-initiated logout; `None` otherwise (or when it cannot be reached).
    pub async fn logout_url(&self, id_token: &str, come_back_to: &str) -> Option<String> {
        let metadata = self.metadata(false).await.ok()?;
        let endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let mut request = openidconnect::LogoutRequest::from(endpoint)
            .set_client_id(ClientId::new(self.config.client_id.clone()));
        if let Ok(hint) = id_token.parse::<IdToken>() {
            request = request.set_id_token_hint(&hint);
        }
        if let Ok(back) = PostLogoutRedirectUrl::new(come_back_to.to_owned()) {
            request = request.set_post_logout_redirect_uri(back);
        }
        Some(request.http_get_url().to_string())
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(issuer: &str) -> OidcProviderConfig {
        OidcProviderConfig {
            name: "uni".into(),
            label: "University".into(),
            issuer: issuer.into(),
            client_id: "roomkeeper".into(),
            ..Default::default()
        }
    }

    #[test]
    fn plain_http_issuers_only_on_this_machine() {
        assert!(
            config("https://login.example.org/realms/uni")
                .check()
                .is_ok()
        );
        assert!(config("http://127.0.0.1:8081").check().is_ok());
        assert!(config("http://[::1]:8081").check().is_ok());
        assert!(config("http://localhost:8081").check().is_ok());
        for bad in [
            "http://login.example.org",
            "http://127.0.0.1.example.org",
            "ftp://x",
            "",
        ] {
            assert_eq!(config(bad).check().unwrap_err().0, "oidc.issuer", "{bad}");
        }
    }

    #[test]
    fn names_admin_pairs_and_client_ids_are_checked() {
        let mut bad = config("https://x.example");
        bad.name = "Uni Login".into();
        assert_eq!(bad.check().unwrap_err().0, "oidc.name");
        let mut bad = config("https://x.example");
        bad.admin_claim = Some("groups".into());
        assert_eq!(bad.check().unwrap_err().0, "oidc.admin_claim");
        let mut bad = config("https://x.example");
        bad.client_id = " ".into();
        assert_eq!(bad.check().unwrap_err().0, "oidc.client_id");
    }

    fn identity_of(provider: &OidcProvider, claims: &serde_json::Value) -> OidcIdentity {
        provider.identity(claims, String::new()).unwrap()
    }

    #[test]
    fn claims_become_an_identity_with_the_configured_names() {
        let mut c = config("https://x.example");
        c.username_claim = "uid".into();
        c.admin_claim = Some("groups".into());
        c.admin_value = Some("rk-admins".into());
        let provider = OidcProvider::new(c, "https://rk.example").unwrap();
        let claims = serde_json::json!({
            "iss": "https://x.example", "sub": "1001", "uid": " Ada ",
            "name": "Ada Lovelace", "groups": ["staff", "rk-admins"]
        });
        let who = identity_of(&provider, &claims);
        assert_eq!(who.username.as_str(), "ada");
        assert_eq!(who.subject, "1001");
        assert_eq!(who.is_admin, Some(true));
        assert_eq!(who.display_name.as_deref(), Some("Ada Lovelace"));
        let who = identity_of(
            &provider,
            &serde_json::json!({"sub": "2", "uid": "bob", "groups": "rk-admins-not"}),
        );
        assert_eq!(who.is_admin, Some(false));
        assert!(matches!(
            provider.identity(&serde_json::json!({"sub": "3"}), String::new()),
            Err(OidcError::MissingClaim(c)) if c == "uid"
        ));
        assert!(matches!(
            provider.identity(
                &serde_json::json!({"sub": "3", "uid": "a b"}),
                String::new()
            ),
            Err(OidcError::BadUsername { .. })
        ));
        assert_eq!(
            provider.redirect_url(),
            "https://rk.example/login/oidc/uni/callback"
        );
    }
}
