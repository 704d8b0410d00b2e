//! Nested objects of an entry read in the same pass as the entry itself.
//!
//! A derived `Deserialize` rejects the whole entry when a nested object is of another type than
//! expected (Cloud Logging writes `protoPayload.status` as a number in some services) or
//! repeats a field. Capturing such objects raw and parsing them again on their own avoids that,
//! at the price of reading their bytes twice. [`Nested`] reads them once: an object's fields
//! are read by hand through [`Fields`] (a repeated field: the last one counts), and any other
//! value is kept as a [`serde_json::Value`] (counted as ignored) so that a payload can still be
//! rendered as the message.

use std::borrow::Cow;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{Text, note_ignored};

/// An object whose fields are read by hand.
pub(super) trait Fields<'de>: Default {
    /// Reads the value of `key` when it is one of this object's fields; false leaves the value
    /// to be skipped.
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

/// A nested value that should be an object of type `T`.
pub(super) enum Nested<T> {
    Object(T),
    /// Not an object: the value as it was (counted as an ignored field).
    Other(Value),
}

impl<'de, T: Fields<'de>> Deserialize<'de> for Nested<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Fields<'de>> Visitor<'de> for V<T> {
            type Value = Nested<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut object = T::default();
                while let Some(key) = map.next_key::<Text>()? {
                    if !object.field(&key, &mut map)? {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                Ok(Nested::Object(object))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                note_ignored();
                Value::deserialize(SeqAccessDeserializer::new(seq)).map(Nested::Other)
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                self.visit_str(v)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                note_ignored();
                Ok(Nested::Other(Value::from(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                note_ignored();
                Ok(Nested::Other(Value::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                note_ignored();
                Ok(Nested::Other(Value::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                note_ignored();
                Ok(Nested::Other(Value::from(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                note_ignored();
                Ok(Nested::Other(Value::from(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Nested::Other(Value::Null))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl<T> Nested<T> {
    /// The object, if it is one.
    pub(super) fn object(self) -> Option<T> {
        match self {
            Nested::Object(t) => Some(t),
            Nested::Other(_) => None,
        }
    }
}

/// A payload's `message`: a string as it is, any other value rendered compactly.
pub(super) struct Message<'a>(pub(super) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Message<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Message<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a message")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Message(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Message(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Message(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(rendered(Value::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(rendered(Value::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(rendered(Value::from(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(rendered(Value::from(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(rendered(Value::Null))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(MapAccessDeserializer::new(map)).map(rendered)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(SeqAccessDeserializer::new(seq)).map(rendered)
            }
        }
        d.deserialize_any(V)
    }
}

fn rendered<'a>(v: Value) -> Message<'a> {
    Message(Cow::Owned(v.to_string()))
}

/// Implements [`Fields`] (serde_json's path) and `fast::FastFields` (the hand-written reader's)
/// for a struct of optional fields, each named by its JSON key.
macro_rules! fields {
    ($ty:ident { $($field:ident: $key:literal),* $(,)? }) => {
        impl<'de: 'a, 'a> $crate::stages::parse::nested::Fields<'de> for $ty<'a> {
            fn field<A: serde::de::MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut A,
            ) -> Result<bool, A::Error> {
                match key {
                    $($key => self.$field = map.next_value()?,)*
                    _ => return Ok(false),
                }
                Ok(true)
            }
        }

        impl<'a> $crate::stages::parse::fast::FastFields<'a> for $ty<'a> {
            fn fast_field(
                &mut self,
                key: &str,
                c: &mut $crate::stages::parse::fast::Cursor<'a>,
            ) -> Option<bool> {
                match key {
                    $($key => self.$field = $crate::stages::parse::fast::Read::read(c)?,)*
                    _ => return Some(false),
                }
                Some(true)
            }
        }
    };
}
pub(super) use fields;
