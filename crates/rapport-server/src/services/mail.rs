//! Survey invitations by e-mail, over SMTP (lettre; STARTTLS or implicit TLS through rustls). The
//! message is plain text: the survey's name, its link, and a link to stop receiving surveys.

use lettre::message::Body;
use lettre::message::Mailbox;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::services::messaging::SendError;

/// How the connection to the relay is protected.
enum TlsMode {
    None,
    /// STARTTLS, refusing a relay that does not offer it.
    Required,
    /// STARTTLS when the relay offers it.
    Opportunistic,
    /// TLS from the first byte (`smtps://`).
    Implicit,
}

/// Where invitations are sent from and through.
#[derive(Clone, Debug)]
pub struct MailConfig {
    /// The relay: `smtp://host:port` (plain), `smtp://host:587?tls=required` (STARTTLS),
    /// `smtps://host:465` (TLS from the start); `user:password@` in it logs in.
    pub smtp_url: String,
    /// The From address, e.g. `Acme Surveys <surveys@acme.example>`.
    pub from: String,
    /// A CA certificate (PEM) the relay's certificate may chain to, besides the public roots: for
    /// a relay with a private or self-signed certificate.
    pub ca_pem: Option<String>,
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
        let parsed =
            reqwest::Url::parse(url).map_err(|error| anyhow::anyhow!("the SMTP URL `{url}` is not a URL: {error}"))?;
        let host = parsed.host_str().unwrap_or_default().to_owned();
        anyhow::ensure!(!host.is_empty(), "the SMTP URL `{url}` names no host");
        let tls = parsed.query_pairs().find(|(key, _)| key == "tls").map(|(_, value)| value.into_owned());
        let mode = match (parsed.scheme(), tls.as_deref()) {
            ("smtps", None) => TlsMode::Implicit,
            ("smtp", None) => TlsMode::None,
            ("smtp", Some("required")) => TlsMode::Required,
            ("smtp", Some("opportunistic")) => TlsMode::Opportunistic,
            (scheme, tls) => anyhow::bail!(
                "the SMTP URL must be smtp://HOST:PORT, smtp://HOST:PORT?tls=required|opportunistic or smtps://HOST:PORT \
                 (got scheme `{scheme}`{})",
                tls.map(|tls| format!(" with tls={tls}")).unwrap_or_default()
            ),
        };
        // lettre reads the scheme, port, `tls` and credentials from the URL itself.
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|error| anyhow::anyhow!("the SMTP URL `{url}`: {error}"))?;
        if let Some(pem) = &config.ca_pem {
            let root = Certificate::from_pem(pem.as_bytes())
                .map_err(|error| anyhow::anyhow!("the SMTP CA certificate is not a PEM certificate: {error}"))?;
            let parameters = TlsParameters::builder(host)
                .add_root_certificate(root)
                .build_rustls()
                .map_err(|error| anyhow::anyhow!("the SMTP TLS settings: {error}"))?;
            builder = builder.tls(match mode {
                TlsMode::Implicit => Tls::Wrapper(parameters),
                TlsMode::Required => Tls::Required(parameters),
                TlsMode::Opportunistic => Tls::Opportunistic(parameters),
                TlsMode::None => anyhow::bail!("a CA certificate is set but the SMTP URL `{url}` uses no TLS"),
            });
        }
        let from: Mailbox =
            config.from.parse().map_err(|error| anyhow::anyhow!("the From address `{}`: {error}", config.from))?;
        Ok(Mailer { transport: builder.build(), from })
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
