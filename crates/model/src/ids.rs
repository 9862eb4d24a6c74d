//! Identifiers: event ids, request ids, and stable principal ids.

use aws_free_hash::fnv1a;

/// A new random GUID, lower-case and hyphenated, as AWS writes `eventID` and `requestID`.
pub fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A stable AWS-style unique id (`AIDA...`, `AROA...`) for a named principal.
///
/// AWS assigns these at random when a principal is created; opentrail has no IAM store, so it
/// derives the same 21-character shape from the account and name, which keeps the id stable
/// across restarts without storing it.
pub fn principal_id(prefix: &str, account: &str, name: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut h = fnv1a(account.as_bytes(), 0xcbf2_9ce4_8422_2325);
    h = fnv1a(b"/", h);
    h = fnv1a(name.as_bytes(), h);
    let mut h2 = fnv1a(name.as_bytes(), h ^ 0x9e37_79b9_7f4a_7c15);
    let mut out = String::with_capacity(21);
    out.push_str(prefix);
    while out.len() < 21 {
        out.push(ALPHABET[(h & 31) as usize] as char);
        h >>= 5;
        if h == 0 {
            h = h2;
            h2 = fnv1a(b"+", h2);
        }
    }
    out
}

mod aws_free_hash {
    /// FNV-1a: a tiny, stable, non-cryptographic hash (ids only need to be stable and spread).
    pub fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_ids_are_stable_and_distinct() {
        let a = principal_id("AIDA", "123456789012", "alice");
        assert_eq!(a, principal_id("AIDA", "123456789012", "alice"));
        assert_ne!(a, principal_id("AIDA", "123456789012", "bob"));
        assert_eq!(a.len(), 21);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
    }

    #[test]
    fn guids_are_uuid_shaped() {
        let g = new_guid();
        assert_eq!(g.len(), 36);
        assert_eq!(g.matches('-').count(), 4);
    }
}
