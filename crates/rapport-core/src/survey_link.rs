//! Signed survey links: `/s/{token}` where the token names an invitation and when the link
//! expires, signed with the installation's secret (HMAC-SHA-256), so a link cannot be forged or
//! extended. Single use is the store's business (an invitation is answered once).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type Signer = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// Not a token this installation signed (mangled, forged, or signed with another secret).
    Invalid,
    /// Signed, but past its expiry.
    Expired { invitation_id: String },
}

fn signer(secret: &[u8]) -> Signer {
    // HMAC takes a key of any length.
    Signer::new_from_slice(secret).expect("HMAC accepts any key length")
}

/// The token for `invitation_id`, valid until `expires_at_ms`.
pub fn sign(secret: &[u8], invitation_id: &str, expires_at_ms: i64) -> String {
    let payload = format!("{invitation_id}.{expires_at_ms}");
    let mut mac = signer(secret);
    mac.update(payload.as_bytes());
    let signature = mac.finalize().into_bytes();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(signature))
}

/// The invitation a token names, if this installation signed it and it has not expired at `now_ms`.
pub fn verify(secret: &[u8], token: &str, now_ms: i64) -> Result<String, LinkError> {
    let (payload, signature) = token.split_once('.').ok_or(LinkError::Invalid)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| LinkError::Invalid)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| LinkError::Invalid)?;
    let mut mac = signer(secret);
    mac.update(&payload);
    // Constant-time comparison.
    mac.verify_slice(&signature).map_err(|_| LinkError::Invalid)?;
    let payload = String::from_utf8(payload).map_err(|_| LinkError::Invalid)?;
    let (invitation_id, expires) = payload.rsplit_once('.').ok_or(LinkError::Invalid)?;
    let expires_at_ms: i64 = expires.parse().map_err(|_| LinkError::Invalid)?;
    if now_ms > expires_at_ms {
        return Err(LinkError::Expired { invitation_id: invitation_id.to_owned() });
    }
    Ok(invitation_id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_verifies_until_it_expires_and_cannot_be_forged() {
        let secret = b"installation secret";
        let token = sign(secret, "inv-1", 1_000);
        assert_eq!(verify(secret, &token, 999), Ok("inv-1".to_owned()));
        assert_eq!(verify(secret, &token, 1_001), Err(LinkError::Expired { invitation_id: "inv-1".to_owned() }));
        assert_eq!(verify(b"another secret", &token, 0), Err(LinkError::Invalid));
        // Extending the expiry or naming another invitation breaks the signature.
        let (_, signature) = token.split_once('.').unwrap();
        let extended = format!("{}.{signature}", URL_SAFE_NO_PAD.encode("inv-1.999999"));
        assert_eq!(verify(secret, &extended, 0), Err(LinkError::Invalid));
        for mangled in ["", "abc", "a.b", &token[1..], &format!("{token}x")] {
            assert_eq!(verify(secret, mangled, 0), Err(LinkError::Invalid), "{mangled}");
        }
    }
}
