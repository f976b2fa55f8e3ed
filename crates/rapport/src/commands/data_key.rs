//! The keys personal data is sealed with (`rapport_core::sealing`): loaded from
//! `RAPPORT_DATA_KEYS` or the keys file (made, mode 0600, on first start), and
//! `rapport data-key rotate`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use rapport_core::sealing::Keyring;

use crate::settings::Settings;

/// The keyring `settings` name: `RAPPORT_DATA_KEYS`, else the keys file, made with fresh keys if
/// it does not exist yet.
pub fn load(settings: &Settings) -> anyhow::Result<Keyring> {
    if let Some(json) = &settings.data_keys {
        return Keyring::from_json(json).context("RAPPORT_DATA_KEYS does not hold valid keys");
    }
    let path = &settings.keys_file.value;
    match std::fs::read_to_string(path) {
        Ok(text) => {
            warn_if_readable_by_others(path);
            Keyring::from_json(&text).with_context(|| format!("the keys file {} is not valid", path.display()))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let keys = rapport_store::sealing::generate_keyring();
            match write_new(path, &keys) {
                Ok(()) => {
                    tracing::info!(file = %path.display(), "made new keys for personal data: back this file up");
                    Ok(keys)
                }
                // Another process made it first: use theirs.
                Err(_) if path.exists() => load(settings),
                Err(error) => Err(error),
            }
        }
        Err(error) => Err(error).with_context(|| format!("cannot read the keys file {}", path.display())),
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(file = %path.display(), "the keys file is readable by other users: chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

fn open_private(path: &Path, create_new: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Writes a keys file that must not exist yet.
fn write_new(path: &Path, keys: &Keyring) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut file =
        open_private(path, true).with_context(|| format!("cannot create the keys file {}", path.display()))?;
    file.write_all(keys.to_json().as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// Replaces a keys file whole: a new file beside it, synced, renamed over it.
fn replace(path: &Path, keys: &Keyring) -> anyhow::Result<()> {
    let temporary = path.with_extension("json.new");
    let mut file = open_private(&temporary, false).with_context(|| format!("cannot write {}", temporary.display()))?;
    file.write_all(keys.to_json().as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot replace the keys file {}", path.display()))?;
    Ok(())
}

/// `rapport data-key rotate`: a new data key goes into the keys file beside the old one (so a
/// rotation cut short leaves every value readable and can be run again), every sealed value is
/// re-sealed under it, and then the old key leaves the file.
pub async fn rotate(settings: &Settings) -> anyhow::Result<()> {
    if settings.data_keys.is_some() {
        anyhow::bail!(
            "the keys come from RAPPORT_DATA_KEYS, which this command cannot rewrite: write them to a file, \
             point --keys-file (RAPPORT_KEYS_FILE) at it, unset RAPPORT_DATA_KEYS and run it again"
        );
    }
    let path = &settings.keys_file.value;
    if !path.exists() {
        anyhow::bail!("no keys file at {}: there is nothing to rotate", path.display());
    }
    let mut keys = load(settings)?;
    let old: Vec<String> = keys.data_key_ids().map(str::to_owned).collect();
    let new = keys.rotate(rapport_store::sealing::random_key());
    replace(path, &keys)?;
    eprintln!("new data key {new} (old: {}) written to {}", old.join(", "), path.display());
    let options = rapport_store::StoreOptions { keys: std::sync::Arc::new(keys.clone()), ..Default::default() };
    let store = rapport_store::Store::connect(&settings.database_url.value, options).await?;
    let result = store
        .reseal(&mut |table, rows| {
            eprintln!("  {table}: {rows} re-sealed");
        })
        .await;
    store.close().await;
    result.context("re-sealing stopped part way: every value still opens; run the command again to finish")?;
    let retired = keys.retire_old_keys();
    replace(path, &keys)?;
    eprintln!("done: every value is sealed under {new}; dropped {}", retired.join(", "));
    Ok(())
}
