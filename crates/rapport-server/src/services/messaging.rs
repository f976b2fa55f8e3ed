//! Survey invitations by SMS and chat, through an outbound HTTP provider: Rapport POSTs one JSON
//! message per invitation to the configured URL (`messaging_url`), and the provider (or a small
//! relay in front of Twilio, MessageBird, WhatsApp…) delivers it.
//!
//! The contract: `POST <messaging_url>` with
//! `{"channel": "sms"|"chat", "to": "+447700900123", "text": "…", "invitation": "<id>"}`. A 2xx
//! answer means accepted (`sent`); a 4xx means the provider refuses this message for good (an
//! invalid or blocked number: `bounced`, with the provider's words); anything else, or no answer,
//! is `failed`. User and password in the URL are sent as HTTP Basic authentication.

use std::time::Duration;

use serde_json::json;

/// How long a provider may take to answer one message.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a provider's answer is kept as the reason.
const MAX_REASON: usize = 300;

/// Why a message did not go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The provider refused this message for good (4xx): the invitation bounced.
    Rejected(String),
    /// The provider failed or could not be reached.
    Failed(String),
}

/// Sends invitation messages through the provider.
#[derive(Clone)]
pub struct Messenger {
    client: reqwest::Client,
    url: reqwest::Url,
}

impl std::fmt::Debug for Messenger {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.url.clone();
        let _ = shown.set_password(None);
        formatter.debug_struct("Messenger").field("url", &shown.as_str()).finish()
    }
}

impl Messenger {
    /// Checks the URL; nothing is sent until an invitation is due.
    pub fn new(url: &str) -> anyhow::Result<Messenger> {
        let url: reqwest::Url =
            url.trim().parse().map_err(|error| anyhow::anyhow!("the messaging URL `{url}` is not a URL: {error}"))?;
        anyhow::ensure!(
            matches!(url.scheme(), "http" | "https"),
            "the messaging URL must be http:// or https:// (got `{}`)",
            url.scheme()
        );
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|error| anyhow::anyhow!("the HTTP client could not be built: {error}"))?;
        Ok(Messenger { client, url })
    }

    /// The message text: the survey's name, its link, and how to stop.
    pub fn text(survey_name: &str, survey_url: &str, unsubscribe_url: &str) -> String {
        format!(
            "{survey_name}: we would value your opinion, it takes a minute: {survey_url} To stop: {unsubscribe_url}"
        )
    }

    /// Sends one message to `to` (E.164) on `channel`.
    pub async fn send(&self, channel: &str, to: &str, text: &str, invitation: &str) -> Result<(), SendError> {
        let mut url = self.url.clone();
        let user = url.username().to_owned();
        let password = url.password().map(str::to_owned);
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let mut request =
            self.client.post(url).json(&json!({"channel": channel, "to": to, "text": text, "invitation": invitation}));
        if !user.is_empty() {
            request = request.basic_auth(user, password);
        }
        let response = request.send().await.map_err(|error| SendError::Failed(format!("the provider: {error}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let reason: String =
            format!("the provider answered {status}: {}", body.trim()).chars().take(MAX_REASON).collect();
        // 408 and 429 are the provider's own trouble, not the number's.
        let for_good = status.is_client_error() && !matches!(status.as_u16(), 408 | 429);
        if for_good { Err(SendError::Rejected(reason)) } else { Err(SendError::Failed(reason)) }
    }
}
