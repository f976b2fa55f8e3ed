//! Settings: defaults, an optional TOML file, environment variables and flags.
//!
//! Precedence, highest first: command-line flag, `RAPPORT_*` environment variable, config file
//! (`--config` / `RAPPORT_CONFIG`), built-in default. The database URL defaults to
//! `sqlite://<data-dir>/rapport.db`; a URL set at any level wins over that derived default.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

pub const DEFAULT_DATA_DIR: &str = "./rapport-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// One source's values, each optional: the config file (where unknown keys are an error, so a
/// typo is not silently ignored), or the command line and environment (clap merges those two).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsLayer {
    pub data_dir: Option<PathBuf>,
    pub keys_file: Option<PathBuf>,
    /// The keyring itself (JSON), from `RAPPORT_DATA_KEYS` only: never a flag or a file setting.
    #[serde(skip)]
    pub data_keys: Option<String>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub admin_key: Option<String>,
    pub log_format: Option<LogFormat>,
    pub max_identities_per_customer: Option<usize>,
    pub smtp_url: Option<String>,
    pub smtp_ca_file: Option<PathBuf>,
    pub mail_from: Option<String>,
    pub messaging_url: Option<String>,
    pub public_url: Option<String>,
    pub rate_limits: Option<bool>,
}

impl SettingsLayer {
    /// Reads a TOML config file.
    pub fn load(path: &Path) -> anyhow::Result<SettingsLayer> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read the config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    CommandLineOrEnvironment,
    ConfigFile,
    Default,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::CommandLineOrEnvironment => "flag or environment",
            Source::ConfigFile => "config file",
            Source::Default => "default",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

fn pick<T>(cli: Option<T>, file: Option<T>, default: impl FnOnce() -> T) -> Sourced<T> {
    match (cli, file) {
        (Some(value), _) => Sourced { value, source: Source::CommandLineOrEnvironment },
        (None, Some(value)) => Sourced { value, source: Source::ConfigFile },
        (None, None) => Sourced { value: default(), source: Source::Default },
    }
}

/// The effective settings.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    pub data_dir: Sourced<PathBuf>,
    /// Where the keys personal data is sealed with live (unless `data_keys` gives them).
    pub keys_file: Sourced<PathBuf>,
    pub data_keys: Option<String>,
    pub listen: Sourced<String>,
    pub database_url: Sourced<String>,
    pub admin_key: Option<Sourced<String>>,
    pub log_format: Sourced<LogFormat>,
    pub max_identities_per_customer: Sourced<usize>,
    pub smtp_url: Option<Sourced<String>>,
    pub smtp_ca_file: Option<Sourced<PathBuf>>,
    pub mail_from: Sourced<String>,
    pub messaging_url: Option<Sourced<String>>,
    pub public_url: Option<Sourced<String>>,
    pub rate_limits: Sourced<bool>,
}

/// The From address of survey e-mails unless set.
pub const DEFAULT_MAIL_FROM: &str = "Rapport <surveys@localhost>";

fn optional<T: Default>(cli: Option<T>, file: Option<T>) -> Option<Sourced<T>> {
    match (cli, file) {
        (None, None) => None,
        (cli, file) => Some(pick(cli, file, T::default)),
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Settings")
            .field("data_dir", &self.data_dir.value)
            .field("keys_file", &self.keys_file.value)
            .field("data_keys", &self.data_keys.as_ref().map(|_| "[redacted]"))
            .field("listen", &self.listen.value)
            .field("database_url", &redact_url(&self.database_url.value))
            .field("admin_key", &self.admin_key.as_ref().map(|_| "[redacted]"))
            .field("log_format", &self.log_format.value)
            .field("max_identities_per_customer", &self.max_identities_per_customer.value)
            .field("smtp_url", &self.smtp_url.as_ref().map(|url| redact_url(&url.value)))
            .field("messaging_url", &self.messaging_url.as_ref().map(|url| redact_url(&url.value)))
            .field("mail_from", &self.mail_from.value)
            .field("public_url", &self.public_url.as_ref().map(|url| &url.value))
            .field("rate_limits", &self.rate_limits.value)
            .finish()
    }
}

