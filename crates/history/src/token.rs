//! NextTokens: opaque, tamper-proof, bound to the query's parameters and to this store.
//!
//! A token carries the cursor, the query fingerprint and its issue time, sealed with
//! HMAC-SHA256 under a key that never leaves the data directory. A token edited by a client,
//! taken from another query (another account, region, filter or time range), or older than a
//! day is refused; a client cannot craft one that reads other events.

use std::path::Path;

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::HistoryError;
use crate::query::Cursor;

const VERSION: u8 = 1;
const BODY: usize = 1 + 8 + 16 + 8 + 8;
const TAG: usize = 16;
/// Tokens older than this are stale.
pub const MAX_AGE_SECS: u64 = 24 * 3600;

/// The sealing key.
pub struct TokenKey(hmac::Key);

impl TokenKey {
    /// Loads `path`, creating a random key (mode 0600) on first use.
    pub fn load_or_create(path: &Path) -> Result<TokenKey, HistoryError> {
        let bytes = match std::fs::read(path) {
            Ok(b) if b.len() == 32 => b,
            Ok(_) => return Err(HistoryError::corrupt(path, "token key must be 32 bytes")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut b = vec![0u8; 32];
                SystemRandom::new()
                    .fill(&mut b)
                    .map_err(|_| HistoryError::corrupt(path, "system random generator failed"))?;
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|e| HistoryError::io(path, e))?;
                f.write_all(&b)
                    .and_then(|_| f.sync_all())
                    .map_err(|e| HistoryError::io(path, e))?;
                b
            }
            Err(e) => return Err(HistoryError::io(path, e)),
        };
        Ok(TokenKey(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
    }

    /// Seals `cursor` for the query with `fingerprint`, issued at `now_secs`.
    pub fn seal(&self, fingerprint: &[u8; 32], cursor: Cursor, now_secs: u64) -> String {
        let mut body = Vec::with_capacity(BODY + TAG);
        body.push(VERSION);
        body.extend_from_slice(&now_secs.to_le_bytes());
        body.extend_from_slice(&fingerprint[..16]);
        body.extend_from_slice(&cursor.time_ms.to_le_bytes());
        body.extend_from_slice(&cursor.lsn.to_le_bytes());
        let tag = hmac::sign(&self.0, &body);
        body.extend_from_slice(&tag.as_ref()[..TAG]);
        URL_SAFE_NO_PAD.encode(body)
    }

    /// Opens a token for the query with `fingerprint`.
    pub fn open(
        &self,
        token: &str,
        fingerprint: &[u8; 32],
        now_secs: u64,
    ) -> Result<Cursor, HistoryError> {
        let bad = HistoryError::InvalidToken(
            "The NextToken is not valid: it was not issued by this server or has been altered.",
        );
        let raw = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| bad)?;
        if raw.len() != BODY + TAG || raw[0] != VERSION {
            return Err(HistoryError::InvalidToken(
                "The NextToken is not valid: it was not issued by this server or has been altered.",
            ));
        }
        let (body, tag) = raw.split_at(BODY);
        let expected = hmac::sign(&self.0, body);
        let same = expected.as_ref()[..TAG]
            .iter()
            .zip(tag)
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0;
        if !same {
            return Err(HistoryError::InvalidToken(
                "The NextToken is not valid: it was not issued by this server or has been altered.",
            ));
        }
        let u64_at = |i: usize| u64::from_le_bytes(body[i..i + 8].try_into().unwrap_or_default());
        if body[9..25] != fingerprint[..16] {
            return Err(HistoryError::InvalidToken(
                "The NextToken belongs to a request with other parameters; repeat the request that returned it with the same parameters.",
            ));
        }
        let issued = u64_at(1);
        if now_secs.saturating_sub(issued) > MAX_AGE_SECS {
            return Err(HistoryError::InvalidToken(
                "The NextToken has expired; start the lookup again.",
            ));
        }
        Ok(Cursor {
            time_ms: u64_at(25) as i64,
            lsn: u64_at(33),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_open_only_for_their_query_and_key() {
        let tmp = tempfile::tempdir().expect("tmp");
        let key = TokenKey::load_or_create(&tmp.path().join("k")).expect("key");
        let again = TokenKey::load_or_create(&tmp.path().join("k")).expect("same key");
        let other = TokenKey::load_or_create(&tmp.path().join("k2")).expect("other key");
        let (fp, fp2) = ([7u8; 32], [8u8; 32]);
        let c = Cursor {
            time_ms: 1_700_000_000_000,
            lsn: 42,
        };
        let t = key.seal(&fp, c, 1000);
        assert!(t.len() >= 4 && t.len() <= 1000);
        assert_eq!(again.open(&t, &fp, 1000).expect("open"), c);
        let msg = |r: Result<Cursor, HistoryError>| match r {
            Err(HistoryError::InvalidToken(m)) => m,
            other => panic!("accepted: {other:?}"),
        };
        assert!(msg(key.open(&t, &fp2, 1000)).contains("other parameters"));
        assert!(msg(other.open(&t, &fp, 1000)).contains("altered"));
        assert!(msg(key.open(&t, &fp, 1000 + MAX_AGE_SECS + 1)).contains("expired"));
        assert!(msg(key.open("not-a-token", &fp, 1000)).contains("not valid"));
        // Flipping any bit of the token is detected.
        let mut raw = URL_SAFE_NO_PAD.decode(&t).expect("b64");
        for i in 0..raw.len() {
            raw[i] ^= 1;
            assert!(
                key.open(&URL_SAFE_NO_PAD.encode(&raw), &fp, 1000).is_err(),
                "bit {i}"
            );
            raw[i] ^= 1;
        }
    }
}
