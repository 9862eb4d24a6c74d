//! Structs that model the members AWS documents and keep every other member untouched.
//!
//! CloudTrail adds fields with every minor `eventVersion`, and real records sometimes carry a
//! documented member with an unexpected type (a `null` where a string is usual). A record must
//! still round-trip as the same JSON value, so deserialisation moves a member into its typed
//! field only when the value fits that type exactly, and leaves everything else in `extra`.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Moves `key` out of `map` into a `T` when its value deserialises as `T`; otherwise leaves it.
pub(crate) fn take<T: DeserializeOwned>(map: &mut Map<String, Value>, key: &str) -> Option<T> {
    let parsed = T::deserialize(map.get(key)?).ok()?;
    map.remove(key);
    Some(parsed)
}

/// Declares a struct whose named members are typed and optional, with `extra` keeping the rest.
///
/// Members serialise in declaration order (the order AWS writes them), then `extra`.
macro_rules! lenient_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $json:literal => $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: Option<$ty>, )*
            /// Members this version does not model (or whose value did not fit the modelled
            /// type), kept so that the record round-trips unchanged.
            pub extra: serde_json::Map<String, serde_json::Value>,
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(None)?;
                $( if let Some(v) = &self.$field { m.serialize_entry($json, v)?; } )*
                for (k, v) in &self.extra {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let mut extra =
                    <serde_json::Map<String, serde_json::Value> as serde::Deserialize>::deserialize(d)?;
                Ok(Self {
                    $( $field: $crate::lenient::take(&mut extra, $json), )*
                    extra,
                })
            }
        }
    };
}
