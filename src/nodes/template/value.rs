//! The values a template computes with, modelled on the Java objects Velocity sees:
//! `String`, `Integer`, `Long`, `BigInteger`, `Double`, `Boolean`, `ArrayList`,
//! `LinkedHashMap`, plus the tools and loop scopes. They print as Java prints them.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;

use super::ast::Body;
use super::java::{double_to_string, jackson_quote, number_text};

/// A string value: borrowed from the bindings, or shared.
#[derive(Debug, Clone)]
pub(crate) enum Str<'a> {
    Borrowed(&'a str),
    Shared(Arc<str>),
}

impl std::ops::Deref for Str<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Str::Borrowed(s) => s,
            Str::Shared(s) => s,
        }
    }
}

/// A value.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    /// `java.lang.Integer`
    Int(i32),
    /// `java.lang.Long`
    Long(i64),
    /// `java.math.BigInteger` (this engine keeps 128 bits)
    Big(i128),
    Double(f64),
    Str(Str<'a>),
    /// `java.util.ArrayList`, or a `String[]` (from `split`) when `array`.
    List(Rc<RefCell<Vec<Val<'a>>>>, bool),
    /// `java.util.LinkedHashMap`: entries in insertion order.
    Map(Rc<RefCell<Vec<(Val<'a>, Val<'a>)>>>),
    /// A `Map.Entry` of `entrySet()`.
    Entry(Rc<(Val<'a>, Val<'a>)>),
    Tool(Tool),
    /// `$foreach`.
    Scope(Rc<Scope>),
    /// A `java.lang.Class`, by name.
    Class(&'static str),
    /// A `#define` block: renders its body where it is referenced.
    Block(Arc<Body>),
}

/// The tools in every template's context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tool {
    /// `$esc`: velocity-tools `EscapeTool` and Genesys's additions.
    Esc,
    /// `$math`: velocity-tools `MathTool`.
    Math,
    /// `$encoding`: Genesys's `base64`.
    Encoding,
    /// `$successTemplateUtils`: Genesys's helpers for success templates.
    SuccessTemplateUtils,
}

impl Tool {
    pub(crate) fn named(name: &str) -> Option<Tool> {
        Some(match name {
            "esc" => Tool::Esc,
            "math" => Tool::Math,
            "encoding" => Tool::Encoding,
            "successTemplateUtils" => Tool::SuccessTemplateUtils,
            _ => return None,
        })
    }

    pub(crate) fn class_name(self) -> &'static str {
        match self {
            Tool::Esc => "org.apache.velocity.tools.generic.EscapeTool",
            Tool::Math => "org.apache.velocity.tools.generic.MathTool",
            Tool::Encoding => "com.inin.integrations.EncodingTool",
            Tool::SuccessTemplateUtils => "com.inin.integrations.SuccessTemplateUtils",
        }
    }
}

/// A `#foreach` loop's `$foreach` (Velocity 1.7 `ForeachScope`).
#[derive(Debug)]
pub(crate) struct Scope {
    pub(crate) index: Cell<i32>,
    pub(crate) has_next: Cell<bool>,
    pub(crate) parent: Option<Rc<Scope>>,
}

impl<'a> Val<'a> {
    pub(crate) fn str(s: &'a str) -> Self {
        Val::Str(Str::Borrowed(s))
    }

    pub(crate) fn string(s: impl Into<Arc<str>>) -> Self {
        Val::Str(Str::Shared(s.into()))
    }

    pub(crate) fn list(items: Vec<Val<'a>>) -> Self {
        Val::List(Rc::new(RefCell::new(items)), false)
    }

    pub(crate) fn map(entries: Vec<(Val<'a>, Val<'a>)>) -> Self {
        Val::Map(Rc::new(RefCell::new(entries)))
    }

