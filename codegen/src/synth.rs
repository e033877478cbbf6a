//! JSON documents synthesized from the description: every field present, with a value of
//! its type (an allowed value for enums), nested models filled to a depth, lists and maps
//! of one, and optionally a field no model has, which a model must keep.

use serde_json::{json, Map, Value};

use crate::desc::Description;
use crate::types::Ty;

/// The name of the unknown field added to every object when asked for.
pub const UNKNOWN_FIELD: &str = "x-genesys-rs-unknown";

/// Nested models are filled this deep; deeper ones get their required fields only (to
/// [`REQUIRED_DEPTH`]), then none.
pub const MAX_DEPTH: usize = 3;
/// How deep required fields are still filled (a cycle of required fields must end).
pub const REQUIRED_DEPTH: usize = MAX_DEPTH + 6;

/// Options of a synthesized document.
#[derive(Debug, Clone, Copy)]
pub struct Synth<'a> {
    desc: &'a Description,
    unknown_fields: bool,
}

impl<'a> Synth<'a> {
    /// Documents for `desc`; `unknown_fields` adds [`UNKNOWN_FIELD`] to every object.
    pub fn new(desc: &'a Description, unknown_fields: bool) -> Self {
        Synth {
            desc,
            unknown_fields,
        }
    }

    /// A document for the model `name`.
    pub fn model(&self, name: &str) -> Result<Value, String> {
        self.model_at(name, 0)
    }

    /// A document for a type string (`list[Queue]`, `str`, ...).
    pub fn of_type(&self, ty: &str) -> Result<Value, String> {
        self.value(&Ty::parse(ty)?, None, 0, 0)
    }

    fn model_at(&self, name: &str, depth: usize) -> Result<Value, String> {
        let model = self
            .desc
            .models
            .get(name)
            .ok_or_else(|| format!("no model {name}"))?;
        let mut out = Map::new();
        if depth < REQUIRED_DEPTH {
            for (i, field) in model.fields.iter().enumerate() {
                if depth >= MAX_DEPTH && field.required != Some(true) {
                    continue;
                }
                let ty = Ty::parse(&field.ty).map_err(|e| format!("{name}.{}: {e}", field.json))?;
                let value = self.value(&ty, field.allowed.as_deref(), i, depth)?;
                out.insert(field.json.clone(), value);
            }
        }
        if self.unknown_fields {
            out.insert(
                UNKNOWN_FIELD.to_owned(),
                json!({ "kept": [true, 1, "as sent"] }),
            );
        }
        Ok(Value::Object(out))
    }

    fn value(
        &self,
        ty: &Ty,
        allowed: Option<&[String]>,
        index: usize,
        depth: usize,
    ) -> Result<Value, String> {
        Ok(match ty {
            Ty::Str => match allowed {
                // A different value for different fields, so that more variants are read.
                Some(values) if !values.is_empty() => json!(values[index % values.len()]),
                _ => json!("text"),
            },
            Ty::Int => match allowed
                .and_then(|v| v.first())
                .and_then(|v| v.parse::<i64>().ok())
            {
                Some(n) => json!(n),
                None => json!(7),
            },
            Ty::Float => json!(1.5),
            Ty::Bool => json!(true),
            Ty::Date => json!("2024-01-31"),
            Ty::DateTime => json!("2024-01-31T09:30:00.000Z"),
            Ty::LocalDateTime => json!("2024-01-31T09:30:00"),
            Ty::YearMonth => json!("2024-01"),
            Ty::Object => json!({ "any": ["json", 1, null] }),
            Ty::Model(name) => self.model_at(name, depth + 1)?,
            Ty::List(inner) => json!([self.value(inner, allowed, index, depth)?]),
            Ty::Map(inner) => json!({ "key": self.value(inner, allowed, index, depth)? }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc() -> Description {
        crate::desc::parse(
            r#"{
            "format_version": 1,
            "source": {"package": "P", "registry": "R", "version": "1"},
            "groups": {},
            "operations": [],
            "models": {
                "Node": {"fields": [
                    {"name": "kind", "json": "kind", "type": "str", "enum": ["A_B", "C"]},
                    {"name": "state", "json": "state", "type": "str", "enum": ["A_B", "C"]},
                    {"name": "when", "json": "when", "type": "datetime"},
                    {"name": "child", "json": "child", "type": "Node"},
                    {"name": "tags", "json": "tags", "type": "dict(str, list[int])"}
                ]}
            }
        }"#,
        )
        .unwrap()
    }

    #[test]
    fn fills_every_field_and_stops_at_the_depth() {
        let d = desc();
        let v = Synth::new(&d, false).model("Node").unwrap();
        assert_eq!(v["kind"], "A_B");
        assert_eq!(
            v["state"], "C",
            "the second enum field takes the second value"
        );
        assert_eq!(v["when"], "2024-01-31T09:30:00.000Z");
        assert_eq!(v["tags"], json!({"key": [7]}));
        assert_eq!(v["child"]["child"]["kind"], "A_B");
        assert_eq!(v["child"]["child"]["child"], json!({}));
        let required = r#"{"format_version": 1, "source": {"package": "P", "registry": "R", "version": "1"},
            "groups": {}, "operations": [], "models": {"R": {"fields": [
                {"name": "r", "json": "r", "type": "R", "required": true},
                {"name": "o", "json": "o", "type": "str", "required": false}]}}}"#;
        let d = crate::desc::parse(required).unwrap();
        let deep = Synth::new(&d, false).model("R").unwrap();
        let mut at = &deep;
        for _ in 0..MAX_DEPTH {
            assert_eq!(at["o"], "text");
            at = &at["r"];
        }
        assert!(
            at.get("o").is_none(),
            "below the depth only required fields: {at}"
        );
        assert!(at.get("r").is_some(), "required fields go on deeper");
        assert!(v.get(UNKNOWN_FIELD).is_none());
    }

    #[test]
    fn adds_an_unknown_field_to_every_object() {
        let d = desc();
        let v = Synth::new(&d, true).model("Node").unwrap();
        assert!(v.get(UNKNOWN_FIELD).is_some());
        assert!(v["child"].get(UNKNOWN_FIELD).is_some());
        assert_eq!(
            Synth::new(&d, true).of_type("list[str]").unwrap(),
            json!(["text"])
        );
    }
}
