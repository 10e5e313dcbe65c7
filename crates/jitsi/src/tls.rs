//! STARTTLS to Prosody trusting what the operator trusts ([`roomkeeper_tls::OperatorTrust`]):
//! the system's store and an optional CA file, and a self-signed certificate that is
//! itself trusted, as jitsi-meet's packages make it. tokio-xmpp 6's own STARTTLS
//! connector checks with webpki's rules and the system's roots only, so the
//! `<starttls/>` exchange is done here, with tokio-xmpp's public stream pieces.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use rustls_pki_types::ServerName;
use sasl::common::ChannelBinding;
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_xmpp::connect::{DnsConfig, ServerConnector};
use tokio_xmpp::error::ProtocolError;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::starttls::{Nonza, Request};
use tokio_xmpp::rustls::ClientConfig;
use tokio_xmpp::xmlstream::{
    PendingFeaturesRecv, ReadError, StreamHeader, Timeouts, XmppStream, XmppStreamElement,
    initiate_stream,
};

#[derive(Clone)]
pub struct StartTls {
    dns: DnsConfig,
    tls: Arc<ClientConfig>,
}

impl std::fmt::Debug for StartTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartTls")
            .field("dns", &self.dns)
            .finish_non_exhaustive()
    }
}

impl StartTls {
    /// The system's roots and, when given, every certificate in the PEM file `ca_file`.
    pub fn new(dns: DnsConfig, ca_file: Option<&Path>) -> Result<Self, String> {
        let tls = roomkeeper_tls::client_config(ca_file)?;
        Ok(Self {
            dns,
            tls: Arc::new(tls),
        })
    }
}

fn header(jid: &Jid) -> StreamHeader<'_> {
    StreamHeader {
        to: Some(Cow::Borrowed(jid.domain().as_str())),
        from: None,
        id: None,
    }
}

impl ServerConnector for StartTls {
    type Stream = BufStream<TlsStream<TcpStream>>;

    async fn connect(
        &self,
        jid: &Jid,
        ns: &'static str,
        timeouts: Timeouts,
    ) -> Result<(PendingFeaturesRecv<Self::Stream>, ChannelBinding), tokio_xmpp::Error> {
        let tcp = BufStream::new(self.dns.resolve().await?);
        let (features, mut stream): (_, XmppStream<BufStream<TcpStream>>) =
            initiate_stream(tcp, ns, header(jid), timeouts)
                .await?
                .recv_features()
                .await?;
        if !features.can_starttls() {
            return Err(ProtocolError::NoTls.into());
        }
        stream
            .send(&XmppStreamElement::Starttls(Nonza::Request(Request)))
            .await?;
        loop {
            match stream
                .next()
                .await
                .map(|v| v.and_then(|v| v.into_read_error()))
            {
                Some(Ok(XmppStreamElement::Starttls(Nonza::Proceed(_)))) => break,
                Some(Ok(_) | Err(ReadError::SoftTimeout)) => {}
                Some(Err(ReadError::HardError(e))) => return Err(e.into()),
                Some(Err(ReadError::ParseError(e))) => {
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e).into());
                }
                None | Some(Err(ReadError::StreamFooterReceived)) => {
                    return Err(tokio_xmpp::Error::Disconnected);
                }
            }
        }
        let server = ServerName::try_from(jid.domain().as_str().to_owned())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let tls = TlsConnector::from(Arc::clone(&self.tls))
            .connect(server, stream.into_inner().into_inner())
            .await?;
        let stream = initiate_stream(BufStream::new(tls), ns, header(jid), timeouts).await?;
        // SCRAM without channel binding, as with tokio-xmpp's own native-tls path.
        Ok((stream, ChannelBinding::None))
    }
}