    /// An integer as Java widens it: `Integer`, else `Long`, else `BigInteger`.
    pub(crate) fn integer(i: i128) -> Self {
        if let Ok(v) = i32::try_from(i) {
            Val::Int(v)
        } else if let Ok(v) = i64::try_from(i) {
            Val::Long(v)
        } else {
            Val::Big(i)
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn is_number(&self) -> bool {
        matches!(
            self,
            Val::Int(_) | Val::Long(_) | Val::Big(_) | Val::Double(_)
        )
    }

    /// `Number.doubleValue()`.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(f64::from(*i)),
            Val::Long(l) => Some(*l as f64),
            Val::Big(b) => Some(*b as f64),
            Val::Double(d) => Some(*d),
            _ => None,
        }
    }

    /// `Number.intValue()` (Java's narrowing).
    pub(crate) fn int_value(&self) -> Option<i32> {
        match self {
            Val::Int(i) => Some(*i),
            Val::Long(l) => Some(*l as i32),
            Val::Big(b) => Some(*b as i32),
            Val::Double(d) => Some(java_d2i(*d)),
            _ => None,
        }
    }

    /// The Java class name (`getClass().getName()`).
    pub(crate) fn class_name(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "java.lang.Boolean",
            Val::Int(_) => "java.lang.Integer",
            Val::Long(_) => "java.lang.Long",
            Val::Big(_) => "java.math.BigInteger",
            Val::Double(_) => "java.lang.Double",
            Val::Str(_) => "java.lang.String",
            Val::List(_, false) => "java.util.ArrayList",
            Val::List(_, true) => "[Ljava.lang.String;",
            Val::Map(_) => "java.util.LinkedHashMap",
            Val::Entry(_) => "java.util.LinkedHashMap$Entry",
            Val::Tool(t) => t.class_name(),
            Val::Scope(_) => "org.apache.velocity.runtime.directive.ForeachScope",
            Val::Class(_) => "java.lang.Class",
            Val::Block(_) => "org.apache.velocity.runtime.directive.Block$Reference",
        }
    }

    /// `String.valueOf(value)`: Java's `toString()`, `null` for null.
    pub(crate) fn java_string(&self) -> String {
        let mut out = String::new();
        self.write_java(&mut out, 0);
        out
    }

    /// Appends `toString()`. (`Block` renders elsewhere; here it prints its class.)
    pub(crate) fn write_java(&self, out: &mut String, depth: u32) {
        // Cycles through other collections recurse in Java until the stack runs out;
        // here they stop at a depth and at the output limit.
        if depth > 64 || out.len() > super::render::MAX_OUTPUT {
            out.push_str("...");
            return;
        }
        match self {
            Val::Null => out.push_str("null"),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Val::Long(l) => {
                let _ = write!(out, "{l}");
            }
            Val::Big(b) => {
                let _ = write!(out, "{b}");
            }
            Val::Double(d) => out.push_str(&double_to_string(*d)),
            Val::Str(s) => out.push_str(s),
            Val::List(items, false) => {
                out.push('[');
                match items.try_borrow() {
                    Ok(list) => {
                        for (i, item) in list.iter().enumerate() {
                            if i > 0 {
                                out.push_str(", ");
                            }
                            match item {
                                // AbstractCollection.toString: a list holding itself.
                                Val::List(inner, _)
                                    if std::ptr::addr_eq(Rc::as_ptr(inner), Rc::as_ptr(items)) =>
                                {
                                    out.push_str("(this Collection)")
                                }
                                _ => item.write_java(out, depth + 1),
                            }
                        }
                    }
                    Err(_) => out.push_str("(this Collection)"),
                }
                out.push(']');
            }
            Val::List(items, true) => {
                // Java prints an array's identity; that is not reproducible, so print
                // the class and a hash of the contents.
                let text: Vec<String> = match items.try_borrow() {
                    Ok(items) => items.iter().map(Val::java_string).collect(),
                    Err(_) => Vec::new(),
                };
                let hash = super::java::string_hash(&text.join("\u{0}"));
                let _ = write!(out, "[Ljava.lang.String;@{hash:x}");
            }
            Val::Map(entries) => {
                out.push('{');
                let this = |v: &Val<'_>| matches!(v, Val::Map(inner) if std::ptr::addr_eq(Rc::as_ptr(inner), Rc::as_ptr(entries)));
                match entries.try_borrow() {
                    Ok(list) => {
                        for (i, (k, v)) in list.iter().enumerate() {
                            if i > 0 {
                                out.push_str(", ");
                            }
                            // AbstractMap.toString: a map holding itself.
                            if this(k) {
                                out.push_str("(this Map)");
                            } else {
                                k.write_java(out, depth + 1);
                            }
                            out.push('=');
                            if this(v) {
                                out.push_str("(this Map)");
                            } else {
                                v.write_java(out, depth + 1);
                            }
                        }
                    }
                    Err(_) => out.push_str("(this Map)"),
                }
                out.push('}');
            }
            Val::Entry(entry) => {
                entry.0.write_java(out, depth + 1);
                out.push('=');
                entry.1.write_java(out, depth + 1);
            }
            Val::Tool(t) => {
                let _ = write!(out, "{}@0", t.class_name());
            }
            // ForeachScope is an AbstractMap with empty storage.
            Val::Scope(_) => out.push_str("{}"),
            Val::Class(name) => {
                let _ = write!(out, "class {name}");
            }
            Val::Block(_) => {
                out.push_str("org.apache.velocity.runtime.directive.Block$Reference@0")
            }
        }
    }

    /// Java `equals` (as `LinkedHashMap` keys and `List.contains` compare).
    pub(crate) fn java_equals(&self, other: &Val<'_>) -> bool {
        self.equals_at(other, 0)
    }

    /// `equals`, bounded: collections that contain each other compare unequal past a
    /// depth, and one being changed (borrowed) compares by identity only.
    fn equals_at(&self, other: &Val<'_>, depth: u32) -> bool {
        if depth > 64 {
            return false;
        }
        match (self, other) {
            (Val::Null, Val::Null) => true,
            (Val::Bool(a), Val::Bool(b)) => a == b,
            (Val::Int(a), Val::Int(b)) => a == b,
            (Val::Long(a), Val::Long(b)) => a == b,
            (Val::Big(a), Val::Big(b)) => a == b,
            (Val::Double(a), Val::Double(b)) => a.to_bits() == b.to_bits(),
            (Val::Str(a), Val::Str(b)) => **a == **b,
            (Val::List(a, _), Val::List(b, _)) => {
                std::ptr::addr_eq(Rc::as_ptr(a), Rc::as_ptr(b))
                    || match (a.try_borrow(), b.try_borrow()) {
                        (Ok(a), Ok(b)) => {
                            a.len() == b.len()
                                && a.iter()
                                    .zip(b.iter())
                                    .all(|(x, y)| x.equals_at(y, depth + 1))
                        }
                        _ => false,
                    }
            }
            (Val::Map(a), Val::Map(b)) => {
                std::ptr::addr_eq(Rc::as_ptr(a), Rc::as_ptr(b))
                    || match (a.try_borrow(), b.try_borrow()) {
                        (Ok(a), Ok(b)) => {
                            a.len() == b.len()
                                && a.iter().all(|(k, v)| {
                                    b.iter().any(|(k2, v2)| {
                                        k.equals_at(k2, depth + 1) && v.equals_at(v2, depth + 1)
                                    })
                                })
                        }
                        _ => false,
                    }
            }
            (Val::Entry(a), Val::Entry(b)) => {
                a.0.equals_at(&b.0, depth + 1) && a.1.equals_at(&b.1, depth + 1)
            }
            (Val::Tool(a), Val::Tool(b)) => a == b,
            (Val::Scope(a), Val::Scope(b)) => Rc::ptr_eq(a, b),
            (Val::Class(a), Val::Class(b)) => a == b,
            (Val::Block(a), Val::Block(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// `Map.get(key)` on a map's entries.
    pub(crate) fn map_get(entries: &[(Val<'a>, Val<'a>)], key: &Val<'_>) -> Option<Val<'a>> {
        entries
            .iter()
            .find(|(k, _)| k.java_equals(key))
            .map(|(_, v)| v.clone())
    }

    /// A borrowed JSON value as Jackson's `Map` parsing presents it.
    pub(crate) fn from_json(value: &'a serde_json::Value) -> Val<'a> {
        use serde_json::Value;
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => number(n),
            Value::String(s) => Val::str(s),
            Value::Array(items) => Val::list(items.iter().map(Val::from_json).collect()),
            Value::Object(map) => Val::map(
                map.iter()
                    .map(|(k, v)| (Val::str(k), Val::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// An ordered JSON value (see [`Json`]).
    pub(crate) fn from_ordered(value: &'a Json) -> Val<'a> {
        match value {
            Json::Null => Val::Null,
            Json::Bool(b) => Val::Bool(*b),
            Json::Number(n) => number(n),
            Json::String(s) => Val::str(s),
            Json::Array(items) => Val::list(items.iter().map(Val::from_ordered).collect()),
            Json::Object(entries) => Val::map(
                entries
                    .iter()
                    .map(|(k, v)| (Val::str(k), Val::from_ordered(v)))
                    .collect(),
            ),
        }
    }
}

/// A JSON number as Jackson parses it: `Integer`, `Long`, `BigInteger` or `Double`.
fn number<'a>(n: &serde_json::Number) -> Val<'a> {
    if let Some(i) = n.as_i64() {
        Val::integer(i128::from(i))
    } else if let Some(u) = n.as_u64() {
        Val::integer(i128::from(u))
    } else {
        Val::Double(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Java's `(int) d`: truncation, saturating, NaN as 0.
pub(crate) fn java_d2i(d: f64) -> i32 {
    if d.is_nan() {
        0
    } else {
        d as i32
    }
}

/// A JSON document with object keys in the order they were written (as Jackson's
/// `LinkedHashMap` keeps them).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, in document order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses JSON text, keeping object keys in order.
    pub fn parse(text: &str) -> Result<Json, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Written compactly, the way Jackson writes it (numbers as Java prints them).
    pub fn to_jackson(&self) -> String {
        let mut out = String::new();
        self.write_jackson(&mut out);
        out
    }

    fn write_jackson(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(&number_text(n)),
            Json::String(s) => jackson_quote(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_jackson(out);
                }
                out.push(']');
            }
            Json::Object(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    jackson_quote(k, out);
                    out.push(':');
                    v.write_jackson(out);
                }
                out.push('}');
            }
        }
    }
}

impl From<&serde_json::Value> for Json {
    fn from(value: &serde_json::Value) -> Self {
        use serde_json::Value;
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::String(s.clone()),
            Value::Array(items) => Json::Array(items.iter().map(Json::from).collect()),
            Value::Object(map) => Json::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Json::from(v)))
                    .collect(),
            ),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Json;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }

            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }

            fn visit_none<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }

            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }

            fn visit_i64<E>(self, i: i64) -> Result<Json, E> {
                Ok(Json::Number(i.into()))
            }

            fn visit_u64<E>(self, u: u64) -> Result<Json, E> {
                Ok(Json::Number(u.into()))
            }

            fn visit_f64<E>(self, f: f64) -> Result<Json, E> {
                Ok(serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number))
            }

            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::String(s.to_owned()))
            }

            fn visit_string<E>(self, s: String) -> Result<Json, E> {
                Ok(Json::String(s))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut entries: Vec<(String, Json)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Json>()? {
                    // A repeated key keeps its first position and its last value.
                    match entries.iter_mut().find(|(key, _)| *key == k) {
                        Some(entry) => entry.1 = v,
                        None => entries.push((k, v)),
                    }
                }
                Ok(Json::Object(entries))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_java_prints_them() {
        let json = Json::parse(r#"{"b": 2, "a": [1, "two", true, null, 2.0, {"k": "v"}], "big": 123456789012, "d": 1e7}"#).unwrap();
        assert_eq!(
            Val::from_ordered(&json).java_string(),
            "{b=2, a=[1, two, true, null, 2.0, {k=v}], big=123456789012, d=1.0E7}"
        );
        assert_eq!(
            json.to_jackson(),
            r#"{"b":2,"a":[1,"two",true,null,2.0,{"k":"v"}],"big":123456789012,"d":1.0E7}"#
        );
        assert!(matches!(
            Val::from_ordered(&Json::parse("123456789012").unwrap()),
            Val::Long(_)
        ));
    }
}
