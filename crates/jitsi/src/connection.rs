//! One XMPP client connection driven by a single task.
//!
//! Two things in tokio-xmpp 6.0 made us take this into our own hands:
//! - `Client::split` shares the client behind a mutex, and the receiving half returns
//!   `Pending` without arranging a wake-up when the sending half holds it, so received
//!   stanzas could sit unread. We never split: one task owns the `Client`.
//! - Its IQ response tracking lost an answer now and then under our tests (Prosody's
//!   log shows the result sent, the token never resolved). We match answers to requests
//!   ourselves, by id, in the same task that reads them.

use std::collections::HashMap;

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::stanza_error::StanzaError;
use tokio_xmpp::{Client, Event, Stanza};

/// An IQ request: `get` or `set` with its payload.
#[derive(Debug)]
pub enum Request {
    Get(Element),
    Set(Element),
}

/// Prosody's answer: a result (maybe with a payload) or an error.
pub type Answer = Result<Option<Element>, StanzaError>;

/// Where an IQ's answer goes: Prosody's answer, or why none will come.
type Waiter = oneshot::Sender<Result<Answer, String>>;

enum Command {
    Stanza(Box<Stanza>, oneshot::Sender<Result<(), String>>),
    Iq(Jid, Request, Waiter),
}

/// A handle to the task that owns one XMPP client. Cheap to clone.
#[derive(Clone)]
pub struct Connection {
    commands: mpsc::Sender<Command>,
}

/// Stops the task that owns the client when dropped.
pub struct ConnectionTask(tokio::task::JoinHandle<()>);

impl Drop for ConnectionTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Connection {
    /// Starts the task. `on_event` sees every event (online, disconnected, stanzas that
    /// are not answers to our IQs) in order; it must not block.
    pub fn start(
        mut client: Client,
        mut on_event: impl FnMut(Event) + Send + 'static,
    ) -> (Self, ConnectionTask) {
        let (commands, mut receiver) = mpsc::channel::<Command>(64);
        let task = tokio::spawn(async move {
            let mut pending: HashMap<String, Waiter> = HashMap::new();
            let mut next_id: u64 = 0;
            loop {
                tokio::select! {
                    command = receiver.recv() => match command {
                        None => break,
                        Some(Command::Stanza(stanza, reply)) => {
                            let sent = client.send_stanza(*stanza).await.map(|_| ()).map_err(|e| e.to_string());
                            let _ = reply.send(sent);
                        }
                        Some(Command::Iq(to, request, reply)) => {
                            next_id += 1;
                            let id = format!("rk-{next_id}");
                            let iq = match request {
                                Request::Get(payload) => Iq::Get { from: None, to: Some(to), id: id.clone(), payload },
                                Request::Set(payload) => Iq::Set { from: None, to: Some(to), id: id.clone(), payload },
                            };
                            // Forget answers nobody waits for any more (timed out).
                            pending.retain(|_, waiting| !waiting.is_closed());
                            match client.send_stanza(Stanza::Iq(iq)).await {
                                Ok(_) => {
                                    pending.insert(id, reply);
                                }
                                // Said at once rather than left to the caller's timeout;
                                // the stream reconnects on its own.
                                Err(error) => {
                                    let _ = reply.send(Err(format!("the connection to Prosody failed: {error}")));
                                }
                            }
                        }
                    },
                    event = client.next() => match event {
                        None => break,
                        Some(Event::Stanza(Stanza::Iq(Iq::Result { id, payload, .. }))) if pending.contains_key(&id) => {
                            if let Some(waiting) = pending.remove(&id) {
                                let _ = waiting.send(Ok(Ok(payload)));
                            }
                        }
                        Some(Event::Stanza(Stanza::Iq(Iq::Error { id, error, .. }))) if pending.contains_key(&id) => {
                            if let Some(waiting) = pending.remove(&id) {
                                let _ = waiting.send(Ok(Err(error)));
                            }
                        }
                        Some(event) => on_event(event),
                    },
                }
            }
        });
        (Self { commands }, ConnectionTask(task))
    }

    pub async fn send_stanza(&self, stanza: Stanza) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Stanza(Box::new(stanza), reply))
            .await
            .map_err(|_| "the connection task has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the connection task has stopped".to_owned())?
    }

    /// Sends an IQ and waits for its answer; `Err` when the connection task is gone.
    /// Callers put a timeout around this.
    pub async fn iq(&self, to: Jid, request: Request) -> Result<Answer, String> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Iq(to, request, reply))
            .await
            .map_err(|_| "the connection task has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the connection task has stopped".to_owned())?
    }
}
