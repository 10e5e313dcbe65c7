//! The emails Roomkeeper writes, each in its recipient's language. They are queued with
//! the change they report (see `roomkeeper_mail` for sending).

use roomkeeper_domain::{RoomName, Username};
use roomkeeper_store::{NewEmail, NewRequest, RoomRequest, User};

use crate::i18n::{Lang, Tr};
use crate::{AppState, Error};

fn language_of(user: &User) -> Lang {
    user.language
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or_default()
}

fn display(canonical: &str) -> String {
    RoomName::from_canonical(canonical).map_or_else(|_| canonical.to_owned(), |n| n.display())
}

/// To every administrator with an address: someone asks for a room.
pub async fn new_request(state: &AppState, request: &NewRequest) -> Result<Vec<NewEmail>, Error> {
    if !state.mail_enabled {
        return Ok(Vec::new());
    }
    let link = format!("{}/admin/requests", state.http.base_url());
    let room = display(&request.room_name);
    Ok(state
        .store
        .admin_recipients()
        .await?
        .into_iter()
        .filter_map(|admin| {
            let t = Tr::new(language_of(&admin));
            let args = [
                ("room", room.clone()),
                ("requester", request.requester.clone()),
                ("reason", request.reason.clone()),
                ("link", link.clone()),
            ];
            Some(NewEmail {
                recipient: admin.email?,
                subject: t.with("mail-new-request-subject", &args),
                body: t.with("mail-new-request-body", &args),
            })
        })
        .collect())
}

/// To the requester, if they have an address: the decision.
pub async fn decision(
    state: &AppState,
    request: &RoomRequest,
    approved: bool,
    message: Option<&str>,
) -> Result<Vec<NewEmail>, Error> {
    if !state.mail_enabled {
        return Ok(Vec::new());
    }
    let Ok(name) = Username::parse(&request.requester) else {
        return Ok(Vec::new());
    };
    let Some(requester) = state.store.user_by_name(&name).await? else {
        return Ok(Vec::new());
    };
    let Some(recipient) = requester.email.clone().filter(|e| !e.is_empty()) else {
        return Ok(Vec::new());
    };
    let t = Tr::new(language_of(&requester));
    let args = [
        ("room", display(&request.room_name)),
        ("message", message.unwrap_or_default().to_owned()),
        ("link", format!("{}/", state.http.base_url())),
    ];
    let (subject, body) = if approved {
        ("mail-approved-subject", "mail-approved-body")
    } else {
        ("mail-rejected-subject", "mail-rejected-body")
    };
    Ok(vec![NewEmail {
        recipient,
        subject: t.with(subject, &args),
        body: t.with(body, &args),
    }])
}

/// To the owner and co-owners of the recording's room who have an address: a recording
/// is ready.
pub struct RecordingMail {
    pub store: std::sync::Arc<dyn roomkeeper_store::Store>,
    pub base_url: String,
    pub enabled: bool,
    pub wakeup: std::sync::Arc<tokio::sync::Notify>,
}

#[async_trait::async_trait]
impl roomkeeper_recordings::ReadyMail for RecordingMail {
    async fn emails(&self, recording: &roomkeeper_store::Recording) -> Vec<NewEmail> {
        if !self.enabled {
            return Vec::new();
        }
        let Some(room_id) = recording.room_id else {
            return Vec::new();
        };
        let Ok(Some(room)) = self.store.room(room_id).await else {
            return Vec::new();
        };
        let mut emails = Vec::new();
        for username in std::iter::once(&room.owner).chain(&room.co_owners) {
            let Ok(name) = Username::parse(username) else {
                continue;
            };
            let Ok(Some(user)) = self.store.user_by_name(&name).await else {
                continue;
            };
            let Some(recipient) = user.email.clone().filter(|e| !e.is_empty()) else {
                continue;
            };
            let t = Tr::new(language_of(&user));
            let args = [
                ("room", display(&room.name)),
                (
                    "link",
                    format!("{}/recordings/{}", self.base_url, recording.id),
                ),
            ];
            emails.push(NewEmail {
                recipient,
                subject: t.with("mail-recording-subject", &args),
                body: t.with("mail-recording-body", &args),
            });
        }
        emails
    }

    fn queued(&self) {
        self.wakeup.notify_one();
    }
}
