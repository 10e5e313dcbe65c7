//! One XMPP client connection driven by a single task.
//!
//! We use tokio-xmpp 6.0's `StanzaStream` (connect, log in, reconnect) and not its
//! `Client`, which wraps it: `Client` runs a second task that reads the stream through a
//! receiver sharing a mutex with the sender, and that receiver returns `Pending` without
//! arranging a wake-up when the sender holds the mutex. A stanza received at that moment
//! sat unread until the next one arrived: answers "lost" for seconds, under load (seen in
//! our tests with tokio-xmpp's own trace, 11 s between reading an answer and handing it
//! on). `Client` also swallows "stream lost". Here one task owns the stream, reads and
//! sends, and matches answers to requests by id.

use std::collections::HashMap;

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio_xmpp::Stanza;
use tokio_xmpp::connect::ServerConnector;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::stanza_error::StanzaError;
use tokio_xmpp::stanzastream::{self, StanzaStream, StreamEvent};
use tokio_xmpp::xmlstream::Timeouts;

/// An IQ request: `get` or `set` with its payload.
#[derive(Debug)]
pub enum Request {
    Get(Element),
    Set(Element),
}

/// Prosody's answer: a result (maybe with a payload) or an error.
pub type Answer = Result<Option<Element>, StanzaError>;

/// What the connection tells its owner, in order.
#[derive(Debug)]
// Nearly every event is a stanza, moved once to its handler: boxing would only add an
// allocation to each (tokio-xmpp's own events are built the same way).
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// Logged in (at first, and again after every reconnect).
    Online { bound_jid: Jid },
    /// The stream was lost; it reconnects by itself. IQs sent on it have been failed.
    Lost,
    /// A stanza that is not the answer to one of our IQs.
    Stanza(Stanza),
    /// The result of one of our IQs, told here too, in its place among the stanzas
    /// (its caller gets it as well): a room's state in an answer is then ordered with
    /// the changes pushed before and after it.
    Answered {
        from: Option<Jid>,
        payload: Option<Element>,
    },
}

impl Event {
    pub fn is_online(&self) -> bool {
        matches!(self, Self::Online { .. })
    }
}

/// Where an IQ's answer goes: Prosody's answer, or why none will come.
type Waiter = oneshot::Sender<Result<Answer, String>>;

enum Command {
    Stanza(Box<Stanza>),
    Iq(Jid, Request, Waiter),
}

/// A handle to the task that owns one XMPP stream. Cheap to clone.
#[derive(Clone)]
pub struct Connection {
    commands: mpsc::Sender<Command>,
}

/// Stops the task that owns the stream when dropped.
pub struct ConnectionTask(tokio::task::JoinHandle<()>);

impl Drop for ConnectionTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

const STOPPED: &str = "the connection task has stopped";

impl Connection {
    /// Connects as `jid` (and reconnects after losses) in the background. `on_event` sees
    /// every event in order; it must not block.
    pub fn start<C: ServerConnector>(
        connector: C,
        jid: Jid,
        password: String,
        timeouts: Timeouts,
        mut on_event: impl FnMut(Event) + Send + 'static,
    ) -> (Self, ConnectionTask) {
        let mut stream = StanzaStream::new_c2s(connector, jid, password, timeouts, 64);
        let (commands, mut receiver) = mpsc::channel::<Command>(64);
        let task = tokio::spawn(async move {
            let mut pending: HashMap<String, Waiter> = HashMap::new();
            let mut online = false;
            let mut next_id: u64 = 0;
            loop {
                tokio::select! {
                    command = receiver.recv() => match command {
                        None => break,
                        // Queued; sent once the stream is up.
                        Some(Command::Stanza(stanza)) => {
                            stream.send(stanza).await;
                        }
                        Some(Command::Iq(to, request, reply)) => {
                            // Said at once rather than left to the caller's timeout.
                            if !online {
                                let _ = reply.send(Err("not connected to Prosody".to_owned()));
                                continue;
                            }
                            next_id += 1;
                            let id = format!("rk-{next_id}");
                            let iq = match request {
                                Request::Get(payload) => Iq::Get { from: None, to: Some(to), id: id.clone(), payload },
                                Request::Set(payload) => Iq::Set { from: None, to: Some(to), id: id.clone(), payload },
                            };
                            // Forget answers nobody waits for any more (timed out).
                            pending.retain(|_, waiting| !waiting.is_closed());
                            pending.insert(id, reply);
                            stream.send(Box::new(Stanza::Iq(iq))).await;
                        }
                    },
                    event = stream.next() => match event {
                        None => break,
                        Some(stanzastream::Event::Stanza(Stanza::Iq(Iq::Result { id, payload, from, .. }))) if pending.contains_key(&id) => {
                            on_event(Event::Answered { from, payload: payload.clone() });
                            if let Some(waiting) = pending.remove(&id) {
                                let _ = waiting.send(Ok(Ok(payload)));
                            }
                        }
                        Some(stanzastream::Event::Stanza(Stanza::Iq(Iq::Error { id, error, .. }))) if pending.contains_key(&id) => {
                            if let Some(waiting) = pending.remove(&id) {
                                let _ = waiting.send(Ok(Err(error)));
                            }
                        }
                        Some(stanzastream::Event::Stanza(stanza)) => on_event(Event::Stanza(stanza)),
                        Some(stanzastream::Event::Stream(StreamEvent::Reset { bound_jid, .. })) => {
                            online = true;
                            on_event(Event::Online { bound_jid });
                        }
                        // Stream management resumed the session. IQs waiting at the loss
                        // were failed already: their callers said so or read again.
                        Some(stanzastream::Event::Stream(StreamEvent::Resumed)) => {
                            online = true;
                        }
                        Some(stanzastream::Event::Stream(StreamEvent::Suspended)) => {
                            online = false;
                            for (_, waiting) in pending.drain() {
                                let _ = waiting.send(Err("the connection to Prosody was lost".to_owned()));
                            }
                            on_event(Event::Lost);
                        }
                    },
                }
            }
        });
        (Self { commands }, ConnectionTask(task))
    }

    /// Queues a stanza; it is sent once the stream is up.
    pub async fn send_stanza(&self, stanza: Stanza) -> Result<(), String> {
        self.commands
            .send(Command::Stanza(Box::new(stanza)))
            .await
            .map_err(|_| STOPPED.to_owned())
    }

    /// Sends an IQ and waits for its answer; `Err` when not connected, when the stream is
    /// lost before the answer, or when the connection task is gone. Callers put a timeout
    /// around this.
    pub async fn iq(&self, to: Jid, request: Request) -> Result<Answer, String> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Iq(to, request, reply))
            .await
            .map_err(|_| STOPPED.to_owned())?;
        answer.await.map_err(|_| STOPPED.to_owned())?
    }
}
