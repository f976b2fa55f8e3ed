//! Survey invitations by e-mail, over SMTP (lettre). The message is plain text: the survey's
//! name, its link, and a link to stop receiving surveys.

use lettre::message::Body;
use lettre::message::Mailbox;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::services::messaging::SendError;

/// Where invitations are sent from and through.
#[derive(Clone, Debug)]
pub struct MailConfig {
    /// `smtp://host:port` of a relay (TLS is not supported yet: use a local relay).
    pub smtp_url: String,
    /// The From address, e.g. `Acme Surveys <surveys@acme.example>`.
    pub from: String,
}

/// Sends invitation e-mails.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Mailer").field("from", &self.from.to_string()).finish()
    }
}

impl Mailer {
    /// Checks the settings; nothing is sent until an invitation is due.
    pub fn new(config: &MailConfig) -> anyhow::Result<Mailer> {
        let url = config.smtp_url.trim();
        let rest = url.strip_prefix("smtp://").ok_or_else(|| {
            anyhow::anyhow!("the SMTP URL must look like smtp://host:port (got `{url}`); TLS is not supported yet")
        })?;
        let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
            Some((host, port)) => (
                host.to_owned(),
                port.parse::<u16>().map_err(|_| anyhow::anyhow!("`{port}` is not a port in `{url}`"))?,
            ),
            None => (rest.trim_end_matches('/').to_owned(), 25),
        };
        anyhow::ensure!(!host.is_empty(), "the SMTP URL `{url}` names no host");
        let from: Mailbox =
            config.from.parse().map_err(|error| anyhow::anyhow!("the From address `{}`: {error}", config.from))?;
        // Plain SMTP: no TLS backend is compiled in yet.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port).build();
        Ok(Mailer { transport, from })
    }

    /// Sends one invitation; the error says why the server refused it.
    pub async fn send_invitation(
        &self,
        to: &str,
        survey_name: &str,
        survey_url: &str,
        unsubscribe_url: &str,
        reminder: bool,
    ) -> Result<(), SendError> {
        let to: Mailbox =
            to.parse().map_err(|error| SendError::Rejected(format!("`{to}` is not an address: {error}")))?;
        let opening = if reminder {
            "A short reminder: we would still value your opinion. It takes about a minute:"
        } else {
            "We would value your opinion. It takes about a minute:"
        };
        let body = format!(
            "Hello,\n\n{opening}\n\n{survey_url}\n\n\
             The link works for 14 days after our first message.\n\nThank you!\n\n--\n\
             To stop receiving surveys: {unsubscribe_url}\n"
        );
        let subject =
            if reminder { format!("Reminder: {survey_name}") } else { format!("{survey_name}: tell us how we did") };
        // Sent as 7-bit text with CRLF line ends, as written: lettre would choose quoted-printable
        // for lines over 76 characters and wrap the long signed links with soft line breaks, which
        // some mail clients show broken. RFC 5322 allows lines up to 998 characters; ours are ASCII
        // (the survey's name is only in the encoded Subject).
        let body = if body.is_ascii() && body.lines().all(|line| line.len() <= 998) {
            Body::dangerous_pre_encoded(body.replace('\n', "\r\n").into_bytes(), ContentTransferEncoding::SevenBit)
        } else {
            Body::new(body)
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|error| SendError::Failed(format!("the message could not be built: {error}")))?;
        // A permanent SMTP refusal (5xx: no such mailbox, rejected) bounces the invitation; a
        // transient one (4xx) or a broken connection fails it.
        self.transport.send(message).await.map(|_| ()).map_err(|error| match error.is_permanent() {
            true => SendError::Rejected(error.to_string()),
            false => SendError::Failed(error.to_string()),
        })
    }
}
