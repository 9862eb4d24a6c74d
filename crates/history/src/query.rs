//! Lookup requests and their results.

use crate::extract::{Attr, Category};

/// Where a page ended: the (time, lsn) of its last event. The next page starts strictly after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Event time in ms.
    pub time_ms: i64,
    /// Journal position.
    pub lsn: u64,
}

/// One LookupEvents query, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The caller's account.
    pub account: String,
    /// The region called.
    pub region: String,
    /// Management events, or insight events.
    pub category: Category,
    /// At most one attribute filter (AWS allows one).
    pub filter: Option<(Attr, String)>,
    /// Inclusive lower bound, ms.
    pub start_ms: i64,
    /// Inclusive upper bound, ms.
    pub end_ms: i64,
    /// Continue after this position.
    pub after: Option<Cursor>,
    /// Page size.
    pub limit: usize,
}

impl Query {
    /// A digest of every parameter that must not change between pages (all but the cursor
    /// and page size), bound into NextTokens.
    pub fn fingerprint(&self) -> [u8; 32] {
        let text = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            self.account,
            self.region,
            self.category as u8,
            self.filter.as_ref().map(|(a, _)| *a as u8).unwrap_or(255),
            self.filter.as_ref().map(|(_, v)| v.as_str()).unwrap_or(""),
            self.start_ms,
            self.end_ms,
        );
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
}

/// One event of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its position in the order.
    pub cursor: Cursor,
    /// The record, as stored.
    pub json: Vec<u8>,
}

/// A page of results, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The events.
    pub events: Vec<Found>,
    /// Where the next page starts, when there is one.
    pub next: Option<Cursor>,
}
