//! The one macro behind every generated model, and the code all models share.
//!
//! A model reads by first reading a JSON object (`serde_json::Map`) and then taking its
//! fields out of it, and writes by building that object: the per-model code is one line
//! per field and not generic, so it is compiled once per crate that uses the model instead
//! of once per serde format (serde's derive would expand to about fifteen times as much
//! code for the ~36,000 fields of the Platform API).
//!
//! That code, and each model's `Debug`, are `#[inline]`: a release build generates machine
//! code for the models a program uses, in the crate that uses them, and none for the other
//! models of its groups (`routing` alone has 299, a service may read one). Without it, every
//! model of every enabled group went through LLVM in this crate whether used or not
//! (docs/PERFORMANCE.md of `genesys-cloud`, "Compile cost of a service with three flows").

use std::cell::Cell;

use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::ser::{Error as _, Serialize, Serializer};
use serde_json::{Map, Value};

/// A JSON object with string keys.
pub type Object = Map<String, Value>;

/// What `model!` implements; the serde impls go through it.
pub trait Model: Sized {
    /// Takes the fields out of a JSON object; what is left is kept as unknown fields.
    fn from_object(object: Object) -> Result<Self, String>;
    /// The JSON object of the model (fields that are `None` left out).
    fn to_object(&self) -> Result<Object, String>;
}

/// Takes field `json` out of `object`: absent or `null` is `None`. Errors name the
/// field path at their end, after the value's type, so that callers can drop values
/// from messages without losing the path (`invalid type: string "x", expected i64 (at
/// `division.id`)`).
pub fn take<T: DeserializeOwned>(object: &mut Object, json: &str) -> Result<Option<T>, String> {
    match object.remove(json) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| at(json, e.to_string())),
    }
}

/// Puts field `json` into `object` unless it is `None`.
pub fn put<T: Serialize>(object: &mut Object, json: &str, value: &Option<T>) -> Result<(), String> {
    if let Some(value) = value {
        let value = serde_json::to_value(value).map_err(|e| at(json, e.to_string()))?;
        object.insert(json.to_owned(), value);
    }
    Ok(())
}

thread_local! {
    /// Whether models read on this thread refuse fields they do not know.
    static DENY_UNKNOWN: Cell<bool> = const { Cell::new(false) };
}

/// Runs `read` with unknown fields refused: a model read on this thread inside it (at any
/// depth of the document) fails, naming the fields and their path, instead of keeping
/// fields it does not know in `extra`. For tests that check documents against the models
/// (a misspelt JSON name would otherwise be kept in `extra`, written back, and pass).
///
/// ```
/// use genesys_cloud_api::deny_unknown_fields;
/// # genesys_cloud_api::model! { Thing { name: String = "name", } extra }
///
/// let doc = serde_json::json!({"name": "a", "nmae": "b"});
/// let kept: Thing = serde_json::from_value(doc.clone()).unwrap();
/// assert_eq!(kept.extra["nmae"], "b");
/// let err = deny_unknown_fields(|| serde_json::from_value::<Thing>(doc)).unwrap_err();
/// assert_eq!(err.to_string(), "unknown field `nmae`");
/// ```
pub fn deny_unknown_fields<R>(read: impl FnOnce() -> R) -> R {
    /// Restores the previous setting, also when `read` panics.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            DENY_UNKNOWN.with(|deny| deny.set(self.0));
        }
    }
    let _restore = Restore(DENY_UNKNOWN.with(|deny| deny.replace(true)));
    read()
}

/// What is left of a model's object once its fields are taken: its unknown fields, or,
/// inside [`deny_unknown_fields`], an error naming them.
pub fn rest(object: Object) -> Result<Object, String> {
    if object.is_empty() || !DENY_UNKNOWN.with(Cell::get) {
        return Ok(object);
    }
    let names: Vec<String> = object.keys().map(|k| format!("`{k}`")).collect();
    let s = if names.len() == 1 { "" } else { "s" };
    Err(format!("unknown field{s} {}", names.join(", ")))
}

/// Prefixes the path at the end of `message` with `json`, or adds one.
fn at(json: &str, message: String) -> String {
    const MARK: &str = " (at `";
    match message.rfind(MARK) {
        Some(i) if message.ends_with("`)") => {
            let inner = &message[i + MARK.len()..message.len() - 2];
            format!("{}{MARK}{json}.{inner}`)", &message[..i])
        }
        _ => format!("{message}{MARK}{json}`)"),
    }
}

/// `Serialize` of every model.
pub fn serialize<M: Model, S: Serializer>(model: &M, serializer: S) -> Result<S::Ok, S::Error> {
    model
        .to_object()
        .map_err(S::Error::custom)?
        .serialize(serializer)
}

/// `Deserialize` of every model.
pub fn deserialize<'de, M: Model, D: Deserializer<'de>>(deserializer: D) -> Result<M, D::Error> {
    let object = <Object as serde::Deserialize>::deserialize(deserializer)?;
    M::from_object(object).map_err(D::Error::custom)
}

/// Defines a model: a `#[non_exhaustive]` struct of `Option` fields and a map of the
/// fields this version does not know, with `Serialize` and `Deserialize` by JSON name.
#[doc(hidden)]
#[macro_export]
macro_rules! model {
    (
        $(#[$meta:meta])*
        $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident: $ty:ty = $json:literal,
            )*
        }
        $extra:ident
    ) => {
        $(#[$meta])*
        #[derive(Clone, Default, PartialEq)]
        #[non_exhaustive]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: Option<$ty>,
            )*
            /// Fields this version of the crate does not know, kept as sent.
            pub $extra: $crate::__model::Object,
        }

        impl ::std::fmt::Debug for $name {
            #[inline]
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($name))
                    // As `derive(Debug)` writes them: `type`, not `r#type`.
                    $(.field(stringify!($field).trim_start_matches("r#"), &self.$field))*
                    .field(stringify!($extra), &self.$extra)
                    .finish()
            }
        }

        impl $crate::__model::Model for $name {
            #[allow(unused_mut)]
            #[inline]
            fn from_object(mut object: $crate::__model::Object) -> Result<Self, String> {
                Ok(Self {
                    $($field: $crate::__model::take(&mut object, $json)?,)*
                    $extra: $crate::__model::rest(object)?,
                })
            }

            #[inline]
            fn to_object(&self) -> Result<$crate::__model::Object, String> {
                let mut object = $crate::__model::Object::new();
                $($crate::__model::put(&mut object, $json, &self.$field)?;)*
                for (key, value) in &self.$extra {
                    object.insert(key.clone(), value.clone());
                }
                Ok(object)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $crate::__model::serialize(self, serializer)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::__model::deserialize(deserializer)
            }
        }
    };
}
