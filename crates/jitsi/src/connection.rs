//! One XMPP client connection driven by a single task.
//!
//! tokio-xmpp 6.0's `Client::split` halves share the client behind a mutex, and the
//! receiving half returns `Pending` without arranging a wake-up when the sending half
//! holds it: received stanzas then sit unread until something else wakes the task. So
//! we never split: one task owns the `Client`, takes commands from a channel and reads
//! events, and callers talk to it through a cloneable [`Connection`].

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::{Client, Event, IqRequest, IqResponseToken, Stanza};

enum Command {
    Stanza(Box<Stanza>, oneshot::Sender<Result<(), String>>),
    Iq(Option<Jid>, IqRequest, oneshot::Sender<IqResponseToken>),
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
    /// Starts the task. `on_event` sees every event (online, disconnected, stanzas other
    /// than IQ answers) in order; it must not block.
    pub fn start(
        mut client: Client,
        mut on_event: impl FnMut(Event) + Send + 'static,
    ) -> (Self, ConnectionTask) {
        let (commands, mut receiver) = mpsc::channel::<Command>(64);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    command = receiver.recv() => match command {
                        None => break,
                        Some(Command::Stanza(stanza, reply)) => {
                            let sent = client.send_stanza(*stanza).await.map(|_| ()).map_err(|e| e.to_string());
                            let _ = reply.send(sent);
                        }
                        Some(Command::Iq(to, request, reply)) => {
                            let token = client.send_iq(to, request).await;
                            let _ = reply.send(token);
                        }
                    },
                    event = client.next() => match event {
                        None => break,
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

    /// Sends an IQ; the token resolves with the answer (use a timeout).
    pub async fn send_iq(
        &self,
        to: Option<Jid>,
        request: IqRequest,
    ) -> Result<IqResponseToken, String> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Iq(to, request, reply))
            .await
            .map_err(|_| "the connection task has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the connection task has stopped".to_owned())
    }
}
