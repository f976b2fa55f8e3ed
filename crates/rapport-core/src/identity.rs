//! Identities a customer can be known by, normalised once so that lookups and merges agree.
//!
//! Every identity has a kind and a normalised value, and one string key (`kind:value`) that the
//! store indexes. Normalisation is the same at ingestion and at lookup, so
//! `phone:+49 151 1234567` finds a profile stored as `+491511234567`.

use std::fmt;

/// The kind of an identity. `External` and `Social` carry the system or platform name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentityKind {
    UserId,
    AnonymousId,
    Email,
    Phone,
    External(String),
    Social(String),
}

impl IdentityKind {
    /// The kind as written in keys and in the API (`userId`, `external:stripe`…).
    pub fn as_key_prefix(&self) -> String {
        match self {
            IdentityKind::UserId => "userId".to_owned(),
            IdentityKind::AnonymousId => "anonymousId".to_owned(),
            IdentityKind::Email => "email".to_owned(),
            IdentityKind::Phone => "phone".to_owned(),
            IdentityKind::External(system) => format!("external:{system}"),
            IdentityKind::Social(platform) => format!("social:{platform}"),
        }
    }

    /// Parses a kind as written in the API. System and platform names are lower-cased.
    pub fn parse(text: &str) -> Result<IdentityKind, IdentityError> {
        match text {
            "userId" => return Ok(IdentityKind::UserId),
            "anonymousId" => return Ok(IdentityKind::AnonymousId),
            "email" => return Ok(IdentityKind::Email),
            "phone" => return Ok(IdentityKind::Phone),
            _ => {}
        }
        let (family, name) = text.split_once(':').ok_or_else(|| IdentityError::UnknownKind(text.to_owned()))?;
        let name = normalise_system_name(name).ok_or_else(|| IdentityError::UnknownKind(text.to_owned()))?;
        match family {
            "external" => Ok(IdentityKind::External(name)),
            "social" => Ok(IdentityKind::Social(name)),
            _ => Err(IdentityError::UnknownKind(text.to_owned())),
        }
    }
}

fn normalise_system_name(name: &str) -> Option<String> {
    let name = name.trim().to_lowercase();
    let is_valid = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    is_valid.then_some(name)
}

/// Why a value could not become an identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "unknown identity type `{0}`: expected userId, anonymousId, email, phone, external:<system> or social:<platform>"
    )]
    UnknownKind(String),
    #[error("expected TYPE:VALUE, e.g. email:jane@example.com")]
    MissingSeparator,
    #[error("the value is empty")]
    Empty,
    #[error("the value is longer than {MAX_IDENTITY_LEN} characters")]
    TooLong,
    #[error("`{0}` is not a valid e-mail address")]
    InvalidEmail(String),
    #[error("`{0}` is not a phone number in international format (E.164, starting with + and the country code)")]
    InvalidPhone(String),
}

/// Identity values longer than this are rejected rather than indexed.
pub const MAX_IDENTITY_LEN: usize = 255;

/// A normalised identity. Construct through [`Identity::new`], which normalises the value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    kind: IdentityKind,
    value: String,
}

impl Identity {
    /// Normalises `raw` for `kind`: e-mail addresses are trimmed and lower-cased, phone numbers
    /// become E.164, social handles lose a leading `@` and are lower-cased; ids are trimmed.
    pub fn new(kind: IdentityKind, raw: &str) -> Result<Identity, IdentityError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(IdentityError::Empty);
        }
        let value = match &kind {
            IdentityKind::Email => normalise_email(trimmed)?,
            IdentityKind::Phone => normalise_phone(trimmed)?,
            IdentityKind::Social(_) => trimmed.trim_start_matches('@').to_lowercase(),
            IdentityKind::UserId | IdentityKind::AnonymousId | IdentityKind::External(_) => trimmed.to_owned(),
        };
        if value.is_empty() {
            return Err(IdentityError::Empty);
        }
        if value.chars().count() > MAX_IDENTITY_LEN {
            return Err(IdentityError::TooLong);
        }
        Ok(Identity { kind, value })
    }

    /// Parses the API's `TYPE:VALUE` form (`email:jane@example.com`, `external:stripe:cus_1`).
    pub fn parse_typed(text: &str) -> Result<Identity, IdentityError> {
        let (head, rest) = text.split_once(':').ok_or(IdentityError::MissingSeparator)?;
        if head == "external" || head == "social" {
            let (name, value) = rest.split_once(':').ok_or(IdentityError::MissingSeparator)?;
            return Identity::new(IdentityKind::parse(&format!("{head}:{name}"))?, value);
        }
        Identity::new(IdentityKind::parse(head)?, rest)
    }

    pub fn kind(&self) -> &IdentityKind {
        &self.kind
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    /// The one string the store indexes: `kind:value`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind.as_key_prefix(), self.value)
    }

    pub fn user_id(raw: &str) -> Result<Identity, IdentityError> {
        Identity::new(IdentityKind::UserId, raw)
    }

    pub fn anonymous_id(raw: &str) -> Result<Identity, IdentityError> {
        Identity::new(IdentityKind::AnonymousId, raw)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.key())
    }
}

