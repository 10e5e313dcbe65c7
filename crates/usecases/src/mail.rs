//! Who is told what by email. The emails are queued with the change they report (in the
//! same transaction); the words are `roomkeeper_texts::letters`', in each recipient's
//! language, from the same texts as the pages.

use std::sync::Arc;

use roomkeeper_domain::RoomName;
use roomkeeper_store::{NewEmail, NewRequest, OutboxStatus, RoomRequest, Store, User};

use roomkeeper_texts::letters::{self, Letter};

use crate::{Error, UseCases};

/// Whether and how email goes out.
#[derive(Clone)]
pub struct Mail {
    /// An SMTP server is configured and the outbox job runs.
    pub enabled: bool,
    /// Wakes this instance's outbox job when something was queued.
    pub wakeup: Arc<tokio::sync::Notify>,
    /// Where links in emails point (`http.public_url`).
    pub base_url: String,
}

impl Mail {
    /// After a change that queued `emails` was stored.
    pub(crate) fn queued(&self, emails: &[NewEmail]) {
        if !emails.is_empty() {
            self.wakeup.notify_one();
        }
    }
}

fn display(canonical: &str) -> String {
    RoomName::from_canonical(canonical).map_or_else(|_| canonical.to_owned(), |n| n.display())
}

fn email(to: &User, letter: Letter) -> Option<NewEmail> {
    Some(NewEmail {
        recipient: to.email.clone().filter(|e| !e.is_empty())?,
        subject: letter.subject,
        body: letter.body,
    })
}

/// To the room's owner and co-owners with an address: its meeting runs without them.
/// How the outbox stands (for the operators' metrics): what waits, what failed, what
/// was given up.
pub async fn outbox_status(uc: &UseCases) -> Result<OutboxStatus, Error> {
    Ok(uc.store.outbox_status().await?)
}

pub(crate) async fn in_use(
    uc: &UseCases,
    room: &roomkeeper_store::Room,
    minutes: u32,
) -> Vec<NewEmail> {
    if !uc.mail.enabled {
        return Vec::new();
    }
    let link = format!("{}/rooms/{}", uc.mail.base_url, room.id);
    let mut emails = Vec::new();
    for name in room.people() {
        let Ok(Some(user)) = uc.store.user_by_name(name).await else {
            continue;
        };
        let letter = letters::room_in_use(&user, &room.name.display(), minutes, &link);
        emails.extend(email(&user, letter));
    }
    emails
}

/// To the room's owner and co-owners with an address: someone knocks at its lobby and
/// none of them is in.
pub(crate) async fn knocking(
    uc: &UseCases,
    room: &roomkeeper_store::Room,
    name: &str,
) -> Vec<NewEmail> {
    if !uc.mail.enabled {
        return Vec::new();
    }
    let link = format!("{}/rooms/{}", uc.mail.base_url, room.id);
    let mut emails = Vec::new();
    for owner in room.people() {
        let Ok(Some(user)) = uc.store.user_by_name(owner).await else {
            continue;
        };
        let letter = letters::someone_knocking(&user, &room.name.display(), name, &link);
        emails.extend(email(&user, letter));
    }
    emails
}

/// To every administrator with an address: someone asks for a room.
pub(crate) async fn new_request(
    uc: &UseCases,
    request: &NewRequest,
) -> Result<Vec<NewEmail>, Error> {
    let mail = &uc.mail;
    if !mail.enabled {
        return Ok(Vec::new());
    }
    let link = format!("{}/admin/requests", mail.base_url);
    let room = display(&request.room_name);
    Ok(uc
        .store
        .admin_recipients()
        .await?
        .iter()
        .filter_map(|admin| {
            let letter =
                letters::request_filed(admin, &room, &request.requester, &request.reason, &link);
            email(admin, letter)
        })
        .collect())
}

/// To the requester, if they have an address: the decision.
pub(crate) async fn decision(
    uc: &UseCases,
    request: &RoomRequest,
    approved: bool,
    message: Option<&str>,
) -> Result<Vec<NewEmail>, Error> {
    let mail = &uc.mail;
    if !mail.enabled {
        return Ok(Vec::new());
    }
    let Some(requester) = uc.store.user_by_name(&request.requester).await? else {
        return Ok(Vec::new());
    };
    let letter = letters::request_decided(
        &requester,
        &request.room_name.display(),
        approved,
        message.unwrap_or_default(),
        &format!("{}/", mail.base_url),
    );
    Ok(email(&requester, letter).into_iter().collect())
}

/// To the owner and co-owners of the recording's room who have an address: a recording
/// is ready. Handed to the recordings service, which queues it with the recording.
pub struct RecordingMail {
    pub store: Arc<dyn Store>,
    pub mail: Mail,
}

#[async_trait::async_trait]
impl roomkeeper_recordings::ReadyMail for RecordingMail {
    async fn emails(&self, recording: &roomkeeper_store::Recording) -> Vec<NewEmail> {
        if !self.mail.enabled {
            return Vec::new();
        }
        let Some(room_id) = recording.room_id else {
            return Vec::new();
        };
        let Ok(Some(room)) = self.store.room(room_id).await else {
            return Vec::new();
        };
        let link = format!("{}/recordings/{}", self.mail.base_url, recording.id);
        let mut emails = Vec::new();
        for name in room.people() {
            let Ok(Some(user)) = self.store.user_by_name(name).await else {
                continue;
            };
            let letter = letters::recording_ready(&user, &room.name.display(), &link);
            emails.extend(email(&user, letter));
        }
        emails
    }

    fn queued(&self) {
        self.mail.wakeup.notify_one();
    }
}
