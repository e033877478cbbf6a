//! The description's type vocabulary (`str`, `list[Queue]`, `dict(str, int)`, ...).

/// A parsed type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    /// `str`
    Str,
    /// `int`
    Int,
    /// `float`
    Float,
    /// `bool`
    Bool,
    /// `date` (`YYYY-MM-DD`)
    Date,
    /// `datetime` (ISO-8601 with offset)
    DateTime,
    /// `LocalDateTime` (ISO-8601 without offset)
    LocalDateTime,
    /// `YearMonth` (`YYYY-MM`)
    YearMonth,
    /// `object`: any JSON
    Object,
    /// A model, by name.
    Model(String),
    /// `list[T]`
    List(Box<Ty>),
    /// `dict(str, T)`
    Map(Box<Ty>),
}

impl Ty {
    /// Parses a type string.
    pub fn parse(s: &str) -> Result<Ty, String> {
        let s = s.trim();
        if let Some(inner) = s.strip_prefix("list[").and_then(|r| r.strip_suffix(']')) {
            return Ok(Ty::List(Box::new(Ty::parse(inner)?)));
        }
        if let Some(inner) = s.strip_prefix("dict(").and_then(|r| r.strip_suffix(')')) {
            let (key, value) = inner
                .split_once(',')
                .ok_or_else(|| format!("map type without a value type: {s}"))?;
            if key.trim() != "str" {
                return Err(format!("map keys other than str: {s}"));
            }
            return Ok(Ty::Map(Box::new(Ty::parse(value)?)));
        }
        Ok(match s {
            "str" => Ty::Str,
            "int" => Ty::Int,
            "float" => Ty::Float,
            "bool" => Ty::Bool,
            "date" => Ty::Date,
            "datetime" => Ty::DateTime,
            "LocalDateTime" => Ty::LocalDateTime,
            "YearMonth" => Ty::YearMonth,
            "object" => Ty::Object,
            name if !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && name.starts_with(|c: char| c.is_ascii_uppercase()) =>
            {
                Ty::Model(name.to_owned())
            }
            other => return Err(format!("unknown type {other:?}")),
        })
    }

    /// Every model this type names, outermost first.
    pub fn models(&self) -> Vec<&str> {
        match self {
            Ty::Model(name) => vec![name.as_str()],
            Ty::List(inner) | Ty::Map(inner) => inner.models(),
            _ => Vec::new(),
        }
    }

    /// The model this type holds by value (not inside a list or map), if any.
    pub fn by_value_model(&self) -> Option<&str> {
        match self {
            Ty::Model(name) => Some(name),
            _ => None,
        }
    }

    /// Whether the type is a date or time carried as a string.
    pub fn is_temporal(&self) -> bool {
        matches!(
            self,
            Ty::Date | Ty::DateTime | Ty::LocalDateTime | Ty::YearMonth
        )
    }

    /// The Rust type, models under `models` (a path prefix such as `crate::models::`).
    pub fn rust(&self, models: &str) -> String {
        match self {
            Ty::Str | Ty::Date | Ty::DateTime | Ty::LocalDateTime | Ty::YearMonth => {
                "String".to_owned()
            }
            Ty::Int => "i64".to_owned(),
            Ty::Float => "f64".to_owned(),
            Ty::Bool => "bool".to_owned(),
            Ty::Object => "serde_json::Value".to_owned(),
            Ty::Model(name) => format!("{models}{name}"),
            Ty::List(inner) => format!("Vec<{}>", inner.rust(models)),
            Ty::Map(inner) => format!("std::collections::HashMap<String, {}>", inner.rust(models)),
        }
    }

    /// What the docs say about a string format, if it is one.
    pub fn format_note(&self) -> Option<&'static str> {
        match self {
            Ty::Date => Some("A date, `YYYY-MM-DD`."),
            Ty::DateTime => Some("An ISO-8601 date-time, e.g. `2024-01-31T09:30:00.000Z`."),
            Ty::LocalDateTime => {
                Some("An ISO-8601 date-time without offset, e.g. `2024-01-31T09:30:00`.")
            }
            Ty::YearMonth => Some("A month, `YYYY-MM`."),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Ty;

    #[test]
    fn parses_nested_types() {
        assert_eq!(
            Ty::parse("dict(str, list[Queue])").unwrap(),
            Ty::Map(Box::new(Ty::List(Box::new(Ty::Model("Queue".into())))))
        );
        assert_eq!(
            Ty::parse("list[list[str]]").unwrap().rust(""),
            "Vec<Vec<String>>"
        );
        assert_eq!(
            Ty::parse("dict(str, object)").unwrap().rust("m::"),
            "std::collections::HashMap<String, serde_json::Value>"
        );
        assert_eq!(
            Ty::parse("Queue").unwrap().rust("crate::models::"),
            "crate::models::Queue"
        );
        assert_eq!(Ty::parse("datetime").unwrap().rust(""), "String");
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert!(Ty::parse("dict(int, str)").is_err());
        assert!(Ty::parse("tuple").is_err());
        assert!(Ty::parse("list[").is_err());
    }

    #[test]
    fn finds_models_inside_containers() {
        let ty = Ty::parse("dict(str, list[User])").unwrap();
        assert_eq!(ty.models(), ["User"]);
        assert_eq!(ty.by_value_model(), None);
        assert_eq!(Ty::parse("User").unwrap().by_value_model(), Some("User"));
    }
}