fn normalise_email(trimmed: &str) -> Result<String, IdentityError> {
    let lowered = trimmed.to_lowercase();
    let parsed: email_address::EmailAddress =
        lowered.parse().map_err(|_| IdentityError::InvalidEmail(trimmed.to_owned()))?;
    // `email_address` accepts display forms such as `Jane <jane@x.org>`; keep only the address.
    Ok(parsed.email())
}

fn normalise_phone(trimmed: &str) -> Result<String, IdentityError> {
    // Numbers without a country code cannot be placed in E.164 without guessing a region, and a
    // wrong guess would merge strangers: such numbers are rejected, not guessed.
    let international =
        if let Some(rest) = trimmed.strip_prefix("00") { format!("+{rest}") } else { trimmed.to_owned() };
    if !international.starts_with('+') {
        return Err(IdentityError::InvalidPhone(trimmed.to_owned()));
    }
    let number =
        phonenumber::parse(None, &international).map_err(|_| IdentityError::InvalidPhone(trimmed.to_owned()))?;
    // Parsing checks the country code and the length rules of E.164. Stricter "is this range
    // allocated" validation is not applied: it goes stale as numbering plans change, and it
    // refuses real numbers (the API's own example, +49 151 1234567, fails it).
    let digits = number.national().value().to_string().len() + number.code().value().to_string().len();
    if !(8..=15).contains(&digits) {
        return Err(IdentityError::InvalidPhone(trimmed.to_owned()));
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(typed: &str, expected_key: &str) {
        let identity = Identity::parse_typed(typed).unwrap_or_else(|error| panic!("{typed}: {error}"));
        assert_eq!(identity.key(), expected_key, "{typed}");
    }

    #[test]
    fn normalises_every_kind() {
        check("email: Jane.Doe@Example.COM ", "email:jane.doe@example.com");
        check("phone:+49 151 1234567", "phone:+491511234567");
        check("phone:0049 (151) 123-4567", "phone:+491511234567");
        check("phone:+1 (415) 555-2671", "phone:+14155552671");
        check("userId: 42 ", "userId:42");
        check("anonymousId:abc-DEF", "anonymousId:abc-DEF");
        check("external:Stripe:cus_ABC", "external:stripe:cus_ABC");
        check("social:twitter:@JaneDoe", "social:twitter:janedoe");
        check("userId:a:b", "userId:a:b");
    }

    #[test]
    fn rejects_what_cannot_be_normalised() {
        assert_eq!(Identity::parse_typed("nope"), Err(IdentityError::MissingSeparator));
        assert!(matches!(Identity::parse_typed("fax:123"), Err(IdentityError::UnknownKind(_))));
        assert!(matches!(Identity::parse_typed("email:not-an-address"), Err(IdentityError::InvalidEmail(_))));
        assert!(matches!(Identity::parse_typed("phone:0151 1234567"), Err(IdentityError::InvalidPhone(_))));
        assert!(matches!(Identity::parse_typed("phone:+1 23"), Err(IdentityError::InvalidPhone(_))));
        assert_eq!(Identity::parse_typed("userId:   "), Err(IdentityError::Empty));
        assert_eq!(Identity::parse_typed(&format!("userId:{}", "x".repeat(256))), Err(IdentityError::TooLong));
        assert!(matches!(Identity::parse_typed("external::x"), Err(IdentityError::UnknownKind(_))));
    }
}