/// A database URL with any password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((credentials, host)) = rest.split_once('@') else { return url.to_owned() };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:[redacted]@{host}"),
        None => url.to_owned(),
    }
}

impl Settings {
    pub fn resolve(cli: SettingsLayer, file: SettingsLayer) -> anyhow::Result<Settings> {
        let data_dir = pick(cli.data_dir, file.data_dir, || PathBuf::from(DEFAULT_DATA_DIR));
        let derived_url = format!("sqlite://{}", data_dir.value.join("rapport.db").display());
        let derived_keys = data_dir.value.join("keys.json");
        let settings = Settings {
            keys_file: pick(cli.keys_file, file.keys_file, || derived_keys),
            data_keys: cli.data_keys,
            listen: pick(cli.listen, file.listen, || DEFAULT_LISTEN.to_owned()),
            database_url: pick(cli.database_url, file.database_url, || derived_url),
            admin_key: match (cli.admin_key, file.admin_key) {
                (None, None) => None,
                (cli, file) => Some(pick(cli, file, String::new)),
            },
            log_format: pick(cli.log_format, file.log_format, || LogFormat::Text),
            max_identities_per_customer: pick(
                cli.max_identities_per_customer,
                file.max_identities_per_customer,
                || rapport_core::resolution::DEFAULT_MAX_IDENTITIES,
            ),
            smtp_url: optional(cli.smtp_url, file.smtp_url),
            smtp_ca_file: optional(cli.smtp_ca_file, file.smtp_ca_file),
            mail_from: pick(cli.mail_from, file.mail_from, || DEFAULT_MAIL_FROM.to_owned()),
            messaging_url: optional(cli.messaging_url, file.messaging_url),
            public_url: optional(cli.public_url, file.public_url),
            rate_limits: pick(cli.rate_limits, file.rate_limits, || true),
            data_dir,
        };
        if rapport_store::BackendKind::of_url(&settings.database_url.value).is_none() {
            anyhow::bail!(
                "database URL `{}` ({}) is not supported: use sqlite://PATH or postgres://USER@HOST/DATABASE",
                redact_url(&settings.database_url.value),
                settings.database_url.source.describe()
            );
        }
        if settings.max_identities_per_customer.value < 2 {
            anyhow::bail!("max_identities_per_customer must be at least 2");
        }
        if let Some(admin_key) = &settings.admin_key
            && admin_key.value.len() < 16
        {
            anyhow::bail!("the admin key ({}) must be at least 16 characters", admin_key.source.describe());
        }
        Ok(settings)
    }

