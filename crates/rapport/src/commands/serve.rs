//! `rapport serve`: migrate, bind, serve until SIGTERM or ctrl-c, then shut down cleanly.

use rapport_core::resolution::ResolutionSettings;
use rapport_server::services::mail::MailConfig;
use rapport_server::{Application, ServerConfig};
use rapport_store::{Store, StoreOptions};
use tracing_subscriber::EnvFilter;

use crate::settings::{LogFormat, Settings, redact_url};

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Said on stderr once the server listens, with its URL (`rapport demo`'s welcome).
pub type Welcome = Box<dyn FnOnce(&str) + Send>;

pub async fn run(settings: Settings, welcome: Option<Welcome>) -> anyhow::Result<()> {
    init_logging(settings.log_format.value);
    tracing::info!(settings = ?settings, "starting rapport");
    let options = StoreOptions {
        resolution: ResolutionSettings { max_identities: settings.max_identities_per_customer.value },
        keys: std::sync::Arc::new(super::data_key::load(&settings)?),
    };
    let store = Store::connect(&settings.database_url.value, options).await?;
    let ca_pem = match &settings.smtp_ca_file {
        Some(file) => Some(std::fs::read_to_string(&file.value).map_err(|error| {
            anyhow::anyhow!(
                "reading the SMTP CA certificate {} (from the {}): {error}",
                file.value.display(),
                file.source.describe()
            )
        })?),
        None => None,
    };
    let config = ServerConfig {
        listen: settings.listen.value.clone(),
        admin_key: settings.admin_key.as_ref().map(|key| key.value.clone()),
        mail: settings.smtp_url.as_ref().map(|url| MailConfig {
            smtp_url: url.value.clone(),
            from: settings.mail_from.value.clone(),
            ca_pem,
        }),
        messaging_url: settings.messaging_url.as_ref().map(|url| url.value.clone()),
        public_url: settings.public_url.as_ref().map(|url| url.value.clone()),
        rate_limits: settings.rate_limits.value.then(rapport_server::hardening::RateLimits::default),
    };
    let has_keys = store.count_api_keys().await? > 0;
    let application = Application::build(config, store).await?;
    // This line is the contract scripts and tests read to find the server.
    println!(
        "rapport listening on http://{} (database: {})",
        application.local_addr(),
        redact_url(&settings.database_url.value)
    );
    if let Some(welcome) = welcome {
        welcome(&format!("http://{}", application.local_addr()));
    }
    if !has_keys && settings.admin_key.is_none() {
        eprintln!("no API keys yet; create one with: rapport keys create --workspace default --role admin");
    }
    application.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Resolves on ctrl-c or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("ctrl-c received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
