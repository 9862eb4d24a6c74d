//! AWS-style identifiers drawn from a seeded rng, so that every id in a workload is
//! reproducible from the seed, plus a keyed hash for ids that must be stable over time
//! (session credentials) whatever the rng has produced in between.

use rand::{Rng, RngCore};

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HEX: &[u8; 16] = b"0123456789abcdef";
const ALNUM: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_ALNUM: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// 16 random bytes formatted as a version-4 UUID, lower-case and hyphenated: the form of
/// `eventID` and of most services' `requestID`.
pub(crate) fn guid<R: RngCore + ?Sized>(rng: &mut R) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[usize::from(byte >> 4)] as char);
        s.push(HEX[usize::from(byte & 15)] as char);
    }
    s
}

/// `prefix` followed by base-32 characters up to `len`: the shape of access key ids
/// (`AKIA`/`ASIA`, 20 chars) and unique principal ids (`AIDA`/`AROA`, 21 chars).
pub(crate) fn base32_id<R: RngCore + ?Sized>(rng: &mut R, prefix: &str, len: usize) -> String {
    let mut s = String::with_capacity(len);
    s.push_str(prefix);
    let mut bits = 0u64;
    let mut left = 0;
    while s.len() < len {
        if left == 0 {
            bits = rng.next_u64();
            left = 12;
        }
        s.push(BASE32[(bits & 31) as usize] as char);
        bits >>= 5;
        left -= 1;
    }
    s
}

/// `prefix` followed by 17 lower-case hex digits: EC2 ids (`i-`, `vol-`, `sg-`, `ami-`, ...).
pub(crate) fn ec2_id<R: RngCore + ?Sized>(rng: &mut R, prefix: &str) -> String {
    hex_id(rng, prefix, 17)
}

/// `prefix` followed by `digits` lower-case hex digits.
pub(crate) fn hex_id<R: RngCore + ?Sized>(rng: &mut R, prefix: &str, digits: usize) -> String {
    let mut s = String::with_capacity(prefix.len() + digits);
    s.push_str(prefix);
    let mut bits = 0u64;
    let mut left = 0;
    for _ in 0..digits {
        if left == 0 {
            bits = rng.next_u64();
            left = 16;
        }
        s.push(HEX[(bits & 15) as usize] as char);
        bits >>= 4;
        left -= 1;
    }
    s
}

/// `n` characters from `[A-Za-z0-9]`: the unique part of a log file name.
pub(crate) fn alphanumeric<R: Rng + ?Sized>(rng: &mut R, n: usize) -> String {
    (0..n)
        .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
        .collect()
}

/// `n` characters from `[A-Z0-9]`: S3 request ids (16) and DynamoDB request ids (52).
pub(crate) fn upper_alphanumeric<R: Rng + ?Sized>(rng: &mut R, n: usize) -> String {
    (0..n)
        .map(|_| UPPER_ALNUM[rng.random_range(0..UPPER_ALNUM.len())] as char)
        .collect()
}

/// Standard base64 of `n` random bytes (with padding): S3's `x-amz-id-2`, SAML name
/// qualifiers, Lambda code hashes.
pub(crate) fn base64_random<R: RngCore + ?Sized>(rng: &mut R, n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rng.fill_bytes(&mut bytes);
    base64(&bytes)
}

fn base64(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(BASE64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// SplitMix64's finaliser: spreads any input over all 64 bits, identically on every machine.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An access key id that is a pure function of its inputs.
///
/// Temporary credentials must stay the same for every call made within one session, however
/// many other events the rng produced in between, so they are hashed rather than drawn.
pub(crate) fn derived_key(prefix: &str, parts: &[u64]) -> String {
    let mut h = 0x5851_f42d_4c95_7f2d_u64;
    for p in parts {
        h = mix64(h ^ *p);
    }
    let mut s = String::with_capacity(20);
    s.push_str(prefix);
    let mut bits = h;
    let mut left = 12;
    while s.len() < 20 {
        if left == 0 {
            h = mix64(h);
            bits = h;
            left = 12;
        }
        s.push(BASE32[(bits & 31) as usize] as char);
        bits >>= 5;
        left -= 1;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn ids_have_aws_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let g = guid(&mut rng);
        assert_eq!(g.len(), 36);
        let parts: Vec<&str> = g.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        assert!(
            g.chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );

        let k = base32_id(&mut rng, "AKIA", 20);
        assert_eq!(k.len(), 20);
        assert!(k.starts_with("AKIA"));
        assert!(
            k.chars()
                .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
        );
        assert_eq!(base32_id(&mut rng, "AROA", 21).len(), 21);

        let i = ec2_id(&mut rng, "i-");
        assert_eq!(i.len(), 19);
        assert!(
            i[2..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );

        assert_eq!(alphanumeric(&mut rng, 16).len(), 16);
        assert_eq!(upper_alphanumeric(&mut rng, 52).len(), 52);
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn derived_keys_are_stable_and_distinct() {
        let a = derived_key("ASIA", &[1, 2, 3]);
        assert_eq!(a, derived_key("ASIA", &[1, 2, 3]));
        assert_ne!(a, derived_key("ASIA", &[1, 2, 4]));
        assert_eq!(a.len(), 20);
        assert!(a.starts_with("ASIA"));
    }
}