    /// The effective settings as TOML, each line saying where its value came from.
    pub fn describe(&self) -> String {
        let line = |key: &str, value: String, source: Source| format!("{key} = {value}  # {}\n", source.describe());
        let quoted = |text: &str| format!("{text:?}");
        let mut out = String::new();
        out += &line("data_dir", quoted(&self.data_dir.value.display().to_string()), self.data_dir.source);
        match &self.data_keys {
            Some(_) => out += "# keys: from RAPPORT_DATA_KEYS (keys_file unused)\n",
            None => {
                out += &line("keys_file", quoted(&self.keys_file.value.display().to_string()), self.keys_file.source)
            }
        }
        out += &line("listen", quoted(&self.listen.value), self.listen.source);
        out += &line("database_url", quoted(&redact_url(&self.database_url.value)), self.database_url.source);
        match &self.admin_key {
            Some(admin_key) => out += &line("admin_key", quoted("[redacted]"), admin_key.source),
            None => out += "# admin_key: not set\n",
        }
        let format = match self.log_format.value {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        out += &line("log_format", quoted(format), self.log_format.source);
        out += &line(
            "max_identities_per_customer",
            self.max_identities_per_customer.value.to_string(),
            self.max_identities_per_customer.source,
        );
        match &self.smtp_url {
            Some(url) => out += &line("smtp_url", quoted(&redact_url(&url.value)), url.source),
            None => out += "# smtp_url: not set (e-mail invitations fail with no_mail_server)\n",
        }
        if let Some(file) = &self.smtp_ca_file {
            out += &line("smtp_ca_file", quoted(&file.value.display().to_string()), file.source);
        }
        out += &line("mail_from", quoted(&self.mail_from.value), self.mail_from.source);
        match &self.messaging_url {
            Some(url) => out += &line("messaging_url", quoted(&redact_url(&url.value)), url.source),
            None => out += "# messaging_url: not set (SMS and chat invitations fail with no_messaging_provider)\n",
        }
        match &self.public_url {
            Some(url) => out += &line("public_url", quoted(&url.value), url.source),
            None => out += "# public_url: not set (links use http://<listen>)\n",
        }
        out += &line("rate_limits", self.rate_limits.value.to_string(), self.rate_limits.source);
        out
    }
}

/// What `rapport default-config` prints: every setting, commented, with its default.
pub const DEFAULT_CONFIG: &str = r#"# Rapport configuration (TOML). Every setting is optional.
#
# Precedence, highest first:
#   1. command-line flags            (rapport serve --listen 0.0.0.0:8080)
#   2. environment variables         (RAPPORT_LISTEN=0.0.0.0:8080)
#   3. this file                     (rapport serve --config rapport.toml, or RAPPORT_CONFIG)
#   4. the defaults shown here

# Where the embedded database lives. Env: RAPPORT_DATA_DIR. Flag: --data-dir.
# data_dir = "./rapport-data"

# The keys personal data (names, e-mail addresses, phone numbers) is sealed with at rest, made
# with mode 0600 on first start. Back it up apart from the database: without it the sealed data
# cannot be read. Every server on one PostgreSQL database needs the same keys. Instead of a file,
# RAPPORT_DATA_KEYS may hold the keys' JSON (environment only). Env: RAPPORT_KEYS_FILE.
# Flag: --keys-file. `rapport data-key rotate` makes a new data key and re-seals everything.
# keys_file = "./rapport-data/keys.json"

# Address to serve on. Env: RAPPORT_LISTEN. Flag: --listen.
# listen = "127.0.0.1:8080"

# The database. Default: sqlite://<data_dir>/rapport.db (SQLite in WAL mode).
# For scale-out, point every instance at one PostgreSQL database:
#   database_url = "postgres://rapport@db.internal:5432/rapport"
# Env: RAPPORT_DATABASE_URL. Flag: --database-url.
# database_url = "sqlite://./rapport-data/rapport.db"

# Master key: creates workspaces and keys through POST /v1/keys and acts as admin in the
# workspace named by the X-Rapport-Workspace header. At least 16 characters. Prefer the
# environment (RAPPORT_ADMIN_KEY) to keep it out of files. No flag, so it never shows in `ps`.
# admin_key = "change-me-to-a-long-random-secret"

# Log format on stderr: "text" or "json". Env: RAPPORT_LOG_FORMAT. Flag: --log-format.
# Verbosity follows RUST_LOG (default: info).
# log_format = "text"

# Identity resolution does not merge two customers automatically if the result would hold more
# identities than this. Env: RAPPORT_MAX_IDENTITIES_PER_CUSTOMER.
# max_identities_per_customer = 50

# SMTP relay for e-mail survey invitations: smtp://HOST:PORT (plain, e.g. a local Postfix),
# smtp://HOST:587?tls=required (STARTTLS), smtps://HOST:465 (TLS from the start); USER:PASSWORD@
# before the host logs in. Without it, e-mail invitations are recorded as failed with the reason
# no_mail_server. Env: RAPPORT_SMTP_URL. Flag: --smtp-url.
# smtp_url = "smtp://127.0.0.1:25"

# A CA certificate (PEM file) the relay's TLS certificate may chain to, besides the public roots
# (a private or self-signed relay). Env: RAPPORT_SMTP_CA_FILE. Flag: --smtp-ca-file.
# smtp_ca_file = "/etc/rapport/smtp-ca.pem"

# From address of survey e-mails. Env: RAPPORT_MAIL_FROM. Flag: --mail-from.
# mail_from = "Rapport <surveys@localhost>"

# Messaging provider for SMS and chat survey invitations: Rapport POSTs
# {"channel", "to", "text", "invitation"} as JSON to this URL (user:password in it become Basic
# authentication); a 2xx is sent, a 4xx bounced, anything else failed (README, "Channels").
# Env: RAPPORT_MESSAGING_URL. Flag: --messaging-url.
# messaging_url = "https://user:secret@sms-relay.example.com/send"

# The base URL customers reach this server at, used in the links of survey e-mails.
# Default: http://<listen>. Env: RAPPORT_PUBLIC_URL. Flag: --public-url.
# public_url = "https://cx.example.com"

# Rate limits of public endpoints (sign-in and survey pages per client address; ingestion per
# key and per address; SECURITY.md has the figures). Turn them off only behind a proxy that
# limits itself. Env: RAPPORT_RATE_LIMITS. Flag: --rate-limits.
# rate_limits = true
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let file: SettingsLayer = toml::from_str("listen = \"0.0.0.0:9000\"\ndata_dir = \"/srv/rapport\"").unwrap();
        let cli = SettingsLayer { listen: Some("127.0.0.1:7000".to_owned()), ..SettingsLayer::default() };
        let settings = Settings::resolve(cli, file).unwrap();
        assert_eq!(
            settings.listen,
            Sourced { value: "127.0.0.1:7000".to_owned(), source: Source::CommandLineOrEnvironment }
        );
        assert_eq!(settings.data_dir.value, PathBuf::from("/srv/rapport"));
        assert_eq!(settings.data_dir.source, Source::ConfigFile);
        assert_eq!(settings.database_url.value, "sqlite:///srv/rapport/rapport.db", "derived from the data dir");
        assert_eq!(settings.database_url.source, Source::Default);
        assert_eq!(settings.log_format.value, LogFormat::Text);
        assert!(settings.admin_key.is_none());
    }

    #[test]
    fn an_explicit_url_wins_over_the_derived_one() {
        let file: SettingsLayer = toml::from_str("database_url = \"postgres://u:secret@db/rapport\"").unwrap();
        let cli = SettingsLayer { data_dir: Some(PathBuf::from("/tmp/x")), ..SettingsLayer::default() };
        let settings = Settings::resolve(cli, file).unwrap();
        assert_eq!(settings.database_url.value, "postgres://u:secret@db/rapport");
        assert!(!format!("{settings:?}").contains("secret"), "Debug redacts the password");
        assert!(!settings.describe().contains("secret"));
    }

    #[test]
    fn bad_settings_are_named() {
        let error = toml::from_str::<SettingsLayer>("lissten = \"x\"").unwrap_err().to_string();
        assert!(error.contains("lissten"), "{error}");
        let cli = SettingsLayer { database_url: Some("mysql://x".to_owned()), ..SettingsLayer::default() };
        let error = Settings::resolve(cli, SettingsLayer::default()).unwrap_err().to_string();
        assert!(error.contains("mysql://x") && error.contains("flag or environment"), "{error}");
        let cli = SettingsLayer { admin_key: Some("short".to_owned()), ..SettingsLayer::default() };
        assert!(Settings::resolve(cli, SettingsLayer::default()).is_err());
    }

    #[test]
    fn the_default_config_parses_and_documents_every_key() {
        let uncommented: String = DEFAULT_CONFIG
            .lines()
            .filter_map(|line| line.strip_prefix("# "))
            .filter(|line| {
                line.contains(" = ") && !line.starts_with(' ') && !line.contains("database_url = \"postgres")
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let parsed: SettingsLayer = toml::from_str(&uncommented).expect("the example is valid TOML");
        assert_eq!(parsed.listen.as_deref(), Some(DEFAULT_LISTEN));
        assert_eq!(parsed.data_dir, Some(PathBuf::from(DEFAULT_DATA_DIR)));
        assert_eq!(parsed.max_identities_per_customer, Some(50));
        assert!(parsed.admin_key.is_some() && parsed.log_format.is_some() && parsed.database_url.is_some());
    }
}
