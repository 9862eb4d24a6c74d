//! The single writer thread: group commit of concurrent appends into one write and one sync.
//!
//! Appends queue on a bounded channel (so a burst of clients waits instead of growing memory);
//! the thread takes everything queued, up to `max_batch_bytes`, encodes one block per append,
//! writes them with one `write_all` and makes them durable with one `fdatasync`. Each append
//! is answered only after that, with the LSNs its entries received.

use std::fs::File;
use std::io::Write;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};

use crate::format::{MAX_BLOCK_LEN, SEGMENT_HEADER_LEN, block_len, encode_block};
use crate::journal::{Appended, Shared, SyncMode};
use crate::segment::{SegmentInfo, create_segment};
use crate::{JournalError, Lsn};

pub(crate) type Reply = oneshot::Sender<Result<Appended, JournalError>>;

pub(crate) enum Msg {
    Append {
        entries: Vec<Vec<u8>>,
        reply: Reply,
    },
    /// Periodic-sync tick.
    Sync,
    Shutdown(oneshot::Sender<()>),
}

pub(crate) struct Writer {
    pub shared: Arc<Shared>,
    pub rx: mpsc::Receiver<Msg>,
    pub file: File,
    pub seg: SegmentInfo,
    pub seg_len: u64,
    pub next_lsn: Lsn,
    pub buf: Vec<u8>,
    pub unsynced: bool,
    pub last_sync: Instant,
}

impl Writer {
    pub(crate) fn run(mut self) {
        while let Some(msg) = self.rx.blocking_recv() {
            match msg {
                Msg::Append { entries, reply } => {
                    let mut batch = vec![(entries, reply)];
                    let mut bytes = block_len(&batch[0].0);
                    let mut shutdown = None;
                    while bytes < self.shared.config.max_batch_bytes {
                        match self.rx.try_recv() {
                            Ok(Msg::Append { entries, reply }) => {
                                bytes += block_len(&entries);
                                batch.push((entries, reply));
                            }
                            Ok(Msg::Sync) => {}
                            Ok(Msg::Shutdown(done)) => {
                                shutdown = Some(done);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.commit(batch);
                    if let SyncMode::Periodic(every) = self.shared.config.sync
                        && self.last_sync.elapsed() >= every
                    {
                        self.sync();
                    }
                    if let Some(done) = shutdown {
                        self.sync();
                        let _ = done.send(());
                        return;
                    }
                }
                Msg::Sync => self.sync(),
                Msg::Shutdown(done) => {
                    self.sync();
                    let _ = done.send(());
                    return;
                }
            }
        }
        self.sync();
    }

    fn commit(&mut self, batch: Vec<(Vec<Vec<u8>>, Reply)>) {
        if let Some(reason) = self.shared.poison_reason() {
            for (_, reply) in batch {
                let _ = reply.send(Err(JournalError::Poisoned(reason.clone())));
            }
            return;
        }
        let timestamp_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or_default();
        let mut chunk: Vec<(Reply, Appended)> = Vec::new();
        self.buf.clear();
        let mut rest = batch.into_iter();
        while let Some((entries, reply)) = rest.next() {
            let len = block_len(&entries);
            if len > MAX_BLOCK_LEN {
                let _ = reply.send(Err(JournalError::Invalid(format!(
                    "an append of {len} bytes exceeds the {MAX_BLOCK_LEN}-byte block limit"
                ))));
                continue;
            }
            let used = self.seg_len + self.buf.len() as u64;
            if used + len as u64 > self.shared.config.segment_bytes
                && used > SEGMENT_HEADER_LEN as u64
            {
                let rotated = self.flush_chunk(&mut chunk) && self.rotate();
                if !rotated {
                    let reason = self.shared.poison_reason().unwrap_or_default();
                    let _ = reply.send(Err(JournalError::Poisoned(reason.clone())));
                    for (_, r) in rest {
                        let _ = r.send(Err(JournalError::Poisoned(reason.clone())));
                    }
                    return;
                }
            }
            let appended = Appended {
                first_lsn: self.next_lsn,
                count: entries.len() as u32,
            };
            encode_block(&mut self.buf, self.next_lsn, timestamp_us, &entries);
            self.next_lsn += entries.len() as u64;
            chunk.push((reply, appended));
        }
        self.flush_chunk(&mut chunk);
    }

    /// Writes the encoded blocks of `chunk` (and syncs in `Always` mode), then answers them.
    fn flush_chunk(&mut self, chunk: &mut Vec<(Reply, Appended)>) -> bool {
        if chunk.is_empty() {
            return true;
        }
        let stats = &self.shared.stats;
        let mut result = self.file.write_all(&self.buf);
        if result.is_ok() && self.shared.config.sync == SyncMode::Always {
            let started = Instant::now();
            result = self.file.sync_data();
            stats.record_fsync(started.elapsed());
            self.last_sync = Instant::now();
        }
        match result {
            Ok(()) => {
                self.seg_len += self.buf.len() as u64;
                let entries: u64 = chunk.iter().map(|c| u64::from(c.1.count)).sum();
                stats.record_commit(chunk.len() as u64, entries, self.buf.len() as u64);
                self.buf.clear();
                if self.shared.config.sync == SyncMode::Always {
                    self.shared.durable.send_replace(self.next_lsn - 1);
                } else {
                    self.unsynced = true;
                }
                for (reply, appended) in chunk.drain(..) {
                    let _ = reply.send(Ok(appended));
                }
                true
            }
            Err(e) => {
                // Cut anything partly written so that the file ends at the last good block;
                // recovery would do the same, but a live reader must not meet a torn block.
                let _ = self.file.set_len(self.seg_len);
                let first = chunk
                    .first()
                    .map(|c| c.1.first_lsn)
                    .unwrap_or(self.next_lsn);
                self.next_lsn = first;
                self.buf.clear();
                let reason = format!("writing {}: {e}", self.seg.path.display());
                tracing::error!(%reason, "journal write failed; refusing further appends");
                self.shared.poison(reason.clone());
                for (reply, _) in chunk.drain(..) {
                    let _ = reply.send(Err(JournalError::Poisoned(reason.clone())));
                }
                false
            }
        }
    }

    fn sync(&mut self) {
        if !self.unsynced {
            return;
        }
        let started = Instant::now();
        let result = self.file.sync_data();
        self.shared.stats.record_fsync(started.elapsed());
        self.last_sync = Instant::now();
        match result {
            Ok(()) => {
                self.unsynced = false;
                self.shared.durable.send_replace(self.next_lsn - 1);
            }
            Err(e) => {
                let reason = format!("syncing {}: {e}", self.seg.path.display());
                tracing::error!(%reason, "journal sync failed; refusing further appends");
                self.shared.poison(reason);
            }
        }
    }

    /// Seals the current segment (synced) and starts a new one at `next_lsn`.
    fn rotate(&mut self) -> bool {
        self.sync();
        if self.shared.poison_reason().is_some() {
            return false;
        }
        match create_segment(&self.shared.dir, self.next_lsn) {
            Ok((file, seg)) => {
                tracing::debug!(segment = %seg.path.display(), "journal segment started");
                self.file = file;
                self.seg = seg;
                self.seg_len = SEGMENT_HEADER_LEN as u64;
                true
            }
            Err(e) => {
                self.shared.poison(e.to_string());
                false
            }
        }
    }
}
