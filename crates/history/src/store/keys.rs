//! Posting-list keys and event-id hashes.

use crate::extract::{Attr, Category};

/// `account \0 region \0 category attr value`: one posting list per key; byte order groups a
/// partition's lists together.
pub fn posting_key(
    account: &str,
    region: &str,
    category: Category,
    attr: Attr,
    value: &str,
) -> Vec<u8> {
    let mut k = Vec::with_capacity(account.len() + region.len() + value.len() + 4);
    write_posting_key(&mut k, account, region, category, attr, value);
    k
}

/// [`posting_key`] into a reused buffer.
pub fn write_posting_key(
    k: &mut Vec<u8>,
    account: &str,
    region: &str,
    category: Category,
    attr: Attr,
    value: &str,
) {
    k.clear();
    k.extend_from_slice(account.as_bytes());
    k.push(0);
    k.extend_from_slice(region.as_bytes());
    k.push(0);
    k.push(category as u8);
    k.push(attr as u8);
    k.extend_from_slice(value.as_bytes());
}

/// A 64-bit hash of an event id within its partition (FNV-1a: stable across versions).
/// Collisions are harmless: matches are confirmed against the record.
pub fn event_id_hash(account: &str, region: &str, category: Category, event_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [
        account.as_bytes(),
        b"\0",
        region.as_bytes(),
        &[0, category as u8],
        event_id.as_bytes(),
    ] {
        for b in part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}
