//! Which table an event data store has — CloudTrail events ([`crate::schema`]) or
//! integration events ([`crate::schema_activity`]) — and the rows a consumer holds for it
//! until they are committed. The writer only ever talks to [`TableKind`] and [`Pending`], so
//! each schema keeps its own row type.

use std::borrow::Cow;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use opentrail_model::selectors::AdvancedEventSelector;
use serde::{Deserialize, Serialize};

use crate::LakeError;
use crate::{schema, schema_activity};

/// The event category of integration events, and of the stores that keep them.
pub const ACTIVITY_CATEGORY: &str = "ActivityAuditLog";

/// The kind of table a store has, which fixes its columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum TableKind {
    /// CloudTrail events (management, data, network activity, and the other AWS categories).
    #[default]
    Events,
    /// Integration events from channels (`ActivityAuditLog`).
    Activity,
}

impl TableKind {
    /// The kind a store with these selectors has: integration events when its selectors
    /// name `ActivityAuditLog` and nothing else (stores never mix it with other categories).
    pub fn of(selectors: &[AdvancedEventSelector]) -> TableKind {
        let mut categories = selectors
            .iter()
            .flat_map(|s| &s.field_selectors)
            .filter(|f| f.field == "eventCategory")
            .flat_map(|f| f.equals.iter().flatten())
            .peekable();
        let activity = categories.peek().is_some() && categories.all(|c| c == ACTIVITY_CATEGORY);
        if activity {
            TableKind::Activity
        } else {
            TableKind::Events
        }
    }

    /// The table's schema, partition column included.
    pub fn schema(self) -> SchemaRef {
        match self {
            TableKind::Events => schema::table_schema(),
            TableKind::Activity => schema_activity::table_schema(),
        }
    }
}

/// The channel an integration record came through (`metadata.channelARN`).
pub fn channel_of(record: &[u8]) -> Option<Cow<'_, str>> {
    #[derive(Deserialize)]
    struct Metadata<'a> {
        #[serde(rename = "channelARN", borrow, default)]
        channel_arn: Option<Cow<'a, str>>,
    }
    #[derive(Deserialize)]
    struct View<'a> {
        #[serde(borrow, default)]
        metadata: Option<Metadata<'a>>,
    }
    serde_json::from_slice::<View<'_>>(record)
        .ok()?
        .metadata?
        .channel_arn
}

// Send + Sync: a consumer holds its rows across the await of a commit.
trait RowBuffer: Send + Sync {
    fn push(&mut self, record: &[u8]) -> bool;
    fn len(&self) -> usize;
    fn clear(&mut self);
    fn batch(&mut self) -> Result<RecordBatch, LakeError>;
}

struct Buffer<R, F, B> {
    rows: Vec<R>,
    row: F,
    batch: B,
    /// Puts the rows in the order they are written in.
    order: fn(&mut [R]),
}

fn buffer<R, F, B>(row: F, batch: B, order: fn(&mut [R])) -> Buffer<R, F, B>
where
    F: Fn(&[u8]) -> Option<R>,
    B: Fn(&[R]) -> Result<RecordBatch, LakeError>,
{
    Buffer {
        rows: Vec::new(),
        row,
        batch,
        order,
    }
}

/// CloudTrail events are written clustered by source and name (time order kept within each
/// cluster), so similar records sit together and every column compresses better.
fn clustered(rows: &mut [schema::Row]) {
    rows.sort_by(|a, b| a.cluster_key().cmp(&b.cluster_key()));
}

impl<R, F, B> RowBuffer for Buffer<R, F, B>
where
    R: Send + Sync,
    F: Fn(&[u8]) -> Option<R> + Send + Sync,
    B: Fn(&[R]) -> Result<RecordBatch, LakeError> + Send + Sync,
{
    fn push(&mut self, record: &[u8]) -> bool {
        match (self.row)(record) {
            Some(r) => {
                self.rows.push(r);
                true
            }
            None => false,
        }
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn clear(&mut self) {
        self.rows.clear();
    }

    fn batch(&mut self) -> Result<RecordBatch, LakeError> {
        (self.order)(&mut self.rows);
        (self.batch)(&self.rows)
    }
}

/// Rows waiting for a consumer's next commit, in the shape of its store's table.
pub struct Pending(Box<dyn RowBuffer>);

impl Pending {
    /// An empty buffer for a table of `kind`.
    pub fn new(kind: TableKind) -> Pending {
        match kind {
            TableKind::Events => Pending(Box::new(buffer(schema::row, schema::batch, clustered))),
            TableKind::Activity => Pending(Box::new(buffer(
                schema_activity::row,
                schema_activity::batch,
                |_| {},
            ))),
        }
    }

    /// Adds the row of `record`; false when the record cannot be a row (not a JSON object
    /// with an `eventTime`).
    pub fn push(&mut self, record: &[u8]) -> bool {
        self.0.push(record)
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }

    /// Drops every row (after a commit).
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The rows as one Arrow batch of the table's schema, in the order they are written in.
    pub fn batch(&mut self) -> Result<RecordBatch, LakeError> {
        self.0.batch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn selectors(v: serde_json::Value) -> Vec<AdvancedEventSelector> {
        serde_json::from_value(v).expect("selectors")
    }

    #[test]
    fn the_kind_follows_the_category() {
        let activity = selectors(
            json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["ActivityAuditLog"]}]}]),
        );
        assert_eq!(TableKind::of(&activity), TableKind::Activity);
        let management = selectors(
            json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]}]),
        );
        assert_eq!(TableKind::of(&management), TableKind::Events);
        assert_eq!(TableKind::of(&[]), TableKind::Events);
        assert!(
            TableKind::Activity
                .schema()
                .field_with_name("eventdata")
                .is_ok()
        );
        assert!(
            TableKind::Events
                .schema()
                .field_with_name("useridentity")
                .is_ok()
        );
    }

    #[test]
    fn pending_rows_take_the_shape_of_their_table() {
        let record = br#"{"eventTime":"2026-11-25T10:00:00Z","eventData":{"eventName":"X"},"metadata":{"channelARN":"arn:c"}}"#;
        let mut p = Pending::new(TableKind::Activity);
        assert!(p.push(record));
        assert!(!p.push(b"not json"));
        assert_eq!(p.len(), 1);
        let b = p.batch().expect("batch");
        assert!(b.column_by_name("eventdata").is_some());
        p.clear();
        assert!(p.is_empty());
        let mut e = Pending::new(TableKind::Events);
        assert!(e.push(record));
        assert!(
            e.batch()
                .expect("batch")
                .column_by_name("useridentity")
                .is_some()
        );
        assert_eq!(channel_of(record).as_deref(), Some("arn:c"));
        assert_eq!(channel_of(br#"{"eventTime":"x"}"#), None);
    }
}
